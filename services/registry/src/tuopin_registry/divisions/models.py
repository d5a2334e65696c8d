from decimal import Decimal

from sqlalchemy import CHAR, Boolean, CheckConstraint, ForeignKey, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_registry.db import Base


class DivisionRow(Base):
    __tablename__ = "division"
    __table_args__ = (
        CheckConstraint("level IN ('province', 'city', 'county', 'town', 'village')", name="level"),
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_digits"),
    )

    code: Mapped[str] = mapped_column(CHAR(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(
        CHAR(12), ForeignKey("division.code"), index=True
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, server_default="false")


class ParameterSetRow(Base):
    """Parameters of the registry's rules for a district and year."""

    __tablename__ = "parameter_set"
    __table_args__ = (
        CheckConstraint("income_line >= 0", name="income_line_non_negative"),
        CheckConstraint("school_age_min <= school_age_max", name="school_ages_ordered"),
    )

    district_code: Mapped[str] = mapped_column(
        CHAR(12), ForeignKey("division.code"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    income_line: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    school_age_min: Mapped[int] = mapped_column(Integer)
    school_age_max: Mapped[int] = mapped_column(Integer)
    water_min_litres: Mapped[Decimal] = mapped_column(Numeric(7, 1))
    water_min_litres_short_area: Mapped[Decimal] = mapped_column(Numeric(7, 1))
    water_max_fetch_minutes: Mapped[int] = mapped_column(Integer)
    water_max_outage_days: Mapped[int] = mapped_column(Integer)
    per_capita_review_ceiling: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    sources: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
