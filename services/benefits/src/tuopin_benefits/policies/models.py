import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CHAR, CheckConstraint, Integer, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_benefits.db import Base


class PolicySetRow(Base):
    """A version of a district's parameters for a year; the highest version is in force.

    Versions are never changed: a run records the one it used, so it can be
    explained later whatever was set since.
    """

    __tablename__ = "policy_set"
    __table_args__ = (
        UniqueConstraint("district_code", "year", "version"),
        CheckConstraint("version > 0", name="version_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    district_code: Mapped[str] = mapped_column(CHAR(12))
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sources: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
