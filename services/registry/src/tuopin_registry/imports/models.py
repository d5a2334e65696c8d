import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CHAR, Boolean, CheckConstraint, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tuopin_registry.db import Base
from tuopin_registry.households.models import one_of
from tuopin_shared.contracts.imports import ImportMode, ImportStage, ImportStatus, LedgerFormat


class ImportJobRow(Base):
    """A ledger import run in the background: its progress, then its report."""

    __tablename__ = "import_job"
    __table_args__ = (
        CheckConstraint(one_of("status", ImportStatus), name="status"),
        CheckConstraint(f"stage IS NULL OR {one_of('stage', ImportStage)}", name="stage"),
        CheckConstraint(one_of("mode", ImportMode), name="mode"),
        CheckConstraint(one_of("format", LedgerFormat), name="format"),
        CheckConstraint(
            "rows_done >= 0 AND error_count >= 0"
            " AND households_created >= 0 AND members_created >= 0",
            name="counts_non_negative",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    # Who asked, as the job must act for them after the request has gone.
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_roles: Mapped[str] = mapped_column(String(200))
    # The caller's division: rows outside it are refused, and only callers whose
    # division covers it see the job.
    division_code: Mapped[str] = mapped_column(CHAR(12), index=True)
    can_see_pii: Mapped[bool] = mapped_column(Boolean)
    request_id: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(10))
    mode: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), index=True)
    stage: Mapped[str | None] = mapped_column(String(20))
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, server_default="0")
    error_count: Mapped[int] = mapped_column(Integer, server_default="0")
    households_created: Mapped[int] = mapped_column(Integer, server_default="0")
    members_created: Mapped[int] = mapped_column(Integer, server_default="0")
    # The report as the requester may see it (masked without pii); bounded in size.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
