"""Work the service does on its own, outside requests: each job opens its own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tuopin_monitoring.alerts import evaluation
from tuopin_monitoring.plans.models import PlanRow
from tuopin_monitoring.projection.sync import SyncOutcome
from tuopin_shared.contracts.clock import today

log = structlog.get_logger("tuopin.monitoring.jobs")


async def evaluate_current_plans(
    engine: AsyncEngine,
    on: date | None = None,
    households: Collection[uuid.UUID] | None = None,
) -> int:
    """Evaluate the alert rules of every plan of the current year; returns alerts opened.

    With ``households`` (those a sync changed), only they are read and only their
    alerts refreshed or cleared; without, every household of every district.
    """
    on = on or today()
    if households is not None and not households:
        return 0
    opened = 0
    async with AsyncSession(engine, expire_on_commit=False) as session:
        plans = list(
            (await session.execute(select(PlanRow).where(PlanRow.year == on.year))).scalars()
        )
    for plan in plans:
        # One transaction per district: a failure in one leaves the others evaluated.
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            outcome = await evaluation.evaluate(session, plan, plan.district_code, on, households)
        log.info(
            "alerts evaluated",
            district=plan.district_code,
            households="all" if households is None else len(households),
            opened=outcome.opened,
            refreshed=outcome.refreshed,
            cleared=outcome.cleared,
        )
        opened += outcome.opened
    return opened


async def evaluate_changed(engine: AsyncEngine, result: SyncOutcome) -> int:
    """The evaluation after a sync: the households it changed, not the whole district."""
    return await evaluate_current_plans(engine, households=result.households)
