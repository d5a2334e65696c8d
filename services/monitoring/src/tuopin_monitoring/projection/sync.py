"""Keeping the projection current from the registry's change feed.

The page loop is the kit's (``tuopin_shared.kit.feed.follow``): each page applied
set-based in one transaction with the new position, one follower at a time (the
background loop of every replica, the ``tuopin monitoring-sync`` command). Every
attempt is recorded here, failed or not, because the dashboard reports how
current it is.

The sync also notes which households its pages touched, so that the alert
evaluation after it reads those households only (``Changed``).
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from tuopin_shared.contracts.clock import CHINA_STANDARD_TIME
from tuopin_shared.kit import feed
from tuopin_shared.kit.database import driver
from tuopin_shared.kit.feed import RegistryUnavailable, SyncResult

__all__ = [
    "Changed",
    "RegistryUnavailable",
    "SyncOutcome",
    "current_position",
    "sync_forever",
    "sync_once",
]

FEED = "registry"
_LOCK = zlib.crc32(b"tuopin-monitoring-sync")
log = structlog.get_logger("tuopin.monitoring.sync")


_PERSONS = """
WITH page AS (
    SELECT r.*
      FROM jsonb_to_recordset($1::text::jsonb) AS r(
        id uuid, household_id uuid, birth_date date, deceased_on date, labour_capacity text,
        employment_status text, months_worked smallint, health_status text,
        disability_grade smallint, school_stage text, school_exempt boolean,
        basic_medical_insured boolean, critical_illness_insured boolean, changed_on date,
        version integer)
), steps AS (
    -- Each version of a member in this page beside the one before it: the page's
    -- previous version, or for the first the stored row (a page holds every
    -- version since the last). A member seen for the first time has no before.
    SELECT page.id, page.changed_on, page.employment_status, page.health_status,
           page.disability_grade,
           CASE WHEN lag(page.version) OVER w IS NOT NULL
                THEN lag(page.employment_status) OVER w
                ELSE stored.employment_status END AS employment_before,
           CASE WHEN lag(page.version) OVER w IS NOT NULL
                THEN lag(page.health_status) OVER w
                ELSE stored.health_status END AS health_before,
           CASE WHEN lag(page.version) OVER w IS NOT NULL
                THEN lag(page.disability_grade) OVER w
                ELSE stored.disability_grade END AS grade_before,
           lag(page.version) OVER w IS NULL AND stored.member_id IS NULL AS first_seen
      FROM page
      LEFT JOIN monitoring.person stored ON stored.member_id = page.id
     WHERE stored.version IS NULL OR page.version > stored.version
    WINDOW w AS (PARTITION BY page.id ORDER BY page.version)
), noted AS (
    -- The latest move from unemployed into work, and the latest change for the
    -- worse in health (into disability or serious illness, or a more severe
    -- grade), wherever they fall. A member registered already working, disabled
    -- or ill is not news.
    SELECT id,
           max(changed_on) FILTER (
               WHERE employment_before = 'unemployed' AND employment_status <> 'unemployed'
           ) AS employed_on,
           max(changed_on) FILTER (
               WHERE NOT first_seen
                 AND ((health_status IN ('disabled', 'serious_illness')
                       AND health_status <> health_before)
                      OR disability_grade < coalesce(grade_before, 5))
           ) AS health_worsened_on
      FROM steps
     GROUP BY id
)
INSERT INTO monitoring.person AS p (
    member_id, household_id, birth_date, deceased_on, labour_capacity, employment_status,
    months_worked, health_status, disability_grade, school_stage, school_exempt,
    basic_medical_insured, critical_illness_insured, changed_on, version, employed_on,
    health_worsened_on)
SELECT DISTINCT ON (r.id)
    r.id, r.household_id, r.birth_date, r.deceased_on, r.labour_capacity, r.employment_status,
    r.months_worked, r.health_status, r.disability_grade, r.school_stage, r.school_exempt,
    r.basic_medical_insured, r.critical_illness_insured, r.changed_on, r.version,
    noted.employed_on, noted.health_worsened_on
FROM page AS r
LEFT JOIN noted ON noted.id = r.id
ORDER BY r.id, r.version DESC
ON CONFLICT (member_id) DO UPDATE SET
    household_id = EXCLUDED.household_id,
    birth_date = EXCLUDED.birth_date,
    deceased_on = EXCLUDED.deceased_on,
    labour_capacity = EXCLUDED.labour_capacity,
    employment_status = EXCLUDED.employment_status,
    months_worked = EXCLUDED.months_worked,
    health_status = EXCLUDED.health_status,
    disability_grade = EXCLUDED.disability_grade,
    school_stage = EXCLUDED.school_stage,
    school_exempt = EXCLUDED.school_exempt,
    basic_medical_insured = EXCLUDED.basic_medical_insured,
    critical_illness_insured = EXCLUDED.critical_illness_insured,
    health_worsened_on = coalesce(EXCLUDED.health_worsened_on, p.health_worsened_on),
    employed_on = coalesce(EXCLUDED.employed_on, p.employed_on),
    changed_on = EXCLUDED.changed_on,
    version = EXCLUDED.version
