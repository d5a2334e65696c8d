"""Monitoring fixtures: the app on the test database (with the real benefits app behind
it), tokens, the seed plan, a builder that writes projection rows directly, for
districts whose answers are known, and the real registry, benefits and monitoring apps
on a committing database, for the feed."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tests.conftest import client_for, insert_divisions, isolate
from tuopin_benefits.main import create_app as create_benefits
from tuopin_benefits.settings import BenefitsSettings
from tuopin_monitoring.benefits.client import benefits_client
from tuopin_monitoring.main import create_app
from tuopin_monitoring.plans import service as plans
from tuopin_monitoring.plans.defaults import PARAMETER_SOURCES, seed_targets
from tuopin_monitoring.plans.models import PlanRow
from tuopin_monitoring.projection.sync import Changed, SyncOutcome, sync_once
from tuopin_monitoring.settings import MonitoringSettings
from tuopin_registry.main import create_app as create_registry
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.monitoring import PlanInput
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.database import driver
from tuopin_shared.kit.settings import CommonSettings, Environment

DISTRICT = "510303000000"
AIYE = "510303100000"
V1 = "510303100001"
V2 = "510303100002"
OTHER_TOWN = "510303101000"
V3 = "510303101001"
REGISTRY = "http://registry.test"

_status_ids = itertools.count(1)


@pytest.fixture(scope="session")
async def benefits_app(common_settings: CommonSettings) -> AsyncIterator[FastAPI]:
    """The real benefits service, whose statistics the snapshots ask for."""
    app = create_benefits(
        common=common_settings, settings=BenefitsSettings(sync_interval_seconds=0)
    )
    async with app.router.lifespan_context(app):
        yield app


def to_benefits(
    monitoring: FastAPI, benefits: FastAPI, common: CommonSettings
) -> httpx.AsyncClient:
    """The monitoring app's benefits client, as the lifespan makes it (its token, its
    limits), with the benefits app in process as the transport."""
    settings: MonitoringSettings = monitoring.state.settings
    return benefits_client(common, settings, transport=httpx.ASGITransport(app=benefits))


@asynccontextmanager
async def benefits_reached_by(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[None]:
    """The monitoring app calls benefits through ``client`` for a while (then closed)."""
    previous = app.state.benefits
    app.state.benefits = client
    try:
        yield
    finally:
        app.state.benefits = previous
        await client.aclose()


@pytest.fixture(scope="session")
async def monitoring_app(
    common_settings: CommonSettings, benefits_app: FastAPI
) -> AsyncIterator[FastAPI]:
    # No background sync in tests: each test drives the projection itself.
    settings = MonitoringSettings(
        sync_interval_seconds=0, evaluate_daily=False, registry_public_url=REGISTRY
    )
    app = create_app(common=common_settings, settings=settings)
    async with app.router.lifespan_context(app):
        await app.state.benefits.aclose()
        app.state.benefits = to_benefits(app, benefits_app, common_settings)
        yield app


@pytest.fixture
async def client(
    monitoring_app: FastAPI, benefits_app: FastAPI, connection: AsyncConnection
) -> AsyncIterator[AsyncClient]:
    # Both services on the test's connection: what a test arranges in benefits, a
    # snapshot's calls to benefits see, and all of it is rolled back at the end.
    isolate(monitoring_app, connection)
    isolate(benefits_app, connection)
    async with client_for(monitoring_app) as client:
        yield client
    monitoring_app.dependency_overrides.clear()
    benefits_app.dependency_overrides.clear()


@pytest.fixture
def token(common_settings: CommonSettings) -> Callable[..., dict[str, str]]:
    def make(
        role: Role = Role.district_officer, division: str = DISTRICT, subject: str = "tester"
    ) -> dict[str, str]:
        jwt = mint_token(common_settings, subject=subject, roles=[role], division=division)
        return {"Authorization": f"Bearer {jwt}"}

    return make


@pytest.fixture
def officer(token: Callable[..., dict[str, str]]) -> dict[str, str]:
    return token(Role.district_officer, DISTRICT, subject="officer")


@pytest.fixture
async def plan(db: AsyncSession) -> PlanRow:
    """The seed plan (every target of FACTS.md) for the district in 2020."""
    row = await plans.create_plan(
        db,
        PlanInput(district_code=DISTRICT, year=2020, name="seed", sources=PARAMETER_SOURCES),
        "test",
    )
    for target in seed_targets(2020):
        await plans.add_target(db, row, target, "test")
    await db.flush()
    return row


class Projection:
    """Writes projection rows the way the feed would leave them."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def household(
        self,
        division: str,
        history: list[tuple[str, str]],
        *,
        registered_year: int | None = 2016,
        lifted_out_year: int | None = None,
    ) -> uuid.UUID:
        """A household with its status history ``[(status, effective date)]``."""
        household_id = uuid.uuid4()
        await self.db.execute(
            text(
                "INSERT INTO monitoring.household (household_id, division_code, status,"
                " registered_year, lifted_out_year, version)"
                " VALUES (:id, :division, :status, :registered, :lifted, 1)"
            ),
            {
                "id": household_id,
                "division": division,
                "status": history[-1][0],
                "registered": registered_year,
                "lifted": lifted_out_year,
            },
        )
        for status, on in history:
            await self.db.execute(
                text(
                    "INSERT INTO monitoring.household_status (id, household_id, to_status,"
                    " effective_on) VALUES (:id, :household, :status, :on)"
                ),
                {
                    "id": next(_status_ids),
                    "household": household_id,
                    "status": status,
                    "on": date.fromisoformat(on),
                },
            )
        return household_id

    async def person(self, household_id: uuid.UUID, **facts: Any) -> uuid.UUID:
        values: dict[str, Any] = {
            "member_id": uuid.uuid4(),
            "household_id": household_id,
            "birth_date": date(1970, 1, 1),
            "deceased_on": None,
            "labour_capacity": "none",
            "employment_status": "unemployed",
            "months_worked": 0,
            "health_status": "healthy",
            "disability_grade": None,
            "school_stage": "not_in_school",
            "school_exempt": False,
            "basic_medical_insured": True,
            "critical_illness_insured": True,
            "health_worsened_on": None,
            "changed_on": date(2020, 1, 1),
            "version": 1,
        }
        values.update(facts)
        columns = ", ".join(values)
        binds = ", ".join(f":{k}" for k in values)
        await self.db.execute(
            text(f"INSERT INTO monitoring.person ({columns}) VALUES ({binds})"),  # noqa: S608
            values,
        )
        return values["member_id"]

    async def income(
        self, household_id: uuid.UUID, year: int, per_capita: str, size: int = 1
    ) -> None:
        amount = Decimal(per_capita)
        await self.db.execute(
            text(
                "INSERT INTO monitoring.household_income (household_id, year, net_income,"
                " household_size, per_capita_net_income) VALUES (:h, :y, :net, :size, :pc)"
                " ON CONFLICT (household_id, year) DO UPDATE SET"
                " per_capita_net_income = EXCLUDED.per_capita_net_income,"
                " net_income = EXCLUDED.net_income"
            ),
            {"h": household_id, "y": year, "net": amount * size, "size": size, "pc": amount},
        )

    async def assessment(
        self,
        household_id: uuid.UUID,
        on: str,
        *,
        unmet: tuple[str, ...] = (),
        housing_grade: str = "B",
    ) -> None:
        await self.db.execute(
            text(
                "INSERT INTO monitoring.assessment (id, household_id, assessed_on, all_met,"
                " unmet, housing_grade, recorded_at)"
                " VALUES (:id, :h, :on, :met, CAST(:unmet AS jsonb), :grade, now())"
            ),
            {
                "id": uuid.uuid4(),
                "h": household_id,
                "on": date.fromisoformat(on),
                "met": not unmet,
                "unmet": "[" + ", ".join(f'"{u}"' for u in unmet) + "]",
                "grade": housing_grade,
            },
        )

    async def synced(self, *, failed: bool = False, ago_seconds: int = 0) -> None:
        """The projection's sync state: synced ``ago_seconds`` ago, then maybe a failure."""
        await self.db.execute(
            text(
                "INSERT INTO monitoring.sync_state (feed, position, synced_at, attempted_at,"
                " failed_at, last_error)"
                " VALUES ('registry', '1.1', now() - make_interval(secs => :ago), now(),"
                " CASE WHEN :failed THEN now() END, NULL)"
                " ON CONFLICT (feed) DO UPDATE SET synced_at = EXCLUDED.synced_at,"
                " failed_at = EXCLUDED.failed_at"
            ),
            {"ago": ago_seconds, "failed": failed},
        )


