import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_monitoring.db import Base
from tuopin_shared.contracts.monitoring import AlertRule, AlertSeverity, AlertStatus

OPEN_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.ASSIGNED)
OPEN_PREDICATE = "status IN ('open', 'acknowledged', 'assigned')"


def _one_of(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class AlertRow(Base):
    """A household at risk under one rule, and what is being done about it."""

    __tablename__ = "alert"
    __table_args__ = (
        # One open alert per household and rule, whoever evaluates and however often.
        Index(
            "uq_alert_open_household_rule",
            "household_id",
            "rule",
            unique=True,
            postgresql_where=text(OPEN_PREDICATE),
        ),
        # Closed alerts are not reopened for the same facts.
        Index(None, "household_id", "rule", "fingerprint"),
        Index(None, "division_code", "id"),
        CheckConstraint(_one_of("rule", AlertRule), name="rule"),
        CheckConstraint(_one_of("severity", AlertSeverity), name="severity"),
        CheckConstraint(_one_of("status", AlertStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    division_code: Mapped[str] = mapped_column(CHAR(12))
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("plan.id"))
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(15), server_default="open")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fingerprint: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())
    cleared_at: Mapped[datetime | None] = mapped_column()
    assignee: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class AlertActionRow(Base):
    """Who did what to an alert, when, with which note."""

    __tablename__ = "alert_action"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    alert_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("alert.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(15))
    to_status: Mapped[str] = mapped_column(String(15))
    actor: Mapped[str] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
