import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_registry.db import Base
from tuopin_registry.households.models import one_of
from tuopin_shared.contracts.enums import PovertyStatus


class StatusChangeRow(Base):
    """One event in a household's poverty-status history; never updated."""

    __tablename__ = "status_change"
    __table_args__ = (
        CheckConstraint(one_of("to_status", PovertyStatus), name="to_status"),
        CheckConstraint(
            f"from_status IS NULL OR {one_of('from_status', PovertyStatus)}", name="from_status"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("household.id"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    effective_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(200))
    lifted_out_year: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
