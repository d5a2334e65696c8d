"""Taking a snapshot: every computed indicator for the district, each town and each
village at a date, in one INSERT … SELECT over the household facts, plus the
figures collected from the benefits service's statistics beforehand.

The snapshot row and all its values are written in one transaction, so a
snapshot either exists whole or not at all. A transient database error (a
serialization failure, a deadlock, a lock timeout, a dropped connection when
the job has its own) rolls the attempt back and it is tried again with backoff.
The benefits figures are collected once, before: no transaction waits on the
network, and a retry stores the same figures. Those the benefits service could
not give are named in the snapshot with the reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import stamina
import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tuopin_monitoring.benefits.service import BenefitsFigures
from tuopin_monitoring.indicators.catalogue import FROM_PROJECTION, Indicator
from tuopin_monitoring.indicators.facts import Scope, facts_params, facts_query, holds_only
from tuopin_monitoring.plans.models import PlanRow
from tuopin_monitoring.plans.service import parameters_of
from tuopin_monitoring.projection.sync import FEED
from tuopin_monitoring.snapshots.models import SnapshotRow
from tuopin_shared.contracts.divisions import division_prefix

log = structlog.get_logger("tuopin.monitoring.snapshots")

# Errors that say "try again", not "this is wrong": serialization failure, deadlock,
# lock not available, too many connections, server shutting down, connection lost.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "53300", "57P01", "57P02", "57P03"})


def is_transient(exc: Exception) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    return state in TRANSIENT_SQLSTATES or (isinstance(state, str) and state.startswith("08"))


def _values_sql(indicators: tuple[Indicator, ...], *, whole: bool) -> str:
    """Aggregate the facts over three grouping sets (district, town, village) and unpivot
    one row per division and indicator. Built from the catalogue's constants only."""
    aggregates = ",\n           ".join(
        f"{i.numerator} AS n{k}, {i.denominator or 'NULL'} AS d{k}"
        for k, i in enumerate(indicators)
    )
    unpivot = ",\n        ".join(
        f"('{i.key}', a.n{k}::numeric, a.d{k}::numeric)" for k, i in enumerate(indicators)
    )
    return f"""
{facts_query(whole=whole)}
, agg AS (
    SELECT left(f.division_code, 6) AS county, left(f.division_code, 9) AS town,
           f.division_code AS village,
           GROUPING(left(f.division_code, 9), f.division_code) AS g,
           {aggregates}
      FROM f
     GROUP BY GROUPING SETS (
           (left(f.division_code, 6)),
           (left(f.division_code, 6), left(f.division_code, 9)),
           (left(f.division_code, 6), left(f.division_code, 9), f.division_code))
)
INSERT INTO monitoring.snapshot_value (
    snapshot_id, division_code, indicator, parent_code, level, numerator, denominator, value)
SELECT :snapshot_id,
       CASE a.g WHEN 0 THEN a.village WHEN 1 THEN rpad(a.town, 12, '0')
            ELSE rpad(a.county, 12, '0') END,
       v.indicator,
       CASE a.g WHEN 0 THEN rpad(a.town, 12, '0') WHEN 1 THEN rpad(a.county, 12, '0') END,
       CASE a.g WHEN 0 THEN 'village' WHEN 1 THEN 'town' ELSE 'county' END,
       v.num, v.den,
       CASE WHEN v.den IS NULL THEN v.num
            WHEN v.den = 0 THEN NULL
            ELSE round(100 * v.num / v.den, 2) END
  FROM agg a
 CROSS JOIN LATERAL (VALUES
        {unpivot}) AS v(indicator, num, den)
"""  # noqa: S608


_VALUES_SQL = {whole: _values_sql(FROM_PROJECTION, whole=whole) for whole in (False, True)}

_FIGURES_SQL = """
INSERT INTO monitoring.snapshot_value (
    snapshot_id, division_code, indicator, parent_code, level, numerator, denominator, value)
SELECT :snapshot_id, r.division_code, r.indicator, r.parent_code, r.level,
       r.numerator, r.denominator, r.value
  FROM jsonb_to_recordset(CAST(:figures AS jsonb)) AS r(
       division_code text, indicator text, parent_code text, level text,
       numerator numeric, denominator numeric, value numeric)
"""

# A snapshot taken by a caller that did not ask the benefits service (a benchmark).
NOT_ASKED = BenefitsFigures.none("the snapshot was taken without asking the benefits service")


