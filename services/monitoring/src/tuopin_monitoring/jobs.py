"""Work the service does on its own, outside requests: each job opens its own transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import date, datetime, time, timedelta

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tuopin_monitoring.alerts import evaluation
from tuopin_monitoring.plans.models import PlanRow
from tuopin_monitoring.projection.sync import SyncOutcome
from tuopin_shared.contracts.clock import CHINA_STANDARD_TIME, today

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
            if households is None:
                # The whole district, and behind another replica's pass for it: the
                # request timeout is not meant for population-wide statements.
                await session.execute(text("SET LOCAL statement_timeout = 0"))
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


# Just after midnight in China, when the date the rules are judged on has moved.
DAILY_AT = time(0, 5)


def seconds_until_daily_pass(now: datetime) -> float:
    """Seconds from ``now`` (aware) to the next DAILY_AT in China."""
    local = now.astimezone(CHINA_STANDARD_TIME)
    next_pass = datetime.combine(local.date(), DAILY_AT, tzinfo=CHINA_STANDARD_TIME)
    if next_pass <= local:
        next_pass += timedelta(days=1)
    return (next_pass - local).total_seconds()


async def evaluate_daily(
    engine: AsyncEngine,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(CHINA_STANDARD_TIME),
) -> None:
    """Every household of every plan once a day.

    The pass after a sync reads only the households it changed; some rules also
    change with the date alone (a child reaching school age, an illness leaving
    the rule's window) and are seen here. Replicas each run it: the evaluation
    takes the district's advisory lock and keeps one open alert per household
    and rule, so a second pass finds nothing new.
    """
    while True:
        await sleep(seconds_until_daily_pass(clock()))
        try:
            opened = await evaluate_current_plans(engine)
            log.info("daily alert evaluation", opened=opened)
        except Exception:
            log.exception("daily alert evaluation failed; next one tomorrow")
