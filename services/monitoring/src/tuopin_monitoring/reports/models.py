import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_monitoring.db import Base


class ProgressReportRow(Base):
    """A division's cumulative value of a reported target at a date.

    Never changed (the database refuses updates and deletes): a correction is a new
    report, which may name the one it corrects, and the history stays readable.
    """

    __tablename__ = "progress_report"
    __table_args__ = (
        Index(None, "target_id", "division_code", "reported_on", "id"),
        CheckConstraint("value >= 0", name="value_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    target_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("target.id"))
    division_code: Mapped[str] = mapped_column(CHAR(12))
    reported_on: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric)
    unit: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[str] = mapped_column(Text)
    reporter: Mapped[str] = mapped_column(String(200))
    reporter_name: Mapped[str | None] = mapped_column(String(200))
    corrects: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("progress_report.id"))
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
