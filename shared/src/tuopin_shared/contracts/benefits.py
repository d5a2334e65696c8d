"""Wire models of the benefits service: policy parameter sets."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.money import NonNegativeMoney

Ratio = Annotated[Decimal, Field(ge=0, le=1, decimal_places=4, examples=["0.80"])]


class _Parameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PensionParameters(_Parameters):
    """Resident pension contribution paid on behalf of eligible poor people (yearly)."""

    amount: NonNegativeMoney = Field(default=Decimal("100.00"), description="Per person per year.")
    age_min: int = Field(default=16, ge=0, le=120, description="Turns this age by 31 Dec.")
    age_max: int = Field(default=59, ge=0, le=120, description="Not older than this on 1 Jan.")
    disability_grades: list[int] = Field(
        default=[1, 2], description="Disability grades that qualify on their own."
    )
    lifted_out_keep_policy: bool = Field(
        default=True, description="Households lifted out keep the policy in the transition."
    )

    @model_validator(mode="after")
    def _ages_ordered(self) -> PensionParameters:
        if self.age_min > self.age_max:
            raise ValueError("age_min must not exceed age_max")
        return self


class DisabilityParameters(_Parameters):
    """Severe-disability nursing and hardship-disability living subsidies (quarterly)."""

    nursing_monthly_grade_1: NonNegativeMoney = Decimal("100.00")
    nursing_monthly_grade_2: NonNegativeMoney = Decimal("80.00")
    living_monthly: NonNegativeMoney = Decimal("100.00")
    living_for_registered_poor: bool = Field(
        default=True, description="Extend the living subsidy from dibao to registered poor."
    )


class ByLevel(_Parameters):
    township: Decimal = Field(ge=0)
    county: Decimal = Field(ge=0)
    municipal: Decimal = Field(ge=0)
    provincial: Decimal = Field(ge=0)


class CriticalIllnessTier(_Parameters):
    up_to: NonNegativeMoney | None = Field(description="Upper bound above the deductible.")
    ratio: Ratio


class MedicalParameters(_Parameters):
    """One-stop medical settlement (see the settlement rules for each figure's use)."""

    inpatient_deductible: ByLevel = ByLevel(
        township=Decimal(100), county=Decimal(400), municipal=Decimal(800), provincial=Decimal(1200)
    )
    basic_ratio: ByLevel = ByLevel(
        township=Decimal("0.90"),
        county=Decimal("0.80"),
        municipal=Decimal("0.70"),
        provincial=Decimal("0.60"),
    )
    poor_in_county_deductible_factor: Ratio = Decimal("0.5")
    poor_in_county_extra_ratio: Ratio = Decimal("0.05")
    basic_annual_cap: NonNegativeMoney = Decimal("150000.00")
    general_outpatient_ratio: Ratio = Decimal("0.50")
    critical_illness_deductible: NonNegativeMoney = Decimal("15000.00")
    critical_illness_poor_deductible_factor: Ratio = Decimal("0.5")
    critical_illness_tiers: list[CriticalIllnessTier] = [
        CriticalIllnessTier(up_to=Decimal("50000.00"), ratio=Decimal("0.60")),
        CriticalIllnessTier(up_to=Decimal("100000.00"), ratio=Decimal("0.70")),
        CriticalIllnessTier(up_to=None, ratio=Decimal("0.80")),
    ]
    critical_illness_poor_extra_ratio: Ratio = Decimal("0.05")
    critical_illness_annual_cap: NonNegativeMoney | None = Decimal("400000.00")
    critical_illness_poor_annual_cap: NonNegativeMoney | None = None
    assistance_ratio: Ratio = Decimal("0.70")
    assistance_annual_cap: NonNegativeMoney = Decimal("30000.00")
    personal_share_cap: Ratio = Decimal("0.10")


class PolicyParameters(_Parameters):
    pension: PensionParameters = PensionParameters()
    disability: DisabilityParameters = DisabilityParameters()
    medical: MedicalParameters = MedicalParameters()


class PolicySetInput(BaseModel):
    """A district's benefit parameters for one year; a new version replaces the one in force."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "district_code": "510303000000",
                    "year": 2020,
                    "parameters": {"pension": {"amount": "100.00"}},
                    "sources": {"pension.amount": "seed", "disability": "placeholder"},
                }
            ]
        },
    )

    district_code: DivisionCode
    year: int = Field(ge=2000, le=2100)
    parameters: PolicyParameters = PolicyParameters()
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="Where each figure comes from (seed, national, placeholder), by dotted path.",
    )


class PolicySet(PolicySetInput):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    version: int
    created_by: str
    created_at: datetime