WHERE p.version < EXCLUDED.version
"""

_HOUSEHOLDS = """
INSERT INTO monitoring.household AS h (
    household_id, division_code, status, registered_year, lifted_out_year, version)
SELECT DISTINCT ON (r.id)
    r.id, r.division_code, r.status, r.registered_year, r.lifted_out_year, r.version
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    id uuid, division_code text, status text, registered_year integer, lifted_out_year integer,
    version integer)
ORDER BY r.id, r.version DESC
ON CONFLICT (household_id) DO UPDATE SET
    division_code = EXCLUDED.division_code,
    status = EXCLUDED.status,
    registered_year = EXCLUDED.registered_year,
    lifted_out_year = EXCLUDED.lifted_out_year,
    version = EXCLUDED.version
WHERE h.version < EXCLUDED.version
"""

# An income is re-recorded for the same year without a version: the feed's order
# (``n``, the place in the page; later pages apply later) decides which one holds.
_INCOMES = """
INSERT INTO monitoring.household_income AS i (
    household_id, year, net_income, household_size, per_capita_net_income)
SELECT DISTINCT ON (r.household_id, r.year)
    r.household_id, r.year, r.net_income, r.household_size, r.per_capita_net_income
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    household_id uuid, year integer, net_income numeric, household_size integer,
    per_capita_net_income numeric, n integer)
ORDER BY r.household_id, r.year, r.n DESC
ON CONFLICT (household_id, year) DO UPDATE SET
    net_income = EXCLUDED.net_income,
    household_size = EXCLUDED.household_size,
    per_capita_net_income = EXCLUDED.per_capita_net_income
"""

_ASSESSMENTS = """
INSERT INTO monitoring.assessment (
    id, household_id, assessed_on, all_met, unmet, housing_grade, recorded_at)
SELECT r.id, r.household_id, r.assessed_on, r.all_met, r.unmet, r.housing_grade, r.occurred_at
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    id uuid, household_id uuid, assessed_on date, all_met boolean, unmet jsonb,
    housing_grade text, occurred_at timestamptz)
ON CONFLICT (id) DO NOTHING
"""

_STATUS_HISTORY = """
INSERT INTO monitoring.household_status (id, household_id, to_status, effective_on)
SELECT r.id, r.household_id, r.to_status, r.effective_on
FROM jsonb_to_recordset($1::text::jsonb) AS r(
    id bigint, household_id uuid, to_status text, effective_on date)
ON CONFLICT (id) DO NOTHING
"""

_APPLY = {
    "household": _HOUSEHOLDS,
    "member": _PERSONS,
    "household_income": _INCOMES,
    "guarantee_assessment": _ASSESSMENTS,
    "household_status": _STATUS_HISTORY,
}

PROJECTION_MOVE = """
INSERT INTO monitoring.sync_state AS s (feed, position, events_applied, synced_at, attempted_at)
VALUES ($1, $2, $3, now(), now())
ON CONFLICT (feed) DO UPDATE SET position = EXCLUDED.position,
    events_applied = s.events_applied + EXCLUDED.events_applied,
    synced_at = now(), attempted_at = now()
"""

PROJECTION_READ = "SELECT position FROM monitoring.sync_state WHERE feed = $1"

_FAILED = """
INSERT INTO monitoring.sync_state AS s (feed, attempted_at, failed_at, last_error)
VALUES ($1, now(), now(), $2)
ON CONFLICT (feed) DO UPDATE SET attempted_at = now(), failed_at = now(),
    last_error = EXCLUDED.last_error