@pytest.fixture
async def projection(db: AsyncSession) -> Projection:
    # The shared database may hold another test's committed sync state: start clean.
    await db.execute(text("DELETE FROM monitoring.sync_state"))
    return Projection(db)


# ------------------------------------------------------------ the registry's feed, for real


@pytest.fixture(scope="module")
async def apps(committing_database_url: str) -> AsyncIterator[tuple[FastAPI, FastAPI, Any]]:
    """The registry and monitoring apps on a database of the module's own, where writes
    commit: the feed serves committed transactions only."""
    common = CommonSettings(database_url=committing_database_url, environment=Environment.test)
    await insert_divisions(
        committing_database_url,
        [
            (DISTRICT, "Gongjing District", "county", None),
            (AIYE, "Aiye Town", "town", DISTRICT),
            (V1, "Demo Village 1 (synthetic)", "village", AIYE),
        ],
    )
    registry = create_registry(common=common)
    benefits = create_benefits(common=common, settings=BenefitsSettings(sync_interval_seconds=0))
    # No background work: the tests drive the sync and the evaluations themselves.
    settings = MonitoringSettings(sync_interval_seconds=0, evaluate_daily=False)
    monitoring = create_app(common=common, settings=settings)
    async with (
        registry.router.lifespan_context(registry),
        benefits.router.lifespan_context(benefits),
        monitoring.router.lifespan_context(monitoring),
    ):
        await monitoring.state.benefits.aclose()
        monitoring.state.benefits = to_benefits(monitoring, benefits, common)
        yield registry, monitoring, common


