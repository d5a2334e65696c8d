import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_monitoring.db import Base


class PlanRow(Base):
    """A district's plan for a year: the parameters its indicators and alerts use."""

    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("district_code", "year"),)

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    district_code: Mapped[str] = mapped_column(CHAR(12))
    year: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sources: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class TargetRow(Base):
    __tablename__ = "target"
    __table_args__ = (
        UniqueConstraint("plan_id", "code"),
        CheckConstraint("measurement IN ('computed', 'reported')", name="measurement"),
        CheckConstraint("comparator IN ('>=', '<=', '=')", name="comparator"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("plan.id"), index=True
    )
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    indicator: Mapped[str] = mapped_column(String(80))
    measurement: Mapped[str] = mapped_column(String(10))
    comparator: Mapped[str] = mapped_column(String(2))
    figure: Mapped[Decimal | None] = mapped_column(Numeric)
    unit: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(CHAR(12))
    source: Mapped[str] = mapped_column(String(20))
    baseline: Mapped[Decimal | None] = mapped_column(Numeric)
    additive: Mapped[bool] = mapped_column(Boolean, server_default="true")
    expected_progress: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