"""


# Past this many households the evaluation after a sync reads the whole district: one
# pass over every table costs less than that many lookups (an initial sync, a bulk import).
CHANGED_LIMIT = 20_000


@dataclass
class Changed:
    """The households the applied pages touched, kept until an evaluation has seen them.

    Past ``limit`` the ids are no longer kept and ``households`` is None: evaluate all.
    """

    limit: int = CHANGED_LIMIT
    ids: set[uuid.UUID] = field(default_factory=set)
    overflowed: bool = False

    def add(self, ids: Iterable[uuid.UUID]) -> None:
        if self.overflowed:
            return
        self.ids.update(ids)
        if len(self.ids) > self.limit:
            self.overflowed = True
            self.ids.clear()

    def __bool__(self) -> bool:
        return self.overflowed or bool(self.ids)

    @property
    def households(self) -> frozenset[uuid.UUID] | None:
        return None if self.overflowed else frozenset(self.ids)

    def clear(self) -> None:
        self.ids.clear()
        self.overflowed = False


@dataclass(frozen=True)
class SyncOutcome(SyncResult):
    """Where the sync stopped, and the households it changed (None: too many to list)."""

    households: frozenset[uuid.UUID] | None = frozenset()


# A member's event names the household the member is in now; the one they left
# changed too (a member fewer), and only the projection still knows which it was.
_FORMER_HOUSEHOLDS = """
SELECT DISTINCT household_id FROM monitoring.person WHERE member_id = ANY($1::uuid[])
"""


def touched_households(by_entity: dict[str, list[dict[str, Any]]]) -> set[uuid.UUID]:
    """The households a page's payloads write to, from the entities the projection keeps."""
    ids = {uuid.UUID(p["id"]) for p in by_entity.get("household", ())}
    for entity in _APPLY:
        if entity != "household":
            ids.update(uuid.UUID(p["household_id"]) for p in by_entity.get(entity, ()))
    return ids


def _china_date(timestamp: str) -> str:
    # Dates in the programme are dates in China, whatever zone the feed stamps in.
    return datetime.fromisoformat(timestamp).astimezone(CHINA_STANDARD_TIME).date().isoformat()


def group_by_entity(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The page's payloads by entity, with what the statements need from the envelope."""
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for n, event in enumerate(items):
        payload = dict(event["payload"])
        entity = event["entity"]
        if entity == "member":
            payload["changed_on"] = _china_date(event["occurred_at"])
        elif entity == "household_income":
            payload["n"] = n
        elif entity == "guarantee_assessment":
            payload["occurred_at"] = event["occurred_at"]
        by_entity.setdefault(entity, []).append(payload)
    return by_entity


PROJECTION = feed.Projection(
    lock=_LOCK,
    read_position=PROJECTION_READ,
    move_position=PROJECTION_MOVE,
    # Households first: the other tables are read joined to them.
    apply=_APPLY,
    group=group_by_entity,
    feed=FEED,
)


async def sync_once(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    *,
    page_size: int = 5000,
    progress: Callable[[int], None] | None = None,
    changed: Changed | None = None,
) -> SyncOutcome:
    """Apply the feed until it has nothing more ready; returns where it stopped and the
    households it changed.

    ``changed`` collects those households; a caller that passes its own keeps the
    ones of pages applied before a failure, for its next evaluation. A failure is
    recorded (for the dashboard's staleness) and raised again.
    """
    changed = Changed() if changed is None else changed
    try:
        result = await _sync(engine, client, page_size, progress, changed)
    except Exception as exc:
        await record_failure(engine, f"{type(exc).__name__}: {exc}")
        raise
    return SyncOutcome(result.position, result.events, result.pages, changed.households)


async def _sync(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    page_size: int,
    progress: Callable[[int], None] | None,
    changed: Changed,
) -> SyncResult:
    async def touched(raw: Any, by_entity: dict[str, list[dict[str, Any]]]) -> set[uuid.UUID]:
        households = touched_households(by_entity)
        if by_entity.get("member"):
            members = [uuid.UUID(p["id"]) for p in by_entity["member"]]
            households.update(r[0] for r in await raw.fetch(_FORMER_HOUSEHOLDS, members))
        return households

    return await feed.follow(
        engine,
        client,
        PROJECTION,
        page_size=page_size,
        progress=progress,
        before_apply=touched,
        # Only once the page is committed: a page rolled back changed nothing.
        committed=changed.add,
    )


async def record_failure(engine: AsyncEngine, error: str) -> None:
    async with engine.begin() as connection:
        await (await driver(connection)).execute(_FAILED, FEED, error[:2000])


async def current_position(engine: AsyncEngine) -> str:
    return await feed.position(engine, PROJECTION)


async def sync_forever(
    engine: AsyncEngine,
    client_factory: Callable[[], httpx.AsyncClient],
    interval: float,
    page_size: int,
    after_sync: Callable[[SyncOutcome], Awaitable[object]] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The service's background loop: follow the feed, back off while the registry is down,
    and let ``after_sync`` (alert evaluation) see every batch of changes.

    The changed households are kept until ``after_sync`` has returned: those of pages
    applied before a failed sync, or of a failed evaluation, go to the next round.
    """
    changed = Changed()

    async def sync_and_evaluate() -> SyncResult:
        result = await sync_once(engine, client, page_size=page_size, changed=changed)
        if changed and after_sync is not None:
            await after_sync(result)
        changed.clear()
        return result

    async with client_factory() as client:
        await feed.follow_forever(sync_and_evaluate, interval, log, sleep)