def headers(common: CommonSettings, role: Role, subject: str = "tester") -> dict[str, str]:
    return {
        "Authorization": "Bearer "
        + mint_token(common, subject=subject, roles=[role], division=DISTRICT)
    }


def feed_client(registry: FastAPI, common: CommonSettings) -> httpx.AsyncClient:
    # The monitoring feed token carries no pii permission: the projection keeps no identities.
    client = client_for(registry)
    client.headers.update(headers(common, Role.service, "monitoring-sync"))
    return client


async def fetch(monitoring: FastAPI, sql: str, *args: Any) -> list[Any]:
    async with monitoring.state.engine.connect() as connection:
        raw: Any = await driver(connection)
        return list(await raw.fetch(sql, *args))


async def sync_all(monitoring: FastAPI, feed: httpx.AsyncClient, **options: Any) -> SyncOutcome:
    """Sync until every event the registry wrote is applied; the households changed are
    those of every round.

    The feed serves only transactions older than every one still running on the
    server, whatever its database: another test run's long transaction on the same
    server holds it back for a while, so wait for it rather than fail.
    """
    engine = monitoring.state.engine
    events = pages = 0
    changed = Changed()
    deadline = time.monotonic() + 120
    while True:
        result = await sync_once(engine, feed, changed=changed, **options)
        events, pages = events + result.events, pages + result.pages
        [row] = await fetch(
            monitoring,
            "SELECT (SELECT count(*) FROM registry.change_event) AS written,"
            " (SELECT events_applied FROM monitoring.sync_state) AS applied",
        )
        if row["written"] == row["applied"] or time.monotonic() > deadline:
            return SyncOutcome(result.position, events, pages, changed.households)
        await asyncio.sleep(0.5)
