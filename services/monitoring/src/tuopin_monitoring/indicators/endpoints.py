"""The indicator catalogue, and the households behind an indicator's shortfall."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from tuopin_monitoring.access import Reader, sees_plan
from tuopin_monitoring.indicators import catalogue, repository
from tuopin_monitoring.paging import as_uuid, cursor_key
from tuopin_monitoring.plans.service import parameters_of, plan_for, targets_of
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.divisions import DivisionCode, division_prefix
from tuopin_shared.contracts.monitoring import FailingHousehold, IndicatorInfo
from tuopin_shared.contracts.pages import Page
from tuopin_shared.kit.errors import NotFound, Unprocessable, field_error, problem_responses
from tuopin_shared.kit.http import Session
from tuopin_shared.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, encode_cursor

router = APIRouter(prefix="/v1/indicators", tags=["indicators"])


@router.get("", responses=problem_responses())
async def list_indicators(principal: Reader) -> list[IndicatorInfo]:
    """Every computed indicator a target may name, and whether it has a value yet."""
    return [
        IndicatorInfo(
            key=i.key,
            name=i.name,
            unit=i.unit,
            kind=i.kind.value,
            available=i.available,
            unavailable_reason=i.unavailable_reason,
            household_level=i.failing is not None,
            source=i.source.value,
            formula=i.formula,
        )
        for i in catalogue.INDICATORS
    ]


@router.get("/{code}/households", responses=problem_responses(404))
async def list_failing_households(
    request: Request,
    session: Session,
    principal: Reader,
    code: Annotated[str, Path(description="A target code of the plan (G1) or an indicator key.")],
    division: Annotated[
        DivisionCode | None, Query(description="Default the caller's division.")
    ] = None,
    on: Annotated[date | None, Query(alias="date", description="Default today.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[FailingHousehold]:
    """The households failing a household-level indicator, each linked to the registry."""
    division = division or principal.division
    on = on or today()
    if not principal.covers(division):
        raise NotFound(f"division {division} not found")
    plan = await plan_for(session, division, on.year)
    if plan is None or not sees_plan(principal, plan.district_code):
        raise NotFound(f"no plan for the district of {division} in {on.year}")
    key = next((t.indicator for t in await targets_of(session, plan.id) if t.code == code), code)
    indicator = catalogue.find(key)
    if indicator is None:
        raise NotFound(f"no target or indicator {code}")
    if indicator.failing is None:
        raise Unprocessable(
            f"{indicator.key} is not counted household by household here",
            errors=[
                field_error(
                    "code",
                    indicator.unavailable_reason
                    or (
                        "computed from the benefits service's statistics: the people behind"
                        " it are in that service (a run's lines, a patient's settlements)"
                        if indicator.source is not catalogue.Source.PROJECTION
                        else "not a household-level indicator"
                    ),
                    "not_household_level",
                    "path",
                )
            ],
        )
    after = str(cursor_key(cursor, "after", as_uuid)) if cursor else None
    found, more = await repository.failing_households(
        session,
        indicator,
        parameters_of(plan),
        division_prefix(division),
        on,
        after=after,
        limit=limit,
    )
    base = request.app.state.settings.registry_link_base
    items = [
        FailingHousehold(
            household_id=f.household_id,
            division_code=f.division_code,
            status=f.status,
            evidence=f.evidence,
            registry_url=f"{base}/v1/households/{f.household_id}",
        )
        for f in found
    ]
    next_cursor = encode_cursor({"after": found[-1].household_id}) if more and found else None
    return Page[FailingHousehold](items=items, next_cursor=next_cursor)
