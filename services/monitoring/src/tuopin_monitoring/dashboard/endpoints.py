"""The dashboard: is the plan on track, here, at this date?"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from tuopin_monitoring.access import Reader, sees_plan
from tuopin_monitoring.dashboard import repository, service
from tuopin_monitoring.plans.service import district_of
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.divisions import DivisionCode, division_prefix
from tuopin_shared.contracts.monitoring import Dashboard
from tuopin_shared.kit.errors import NotFound, problem_responses
from tuopin_shared.kit.http import ReadDatabase

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])


@router.get("", responses=problem_responses(404))
async def get_dashboard(
    request: Request,
    database: ReadDatabase,
    principal: Reader,
    division: Annotated[
        DivisionCode | None, Query(description="Default the caller's division.")
    ] = None,
    on: Annotated[date | None, Query(alias="date", description="Default today.")] = None,
    points: Annotated[int, Query(ge=1, le=24, description="Snapshots in each trend.")] = 6,
    worst: Annotated[int, Query(ge=0, le=20, description="Worst sub-divisions listed.")] = 3,
) -> Dashboard:
    """Every target with value, figure, status, trend and worst sub-divisions, from the last
    snapshot; `stale` says whether the data behind it may be out of date."""
    division = division or principal.division
    on = on or today()
    district = district_of(division)
    if not principal.covers(division) or not sees_plan(principal, district):
        raise NotFound(f"division {division} not found")
    async with database.connection() as connection:
        loaded = await repository.load(
            connection, district, on.year, division, division_prefix(division), on, points
        )
    if loaded is None:
        raise NotFound(f"no plan for the district of {division} in {on.year}")
    settings = request.app.state.settings
    return service.dashboard(
        loaded,
        year=on.year,
        division=division,
        on=on,
        stale_after=timedelta(seconds=settings.stale_after_seconds),
        points=points,
        worst_count=worst,
    )
