"""The computed indicators: what each one counts, over which households.

Each indicator is a numerator and (for shares) a denominator summed over the
per-household facts of ``facts.py`` (alias ``f``), and the predicate that picks
the households failing it, for drill-down lists. The SQL fragments are
constants of this module and only ever refer to the facts' columns and the
named parameters the facts query binds (``:income_line`` …), never to input.

Indicators another service computes (benefits' statistics) are listed with the
reason they are not available yet, so targets can name them and dashboards say
why they have no value; they become available by giving them a source.

Each kind of indicator has its constructor below (a share of households, a
share of people, a count of households or of people), so an entry says only
what is particular to it.
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


def household_share(
    key: str, name: str, *, meets: str, among: str = "f.poor", evidence: tuple[str, ...]
) -> Indicator:
    """The percentage of the households ``among`` whose facts satisfy ``meets``.

    A household whose fact is unknown (NULL: no income recorded, never assessed)
    fails: nobody has shown that it meets the indicator.
    """
    return Indicator(
        key=key,
        name=name,
        unit="%",
        kind=Kind.SHARE,
        numerator=f"count(*) FILTER (WHERE {among} AND {meets})",
        denominator=f"count(*) FILTER (WHERE {among})",
        failing=f"{among} AND NOT coalesce({meets}, false)",
        evidence=evidence,
    )


def people_share(
    key: str, name: str, *, counted: str, of: str, among: str = "f.poor", evidence: tuple[str, ...]
) -> Indicator:
    """The percentage of the people ``of`` (a per-household count of the facts) who are also
    ``counted``, over the households ``among``; a household fails when some of its people
    are not counted."""
    return Indicator(
        key=key,
        name=name,
        unit="%",
        kind=Kind.SHARE,
        numerator=f"coalesce(sum(f.{counted}) FILTER (WHERE {among}), 0)",
        denominator=f"coalesce(sum(f.{of}) FILTER (WHERE {among}), 0)",
        failing=f"{among} AND f.{counted} < f.{of}",
        evidence=evidence,
    )


def household_count(key: str, name: str, *, where: str, evidence: tuple[str, ...]) -> Indicator:
    """The number of households where ``where`` holds; each of them is a case to look at."""
    return Indicator(
        key=key,
        name=name,
        unit="households",
        kind=Kind.COUNT,
        numerator=f"count(*) FILTER (WHERE {where})",
        failing=where,
        evidence=evidence,
    )


def people_count(
    key: str, name: str, *, among: str, meets: str, evidence: tuple[str, ...]
) -> Indicator:
    """The number of living people in the households ``among`` that satisfy ``meets``; the
    others among them fail, an unknown (NULL) fact included, as for a household share."""
    return Indicator(
        key=key,
        name=name,
        unit="people",
        kind=Kind.COUNT,
        numerator=f"coalesce(sum(f.living) FILTER (WHERE {among} AND {meets}), 0)",
        failing=f"{among} AND NOT coalesce({meets}, false)",
        evidence=evidence,
    )


def not_available(key: str, name: str, unit: str, kind: Kind, reason: str) -> Indicator:
    """An indicator a target may name that has no value yet, and why."""
    return Indicator(key=key, name=name, unit=unit, kind=kind, unavailable_reason=reason)


_BENEFITS = (
    "computed by the benefits service, whose statistics API is not available yet;"
    " the value will come from it"
)

# "Poor households" are the programme's: registered poor now or once (lifted out,
# returned, watched after lifting out) and the newly impoverished, as of the date.
INDICATORS: tuple[Indicator, ...] = (
    household_share(
        "income_at_or_above_line_share",
        "Poor households with per-capita net income at or above the plan's income line",
        meets="f.per_capita >= :income_line",
        evidence=("income_year", "per_capita"),
    ),
    people_count(
        "lifted_out_consolidated_people",
        "People lifted out whose household keeps income above the line and every guarantee",
        among="f.lifted_out",
        meets="f.consolidated",
        evidence=("status", "income_year", "per_capita", "all_met", "unmet", "living"),
    ),
    household_count(
        "newly_impoverished_households",
        "Households newly impoverished during the year",
        where="f.became_newly_impoverished",
        evidence=("status",),
    ),
    household_count(
        "returned_to_poverty_households",
        "Households returned to poverty during the year",
        where="f.returned_to_poverty",
        evidence=("status",),
    ),
    household_share(
        "guarantees_met_share",
        "Poor households meeting the two no-worries and three guarantees (and water)",
        meets="f.all_met",
        evidence=("assessed_on", "all_met", "unmet"),
    ),
    household_share(
        "labour_households_employed_share",
        "Poor households able to work with at least one member in stable employment",
        among="f.poor AND f.labour_capable > 0",
        meets="f.employed > 0",
        evidence=("labour_capable", "employed", "working"),
    ),
    household_share(
        "safe_housing_share",
        "Poor households living in safe housing",
        meets="f.housing_safe",
        evidence=("assessed_on", "housing_grade", "unmet"),
    ),
    people_share(
        "school_enrolment_share",
        "School-age children of poor households enrolled (exempt children left out)",
        counted="enrolled",
        of="school_age",
        evidence=("school_age", "enrolled", "out_of_school"),
    ),
    people_share(
        "insurance_coverage_share",
        "People of poor households with basic medical and critical-illness insurance",
        counted="insured",
        of="living",
        evidence=("living", "insured"),
    ),
    not_available(
        "in_county_personal_share",
        "Patients' personal share of in-county inpatient and chronic outpatient costs",
        "%",
        Kind.SHARE,
        _BENEFITS,
    ),
    not_available(
        "pension_paid_on_behalf_share",
        "Eligible registered poor people whose resident pension contribution was paid",
        "%",
        Kind.SHARE,
        _BENEFITS,
    ),
    not_available(
        "dibao_coverage_share",
        "Eligible registered poor households receiving the minimum living allowance",
        "%",
        Kind.SHARE,
        _BENEFITS,
    ),
    not_available(
        "disability_subsidies_paid_share",
        "Disabled poor people paid their subsidies for the quarter on actual eligibility",
        "%",
        Kind.SHARE,
        _BENEFITS,
    ),
)

BY_KEY: dict[str, Indicator] = {i.key: i for i in INDICATORS}
COMPUTABLE: tuple[Indicator, ...] = tuple(i for i in INDICATORS if i.available)


def find(key: str) -> Indicator | None:
    return BY_KEY.get(key)
