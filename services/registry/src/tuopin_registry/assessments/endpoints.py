"""Guarantee assessments: dated findings on the two no-worries and three guarantees."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status

from tuopin_registry.access import Editor, Reader, record
from tuopin_registry.assessments import service
from tuopin_registry.households.service import household_in_scope
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.registry import Assessment, AssessmentInput
from tuopin_shared.kit.errors import problem_responses
from tuopin_shared.kit.http import Session

router = APIRouter(prefix="/v1/households/{household_id}/assessments", tags=["assessments"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(404))
async def create_assessment(
    household_id: uuid.UUID,
    body: AssessmentInput,
    request: Request,
    session: Session,
    principal: Editor,
) -> Assessment:
    """Record an assessment; education and medical are derived from the members when omitted."""
    household = await household_in_scope(session, principal, household_id, for_update=True)
    row = await service.record(session, principal, household, body, today())
    await record(session, request, principal, "create", "guarantee_assessment", row.id)
    return Assessment.model_validate(row)


@router.get("", responses=problem_responses(404))
async def list_assessments(
    household_id: uuid.UUID, session: Session, principal: Reader
) -> list[Assessment]:
    """A household's assessments, oldest first."""
    household = await household_in_scope(session, principal, household_id)
    return [Assessment.model_validate(row) for row in await service.history(session, household.id)]
