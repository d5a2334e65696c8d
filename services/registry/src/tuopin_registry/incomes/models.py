import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_registry.db import Base


class IncomeRow(Base):
    __tablename__ = "household_income"
    __table_args__ = (
        CheckConstraint(
            "wage_income >= 0 AND business_income >= 0 AND property_income >= 0"
            " AND transfer_income >= 0 AND business_costs >= 0",
            name="parts_non_negative",
        ),
        CheckConstraint(
            "net_income = wage_income + business_income + property_income"
            " + transfer_income - business_costs",
            name="net_income_sum",
        ),
        CheckConstraint("household_size > 0", name="household_size_positive"),
    )

    household_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("household.id"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    wage_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    business_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    property_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    transfer_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    business_costs: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    net_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    household_size: Mapped[int] = mapped_column(Integer)
    per_capita_net_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    needs_review: Mapped[bool] = mapped_column(Boolean)
    review_reasons: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
