"""Return-to-poverty alerts: evaluation on demand, the list, and their handling."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from tuopin_monitoring.access import ALERT_ROLES, AlertHandler, Reader, record, sees_plan, within
from tuopin_monitoring.alerts import evaluation, service
from tuopin_monitoring.alerts.models import AlertRow
from tuopin_monitoring.alerts.rules import RULES, Action
from tuopin_monitoring.paging import cursor_key
from tuopin_monitoring.plans.service import district_of, plan_for
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.monitoring import (
    Alert,
    AlertAction,
    AlertAssign,
    AlertClose,
    AlertDetail,
    AlertEvaluateInput,
    AlertEvaluation,
    AlertNote,
    AlertRule,
    AlertRuleInfo,
    AlertSeverity,
    AlertStatus,
    PlanParameters,
)
from tuopin_shared.contracts.pages import Page
from tuopin_shared.kit.auth import Principal, require_roles
from tuopin_shared.kit.errors import NotFound, problem_responses
from tuopin_shared.kit.http import Session
from tuopin_shared.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, encode_cursor

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

Evaluator = Annotated[Principal, Depends(require_roles(*ALERT_ROLES, Role.service))]


def _out(request: Request, row: AlertRow) -> Alert:
    base = request.app.state.settings.registry_link_base
    alert = Alert.model_validate(row)
    alert.registry_url = f"{base}/v1/households/{row.household_id}"
    return alert


@router.post("/evaluate", responses=problem_responses(404))
async def evaluate_alerts(
    body: AlertEvaluateInput, request: Request, session: Session, principal: Evaluator
) -> AlertEvaluation:
    """Evaluate the alert rules now over the caller's division (one open alert per household
    and rule: re-evaluating refreshes, never duplicates)."""
    as_of = body.as_of or today()
    district = body.district_code or district_of(principal.division)
    plan = await plan_for(session, district, as_of.year)
    if plan is None or not sees_plan(principal, plan.district_code):
        raise NotFound(f"no plan for district {district} in {as_of.year}")
    # A district-wide caller evaluates the district; anyone else their own division.
    division = plan.district_code if principal.covers(plan.district_code) else principal.division
    outcome = await evaluation.evaluate(session, plan, division, as_of)
    await record(
        session,
        request,
        principal,
        "evaluate",
        "alerts",
        division,
        {"opened": outcome.opened, "cleared": outcome.cleared},
    )
    return AlertEvaluation(
        plan_id=plan.id,
        as_of=as_of,
        opened=outcome.opened,
        refreshed=outcome.refreshed,
        cleared=outcome.cleared,
    )


@router.get("/rules", responses=problem_responses())
async def list_alert_rules(principal: Reader) -> list[AlertRuleInfo]:
    """The alert rules, what each one looks for, and whether it is evaluated."""
    severities = PlanParameters().alert_severities
    return [
        AlertRuleInfo(
            rule=r.rule,
            description=r.description,
            default_severity=severities[r.rule],
            evaluated=r.unavailable_reason is None,
            reason=r.unavailable_reason,
        )
        for r in RULES
    ]


@router.get("", responses=problem_responses())
async def list_alerts(
    request: Request,
    session: Session,
    principal: Reader,
    division: Annotated[
        DivisionCode | None, Query(description="At or below this division.")
    ] = None,
    rule: Annotated[AlertRule | None, Query()] = None,
    alert_status: Annotated[AlertStatus | None, Query(alias="status")] = None,
    severity: Annotated[AlertSeverity | None, Query()] = None,
    household_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Alert]:
    """Alerts in the caller's division, newest first."""
    statement = (
        select(AlertRow)
        .where(within(AlertRow.division_code, principal.division))
        .order_by(AlertRow.id.desc())
        .limit(limit + 1)
    )
    if division is not None:
        statement = statement.where(within(AlertRow.division_code, division))
    if rule is not None:
        statement = statement.where(AlertRow.rule == rule.value)
    if alert_status is not None:
        statement = statement.where(AlertRow.status == alert_status.value)
    if severity is not None:
        statement = statement.where(AlertRow.severity == severity.value)
    if household_id is not None:
        statement = statement.where(AlertRow.household_id == household_id)
    if cursor:
        statement = statement.where(AlertRow.id < cursor_key(cursor, "id", int))
    rows = list((await session.execute(statement)).scalars())
    items = [_out(request, r) for r in rows[:limit]]
    next_cursor = encode_cursor({"id": items[-1].id}) if len(rows) > limit else None
    return Page[Alert](items=items, next_cursor=next_cursor)


async def _detail(request: Request, session: Session, row: AlertRow) -> AlertDetail:
    actions = [AlertAction.model_validate(a) for a in await service.actions_of(session, row.id)]
    return AlertDetail(**_out(request, row).model_dump(), actions=actions)


@router.get("/{alert_id}", responses=problem_responses(404))
async def get_alert(
    alert_id: int, request: Request, session: Session, principal: Reader
) -> AlertDetail:
    """One alert with its evidence and everything done about it."""
    return await _detail(
        request, session, await service.alert_in_scope(session, principal, alert_id)
    )


async def _act(
    request: Request,
    session: Session,
    principal: Principal,
    alert_id: int,
    action: Action,
    note: str | None,
    assignee: str | None = None,
) -> AlertDetail:
    row = await service.act(session, principal, alert_id, action, note=note, assignee=assignee)
    await record(session, request, principal, action.value, "alert", alert_id)
    return await _detail(request, session, row)


@router.post("/{alert_id}/acknowledge", responses=problem_responses(404, 409))
async def acknowledge_alert(
    alert_id: int, body: AlertNote, request: Request, session: Session, principal: AlertHandler
) -> AlertDetail:
    """Say the alert has been seen."""
    return await _act(request, session, principal, alert_id, Action.ACKNOWLEDGE, body.note)


@router.post("/{alert_id}/assign", responses=problem_responses(404, 409))
async def assign_alert(
    alert_id: int, body: AlertAssign, request: Request, session: Session, principal: AlertHandler
) -> AlertDetail:
    """Give the alert to a cadre to follow up (again, to reassign it)."""
    return await _act(
        request, session, principal, alert_id, Action.ASSIGN, body.note, body.assignee
    )


@router.post("/{alert_id}/resolve", responses=problem_responses(404, 409))
async def resolve_alert(
    alert_id: int, body: AlertClose, request: Request, session: Session, principal: AlertHandler
) -> AlertDetail:
    """Close the alert with what was done for the household."""
    return await _act(request, session, principal, alert_id, Action.RESOLVE, body.note)


@router.post("/{alert_id}/dismiss", responses=problem_responses(404, 409))
async def dismiss_alert(
    alert_id: int, body: AlertClose, request: Request, session: Session, principal: AlertHandler
) -> AlertDetail:
    """Close the alert as a false alarm, saying why."""
    return await _act(request, session, principal, alert_id, Action.DISMISS, body.note)