@dataclass(frozen=True)
class SyncMark:
    position: str
    synced_at: datetime | None


async def sync_mark(session: AsyncSession) -> SyncMark:
    row = (
        await session.execute(
            text("SELECT position, synced_at FROM monitoring.sync_state WHERE feed = :feed"),
            {"feed": FEED},
        )
    ).first()
    return SyncMark(row.position, row.synced_at) if row else SyncMark("0", None)


async def insert_values(
    session: AsyncSession, snapshot_id: int, params: dict[str, Any], *, whole: bool
) -> int:
    statement = text(_VALUES_SQL[whole])
    result = await session.execute(statement, {**params, "snapshot_id": snapshot_id})
    return int(result.rowcount)  # type: ignore[attr-defined]


async def insert_figures(session: AsyncSession, snapshot_id: int, benefits: BenefitsFigures) -> int:
    """The benefits figures, in one statement (amounts travel as text: exact)."""
    if not benefits.figures:
        return 0
    rows = [
        {
            "division_code": f.division_code,
            "indicator": f.indicator,
            "parent_code": f.parent_code,
            "level": f.level,
            "numerator": str(f.numerator),
            "denominator": None if f.denominator is None else str(f.denominator),
            "value": None if f.value is None else str(f.value),
        }
        for f in benefits.figures
    ]
    result = await session.execute(
        text(_FIGURES_SQL), {"snapshot_id": snapshot_id, "figures": json.dumps(rows)}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def compute(
    session: AsyncSession,
    plan: PlanRow,
    as_of: date,
    actor: str,
    benefits: BenefitsFigures = NOT_ASKED,
) -> SnapshotRow:
    """Write one snapshot inside the caller's transaction; the caller commits or rolls back."""
    started = time.perf_counter()
    mark = await sync_mark(session)
    snapshot = SnapshotRow(
        plan_id=plan.id,
        district_code=plan.district_code,
        as_of=as_of,
        taken_by=actor,
        feed_position=mark.position,
        projection_synced_at=mark.synced_at,
        values_count=0,
        duration_ms=0,
        unavailable=benefits.unavailable,
    )
    session.add(snapshot)
    await session.flush()
    prefix = division_prefix(plan.district_code)
    params = facts_params(parameters_of(plan), as_of, Scope(prefix))
    whole = await holds_only(session, prefix)
    snapshot.values_count = await insert_values(session, snapshot.id, params, whole=whole)
    snapshot.values_count += await insert_figures(session, snapshot.id, benefits)
    snapshot.duration_ms = round((time.perf_counter() - started) * 1000)
    await session.flush()
    await session.refresh(snapshot)
    return snapshot


async def take_in_session(
    session: AsyncSession,
    plan: PlanRow,
    as_of: date,
    actor: str,
    attempts: int,
    benefits: BenefitsFigures = NOT_ASKED,
) -> SnapshotRow:
    """A snapshot inside a request's unit of work: each attempt in a savepoint, so a failed
    one leaves nothing behind and the next starts clean."""
    snapshot: SnapshotRow | None = None
    async for attempt in stamina.retry_context(
        on=is_transient, attempts=attempts, wait_initial=0.2, wait_max=5.0
    ):
        with attempt:
            async with session.begin_nested():
                snapshot = await compute(session, plan, as_of, actor, benefits)
    assert snapshot is not None
    return snapshot


async def take(
    engine: AsyncEngine,
    plan_id: Any,
    as_of: date,
    actor: str,
    attempts: int,
    benefits: BenefitsFigures = NOT_ASKED,
) -> SnapshotRow:
    """A snapshot as a job of its own (commands, benchmarks): a whole transaction per attempt,
    so a dropped connection is retried too."""
    snapshot: SnapshotRow | None = None
    async for attempt in stamina.retry_context(
        on=is_transient, attempts=attempts, wait_initial=0.5, wait_max=30.0
    ):
        with attempt:
            async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
                plan = await session.get(PlanRow, plan_id)
                if plan is None:
                    raise LookupError(f"plan {plan_id} not found")
                snapshot = await compute(session, plan, as_of, actor, benefits)
    assert snapshot is not None
    log.info(
        "snapshot taken", id=snapshot.id, values=snapshot.values_count, ms=snapshot.duration_ms
    )
    return snapshot
