import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CHAR,
    BigInteger,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_monitoring.db import Base


class SnapshotRow(Base):
    """Every computed indicator for every division at a date, stored whole or not at all.

    The row and its values are written in one transaction: a snapshot that exists is
    complete. It records the feed position the projection was at, so its inputs are
    known, and which indicators another service could not give it at the time;
    snapshots of one plan form the time series the dashboard's trends read.
    """

    __tablename__ = "snapshot"
    __table_args__ = (Index(None, "plan_id", "as_of", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("plan.id"))
    district_code: Mapped[str] = mapped_column(CHAR(12))
    as_of: Mapped[date] = mapped_column(Date)
    taken_at: Mapped[datetime] = mapped_column(server_default=func.now())
    taken_by: Mapped[str] = mapped_column(String(200))
    feed_position: Mapped[str] = mapped_column(Text)
    projection_synced_at: Mapped[datetime | None] = mapped_column()
    values_count: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    # Indicators the snapshot has no values of, and why (the benefits service was down):
    # the dashboard says so instead of "no households".
    unavailable: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")


class SnapshotValueRow(Base):
    __tablename__ = "snapshot_value"
    __table_args__ = (
        # The dashboard's trend: one division's indicator over the plan's snapshots.
        Index(None, "division_code", "indicator", "snapshot_id"),
        # The dashboard's worst sub-divisions: the children of a division in one snapshot.
        Index(None, "snapshot_id", "parent_code", "indicator"),
    )

    snapshot_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    division_code: Mapped[str] = mapped_column(CHAR(12), primary_key=True)
    indicator: Mapped[str] = mapped_column(String(80), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(CHAR(12))
    level: Mapped[str] = mapped_column(String(10))
    numerator: Mapped[Decimal] = mapped_column(Numeric)
    denominator: Mapped[Decimal | None] = mapped_column(Numeric)
    value: Mapped[Decimal | None] = mapped_column(Numeric)
