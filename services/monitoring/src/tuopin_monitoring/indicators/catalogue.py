"""The computed indicators: what each one counts, over which households or people.

Most are computed here from the registry's projection: a numerator and (for
shares) a denominator summed over the per-household facts of ``facts.py``
(alias ``f``), and the predicate that picks the households failing it, for
drill-down lists. The SQL fragments are constants of this module and only ever
refer to the facts' columns and the named parameters the facts query binds
(``:income_line`` …), never to input.

The others come from the benefits service's statistics, asked over REST when a
snapshot is taken (``tuopin_monitoring.benefits``); their ``formula`` says how
the figure is made from them. An indicator no service can give yet is listed
with the reason, so targets can name it and dashboards say why it has no value.

Each kind of indicator has its constructor below, so an entry says only what is
particular to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    SHARE = "share"  # percent of the denominator
    COUNT = "count"
    AVERAGE = "average"  # the numerator per unit of the denominator (yuan per person)


class Source(StrEnum):
    PROJECTION = "projection"  # the registry's change feed, kept in this service's tables
    MEDICAL_STATISTICS = "medical_statistics"  # benefits: GET /v1/stats/medical
    ENTITLEMENT_STATISTICS = "entitlement_statistics"  # benefits: GET /v1/stats/entitlements


NO_HOUSEHOLDS = "no households of the programme in this division"


@dataclass(frozen=True)
class Indicator:
    key: str
    name: str
    unit: str
    kind: Kind
    source: Source = Source.PROJECTION
    numerator: str | None = None  # an aggregate over f
    denominator: str | None = None
    failing: str | None = None  # a predicate over f: the household fails the indicator
    evidence: tuple[str, ...] = ()  # the facts that show why a household fails it
    formula: str | None = None  # how a figure of another service's statistics is made
    unavailable_reason: str | None = None
    no_value_reason: str = NO_HOUSEHOLDS  # why a division has no value in a snapshot

    @property
    def available(self) -> bool:
        if self.unavailable_reason is not None:
            return False
        return self.numerator is not None or self.source is not Source.PROJECTION


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


def member_count(
    key: str, name: str, *, counted: str, among: str = "f.poor", evidence: tuple[str, ...]
) -> Indicator:
    """The number of living people ``counted`` (a per-household count of the facts) in the
    households ``among``. As for a household count, the households listed are the ones
    behind the figure, those with such a member: each is a case to look at, to check
    the count rather than to correct the household."""
    return Indicator(
        key=key,
        name=name,
        unit="people",
        kind=Kind.COUNT,
        numerator=f"coalesce(sum(f.{counted}) FILTER (WHERE {among}), 0)",
        failing=f"{among} AND f.{counted} > 0",
        evidence=evidence,
    )


def from_benefits(
    key: str,
    name: str,
    *,
    source: Source,
    formula: str,
    no_value: str,
    unit: str = "%",
    kind: Kind = Kind.SHARE,
) -> Indicator:
    """A figure made from one of the benefits service's statistics, by division; the people
    behind it are the benefits service's (a run's lines, a patient's settlements), not
    listed here."""
    return Indicator(
        key=key,
        name=name,
        unit=unit,
        kind=kind,
        source=source,
        formula=formula,
        no_value_reason=no_value,
    )


def not_available(key: str, name: str, unit: str, kind: Kind, reason: str) -> Indicator:
    """An indicator a target may name that has no value yet, and why."""
    return Indicator(key=key, name=name, unit=unit, kind=kind, unavailable_reason=reason)


_NO_RUN = "no approved {} run of the benefits service has lines in this division yet"

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
    member_count(
        "newly_employed_labourers",
        "Members of poor households who moved from unemployed into work during the year"
        " and are still in work",
        counted="newly_employed",
        evidence=("working", "newly_employed", "newly_employed_members"),
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
    from_benefits(
        "in_county_poor_within_cap_share",
        "In-county inpatient and chronic outpatient settlements of registered poor patients"
        " that kept the personal share within the policy's cap (10%)",
        source=Source.MEDICAL_STATISTICS,
        formula="100 x (in_county_poor_settlements - in_county_poor_above_cap)"
        " / in_county_poor_settlements, over the settlements (reversals left out) discharged"
        " from 1 January to the end of the snapshot's month",
        no_value="no in-county inpatient or chronic outpatient settlement of a registered poor"
        " patient in this division this year (benefits' medical statistics)",
    ),
    from_benefits(
        "pension_paid_on_behalf_share",
        "Eligible registered poor people whose resident pension contribution was paid",
        source=Source.ENTITLEMENT_STATISTICS,
        formula="100 x paid_persons / eligible_persons of the pension runs for the"
        " snapshot's year (approved or paid); eligible as the run decided it (POLICY.md:"
        " registered poor, and the dibao, tekun and severely disabled the policy adds)",
        no_value=_NO_RUN.format("pension"),
    ),
    from_benefits(
        "pension_paid_per_person",
        "Pension contribution paid on behalf, per person paid, for the year",
        source=Source.ENTITLEMENT_STATISTICS,
        formula="paid_amount / paid_persons of the pension runs for the snapshot's year,"
        " rounded half-up to the fen; the plan's figure is 100 yuan",
        no_value=_NO_RUN.format("pension"),
        unit="yuan",
        kind=Kind.AVERAGE,
    ),
    not_available(
        "dibao_coverage_share",
        "Eligible registered poor households receiving the minimum living allowance",
        "%",
        Kind.SHARE,
        "who qualifies for the minimum living allowance is decided by civil affairs, and"
        " no Tuopin service receives that decision: the registry and benefits know who"
        " receives dibao, not who is eligible, so the coverage has no denominator",
    ),
    from_benefits(
        "disability_subsidies_paid_share",
        "Disabled poor people paid their subsidies for the quarter on actual eligibility",
        source=Source.ENTITLEMENT_STATISTICS,
        formula="100 x sum(paid_persons) / sum(eligible_persons) over the nursing and living"
        " subsidy runs (approved or paid) of each quarter of the year up to the snapshot's:"
        " person-quarters paid out of person-quarters owed",
        no_value=_NO_RUN.format("disability subsidy"),
    ),
    not_available(
        "in_county_personal_share",
        "Patients' personal share of in-county inpatient and chronic outpatient costs",
        "%",
        Kind.SHARE,
        "the benefits service's medical statistics count the in-county settlements of poor"
        " patients above the personal-share cap but give no cost sums for them alone;"
        " S3 is measured by in_county_poor_within_cap_share",
    ),
)

BY_KEY: dict[str, Indicator] = {i.key: i for i in INDICATORS}
FROM_PROJECTION: tuple[Indicator, ...] = tuple(
    i for i in INDICATORS if i.available and i.source is Source.PROJECTION
)
FROM_BENEFITS: tuple[Indicator, ...] = tuple(
    i for i in INDICATORS if i.available and i.source is not Source.PROJECTION
)


def find(key: str) -> Indicator | None:
    return BY_KEY.get(key)
