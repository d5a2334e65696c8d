"""Tables of the settlement package: settlements, the year-to-date ledger, idempotency keys.

The rules already round once and make the parts add up; the CHECK constraints
here are the last line, so that no code path can store a settlement whose
parts are negative or do not sum to its total.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_benefits.db import Base

AMOUNT = Numeric(14, 2)
SHARE = Numeric(5, 4)

_PARTS = ("basic_insurance", "critical_illness", "medical_assistance", "poverty_top_up")
_AMOUNTS = ("total_cost", "in_policy_cost", *_PARTS, "personal_payment")
_YEAR_TO_DATE = (
    "basic_paid",
    "critical_illness_self_pay_base",
    "critical_illness_paid",
    "assistance_paid",
)


class MedicalSettlementRow(Base):
    """One claim settled across every payer; a reversal marks it, never deletes it."""

    __tablename__ = "medical_settlement"
    __table_args__ = (
        # Idempotency by the institution's own claim number.
        UniqueConstraint("institution_code", "claim_number"),
        CheckConstraint(
            " + ".join(_PARTS) + " + personal_payment = total_cost", name="parts_sum_to_total"
        ),
        CheckConstraint(" AND ".join(f"{c} >= 0" for c in _AMOUNTS), name="amounts_not_negative"),
        CheckConstraint("in_policy_cost <= total_cost", name="in_policy_within_total"),
        CheckConstraint("critical_illness_base_added >= 0", name="base_added_not_negative"),
        CheckConstraint("personal_share BETWEEN 0 AND 1", name="personal_share_fraction"),
        CheckConstraint("personal_share_cap BETWEEN 0 AND 1", name="personal_share_cap_fraction"),
        CheckConstraint("admitted_on <= discharged_on", name="admitted_before_discharge"),
        CheckConstraint("year = EXTRACT(YEAR FROM discharged_on)", name="year_of_discharge"),
        CheckConstraint(
            "institution_level IN ('township', 'county', 'municipal', 'provincial')",
            name="institution_level_known",
        ),
        CheckConstraint(
            "care_type IN ('inpatient', 'chronic_outpatient', 'general_outpatient')",
            name="care_type_known",
        ),
        CheckConstraint(
            "(status = 'settled' AND reversed_at IS NULL)"
            " OR (status = 'reversed' AND reversed_at IS NOT NULL)",
            name="status_matches_reversal",
        ),
        # Lists: a patient's settlements, an institution's by date; monitoring by month.
        Index(None, "resident_id", "discharged_on", "id"),
        Index(None, "institution_code", "discharged_on", "id"),
        Index(None, "discharged_on", "division_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    institution_code: Mapped[str] = mapped_column(String(40))
    claim_number: Mapped[str] = mapped_column(String(64))
    institution_level: Mapped[str] = mapped_column(String(12))
    # The projection's member id and, for lists, the resident ID number itself.
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    resident_id: Mapped[str] = mapped_column(CHAR(18))
    division_code: Mapped[str] = mapped_column(CHAR(12))
    household_status: Mapped[str | None] = mapped_column(String(30))
    registered_poor: Mapped[bool] = mapped_column(Boolean)
    dibao: Mapped[bool] = mapped_column(Boolean)
    tekun: Mapped[bool] = mapped_column(Boolean)
    in_county: Mapped[bool] = mapped_column(Boolean)
    care_type: Mapped[str] = mapped_column(String(20))
    admitted_on: Mapped[date] = mapped_column(Date)
    discharged_on: Mapped[date] = mapped_column(Date)
    year: Mapped[int] = mapped_column(SmallInteger)
    policy_set_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("policy_set.id")
    )
    total_cost: Mapped[Decimal] = mapped_column(AMOUNT)
    in_policy_cost: Mapped[Decimal] = mapped_column(AMOUNT)
    basic_insurance: Mapped[Decimal] = mapped_column(AMOUNT)
    critical_illness: Mapped[Decimal] = mapped_column(AMOUNT)
    medical_assistance: Mapped[Decimal] = mapped_column(AMOUNT)
    poverty_top_up: Mapped[Decimal] = mapped_column(AMOUNT)
    personal_payment: Mapped[Decimal] = mapped_column(AMOUNT)
    personal_share: Mapped[Decimal | None] = mapped_column(SHARE)
    personal_share_cap: Mapped[Decimal] = mapped_column(SHARE)
    # What this settlement added to the year's critical-illness base; the other
    # year-to-date effects are the payers' amounts themselves.
    critical_illness_base_added: Mapped[Decimal] = mapped_column(AMOUNT)
    deposit_required: Mapped[bool] = mapped_column(Boolean)
    trace: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The canonical first answer (resident ID unmasked, masked per caller when
    # sent): a retry of the same claim gets the same body back.
    request_hash: Mapped[str] = mapped_column(CHAR(64))
    response_body: Mapped[str] = mapped_column(Text)
    settled_by: Mapped[str] = mapped_column(String(200))
    settled_at: Mapped[datetime] = mapped_column()
    reversed_at: Mapped[datetime | None] = mapped_column()
    reversed_by: Mapped[str | None] = mapped_column(String(200))
    reversal_reason: Mapped[str | None] = mapped_column(String(500))
    reversal_response_body: Mapped[str | None] = mapped_column(Text)


class MedicalYearToDateRow(Base):
    """A person's sums for one year from the settlements not reversed.

    Also what keeps two settlements of the same patient from being computed on
    the same sums: a settlement is stored only if the sums are still the ones it
    was computed on (and a settlement that lost that race, or a reversal, locks
    the row first).
    """

    __tablename__ = "medical_year_to_date"
    __table_args__ = (
        CheckConstraint(
            " AND ".join(f"{c} >= 0" for c in (*_YEAR_TO_DATE, "settlements")),
            name="sums_not_negative",
        ),
    )

    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    basic_paid: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    critical_illness_self_pay_base: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    critical_illness_paid: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    assistance_paid: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    settlements: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MedicalIdempotencyKeyRow(Base):
    """An Idempotency-Key a caller used, the request it came with and what it did."""

    __tablename__ = "medical_idempotency_key"
    __table_args__ = (
        CheckConstraint("operation IN ('settle', 'reverse')", name="operation_known"),
    )

    # Keys are the caller's: an institution's for institution tokens (whichever
    # of its systems sends the retry), the subject's otherwise.
    owner: Mapped[str] = mapped_column(String(250), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(10))
    request_hash: Mapped[str] = mapped_column(CHAR(64))
    settlement_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("medical_settlement.id")
    )
    status_code: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
