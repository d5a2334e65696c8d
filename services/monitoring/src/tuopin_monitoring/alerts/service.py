"""Handling an alert: the lifecycle's writes, each recorded with who did it and why."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_monitoring.alerts.models import AlertActionRow, AlertRow
from tuopin_monitoring.alerts.rules import Action, transition
from tuopin_shared.contracts.monitoring import AlertStatus
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Conflict, NotFound


async def alert_in_scope(
    session: AsyncSession, principal: Principal, alert_id: int, *, for_update: bool = False
) -> AlertRow:
    statement = select(AlertRow).where(AlertRow.id == alert_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalar_one_or_none()
    # Out of the caller's division is answered as missing: its existence is not revealed.
    if row is None or not principal.covers(row.division_code):
        raise NotFound(f"alert {alert_id} not found")
    return row


async def act(
    session: AsyncSession,
    principal: Principal,
    alert_id: int,
    action: Action,
    *,
    note: str | None,
    assignee: str | None = None,
) -> AlertRow:
    alert = await alert_in_scope(session, principal, alert_id, for_update=True)
    current = AlertStatus(alert.status)
    after = transition(action, current)
    if not isinstance(after, AlertStatus):  # a refusal, saying why
        raise Conflict(after, alert_status=current.value)
    alert.status = after.value
    if action is Action.ASSIGN:
        alert.assignee = assignee
    alert.updated_at = func.now()
    session.add(
        AlertActionRow(
            alert_id=alert.id,
            action=action.value,
            from_status=current.value,
            to_status=after.value,
            actor=principal.subject,
            assignee=assignee,
            note=note,
        )
    )
    await session.flush()
    await session.refresh(alert)
    return alert


async def actions_of(session: AsyncSession, alert_id: int) -> list[AlertActionRow]:
    statement = (
        select(AlertActionRow)
        .where(AlertActionRow.alert_id == alert_id)
        .order_by(AlertActionRow.id)
    )
    return list((await session.execute(statement)).scalars())
