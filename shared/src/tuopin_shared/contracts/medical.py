"""Wire models of one-stop medical settlement (一站式即时结算) in the benefits service.

A designated institution's billing system sends one claim at discharge (or at a
chronic-disease outpatient visit) and gets back, in one answer, what each payer
covers and what the patient pays, with every deductible, ratio, tier and cap
that applied and the year-to-date sums they were measured on.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tuopin_shared.contracts.clock import today as china_today
from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.identity import ResidentIdNumber
from tuopin_shared.contracts.money import Money, NonNegativeMoney

__all__ = [
    "AnnualCap",
    "CareType",
    "InstitutionLevel",
    "MedicalStats",
    "MedicalStatsRow",
    "PatientCategory",
    "PolicyUsed",
    "Settlement",
    "SettlementClaim",
    "SettlementReversal",
    "SettlementReversalInput",
    "SettlementStatus",
    "SettlementTrace",
    "TierPortion",
    "YearToDate",
]

# Codes and claim numbers come from hospital billing systems; they are kept to
# plain ASCII so that they can be compared, logged and put in URLs safely.
InstitutionCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="The designated institution's code (定点医疗机构编码).",
        examples=["H51030300001"],
    ),
]
ClaimNumber = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]*$",
        description="The institution's own claim number; unique per institution.",
        examples=["ZY2020-000123"],
    ),
]
Ratio = Annotated[Decimal, Field(ge=0, le=1, examples=["0.85"])]
# Figures of the trace that are computed, not paid (a deductible halved, a
# tier's base, an amount before rounding): not held to whole fen.
Figure = Annotated[Decimal, Field(ge=0, examples=["7500.00"])]
Share = Annotated[
    Decimal,
    Field(ge=0, le=1, description="A fraction of the total cost to 4 places.", examples=["0.1000"]),
]


class InstitutionLevel(StrEnum):
    """Level of the treating institution (医疗机构级别)."""

    TOWNSHIP = "township"  # 乡镇卫生院
    COUNTY = "county"  # 县级
    MUNICIPAL = "municipal"  # 市级
    PROVINCIAL = "provincial"  # 省级


class CareType(StrEnum):
    """Kind of care a claim is for."""

    INPATIENT = "inpatient"  # 住院
    CHRONIC_OUTPATIENT = "chronic_outpatient"  # 门诊慢特病
    GENERAL_OUTPATIENT = "general_outpatient"  # 普通门诊


class AnnualCap(StrEnum):
    """An annual ceiling that reduced what a payer would otherwise have paid."""

    BASIC_INSURANCE = "basic_insurance"
    CRITICAL_ILLNESS = "critical_illness"
    MEDICAL_ASSISTANCE = "medical_assistance"


class SettlementStatus(StrEnum):
    SETTLED = "settled"
    REVERSED = "reversed"


class SettlementClaim(BaseModel):
    """One claim from a designated institution, settled across every payer in one call."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "institution_code": "H51030300001",
                    "claim_number": "ZY2020-000123",
                    "resident_id": "51030319850609123X",
                    "institution_level": "county",
                    "in_county": True,
                    "care_type": "inpatient",
                    "admitted_on": "2020-05-02",
                    "discharged_on": "2020-05-12",
                    "total_cost": "120000.00",
                    "in_policy_cost": "100000.00",
                }
            ]
        },
    )

    institution_code: InstitutionCode
    claim_number: ClaimNumber
    resident_id: ResidentIdNumber = Field(description="The patient's resident ID number.")
    institution_level: InstitutionLevel
    in_county: bool = Field(description="Treated inside the patient's own county.")
    care_type: CareType
    admitted_on: date = Field(description="Admission date; the visit date for outpatient care.")
    discharged_on: date = Field(
        description="Discharge date; the visit date for outpatient care. Its year is the "
        "year whose policy and year-to-date sums apply."
    )
    total_cost: NonNegativeMoney
    in_policy_cost: NonNegativeMoney = Field(
        description="The part of the total cost inside the insurance catalogue (<= total_cost)."
    )

    @field_validator("discharged_on")
    @classmethod
    def _discharged_after_admission(cls, value: date, info: ValidationInfo) -> date:
        admitted = info.data.get("admitted_on")
        if admitted is not None and value < admitted:
            raise ValueError(f"discharged_on must not be before admitted_on ({admitted})")
        if value > china_today():
            raise ValueError("discharged_on must not be in the future")
        return value

    @field_validator("in_policy_cost")
    @classmethod
    def _in_policy_within_total(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        total = info.data.get("total_cost")
        if total is not None and value > total:
            raise ValueError(
                f"in_policy_cost must not exceed total_cost ({total}): it is part of the total"
            )
        return value


class SettlementReversalInput(BaseModel):
    """Why a settlement is undone; a correction is a reversal plus a new claim."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"reason": "wrong in-policy cost; claim resubmitted"}]},
    )

    reason: str = Field(min_length=1, max_length=500)


class PatientCategory(BaseModel):
    """Who the patient was on the discharge date, from the benefits projection."""

    division_code: DivisionCode = Field(description="The patient's household's division.")
    household_status: str | None = Field(
        description="The household's poverty status on the discharge date; null when the "
        "household was not yet in the programme then."
    )
    registered_poor: bool
    dibao: bool
    tekun: bool


class YearToDate(BaseModel):
    """The patient's sums for the calendar year, from the service's own ledger."""

    basic_paid: NonNegativeMoney = Field(description="Paid by basic insurance this year.")
    critical_illness_self_pay_base: NonNegativeMoney = Field(
        description="In-policy cost left after basic insurance, cumulated: what the "
        "critical-illness deductible and tiers are measured on."
    )
    critical_illness_paid: NonNegativeMoney
    assistance_paid: NonNegativeMoney


class TierPortion(BaseModel):
    """The part of this claim's critical-illness base that fell in one tier."""

    lower: Figure = Field(description="The tier's lower bound above the deductible.")
    upper: Figure | None = Field(description="Its upper bound; null for the top tier.")
    ratio: Ratio = Field(description="Extra points for the registered poor included.")
    base: Figure = Field(description="The part of this claim's base in the tier.")
    amount: Figure = Field(description="base x ratio, before the payer's total is rounded.")


class SettlementTrace(BaseModel):
    """What applied to the claim: enough for the receipt and for an auditor."""

    deductible: Figure = Field(description="Basic insurance deductible, this claim.")
    ratio: Ratio = Field(description="Basic insurance ratio.")
    critical_illness_deductible: Figure | None = Field(
        description="The year's critical-illness deductible; null when the layer does not apply."
    )
    critical_illness_tiers: list[TierPortion]
    personal_share_cap: Ratio
    personal_payment_limit: NonNegativeMoney | None = Field(
        description="The most the patient may pay when the poverty top-up applies, else null."
    )
    caps_hit: list[AnnualCap]
    year_to_date_before: YearToDate
    year_to_date_after: YearToDate
    notes: list[str]


class PolicyUsed(BaseModel):
    """The policy set version whose medical parameters settled the claim."""

    policy_set_id: uuid.UUID
    district_code: DivisionCode
    year: int
    version: int


class SettlementReversal(BaseModel):
    reversed_at: datetime
    reversed_by: str
    reason: str


class Settlement(BaseModel):
    """How one claim's total cost is split between the payers and the patient.

    The five parts always add up to the total cost exactly; each is rounded
    half-up to the fen once.
    """

    id: uuid.UUID
    status: SettlementStatus
    institution_code: str
    claim_number: str
    institution_level: InstitutionLevel
    resident_id: str = Field(description="Masked unless the caller holds the pii permission.")
    patient: PatientCategory
    in_county: bool
    care_type: CareType
    admitted_on: date
    discharged_on: date
    year: int = Field(description="The ledger year: the discharge date's year.")
    total_cost: NonNegativeMoney
    in_policy_cost: NonNegativeMoney
    basic_insurance: NonNegativeMoney
    critical_illness: NonNegativeMoney
    medical_assistance: NonNegativeMoney
    poverty_top_up: NonNegativeMoney
    personal_payment: NonNegativeMoney
    personal_share: Share | None = Field(description="personal_payment / total_cost; null at 0.")
    deposit_required: bool = Field(
        description="False for a registered poor patient treated in county: treat first, pay later."
    )
    trace: SettlementTrace
    policy: PolicyUsed
    settled_at: datetime
    settled_by: str
    reversal: SettlementReversal | None = None


class MedicalStatsRow(BaseModel):
    """Settlements of one division and discharge month (reversed ones counted apart)."""

    division_code: DivisionCode
    month: str | None = Field(
        description="Discharge month, YYYY-MM; in the total, the month asked for or null."
    )
    settlements: int
    reversed: int
    total_cost: Money
    personal_payment: Money
    average_personal_share: Share | None
    max_personal_share: Share | None
    in_county_poor_settlements: int = Field(
        description="Inpatient and chronic-disease outpatient settlements of registered poor "
        "patients treated in county: those the personal share cap applies to (seed S3)."
    )
    in_county_poor_above_cap: int = Field(
        description="Of those, how many left the patient paying more than the personal share "
        "cap of the policy used (10% by default). Must be zero."
    )


class MedicalStats(BaseModel):
    division_code: DivisionCode
    month: str | None
    year: int | None
    rows: list[MedicalStatsRow] = Field(description="By child division and discharge month.")
    total: MedicalStatsRow = Field(description="The whole division over the period.")
