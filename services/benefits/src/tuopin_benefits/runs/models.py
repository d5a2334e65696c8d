"""Tables of the runs package: runs, their entitlement lines, payment batches, payments,
and the idempotency keys of the writes that create runs and batches.

The database is the last line against paying twice: one live run per program,
period and district; one line per person, program, period, kind and year (so one
pension contribution per person and year); at most one paid and at most one
pending payment per line.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_benefits.db import Base

AMOUNT = Numeric(12, 2)
_PROGRAMS = "program IN ('pension', 'nursing_subsidy', 'living_subsidy')"


class RunRow(Base):
    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(_PROGRAMS, name="program"),
        CheckConstraint("period ~ '^[0-9]{4}(-Q[1-4])?$'", name="period"),
        CheckConstraint(
            "status IN ('draft', 'computed', 'approved', 'paid', 'cancelled')", name="status"
        ),
        CheckConstraint("payable_amount >= 0", name="payable_amount"),
        CheckConstraint("recovery_amount <= 0", name="recovery_amount"),
        CheckConstraint("paid_amount >= 0 AND paid_amount <= payable_amount", name="paid_amount"),
        # Four eyes: whoever created or computed a run may not approve it.
        CheckConstraint(
            "approved_by IS NULL OR (approved_by <> created_by AND approved_by <> computed_by)",
            name="four_eyes",
        ),
        # At most one live run per program, period and district, whatever races.
        Index(
            "uq_run_live",
            "program",
            "period",
            "district_code",
            unique=True,
            postgresql_where=text("status <> 'cancelled'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    program: Mapped[str] = mapped_column(String(30))
    period: Mapped[str] = mapped_column(String(7))
    district_code: Mapped[str] = mapped_column(CHAR(12))
    status: Mapped[str] = mapped_column(String(12), server_default="draft")
    arrears_from: Mapped[date | None] = mapped_column(Date)
    policy_set_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("policy_set.id")
    )
    policy_version: Mapped[int | None] = mapped_column(Integer)
    feed_position: Mapped[str | None] = mapped_column(Text)
    inputs_as_of: Mapped[datetime | None]
    inputs_age_seconds: Mapped[int | None] = mapped_column(Integer)
    inputs_stale: Mapped[bool | None] = mapped_column(Boolean)
    persons: Mapped[int] = mapped_column(Integer, server_default="0")
    lines: Mapped[int] = mapped_column(Integer, server_default="0")
    payable_amount: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    recovery_amount: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    paid_amount: Mapped[Decimal] = mapped_column(AMOUNT, server_default="0")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    computed_by: Mapped[str | None] = mapped_column(String(200))
    computed_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]


class EntitlementRow(Base):
    """One line: a person's due, arrears or recovery for a run, with its trace."""

    __tablename__ = "entitlement"
    __table_args__ = (
        CheckConstraint(_PROGRAMS, name="program"),
        CheckConstraint("kind IN ('due', 'arrears', 'recovery')", name="kind"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("(kind = 'recovery') = (amount < 0)", name="recovery_negative"),
        # A pension line is the year's one contribution: with the unique constraint
        # below this makes it once per person and year.
        CheckConstraint(
            "program <> 'pension' OR (kind = 'due' AND months IS NULL AND period = year::text)",
            name="pension_yearly",
        ),
        CheckConstraint(
            "(months IS NULL) = (month_amounts IS NULL)"
            " AND cardinality(months) = cardinality(month_amounts)",
            name="months_match",
        ),
        UniqueConstraint("member_id", "program", "period", "kind", "year"),
        Index("ix_entitlement_run_id_id", "run_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # No foreign key: its check runs per row and would cost a third of a run over a
    # million people. Runs are never deleted, and only a run's own compute, holding the
    # run's row lock, writes its lines.
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    program: Mapped[str] = mapped_column(String(30))
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    division_code: Mapped[str] = mapped_column(CHAR(12))
    months: Mapped[list[date] | None] = mapped_column(ARRAY(Date))
    month_amounts: Mapped[list[Decimal] | None] = mapped_column(ARRAY(AMOUNT))
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    rule: Mapped[str] = mapped_column(String(60))
    policy_set_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    policy_version: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)


class BatchRow(Base):
    __tablename__ = "payment_batch"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("lines > 0 AND amount > 0", name="not_empty"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("run.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), server_default="open")
    lines: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    closed_at: Mapped[datetime | None]


class PaymentRow(Base):
    """One attempt to pay one line, in one batch."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'paid', 'failed')", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status <> 'paid' OR bank_reference IS NOT NULL", name="paid_reference"),
        UniqueConstraint("batch_id", "entitlement_id"),
        # Nothing is paid twice: at most one paid payment per line, and a line is in
        # at most one batch still waiting for the bank.
        Index(
            "uq_payment_paid",
            "entitlement_id",
            unique=True,
            postgresql_where=text("status = 'paid'"),
        ),
        Index(
            "uq_payment_pending",
            "entitlement_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("payment_batch.id"))
    entitlement_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("entitlement.id"), index=True
    )
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    resulted_at: Mapped[datetime | None]


class IdempotencyKeyRow(Base):
    """The first response to a write sent with an Idempotency-Key, to answer its retries."""

    __tablename__ = "idempotency_key"
    __table_args__ = (PrimaryKeyConstraint("actor", "operation", "key"),)

    actor: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(CHAR(64))
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
