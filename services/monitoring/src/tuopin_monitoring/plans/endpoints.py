"""Plans by district and year, and their targets."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_monitoring.access import PlanEditor, Reader, plans_seen, record, sees_plan
from tuopin_monitoring.plans import service
from tuopin_monitoring.plans.models import PlanRow
from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.monitoring import Plan, PlanInput, Target, TargetInput
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import NotFound, problem_responses
from tuopin_shared.kit.http import Session

router = APIRouter(prefix="/v1/plans", tags=["plans"])


async def visible_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> PlanRow:
    row = await session.get(PlanRow, plan_id)
    if row is None or not sees_plan(principal, row.district_code):
        raise NotFound(f"plan {plan_id} not found")
    return row


@router.get("", responses=problem_responses())
async def list_plans(
    session: Session,
    principal: Reader,
    district: Annotated[DivisionCode | None, Query()] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> list[Plan]:
    """The plans the caller's division falls under or contains, newest year first."""
    statement = (
        select(PlanRow)
        .where(plans_seen(principal, PlanRow.district_code))
        .order_by(PlanRow.year.desc(), PlanRow.district_code)
    )
    if district:
        statement = statement.where(PlanRow.district_code == district)
    if year:
        statement = statement.where(PlanRow.year == year)
    rows = (await session.execute(statement)).scalars()
    return [Plan.model_validate(r) for r in rows]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 409))
async def create_plan(
    body: PlanInput, request: Request, response: Response, session: Session, principal: PlanEditor
) -> Plan:
    """Create a district's plan for a year (one per district and year)."""
    if not principal.covers(body.district_code):
        raise NotFound(f"district {body.district_code} not found")
    row = await service.create_plan(session, body, principal.subject)
    await record(session, request, principal, "create", "plan", row.id)
    response.headers["Location"] = f"/v1/plans/{row.id}"
    return Plan.model_validate(row)


@router.get("/{plan_id}", responses=problem_responses(404))
async def get_plan(plan_id: uuid.UUID, session: Session, principal: Reader) -> Plan:
    """One plan with its parameters."""
    return Plan.model_validate(await visible_plan(session, principal, plan_id))


@router.get("/{plan_id}/targets", responses=problem_responses(404))
async def list_targets(plan_id: uuid.UUID, session: Session, principal: Reader) -> list[Target]:
    """The plan's targets in the plan's order."""
    plan = await visible_plan(session, principal, plan_id)
    return [Target.model_validate(t) for t in await service.targets_of(session, plan.id)]


@router.post(
    "/{plan_id}/targets",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409),
)
async def create_target(
    plan_id: uuid.UUID,
    body: TargetInput,
    request: Request,
    response: Response,
    session: Session,
    principal: PlanEditor,
) -> Target:
    """Add a target: computed from data (a known indicator, in its unit) or reported."""
    plan = await visible_plan(session, principal, plan_id)
    if not principal.covers(plan.district_code):
        raise NotFound(f"plan {plan_id} not found")
    row = await service.add_target(session, plan, body, principal.subject)
    await record(session, request, principal, "create", "target", row.id, {"code": row.code})
    response.headers["Location"] = f"/v1/plans/{plan.id}/targets"
    return Target.model_validate(row)
