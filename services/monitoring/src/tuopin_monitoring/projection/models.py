"""The monitoring service's read-only copy of what it needs from the registry.

Kept current from the registry's change feed, so indicators and alerts are
set-based SQL on local tables and keep working while the registry is down. It
holds no names or identity numbers: indicators count people, they need not
know who they are; drill-downs link to the registry, which checks who may look.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Date,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_monitoring.db import Base


class HouseholdRow(Base):
    __tablename__ = "household"

    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    division_code: Mapped[str] = mapped_column(CHAR(12), index=True)
    status: Mapped[str] = mapped_column(String(30))
    registered_year: Mapped[int | None] = mapped_column(Integer)
    lifted_out_year: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)


class PersonRow(Base):
    __tablename__ = "person"

    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    deceased_on: Mapped[date | None] = mapped_column(Date)
    labour_capacity: Mapped[str] = mapped_column(String(20))
    employment_status: Mapped[str] = mapped_column(String(20))
    months_worked: Mapped[int] = mapped_column(SmallInteger)
    health_status: Mapped[str] = mapped_column(String(20))
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)
    school_stage: Mapped[str] = mapped_column(String(30))
    school_exempt: Mapped[bool] = mapped_column(Boolean)
    basic_medical_insured: Mapped[bool] = mapped_column(Boolean)
    critical_illness_insured: Mapped[bool] = mapped_column(Boolean)
    # The date a change on the feed made the member disabled, more severely disabled
    # or seriously ill: the feed keeps only the latest state, so "newly" is recorded
    # here when the change goes by, not recovered later.
    health_worsened_on: Mapped[date | None] = mapped_column(Date)
    # The date a change on the feed moved the member from unemployed into work (local,
    # migrant or self-employed): E4's newly employed. NULL for a member registered
    # already working, as for health_worsened_on.
    employed_on: Mapped[date | None] = mapped_column(Date)
    changed_on: Mapped[date] = mapped_column(Date)  # date of the last change applied
    version: Mapped[int] = mapped_column(Integer)


class HouseholdIncomeRow(Base):
    __tablename__ = "household_income"

    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    net_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    household_size: Mapped[int] = mapped_column(Integer)
    per_capita_net_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class AssessmentRow(Base):
    """A guarantee assessment as the registry recorded it (never changed there)."""

    __tablename__ = "assessment"
    __table_args__ = (Index(None, "household_id", "assessed_on"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    assessed_on: Mapped[date] = mapped_column(Date)
    all_met: Mapped[bool] = mapped_column(Boolean)
    unmet: Mapped[list[Any]] = mapped_column(JSONB)
    housing_grade: Mapped[str] = mapped_column(CHAR(1))
    recorded_at: Mapped[datetime] = mapped_column()


class HouseholdStatusRow(Base):
    """A household's status from a date: its history, for indicators at a past date."""

    __tablename__ = "household_status"
    __table_args__ = (Index(None, "household_id", "effective_on"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the registry's id
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    to_status: Mapped[str] = mapped_column(String(30))
    effective_on: Mapped[date] = mapped_column(Date)


class SyncStateRow(Base):
    """How far the projection has applied a feed, and how the last attempts went.

    The position moves in the same transaction as the rows it applied; the
    failure columns are written on their own, so a dashboard can tell how old
    the projection is and whether the registry answered at the last attempt.
    """

    __tablename__ = "sync_state"

    feed: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[str] = mapped_column(Text, server_default="0")
    events_applied: Mapped[int] = mapped_column(BigInteger, server_default="0")
    synced_at: Mapped[datetime | None] = mapped_column()
    attempted_at: Mapped[datetime | None] = mapped_column()
    failed_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
