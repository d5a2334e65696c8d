"""Everything a dashboard needs, read in one statement.

The dashboard is the service's most frequent read: the plan, its targets, the
last snapshots' values for the division and its children, the reports of the
reported targets and the sync state come back as one JSON document built by
PostgreSQL, so a request costs one round trip whatever the number of targets.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from tuopin_monitoring.projection.sync import FEED
from tuopin_monitoring.reports.rules import ReportFact
from tuopin_shared.kit.database import driver

_LOAD = """
WITH p AS (
    SELECT id, year, parameters FROM monitoring.plan WHERE district_code = $1 AND year = $2
),
t AS (
    SELECT id, code, name, indicator, measurement, comparator, figure, unit, baseline,
           additive, expected_progress
      FROM monitoring.target WHERE plan_id = (SELECT id FROM p)
),
recent AS (
    SELECT id, as_of, taken_at, unavailable FROM monitoring.snapshot
     WHERE plan_id = (SELECT id FROM p) AND as_of <= $3
     ORDER BY as_of DESC, id DESC LIMIT $4
),
first AS (
    SELECT id, as_of FROM monitoring.snapshot
     WHERE plan_id = (SELECT id FROM p) AND as_of <= $3
     ORDER BY as_of, id LIMIT 1
),
latest AS (SELECT id FROM recent ORDER BY as_of DESC, id DESC LIMIT 1),
vals AS (
    SELECT v.snapshot_id, v.division_code, v.indicator, v.numerator, v.denominator, v.value
      FROM monitoring.snapshot_value v
     WHERE v.snapshot_id IN (SELECT id FROM recent UNION SELECT id FROM first)
       AND v.division_code = $5
    UNION ALL
    SELECT v.snapshot_id, v.division_code, v.indicator, v.numerator, v.denominator, v.value
      FROM monitoring.snapshot_value v
     WHERE v.snapshot_id IN (SELECT id FROM latest UNION SELECT id FROM first)
       AND v.parent_code = $5
),
reps AS (
    SELECT r.id, r.target_id, r.division_code, r.reported_on, r.value
      FROM monitoring.progress_report r
     WHERE r.target_id IN (SELECT id FROM t WHERE measurement = 'reported')
       AND r.division_code BETWEEN $6 AND $7 AND r.reported_on <= $3
)
SELECT json_build_object(
    'plan', (SELECT row_to_json(p) FROM p),
    'targets', (SELECT json_agg(t) FROM t),
    'recent', (SELECT json_agg(recent ORDER BY as_of DESC, id DESC) FROM recent),
    'first', (SELECT row_to_json(first) FROM first),
    'values', (SELECT json_agg(vals) FROM vals),
    'reports', (SELECT json_agg(reps) FROM reps),
    'sync', (SELECT row_to_json(s) FROM (
        SELECT synced_at, failed_at FROM monitoring.sync_state WHERE feed = $8) s)
)::text
"""


@dataclass(frozen=True)
class TargetFacts:
    id: uuid.UUID
    code: str
    name: str
    indicator: str
    measurement: str
    comparator: str
    figure: Decimal | None
    unit: str
    baseline: Decimal | None
    additive: bool
    points: list[tuple[date, Decimal]]


@dataclass(frozen=True)
class SnapshotMark:
    id: int
    as_of: date
    taken_at: datetime | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # indicator: why it has no values


@dataclass(frozen=True)
class Value:
    numerator: Decimal | None
    denominator: Decimal | None
    value: Decimal | None


@dataclass
class Loaded:
    plan_id: uuid.UUID
    parameters: dict[str, Any]
    targets: list[TargetFacts]
    recent: list[SnapshotMark]  # newest first
    first: SnapshotMark | None
    values: dict[tuple[int, str, str], Value] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    reports: dict[uuid.UUID, list[ReportFact]] = field(default_factory=dict)
    synced_at: datetime | None = None
    failed_at: datetime | None = None


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _timestamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


async def load(
    connection: AsyncConnection,
    district: str,
    year: int,
    division: str,
    prefix: str,
    on: date,
    points: int,
) -> Loaded | None:
    """The dashboard's facts for ``division`` at ``on``; None when the district has no plan."""
    raw: Any = await driver(connection)
    text = await raw.fetchval(
        _LOAD,
        district,
        year,
        on,
        points,
        division,
        prefix.ljust(12, "0"),
        prefix.ljust(12, "9"),
        FEED,
    )
    # Numbers are read as Decimal from their text: never through a binary float.
    doc = json.loads(text, parse_float=Decimal)
    if doc["plan"] is None:
        return None
    targets = [
        TargetFacts(
            id=uuid.UUID(t["id"]),
            code=t["code"],
            name=t["name"],
            indicator=t["indicator"],
            measurement=t["measurement"],
            comparator=t["comparator"],
            figure=_decimal(t["figure"]),
            unit=t["unit"],
            baseline=_decimal(t["baseline"]),
            additive=t["additive"],
            points=[
                (date.fromisoformat(p["on"]), Decimal(str(p["share"])))
                for p in t["expected_progress"] or []
            ],
        )
        for t in doc["targets"] or []
    ]
    recent = [
        SnapshotMark(
            s["id"], date.fromisoformat(s["as_of"]), _timestamp(s["taken_at"]), s["unavailable"]
        )
        for s in doc["recent"] or []
    ]
    first = doc["first"]
    loaded = Loaded(
        plan_id=uuid.UUID(doc["plan"]["id"]),
        parameters=doc["plan"]["parameters"],
        targets=targets,
        recent=recent,
        first=SnapshotMark(first["id"], date.fromisoformat(first["as_of"])) if first else None,
    )
    latest = recent[0].id if recent else None
    for v in doc["values"] or []:
        key = (v["snapshot_id"], v["division_code"], v["indicator"])
        loaded.values[key] = Value(
            _decimal(v["numerator"]), _decimal(v["denominator"]), _decimal(v["value"])
        )
        if v["division_code"] != division and v["snapshot_id"] == latest:
            loaded.children[v["indicator"]].add(v["division_code"])
    for r in doc["reports"] or []:
        loaded.reports.setdefault(uuid.UUID(r["target_id"]), []).append(
            ReportFact(
                r["id"],
                r["division_code"],
                date.fromisoformat(r["reported_on"]),
                Decimal(str(r["value"])),
            )
        )
    sync = doc["sync"] or {}
    loaded.synced_at = _timestamp(sync.get("synced_at"))
    loaded.failed_at = _timestamp(sync.get("failed_at"))
    return loaded
