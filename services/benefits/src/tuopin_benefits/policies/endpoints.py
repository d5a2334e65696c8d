"""Policy parameter sets by district and year."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select

from tuopin_benefits.access import PolicyEditor, Reader
from tuopin_benefits.db import audit_log
from tuopin_benefits.policies import service
from tuopin_benefits.policies.models import PolicySetRow
from tuopin_shared.contracts.benefits import PolicySet, PolicySetInput
from tuopin_shared.contracts.divisions import DivisionCode, division_level
from tuopin_shared.contracts.enums import DivisionLevel
from tuopin_shared.kit import audit
from tuopin_shared.kit.errors import NotFound, Unprocessable, field_error, problem_responses
from tuopin_shared.kit.http import Session

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.get("", responses=problem_responses())
async def list_policies(
    session: Session,
    principal: Reader,
    district: Annotated[DivisionCode | None, Query()] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> list[PolicySet]:
    """Every version of the policy sets inside the caller's division, newest first."""
    statement = select(PolicySetRow).order_by(
        PolicySetRow.district_code, PolicySetRow.year.desc(), PolicySetRow.version.desc()
    )
    if district:
        statement = statement.where(PolicySetRow.district_code == district)
    if year:
        statement = statement.where(PolicySetRow.year == year)
    rows = (await session.execute(statement)).scalars()
    return [PolicySet.model_validate(r) for r in rows if principal.covers(r.district_code)]


@router.get("/in-force", responses=problem_responses(404))
async def get_policy_in_force(
    session: Session,
    principal: Reader,
    district: Annotated[DivisionCode, Query()],
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> PolicySet:
    """The version in force for a district and year (the highest)."""
    row = await service.in_force(session, district, year)
    if row is None or not principal.covers(row.district_code):
        raise NotFound(f"no policy set for {district} in {year}")
    return PolicySet.model_validate(row)


@router.get("/{policy_id}", responses=problem_responses(404))
async def get_policy(policy_id: uuid.UUID, session: Session, principal: Reader) -> PolicySet:
    """One version of a policy set."""
    row = await session.get(PolicySetRow, policy_id)
    if row is None or not principal.covers(row.district_code):
        raise NotFound(f"policy set {policy_id} not found")
    return PolicySet.model_validate(row)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(403, 404))
async def create_policy(
    body: PolicySetInput,
    request: Request,
    response: Response,
    session: Session,
    principal: PolicyEditor,
) -> PolicySet:
    """Save a new version of a district's parameters for a year; it is in force at once."""
    if division_level(body.district_code) is not DivisionLevel.COUNTY:
        raise Unprocessable(
            errors=[
                field_error("district_code", "policy sets belong to a district", "not_a_district")
            ]
        )
    if not principal.covers(body.district_code):
        raise NotFound(f"district {body.district_code} not found")
    row = await service.create(session, body, principal.subject)
    await audit.record(
        session,
        audit_log,
        principal,
        "create",
        "policy_set",
        row.id,
        getattr(request.state, "request_id", None),
    )
    response.headers["Location"] = f"/v1/policies/{row.id}"
    return PolicySet.model_validate(row)
