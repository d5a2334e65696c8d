"""Progress reports of the reported targets, by division and date; history kept."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select

from tuopin_monitoring.access import Reader, Reporter, record, within
from tuopin_monitoring.paging import cursor_key
from tuopin_monitoring.plans.models import TargetRow
from tuopin_monitoring.reports import service
from tuopin_monitoring.reports.models import ProgressReportRow
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.monitoring import ProgressReport, ProgressReportInput
from tuopin_shared.contracts.pages import Page
from tuopin_shared.kit.errors import problem_responses
from tuopin_shared.kit.http import Session
from tuopin_shared.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, encode_cursor

router = APIRouter(prefix="/v1/progress-reports", tags=["progress reports"])


def _out(row: ProgressReportRow, code: str) -> ProgressReport:
    return ProgressReport.model_validate(
        {
            **{c.key: getattr(row, c.key) for c in ProgressReportRow.__table__.columns},
            "target_code": code,
        }
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses())
async def file_progress_report(
    body: ProgressReportInput,
    request: Request,
    response: Response,
    session: Session,
    principal: Reporter,
) -> ProgressReport:
    """File a division's cumulative value of a reported target at a date (unit as the target's)."""
    row, target = await service.file(session, principal, body, today())
    await record(session, request, principal, "create", "progress_report", row.id)
    response.headers["Location"] = f"/v1/progress-reports?target_id={target.id}"
    return _out(row, target.code)


@router.get("", responses=problem_responses())
async def list_progress_reports(
    session: Session,
    principal: Reader,
    target_id: Annotated[uuid.UUID | None, Query()] = None,
    division: Annotated[
        DivisionCode | None, Query(description="At or below this division.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ProgressReport]:
    """Reports filed in the caller's division, newest first, corrections included."""
    statement = (
        select(ProgressReportRow, TargetRow.code)
        .join(TargetRow, TargetRow.id == ProgressReportRow.target_id)
        .where(within(ProgressReportRow.division_code, principal.division))
        .order_by(ProgressReportRow.id.desc())
        .limit(limit + 1)
    )
    if target_id is not None:
        statement = statement.where(ProgressReportRow.target_id == target_id)
    if division is not None:
        statement = statement.where(within(ProgressReportRow.division_code, division))
    if cursor:
        statement = statement.where(ProgressReportRow.id < cursor_key(cursor, "id", int))
    rows = (await session.execute(statement)).all()
    items = [_out(row, code) for row, code in rows[:limit]]
    next_cursor = encode_cursor({"id": items[-1].id}) if len(rows) > limit else None
    return Page[ProgressReport](items=items, next_cursor=next_cursor)
