"""Indicator snapshots: taken on demand (or by the scheduler), read as a time series."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select

from tuopin_monitoring.access import (
    Reader,
    SnapshotTaker,
    plans_seen,
    record,
    sees_plan,
    within,
)
from tuopin_monitoring.benefits.service import collect
from tuopin_monitoring.paging import cursor_key
from tuopin_monitoring.plans.endpoints import visible_plan
from tuopin_monitoring.snapshots import service
from tuopin_monitoring.snapshots.models import SnapshotRow, SnapshotValueRow
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.monitoring import (
    Snapshot,
    SnapshotDetail,
    SnapshotInput,
    SnapshotValue,
)
from tuopin_shared.contracts.pages import Page
from tuopin_shared.kit.errors import NotFound, problem_responses
from tuopin_shared.kit.http import Session
from tuopin_shared.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, encode_cursor

router = APIRouter(prefix="/v1/snapshots", tags=["snapshots"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(404))
async def take_snapshot(
    body: SnapshotInput,
    request: Request,
    response: Response,
    session: Session,
    principal: SnapshotTaker,
) -> Snapshot:
    """Compute every computed indicator for the district, its towns and villages at a date,
    from the projection and the benefits service's statistics, and store them all at once
    (without the benefits figures, saying why, when that service cannot give them)."""
    plan = await visible_plan(session, principal, body.plan_id)
    if not principal.covers(plan.district_code):
        raise NotFound(f"plan {body.plan_id} not found")
    district = plan.district_code
    # End the read before waiting on the benefits service: no transaction stays open
    # (and no connection stays taken) for as long as that service takes to answer.
    await session.rollback()
    settings = request.app.state.settings
    as_of = body.as_of or today()
    benefits = await collect(
        request.app.state.benefits, district, as_of, settings.benefits_deadline_seconds
    )
    plan = await visible_plan(session, principal, body.plan_id)
    row = await service.take_in_session(
        session, plan, as_of, principal.subject, settings.snapshot_attempts, benefits
    )
    await record(session, request, principal, "create", "snapshot", row.id)
    response.headers["Location"] = f"/v1/snapshots/{row.id}"
    return Snapshot.model_validate(row)


@router.get("", responses=problem_responses(404))
async def list_snapshots(
    session: Session,
    principal: Reader,
    plan_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Snapshot]:
    """Snapshots of the plans the caller sees, newest first."""
    statement = (
        select(SnapshotRow)
        .where(plans_seen(principal, SnapshotRow.district_code))
        .order_by(SnapshotRow.id.desc())
        .limit(limit + 1)
    )
    if plan_id is not None:
        statement = statement.where(SnapshotRow.plan_id == plan_id)
    if cursor:
        statement = statement.where(SnapshotRow.id < cursor_key(cursor, "id", int))
    rows = list((await session.execute(statement)).scalars())
    items = [Snapshot.model_validate(r) for r in rows[:limit]]
    next_cursor = encode_cursor({"id": items[-1].id}) if len(rows) > limit else None
    return Page[Snapshot](items=items, next_cursor=next_cursor)


@router.get("/{snapshot_id}", responses=problem_responses(404))
async def get_snapshot(
    snapshot_id: int,
    session: Session,
    principal: Reader,
    division: Annotated[
        DivisionCode | None, Query(description="Values at or below this division.")
    ] = None,
) -> SnapshotDetail:
    """One snapshot with its values in the caller's division."""
    row = await session.get(SnapshotRow, snapshot_id)
    if row is None or not sees_plan(principal, row.district_code):
        raise NotFound(f"snapshot {snapshot_id} not found")
    statement = select(SnapshotValueRow).where(
        SnapshotValueRow.snapshot_id == row.id,
        within(SnapshotValueRow.division_code, principal.division),
    )
    if division is not None:
        statement = statement.where(within(SnapshotValueRow.division_code, division))
    statement = statement.order_by(SnapshotValueRow.division_code, SnapshotValueRow.indicator)
    values = [
        SnapshotValue(
            indicator=v.indicator,
            division_code=v.division_code,
            level=v.level,
            numerator=v.numerator,
            denominator=v.denominator,
            value=v.value,
        )
        for v in (await session.execute(statement)).scalars()
    ]
    return SnapshotDetail(**Snapshot.model_validate(row).model_dump(), values=values)
