"""Monitoring fixtures: the app on the test database, tokens, the seed plan, and a
builder that writes projection rows directly, for districts whose answers are known."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tests.conftest import client_for, isolate
from tuopin_monitoring.main import create_app
from tuopin_monitoring.plans import service as plans
from tuopin_monitoring.plans.defaults import PARAMETER_SOURCES, seed_targets
from tuopin_monitoring.plans.models import PlanRow
from tuopin_monitoring.settings import MonitoringSettings
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.monitoring import PlanInput
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings

DISTRICT = "510303000000"
AIYE = "510303100000"
V1 = "510303100001"
V2 = "510303100002"
OTHER_TOWN = "510303101000"
V3 = "510303101001"
REGISTRY = "http://registry.test"

_status_ids = itertools.count(1)


@pytest.fixture(scope="session")
async def monitoring_app(common_settings: CommonSettings) -> AsyncIterator[FastAPI]:
    # No background sync in tests: each test drives the projection itself.
    settings = MonitoringSettings(sync_interval_seconds=0, registry_public_url=REGISTRY)
    app = create_app(common=common_settings, settings=settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(
    monitoring_app: FastAPI, connection: AsyncConnection
) -> AsyncIterator[AsyncClient]:
    isolate(monitoring_app, connection)
    async with client_for(monitoring_app) as client:
        yield client
    monitoring_app.dependency_overrides.clear()


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
