import uuid
from datetime import datetime

from sqlalchemy import CHAR, Boolean, CheckConstraint, ForeignKey, Integer, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_registry.db import Base
from tuopin_shared.contracts.enums import PovertyCause, PovertyStatus


def one_of(column: str, values: type) -> str:
    """A CHECK that keeps a text column inside an enum's values."""
    listed = ", ".join(f"'{member.value}'" for member in values)  # type: ignore[attr-defined]
    return f"{column} IN ({listed})"


class HouseholdRow(Base):
    __tablename__ = "household"
    __table_args__ = (
        CheckConstraint(one_of("status", PovertyStatus), name="status"),
        CheckConstraint(
            f"main_poverty_cause IS NULL OR {one_of('main_poverty_cause', PovertyCause)}",
            name="main_poverty_cause",
        ),
        CheckConstraint("version > 0", name="version_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    division_code: Mapped[str] = mapped_column(CHAR(12), ForeignKey("division.code"), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), index=True)
    main_poverty_cause: Mapped[str | None] = mapped_column(String(30))
    registered_year: Mapped[int | None] = mapped_column(Integer)
    lifted_out_year: Mapped[int | None] = mapped_column(Integer)
    water_short_area: Mapped[bool] = mapped_column(Boolean, server_default="false")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
