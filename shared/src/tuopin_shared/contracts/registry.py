"""Wire models of the registry service: divisions, households, members, incomes,
guarantee assessments and poverty status changes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.enums import (
    DisabilityCategory,
    DisabilityGrade,
    DivisionLevel,
    EmploymentStatus,
    HealthStatus,
    HousingGrade,
    LabourCapacity,
    PovertyCause,
    PovertyStatus,
    RelationToHead,
    SchoolStage,
    Sex,
)
from tuopin_shared.contracts.identity import ResidentIdNumber
from tuopin_shared.contracts.money import Money, NonNegativeMoney

Name = Annotated[str, Field(min_length=1, max_length=100, examples=["张三"])]
Year = Annotated[int, Field(ge=2000, le=2100, examples=[2020])]


class _Input(BaseModel):
    # Unknown fields are refused: a typo must not be silently dropped.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---------------------------------------------------------------- divisions


class Division(BaseModel):
    code: DivisionCode
    name: str
    level: DivisionLevel
    parent_code: DivisionCode | None
    synthetic: bool = Field(description="True when the division is made up for demo data.")


class ParameterSet(_Input):
    """Registry rules' parameters for one district and year (data, never code)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "income_line": "4300.00",
                    "school_age_min": 6,
                    "school_age_max": 15,
                    "water_min_litres": 35,
                    "water_min_litres_short_area": 20,
                    "water_max_fetch_minutes": 20,
                    "water_max_outage_days": 36,
                    "per_capita_review_ceiling": "100000.00",
                    "sources": {"income_line": "seed"},
                }
            ]
        },
    )

    income_line: NonNegativeMoney = Field(description="Per-capita net income needed to lift out.")
    school_age_min: int = Field(default=6, ge=0, le=25)
    school_age_max: int = Field(default=15, ge=0, le=25)
    water_min_litres: Decimal = Field(default=Decimal(35), ge=0, le=1000)
    water_min_litres_short_area: Decimal = Field(default=Decimal(20), ge=0, le=1000)
    water_max_fetch_minutes: int = Field(default=20, ge=0, le=1440)
    water_max_outage_days: int = Field(default=36, ge=0, le=366)
    per_capita_review_ceiling: NonNegativeMoney = Decimal("100000.00")
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="Where each figure comes from: seed, national or placeholder.",
    )

    @model_validator(mode="after")
    def _ages_ordered(self) -> ParameterSet:
        if self.school_age_min > self.school_age_max:
            raise ValueError("school_age_min must not exceed school_age_max")
        return self


class ParameterSetOut(ParameterSet):
    model_config = ConfigDict(extra="ignore")

    district_code: DivisionCode
    year: Year


# ---------------------------------------------------------------- members


class MemberFields(_Input):
    """Fields of the national collection form that an official may set or change."""

    name: Name
    relation_to_head: RelationToHead
    labour_capacity: LabourCapacity = LabourCapacity.NONE
    employment_status: EmploymentStatus = EmploymentStatus.UNEMPLOYED
    months_worked: int = Field(default=0, ge=0, le=12, description="Months worked in the year.")
    employment_place: str | None = Field(default=None, max_length=200)
    health_status: HealthStatus = HealthStatus.HEALTHY
    disability_category: DisabilityCategory | None = None
    disability_grade: DisabilityGrade | None = Field(
        default=None, description="1 (most severe) to 4."
    )
    disability_certificate_no: str | None = Field(default=None, max_length=40)
    disability_certified_on: date | None = None
    school_stage: SchoolStage = SchoolStage.NOT_IN_SCHOOL
    school_exempt: bool = Field(
        default=False, description="Exempt from compulsory schooling for health or disability."
    )
    basic_medical_insured: bool = False
    critical_illness_insured: bool = False
    resident_pension_enrolled: bool = False
    employee_pension_enrolled: bool = False
    dibao: bool = Field(default=False, description="Receives the minimum living allowance.")
    tekun: bool = Field(default=False, description="Supported as an extreme-poverty person.")
    work_injury_care_allowance: bool = False

    @model_validator(mode="after")
    def _disability_consistent(self) -> MemberFields:
        if (self.disability_grade is None) != (self.disability_category is None):
            raise ValueError("disability_category and disability_grade go together")
        return self


class MemberCreate(MemberFields):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "resident_id": "510303198003151237",
                    "name": "张三",
                    "relation_to_head": "head",
                    "labour_capacity": "ordinary",
                    "employment_status": "local",
                    "months_worked": 10,
                    "basic_medical_insured": True,
                    "critical_illness_insured": True,
                    "resident_pension_enrolled": True,
                }
            ]
        },
    )

    resident_id: ResidentIdNumber


class MemberUpdate(_Input):
    """Partial update: only the fields sent change."""

    name: Name | None = None
    relation_to_head: RelationToHead | None = None
    labour_capacity: LabourCapacity | None = None
    employment_status: EmploymentStatus | None = None
    months_worked: int | None = Field(default=None, ge=0, le=12)
    employment_place: str | None = Field(default=None, max_length=200)
    health_status: HealthStatus | None = None
    disability_category: DisabilityCategory | None = None
    disability_grade: DisabilityGrade | None = None
    disability_certificate_no: str | None = Field(default=None, max_length=40)
    disability_certified_on: date | None = None
    school_stage: SchoolStage | None = None
    school_exempt: bool | None = None
    basic_medical_insured: bool | None = None
    critical_illness_insured: bool | None = None
    resident_pension_enrolled: bool | None = None
    employee_pension_enrolled: bool | None = None
    dibao: bool | None = None
    tekun: bool | None = None
    work_injury_care_allowance: bool | None = None


