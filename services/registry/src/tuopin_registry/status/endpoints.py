"""Poverty-status changes: the household's history as events."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from tuopin_registry.access import Reader, StatusEditor, record
from tuopin_registry.households.service import household_in_scope
from tuopin_registry.status import service
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.registry import StatusChange, StatusChangeInput
from tuopin_shared.kit.errors import problem_responses
from tuopin_shared.kit.http import IfMatch, Session, check_if_match, etag

router = APIRouter(prefix="/v1/households/{household_id}/status-changes", tags=["status"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 412),
)
async def change_status(
    household_id: uuid.UUID,
    body: StatusChangeInput,
    request: Request,
    response: Response,
    session: Session,
    principal: StatusEditor,
    if_match: IfMatch = None,
) -> StatusChange:
    """Change a household's poverty status; lifting out is refused, with reasons, unless
    the latest income reaches the income line and every guarantee is met."""
    household = await household_in_scope(session, principal, household_id, for_update=True)
    if if_match is not None:
        check_if_match(if_match, household.version)
    row = await service.change(session, principal, household, body, today())
    await record(
        session,
        request,
        principal,
        "change_status",
        "household",
        household.id,
        {"to_status": body.to_status.value},
    )
    response.headers["ETag"] = etag(household.version)
    return StatusChange.model_validate(row)


@router.get("", responses=problem_responses(404))
async def list_status_changes(
    household_id: uuid.UUID, session: Session, principal: Reader
) -> list[StatusChange]:
    """A household's full status history, oldest first."""
    household = await household_in_scope(session, principal, household_id)
    return [
        StatusChange.model_validate(row) for row in await service.history(session, household.id)
    ]
