"""The benefits service's read-only copy of what it needs from the registry.

Kept current from the registry's change feed, so population-wide runs are
set-based SQL on local tables and keep working while the registry is down.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import CHAR, BigInteger, Boolean, Date, Integer, SmallInteger, String, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_benefits.db import Base


class PersonRow(Base):
    __tablename__ = "person"

    member_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    resident_id: Mapped[str] = mapped_column(CHAR(18), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    deceased_on: Mapped[date | None] = mapped_column(Date)
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)
    disability_certified_on: Mapped[date | None] = mapped_column(Date)
    school_stage: Mapped[str] = mapped_column(String(30))
    resident_pension_enrolled: Mapped[bool] = mapped_column(Boolean)
    employee_pension_enrolled: Mapped[bool] = mapped_column(Boolean)
    dibao: Mapped[bool] = mapped_column(Boolean)
    tekun: Mapped[bool] = mapped_column(Boolean)
    work_injury_care_allowance: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    synced_at: Mapped[datetime] = mapped_column(server_default=func.now())


class HouseholdRow(Base):
    __tablename__ = "household"

    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    division_code: Mapped[str] = mapped_column(CHAR(12), index=True)
    status: Mapped[str] = mapped_column(String(30))
    lifted_out_year: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)


class HouseholdStatusRow(Base):
    """A household's status from a date: its history, for eligibility over a period."""

    __tablename__ = "household_status"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the registry's id
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    status: Mapped[str] = mapped_column(String(30))
    effective_on: Mapped[date] = mapped_column(Date)


class FeedPositionRow(Base):
    """How far the projection has applied a feed; moved in the same transaction."""

    __tablename__ = "feed_position"

    feed: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[str] = mapped_column(Text)
    events_applied: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
