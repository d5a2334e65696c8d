"""Changing a household's poverty status: the lifecycle and the lift-out check."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry import outbox, parameters
from tuopin_registry.assessments import service as assessments
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.households.service import bump, household_payload
from tuopin_registry.incomes import service as incomes
from tuopin_registry.status.events import append_status_event
from tuopin_registry.status.models import StatusChangeRow
from tuopin_registry.status.rules import LiftOutEvidence, lift_out_refusals, transition_refusal
from tuopin_shared.contracts.enums import PovertyStatus
from tuopin_shared.contracts.registry import StatusChangeInput
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Conflict, TuopinError, Unprocessable, field_error


class LiftOutRefused(TuopinError):
    status, slug, title = 422, "lift-out-refused", "The household cannot be lifted out yet"


async def lift_out_evidence(session: AsyncSession, household: HouseholdRow) -> LiftOutEvidence:
    income = await incomes.latest(session, household.id)
    assessment = await assessments.latest(session, household.id)
    line = (
        await parameters.income_line(session, household.division_code, income.year)
        if income is not None
        else None
    )
    return LiftOutEvidence(
        income_year=income.year if income else None,
        per_capita_net_income=income.per_capita_net_income if income else None,
        income_line=line,
        guarantees_assessed=assessment is not None,
        unmet_guarantees=tuple(assessment.unmet) if assessment else (),
    )


async def change(
    session: AsyncSession,
    principal: Principal,
    household: HouseholdRow,
    body: StatusChangeInput,
    today: date,
) -> StatusChangeRow:
    current = PovertyStatus(household.status)
    refusal = transition_refusal(current, body.to_status)
    if refusal:
        raise Conflict(
            refusal, errors=[field_error("to_status", refusal, "transition_not_allowed")]
        )
    if body.effective_on > today:
        raise Unprocessable(errors=[field_error("effective_on", "is in the future", "future_date")])
    last = await session.scalar(
        select(StatusChangeRow.effective_on)
        .where(StatusChangeRow.household_id == household.id)
        .order_by(StatusChangeRow.id.desc())
        .limit(1)
    )
    if last is not None and body.effective_on < last:
        raise Unprocessable(
            errors=[
                field_error(
                    "effective_on", f"is before the previous change ({last})", "out_of_order"
                )
            ]
        )
    lifted_out_year = None
    if body.to_status is PovertyStatus.LIFTED_OUT:
        reasons = lift_out_refusals(await lift_out_evidence(session, household))
        if reasons:
            raise LiftOutRefused("; ".join(reasons), reasons=reasons)
        lifted_out_year = body.effective_on.year
        household.lifted_out_year = lifted_out_year
    household.status = body.to_status.value
    await bump(session, household)
    row = StatusChangeRow(
        household_id=household.id,
        from_status=current.value,
        to_status=body.to_status.value,
        effective_on=body.effective_on,
        reason=body.reason,
        actor=principal.subject,
        lifted_out_year=lifted_out_year,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await append_status_event(session, household, row)
    payload = household_payload(household) | {
        "from_status": current.value,
        "effective_on": body.effective_on.isoformat(),
        "reason": body.reason,
    }
    await outbox.append(
        session,
        household.division_code,
        "household",
        household.id,
        household.version,
        "status_changed",
        payload,
    )
    return row


async def history(session: AsyncSession, household_id: uuid.UUID) -> list[StatusChangeRow]:
    statement = (
        select(StatusChangeRow)
        .where(StatusChangeRow.household_id == household_id)
        .order_by(StatusChangeRow.id)
    )
    return list((await session.execute(statement)).scalars())
