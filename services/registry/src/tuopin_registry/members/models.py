import uuid
from datetime import date, datetime

from sqlalchemy import (
    CHAR,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_registry.db import Base
from tuopin_registry.households.models import one_of
from tuopin_shared.contracts.enums import (
    DisabilityCategory,
    EmploymentStatus,
    HealthStatus,
    LabourCapacity,
    RelationToHead,
    SchoolStage,
    Sex,
)


class MemberRow(Base):
    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint("resident_id ~ '^[0-9]{17}[0-9X]$'", name="resident_id_format"),
        CheckConstraint(one_of("sex", Sex), name="sex"),
        CheckConstraint(one_of("relation_to_head", RelationToHead), name="relation_to_head"),
        CheckConstraint(one_of("labour_capacity", LabourCapacity), name="labour_capacity"),
        CheckConstraint(one_of("employment_status", EmploymentStatus), name="employment_status"),
        CheckConstraint(one_of("health_status", HealthStatus), name="health_status"),
        CheckConstraint(one_of("school_stage", SchoolStage), name="school_stage"),
        CheckConstraint(
            f"disability_category IS NULL OR {one_of('disability_category', DisabilityCategory)}",
            name="disability_category",
        ),
        CheckConstraint("months_worked BETWEEN 0 AND 12", name="months_worked"),
        CheckConstraint(
            "(disability_grade IS NULL) = (disability_category IS NULL)"
            " AND (disability_grade IS NULL OR disability_grade BETWEEN 1 AND 4)",
            name="disability_grade",
        ),
        CheckConstraint("version > 0", name="version_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    household_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("household.id"), index=True
    )
    # Unique across the whole registry: one person, one record.
    resident_id: Mapped[str] = mapped_column(CHAR(18), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str] = mapped_column(String(6))
    birth_date: Mapped[date] = mapped_column(Date)
    relation_to_head: Mapped[str] = mapped_column(String(20))
    labour_capacity: Mapped[str] = mapped_column(String(20))
    employment_status: Mapped[str] = mapped_column(String(20))
    months_worked: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    employment_place: Mapped[str | None] = mapped_column(String(200))
    health_status: Mapped[str] = mapped_column(String(20))
    disability_category: Mapped[str | None] = mapped_column(String(20))
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)
    disability_certificate_no: Mapped[str | None] = mapped_column(String(40))
    disability_certified_on: Mapped[date | None] = mapped_column(Date)
    school_stage: Mapped[str] = mapped_column(String(30))
    school_exempt: Mapped[bool] = mapped_column(Boolean, server_default="false")
    basic_medical_insured: Mapped[bool] = mapped_column(Boolean, server_default="false")
    critical_illness_insured: Mapped[bool] = mapped_column(Boolean, server_default="false")
    resident_pension_enrolled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    employee_pension_enrolled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    dibao: Mapped[bool] = mapped_column(Boolean, server_default="false")
    tekun: Mapped[bool] = mapped_column(Boolean, server_default="false")
    work_injury_care_allowance: Mapped[bool] = mapped_column(Boolean, server_default="false")
    deceased_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
