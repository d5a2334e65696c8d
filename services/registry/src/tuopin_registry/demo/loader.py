"""Loads a demo district into PostgreSQL, set-based and all or nothing.

Divisions and the parameter set go in with one ``INSERT … ON CONFLICT DO
NOTHING`` each, so they can be loaded next to what is already there. Every
other row goes in by ``COPY`` a batch at a time, and the change feed is then
appended with one ``INSERT … SELECT`` per entity over the households this run
loaded, so consumers of the feed see the demo households as if each had been
registered through the API. Everything happens in one transaction.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from tuopin_registry.demo.generator import (
    ASSESSMENT_COLUMNS,
    HOUSEHOLD_COLUMNS,
    INCOME_COLUMNS,
    MEMBER_COLUMNS,
    STATUS_CHANGE_COLUMNS,
    DemoDistrict,
)
from tuopin_registry.households.service import household_payload_sql
from tuopin_registry.status.events import status_event_payload_sql

__all__ = ["LoadSummary", "Progress", "load", "registry_migrated"]

SCHEMA = "registry"

# Told what has been done so far: a stage name and a running count.
Progress = Callable[[str, int], None]

# Ids of the households this run loads: the change feed is appended for them
# alone, never for rows that were in the register before.
_LOADED = "demo_loaded_household"

_INSERT_DIVISIONS = """
INSERT INTO registry.division (code, name, level, parent_code, synthetic)
SELECT * FROM unnest($1::char(12)[], $2::text[], $3::text[], $4::char(12)[], $5::boolean[])
ON CONFLICT (code) DO NOTHING
"""

_INSERT_PARAMETERS = """
INSERT INTO registry.parameter_set (
    district_code, year, income_line, school_age_min, school_age_max,
    water_min_litres, water_min_litres_short_area, water_max_fetch_minutes,
    water_max_outage_days, per_capita_review_ceiling, sources
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
ON CONFLICT (district_code, year) DO NOTHING
"""

# Payloads match what the registry's services append for the same events.
_FEED = {
    "households": """
INSERT INTO registry.change_event (division_code, entity, entity_id, version, kind, payload)
SELECT h.division_code, 'household', h.id, h.version, 'created', """
    + household_payload_sql("h")
    + """
FROM registry.household h JOIN demo_loaded_household l ON l.id = h.id
ORDER BY h.id
""",
    "members": """
INSERT INTO registry.change_event (division_code, entity, entity_id, version, kind, payload)
SELECT h.division_code, 'member', m.id, m.version, 'created', to_jsonb(m)
FROM registry.member m
JOIN demo_loaded_household l ON l.id = m.household_id
JOIN registry.household h ON h.id = m.household_id
ORDER BY m.household_id, m.id
""",
    "incomes": """
INSERT INTO registry.change_event (division_code, entity, entity_id, version, kind, payload)
SELECT h.division_code, 'household_income', i.household_id, i.year, 'recorded', jsonb_build_object(
    'household_id', i.household_id,
    'year', i.year,
    'net_income', i.net_income::text,
    'household_size', i.household_size,
    'per_capita_net_income', i.per_capita_net_income::text,
    'needs_review', i.needs_review)
FROM registry.household_income i
JOIN demo_loaded_household l ON l.id = i.household_id
JOIN registry.household h ON h.id = i.household_id
ORDER BY i.household_id, i.year
""",
    "assessments": """
INSERT INTO registry.change_event (division_code, entity, entity_id, version, kind, payload)
SELECT h.division_code, 'guarantee_assessment', a.id, 1, 'recorded', jsonb_build_object(
    'id', a.id,
    'household_id', a.household_id,
    'assessed_on', a.assessed_on,
    'all_met', a.all_met,
    'unmet', a.unmet,
    'housing_grade', a.housing_grade)
FROM registry.guarantee_assessment a
JOIN demo_loaded_household l ON l.id = a.household_id
JOIN registry.household h ON h.id = a.household_id
ORDER BY a.household_id, a.id
""",
    "status_history": """
INSERT INTO registry.change_event (division_code, entity, entity_id, version, kind, payload)
SELECT h.division_code, 'household_status', s.household_id, h.version, 'recorded', """
    + status_event_payload_sql("s")
    + """
FROM registry.status_change s
JOIN demo_loaded_household l ON l.id = s.household_id
JOIN registry.household h ON h.id = s.household_id
ORDER BY s.household_id, s.id
""",
}

_TABLES = ("household", "member", "household_income", "guarantee_assessment", "status_change")


@dataclass(frozen=True)
class LoadSummary:
    loaded: bool
    households: int = 0
    members: int = 0
    incomes: int = 0
    assessments: int = 0
    status_changes: int = 0
    change_events: int = 0
    divisions: int = 0  # newly inserted; existing ones are left as they are
    parameter_sets: int = 0
    elapsed_seconds: float = 0.0
    skipped_because: str | None = None


async def registry_migrated(connection: asyncpg.Connection) -> bool:
    """Whether the registry's tables exist (``tuopin migrate registry`` has run)."""
    return bool(await connection.fetchval("SELECT to_regclass('registry.household') IS NOT NULL"))


async def load(
    connection: asyncpg.Connection,
    district: DemoDistrict,
    *,
    if_empty: bool = False,
    progress: Progress | None = None,
    households_per_batch: int = 5_000,
) -> LoadSummary:
    """Load ``district`` in one transaction: if anything fails, nothing is loaded.

    With ``if_empty``, a register that already has households is left alone.
    """
    started = time.perf_counter()
    report = progress or (lambda stage, count: None)
    async with connection.transaction():
        if if_empty:
            # Two loaders started together must not both find the register empty:
            # this lock admits one at a time (and lets readers through).
            await connection.execute("LOCK TABLE registry.household IN SHARE ROW EXCLUSIVE MODE")
            if await connection.fetchval("SELECT EXISTS (SELECT 1 FROM registry.household)"):
                return LoadSummary(
                    loaded=False,
                    elapsed_seconds=time.perf_counter() - started,
                    skipped_because="the register already has households",
                )

        divisions = await _insert_divisions(connection, district)
        parameter_sets = await _insert_parameters(connection, district)
        report("divisions", divisions)

        await connection.execute(
            f"CREATE TEMPORARY TABLE {_LOADED} (id uuid NOT NULL) ON COMMIT DROP"
        )
        counts = dict.fromkeys(_TABLES, 0)
        # The next batch is generated in a worker thread while this one is being
        # copied: the server's work and the generator's then overlap.
        loop = asyncio.get_running_loop()
        batches = district.batches(households_per_batch)
        pending = loop.run_in_executor(None, next, batches, None)
        try:
            while (batch := await pending) is not None:
                pending = loop.run_in_executor(None, next, batches, None)
                # Parents first: each copy is checked against the foreign keys as it lands.
                for table, columns, records in (
                    ("household", HOUSEHOLD_COLUMNS, batch.households),
                    ("member", MEMBER_COLUMNS, batch.members),
                    ("household_income", INCOME_COLUMNS, batch.incomes),
                    ("guarantee_assessment", ASSESSMENT_COLUMNS, batch.assessments),
                    ("status_change", STATUS_CHANGE_COLUMNS, batch.status_changes),
                ):
                    await connection.copy_records_to_table(
                        table, schema_name=SCHEMA, columns=list(columns), records=records
                    )
                    counts[table] += len(records)
                await connection.copy_records_to_table(
                    _LOADED, records=[(row[0],) for row in batch.households], columns=["id"]
                )
                report("persons", counts["member"])
        finally:
            # After a failed copy nobody waits for the batch being generated.
            pending.cancel()

        # The temporary table has no statistics; without them the joins below
        # could be planned as if it held a handful of rows.
        await connection.execute(f"ANALYZE {_LOADED}")
        events = 0
        for statement in _FEED.values():
            events += _row_count(await connection.execute(statement))
        report("change_events", events)

    # Fresh statistics, so the first queries after a large load are not planned
    # as if the tables were still empty.
    await connection.execute(
        "ANALYZE " + ", ".join(f"{SCHEMA}.{table}" for table in (*_TABLES, "change_event"))
    )
    return LoadSummary(
        loaded=True,
        households=counts["household"],
        members=counts["member"],
        incomes=counts["household_income"],
        assessments=counts["guarantee_assessment"],
        status_changes=counts["status_change"],
        change_events=events,
        divisions=divisions,
        parameter_sets=parameter_sets,
        elapsed_seconds=time.perf_counter() - started,
    )


async def _insert_divisions(connection: asyncpg.Connection, district: DemoDistrict) -> int:
    records = [d.record() for d in district.divisions]
    columns = [list(column) for column in zip(*records, strict=True)]
    return _row_count(await connection.execute(_INSERT_DIVISIONS, *columns))


async def _insert_parameters(connection: asyncpg.Connection, district: DemoDistrict) -> int:
    p = district.parameters
    status = await connection.execute(
        _INSERT_PARAMETERS,
        p.district_code,
        p.year,
        p.income_line,
        p.school_age_min,
        p.school_age_max,
        p.water_min_litres,
        p.water_min_litres_short_area,
        p.water_max_fetch_minutes,
        p.water_max_outage_days,
        p.per_capita_review_ceiling,
        json.dumps(p.sources),
    )
    return _row_count(status)


def _row_count(status: str) -> int:
    """The row count at the end of a command tag such as ``INSERT 0 42``."""
    return int(status.rsplit(" ", 1)[-1])
