"""A household's annual income: net and per-capita figures computed by the server."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request

from tuopin_registry.access import Editor, Reader, record
from tuopin_registry.households.service import household_in_scope
from tuopin_registry.incomes import service
from tuopin_registry.incomes.models import IncomeRow
from tuopin_shared.contracts.registry import Income, IncomeInput
from tuopin_shared.kit.errors import NotFound, problem_responses
from tuopin_shared.kit.http import Session

router = APIRouter(prefix="/v1/households/{household_id}/incomes", tags=["incomes"])
YearParam = Annotated[int, Path(ge=2000, le=2100)]


@router.put("/{year}", responses=problem_responses(404))
async def put_income(
    household_id: uuid.UUID,
    year: YearParam,
    body: IncomeInput,
    request: Request,
    session: Session,
    principal: Editor,
) -> Income:
    """Record (or replace) a household's income for a year; implausible figures are flagged."""
    household = await household_in_scope(session, principal, household_id, for_update=True)
    row = await service.record(session, principal, household, year, body)
    await record(
        session, request, principal, "record_income", "household", household.id, {"year": year}
    )
    return Income.model_validate(row)


@router.get("", responses=problem_responses(404))
async def list_incomes(
    household_id: uuid.UUID, session: Session, principal: Reader
) -> list[Income]:
    """A household's income, year by year."""
    household = await household_in_scope(session, principal, household_id)
    return [Income.model_validate(row) for row in await service.history(session, household.id)]


@router.get("/{year}", responses=problem_responses(404))
async def get_income(
    household_id: uuid.UUID, year: YearParam, session: Session, principal: Reader
) -> Income:
    """A household's income for one year."""
    household = await household_in_scope(session, principal, household_id)
    row = await session.get(IncomeRow, (household.id, year))
    if row is None:
        raise NotFound(f"no income recorded for {year}")
    return Income.model_validate(row)
