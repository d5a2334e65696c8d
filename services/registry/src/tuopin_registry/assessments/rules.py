"""The two no-worries and three guarantees (national criteria), pure.

Food and clothing are an official's finding; education and medical care can be
derived from the members; housing and water from what was measured on the visit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tuopin_shared.contracts.enums import HousingGrade, SchoolStage

IN_SCHOOL = frozenset(SchoolStage) - {SchoolStage.NOT_IN_SCHOOL, SchoolStage.DROPPED_OUT}
SAFE_GRADES = frozenset({HousingGrade.A, HousingGrade.B})


@dataclass(frozen=True)
class GuaranteeParameters:
    school_age_min: int
    school_age_max: int
    water_min_litres: Decimal
    water_min_litres_short_area: Decimal
    water_max_fetch_minutes: int
    water_max_outage_days: int


@dataclass(frozen=True)
class MemberFacts:
    birth_date: date
    deceased_on: date | None
    school_stage: SchoolStage
    school_exempt: bool
    basic_medical_insured: bool


@dataclass(frozen=True)
class Findings:
    food_secure: bool
    clothing_secure: bool
    education_secure: bool | None
    medical_secure: bool | None
    housing_grade: HousingGrade
    relocated: bool
    reinforced: bool
    water_litres_per_person_day: Decimal
    water_quality_ok: bool
    water_fetch_minutes: int
    water_outage_days: int


@dataclass(frozen=True)
class GuaranteeResult:
    education_secure: bool
    education_derived: bool
    medical_secure: bool
    medical_derived: bool
    housing_secure: bool
    water_secure: bool
    unmet: tuple[str, ...]
    explanations: tuple[str, ...]

    @property
    def all_met(self) -> bool:
        return not self.unmet


def age_on(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def evaluate(
    findings: Findings,
    members: list[MemberFacts],
    params: GuaranteeParameters,
    *,
    on: date,
    water_short_area: bool,
) -> GuaranteeResult:
    living = [m for m in members if m.deceased_on is None or m.deceased_on > on]
    explanations: list[str] = []
    if not findings.food_secure:
        explanations.append("food: not secure")
    if not findings.clothing_secure:
        explanations.append("clothing: not secure")

    education_derived = findings.education_secure is None
    if education_derived:
        out_of_school = [
            m
            for m in living
            if params.school_age_min <= age_on(m.birth_date, on) <= params.school_age_max
            and m.school_stage not in IN_SCHOOL
            and not m.school_exempt
        ]
        education = not out_of_school
        if out_of_school:
            explanations.append(
                f"education: {len(out_of_school)} member(s) aged "
                f"{params.school_age_min}-{params.school_age_max} not in school"
            )
    else:
        education = bool(findings.education_secure)

    medical_derived = findings.medical_secure is None
    if medical_derived:
        uninsured = [m for m in living if not m.basic_medical_insured]
        medical = not uninsured
        if uninsured:
            explanations.append(
                f"medical: {len(uninsured)} member(s) without basic medical insurance"
            )
    else:
        medical = bool(findings.medical_secure)

    housing = findings.housing_grade in SAFE_GRADES or findings.relocated or findings.reinforced
    if not housing:
        explanations.append(
            f"housing: grade {findings.housing_grade.value}, neither relocated nor reinforced"
        )

    min_litres = params.water_min_litres_short_area if water_short_area else params.water_min_litres
    water_failures = []
    if findings.water_litres_per_person_day < min_litres:
        water_failures.append(
            f"{findings.water_litres_per_person_day} L per person per day is below {min_litres}"
        )
    if not findings.water_quality_ok:
        water_failures.append("quality not acceptable")
    if findings.water_fetch_minutes > params.water_max_fetch_minutes:
        water_failures.append(
            f"fetching takes {findings.water_fetch_minutes} min,"
            f" over {params.water_max_fetch_minutes}"
        )
    if findings.water_outage_days > params.water_max_outage_days:
        water_failures.append(
            f"{findings.water_outage_days} outage days, over {params.water_max_outage_days}"
        )
    water = not water_failures
    if water_failures:
        explanations.append("water: " + "; ".join(water_failures))

    verdicts = {
        "food": findings.food_secure,
        "clothing": findings.clothing_secure,
        "education": education,
        "medical": medical,
        "housing": housing,
        "water": water,
    }
    unmet = tuple(name for name, met in verdicts.items() if not met)
    return GuaranteeResult(
        education_secure=education,
        education_derived=education_derived,
        medical_secure=medical,
        medical_derived=medical_derived,
        housing_secure=housing,
        water_secure=water,
        unmet=unmet,
        explanations=tuple(explanations),
    )
