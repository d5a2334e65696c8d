"""Keeping the projection current from the registry's change feed.

The page loop is the kit's (``tuopin_shared.kit.feed.follow``): each page applied
set-based in one transaction with the new position, one follower at a time,
whether the background loop of several replicas or ``tuopin sync-registry``.
What is here is what a page means to benefits.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from tuopin_shared.kit import feed
from tuopin_shared.kit.feed import RegistryUnavailable, SyncResult

__all__ = ["RegistryUnavailable", "current_position", "sync_forever", "sync_once"]

FEED = "registry"
# One syncer at a time (exclusive, tried); runs take it shared while they read the
# projection, so the syncer skips a turn rather than change it under them.
SYNC_LOCK = zlib.crc32(b"tuopin-benefits-sync")
log = structlog.get_logger("tuopin.benefits.sync")


_PERSONS = """
INSERT INTO benefits.person AS p (
    member_id, household_id, resident_id, name, birth_date, deceased_on, disability_grade,
    disability_certified_on, school_stage, resident_pension_enrolled, employee_pension_enrolled,
    dibao, tekun, work_injury_care_allowance, version)
SELECT DISTINCT ON (r.id)
    r.id, r.household_id, r.resident_id, r.name, r.birth_date, r.deceased_on, r.disability_grade,
    r.disability_certified_on, r.school_stage, r.resident_pension_enrolled,
    r.employee_pension_enrolled, r.dibao, r.tekun, r.work_injury_care_allowance, r.version
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    id uuid, household_id uuid, resident_id text, name text, birth_date date, deceased_on date,
    disability_grade smallint, disability_certified_on date, school_stage text,
    resident_pension_enrolled boolean, employee_pension_enrolled boolean, dibao boolean,
    tekun boolean, work_injury_care_allowance boolean, version integer)
ORDER BY r.id, r.version DESC
ON CONFLICT (member_id) DO UPDATE SET
    household_id = EXCLUDED.household_id,
    resident_id = EXCLUDED.resident_id,
    name = EXCLUDED.name,
    birth_date = EXCLUDED.birth_date,
    deceased_on = EXCLUDED.deceased_on,
    disability_grade = EXCLUDED.disability_grade,
    disability_certified_on = EXCLUDED.disability_certified_on,
    school_stage = EXCLUDED.school_stage,
    resident_pension_enrolled = EXCLUDED.resident_pension_enrolled,
    employee_pension_enrolled = EXCLUDED.employee_pension_enrolled,
    dibao = EXCLUDED.dibao,
    tekun = EXCLUDED.tekun,
    work_injury_care_allowance = EXCLUDED.work_injury_care_allowance,
    version = EXCLUDED.version,
    synced_at = now()
WHERE p.version < EXCLUDED.version
"""

_HOUSEHOLDS = """
INSERT INTO benefits.household AS h (household_id, division_code, status, lifted_out_year, version)
SELECT DISTINCT ON (r.id) r.id, r.division_code, r.status, r.lifted_out_year, r.version
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    id uuid, division_code text, status text, lifted_out_year integer, version integer)
ORDER BY r.id, r.version DESC
ON CONFLICT (household_id) DO UPDATE SET
    division_code = EXCLUDED.division_code,
    status = EXCLUDED.status,
    lifted_out_year = EXCLUDED.lifted_out_year,
    version = EXCLUDED.version
WHERE h.version < EXCLUDED.version
"""

_STATUS_HISTORY = """
INSERT INTO benefits.household_status (id, household_id, status, effective_on)
SELECT r.id, r.household_id, r.to_status, r.effective_on
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    id bigint, household_id uuid, to_status text, effective_on date)
ON CONFLICT (id) DO NOTHING
"""

PROJECTION = feed.Projection(
    lock=SYNC_LOCK,
    read_position="SELECT position FROM benefits.feed_position WHERE feed = $1",
    move_position="""
        INSERT INTO benefits.feed_position AS f (feed, position, events_applied, updated_at)
        VALUES ($1, $2, $3, now())
        ON CONFLICT (feed) DO UPDATE SET position = EXCLUDED.position,
            events_applied = f.events_applied + EXCLUDED.events_applied,
            updated_at = now()
    """,
    apply={"member": _PERSONS, "household": _HOUSEHOLDS, "household_status": _STATUS_HISTORY},
    feed=FEED,
)


async def sync_once(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    *,
    page_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> SyncResult:
    """Apply the feed until it has nothing more ready; returns where it stopped."""
    return await feed.follow(engine, client, PROJECTION, page_size=page_size, progress=progress)


async def current_position(engine: AsyncEngine) -> str:
    return await feed.position(engine, PROJECTION)


async def sync_forever(
    engine: AsyncEngine,
    client_factory: Callable[[], httpx.AsyncClient],
    interval: float,
    page_size: int,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The service's background loop: follow the feed, back off while the registry is down."""
    async with client_factory() as client:
        await feed.follow_forever(
            lambda: sync_once(engine, client, page_size=page_size), interval, log, sleep
        )
