"""The computed indicators: what each one counts, over which households.

Each indicator is a numerator and (for shares) a denominator summed over the
per-household facts of ``facts.py`` (alias ``f``), and the predicate that picks
the households failing it, for drill-down lists. The SQL fragments are
constants of this module and only ever refer to the facts' columns and the
named parameters the facts query binds (``:income_line`` …), never to input.

Indicators another service computes (benefits' statistics) are listed with the
reason they are not available yet, so targets can name them and dashboards say
why they have no value; they become available by giving them a source.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    SHARE = "share"  # percent of the denominator
    COUNT = "count"


@dataclass(frozen=True)
class Indicator:
    key: str
    name: str
    unit: str
    kind: Kind
    numerator: str | None = None  # an aggregate over f
    denominator: str | None = None
    failing: str | None = None  # a predicate over f: the household fails the indicator
    evidence: tuple[str, ...] = ()  # the facts that show why a household fails it
    unavailable_reason: str | None = None

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None and self.numerator is not None


_BENEFITS = (
    "computed by the benefits service, whose statistics API is not available yet;"
    " the value will come from it"
)

# "Poor households" are the programme's: registered poor now or once (lifted out,
# returned, watched after lifting out) and the newly impoverished, as of the date.
INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        key="income_at_or_above_line_share",
        name="Poor households with per-capita net income at or above the plan's income line",
        unit="%",
        kind=Kind.SHARE,
        numerator="count(*) FILTER (WHERE f.poor AND f.per_capita >= :income_line)",
        denominator="count(*) FILTER (WHERE f.poor)",
        # A household with no income recorded is not known to reach the line.
        failing="f.poor AND (f.per_capita IS NULL OR f.per_capita < :income_line)",
        evidence=("income_year", "per_capita"),
    ),
    Indicator(
        key="lifted_out_consolidated_people",
        name="People lifted out whose household keeps income above the line and every guarantee",
        unit="people",
        kind=Kind.COUNT,
        numerator="coalesce(sum(f.living) FILTER (WHERE f.lifted_out AND f.consolidated), 0)",
        failing="f.lifted_out AND NOT f.consolidated",
        evidence=("status", "income_year", "per_capita", "all_met", "unmet", "living"),
    ),
    Indicator(
        key="newly_impoverished_households",
        name="Households newly impoverished during the year",
        unit="households",
        kind=Kind.COUNT,
        numerator="count(*) FILTER (WHERE f.became_newly_impoverished)",
        failing="f.became_newly_impoverished",
        evidence=("status",),
    ),
    Indicator(
        key="returned_to_poverty_households",
        name="Households returned to poverty during the year",
        unit="households",
        kind=Kind.COUNT,
        numerator="count(*) FILTER (WHERE f.returned_to_poverty)",
        failing="f.returned_to_poverty",
        evidence=("status",),
    ),
    Indicator(
        key="guarantees_met_share",
        name="Poor households meeting the two no-worries and three guarantees (and water)",
        unit="%",
        kind=Kind.SHARE,
        numerator="count(*) FILTER (WHERE f.poor AND f.all_met)",
        denominator="count(*) FILTER (WHERE f.poor)",
        # Never assessed counts as not met: nobody has checked.
        failing="f.poor AND NOT coalesce(f.all_met, false)",
        evidence=("assessed_on", "all_met", "unmet"),
    ),
    Indicator(
        key="labour_households_employed_share",
        name="Poor households able to work with at least one member in stable employment",
        unit="%",
        kind=Kind.SHARE,
        numerator="count(*) FILTER (WHERE f.poor AND f.labour_capable > 0 AND f.employed > 0)",
        denominator="count(*) FILTER (WHERE f.poor AND f.labour_capable > 0)",
        failing="f.poor AND f.labour_capable > 0 AND f.employed = 0",
        evidence=("labour_capable", "employed", "working"),
    ),
    Indicator(
        key="safe_housing_share",
        name="Poor households living in safe housing",
        unit="%",
        kind=Kind.SHARE,
        numerator="count(*) FILTER (WHERE f.poor AND f.housing_safe)",
        denominator="count(*) FILTER (WHERE f.poor)",
        failing="f.poor AND NOT coalesce(f.housing_safe, false)",
        evidence=("assessed_on", "housing_grade", "unmet"),
    ),
    Indicator(
        key="school_enrolment_share",
        name="School-age children of poor households enrolled (exempt children left out)",
        unit="%",
        kind=Kind.SHARE,
        numerator="coalesce(sum(f.enrolled) FILTER (WHERE f.poor), 0)",
        denominator="coalesce(sum(f.school_age) FILTER (WHERE f.poor), 0)",
        failing="f.poor AND f.enrolled < f.school_age",
        evidence=("school_age", "enrolled", "out_of_school"),
    ),
    Indicator(
        key="insurance_coverage_share",
        name="People of poor households with basic medical and critical-illness insurance",
        unit="%",
        kind=Kind.SHARE,
        numerator="coalesce(sum(f.insured) FILTER (WHERE f.poor), 0)",
        denominator="coalesce(sum(f.living) FILTER (WHERE f.poor), 0)",
        failing="f.poor AND f.insured < f.living",
        evidence=("living", "insured"),
    ),
    Indicator(
        key="in_county_personal_share",
        name="Patients' personal share of in-county inpatient and chronic outpatient costs",
        unit="%",
        kind=Kind.SHARE,
        unavailable_reason=_BENEFITS,
    ),
    Indicator(
        key="pension_paid_on_behalf_share",
        name="Eligible registered poor people whose resident pension contribution was paid",
        unit="%",
        kind=Kind.SHARE,
        unavailable_reason=_BENEFITS,
    ),
    Indicator(
        key="dibao_coverage_share",
        name="Eligible registered poor households receiving the minimum living allowance",
        unit="%",
        kind=Kind.SHARE,
        unavailable_reason=_BENEFITS,
    ),
    Indicator(
        key="disability_subsidies_paid_share",
        name="Disabled poor people paid their subsidies for the quarter on actual eligibility",
        unit="%",
        kind=Kind.SHARE,
        unavailable_reason=_BENEFITS,
    ),
)

BY_KEY: dict[str, Indicator] = {i.key: i for i in INDICATORS}
COMPUTABLE: tuple[Indicator, ...] = tuple(i for i in INDICATORS if i.available)


def find(key: str) -> Indicator | None:
    return BY_KEY.get(key)
