import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_registry.db import Base


class AssessmentRow(Base):
    __tablename__ = "guarantee_assessment"
    __table_args__ = (
        CheckConstraint("housing_grade IN ('A', 'B', 'C', 'D')", name="housing_grade"),
        CheckConstraint(
            "water_litres_per_person_day >= 0 AND water_fetch_minutes >= 0"
            " AND water_outage_days BETWEEN 0 AND 366",
            name="water_figures",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    household_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("household.id"), index=True
    )
    assessed_on: Mapped[date] = mapped_column(Date)
    food_secure: Mapped[bool] = mapped_column(Boolean)
    clothing_secure: Mapped[bool] = mapped_column(Boolean)
    education_secure: Mapped[bool] = mapped_column(Boolean)
    education_derived: Mapped[bool] = mapped_column(Boolean)
    medical_secure: Mapped[bool] = mapped_column(Boolean)
    medical_derived: Mapped[bool] = mapped_column(Boolean)
    housing_grade: Mapped[str] = mapped_column(String(1))
    relocated: Mapped[bool] = mapped_column(Boolean)
    reinforced: Mapped[bool] = mapped_column(Boolean)
    housing_secure: Mapped[bool] = mapped_column(Boolean)
    water_litres_per_person_day: Mapped[Decimal] = mapped_column(Numeric(7, 1))
    water_quality_ok: Mapped[bool] = mapped_column(Boolean)
    water_fetch_minutes: Mapped[int] = mapped_column(Integer)
    water_outage_days: Mapped[int] = mapped_column(Integer)
    water_secure: Mapped[bool] = mapped_column(Boolean)
    all_met: Mapped[bool] = mapped_column(Boolean)
    unmet: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    notes: Mapped[str | None] = mapped_column(Text)
    assessor: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