class MemberDeath(_Input):
    deceased_on: date


class MemberMove(_Input):
    household_id: uuid.UUID
    relation_to_head: RelationToHead


class Member(MemberFields):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    household_id: uuid.UUID
    resident_id: str = Field(description="Masked unless the caller holds the pii permission.")
    disability_certificate_no: str | None = Field(
        description="Masked like the resident ID unless the caller holds the pii permission."
    )
    sex: Sex
    birth_date: date
    in_school: bool
    deceased_on: date | None
    version: int


# ---------------------------------------------------------------- households


class HouseholdFields(_Input):
    address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=30, pattern=r"^[0-9+\- ]{5,30}$")
    main_poverty_cause: PovertyCause | None = None
    water_short_area: bool = Field(
        default=False, description="In a water-short area (lower water quantity threshold)."
    )


class HouseholdCreate(HouseholdFields):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "division_code": "510303100001",
                    "address": "Group 3",
                    "status": "registered_poor",
                    "registered_year": 2014,
                    "main_poverty_cause": "illness",
                    "members": [
                        {
                            "resident_id": "510303198003151237",
                            "name": "张三",
                            "relation_to_head": "head",
                            "labour_capacity": "ordinary",
                        }
                    ],
                }
            ]
        },
    )

    division_code: DivisionCode = Field(description="The village the household lives in.")
    status: PovertyStatus = PovertyStatus.REGISTERED_POOR
    status_effective_on: date | None = Field(
        default=None, description="When the initial status took effect; default today."
    )
    registered_year: Year | None = None
    members: list[MemberCreate] = Field(default_factory=list, max_length=50)


class HouseholdUpdate(_Input):
    address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=30, pattern=r"^[0-9+\- ]{5,30}$")
    main_poverty_cause: PovertyCause | None = None
    water_short_area: bool | None = None
    registered_year: Year | None = None


class HouseholdSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    division_code: DivisionCode
    status: PovertyStatus
    main_poverty_cause: PovertyCause | None
    head_name: str | None
    size: int = Field(description="Living members.")
    version: int


class Household(HouseholdFields):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    division_code: DivisionCode
    phone: str | None = Field(description="Masked unless the caller holds the pii permission.")
    status: PovertyStatus
    registered_year: int | None
    lifted_out_year: int | None
    members: list[Member]
    version: int
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- incomes


class IncomeInput(_Input):
    """A household's income for one year, in yuan."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "wage_income": "12000.00",
                    "business_income": "3000.00",
                    "property_income": "0.00",
                    "transfer_income": "2400.50",
                    "business_costs": "1200.00",
                }
            ]
        },
    )

    wage_income: NonNegativeMoney = Decimal("0.00")
    business_income: NonNegativeMoney = Decimal("0.00")
    property_income: NonNegativeMoney = Decimal("0.00")
    transfer_income: NonNegativeMoney = Decimal("0.00")
    business_costs: NonNegativeMoney = Decimal("0.00")


class Income(IncomeInput):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    household_id: uuid.UUID
    year: int
    net_income: Money
    household_size: int
    per_capita_net_income: Money
    needs_review: bool
    review_reasons: list[str]
    recorded_at: datetime


# ---------------------------------------------------------------- assessments


class AssessmentInput(_Input):
    """A dated visit's findings on the two no-worries and three guarantees."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "assessed_on": "2020-06-30",
                    "food_secure": True,
                    "clothing_secure": True,
                    "housing_grade": "B",
                    "water_litres_per_person_day": 60,
                    "water_quality_ok": True,
                    "water_fetch_minutes": 5,
                    "water_outage_days": 3,
                }
            ]
        },
    )

    assessed_on: date
    food_secure: bool
    clothing_secure: bool
    education_secure: bool | None = Field(
        default=None, description="Omit to derive it from the members' schooling."
    )
    medical_secure: bool | None = Field(
        default=None, description="Omit to derive it from the members' insurance."
    )
    housing_grade: HousingGrade
    relocated: bool = False
    reinforced: bool = False
    water_litres_per_person_day: Decimal = Field(ge=0, le=10000, decimal_places=1)
    water_quality_ok: bool
    water_fetch_minutes: int = Field(ge=0, le=1440)
    water_outage_days: int = Field(ge=0, le=366)
    notes: str | None = Field(default=None, max_length=2000)


class Assessment(AssessmentInput):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    household_id: uuid.UUID
    education_secure: bool
    medical_secure: bool
    education_derived: bool
    medical_derived: bool
    housing_secure: bool
    water_secure: bool
    all_met: bool
    unmet: list[str]
    assessor: str
    recorded_at: datetime


# ---------------------------------------------------------------- status


class StatusChangeInput(_Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to_status": "lifted_out",
                    "effective_on": "2020-11-30",
                    "reason": "income and guarantees verified",
                }
            ]
        },
    )

    to_status: PovertyStatus
    effective_on: date
    reason: str = Field(min_length=1, max_length=500)


class StatusChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    household_id: uuid.UUID
    from_status: PovertyStatus | None
    to_status: PovertyStatus
    effective_on: date
    reason: str
    actor: str
    lifted_out_year: int | None
    recorded_at: datetime
