"""Registry fixtures: the app on the test database, tokens, a small district, factories."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tests.conftest import client_for, isolate
from tuopin_registry.divisions.models import DivisionRow, ParameterSetRow
from tuopin_registry.exports.streaming import ExportDatabase, get_export_database
from tuopin_registry.main import create_app
from tuopin_registry.settings import RegistrySettings
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.contracts.identity import make_resident_id
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings

DISTRICT = "510303000000"
AIYE = "510303100000"
AIYE_V1 = "510303100001"
AIYE_V2 = "510303100002"
OTHER_TOWN = "510303101000"
OTHER_TOWN_V1 = "510303101001"

_sequence = itertools.count(1)


def isolate_exports(app: FastAPI, connection: AsyncConnection) -> None:
    """Exports read one snapshot on a connection of their own; in tests, the test's."""

    class ExportsOnTestConnection(ExportDatabase):
        @asynccontextmanager
        async def snapshot(self) -> AsyncIterator[asyncpg.Connection]:
            # SQLAlchemy begins the test's transaction at its first statement; used
            # before that, asyncpg would open (and commit) a transaction of its own.
            await connection.exec_driver_sql("SELECT 1")
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            savepoint = driver.transaction()  # an export only reads: always rolled back
            await savepoint.start()
            try:
                yield driver
            finally:
                await savepoint.rollback()

    async def exports_on_test_connection() -> ExportDatabase:
        return ExportsOnTestConnection(connection.engine)

    app.dependency_overrides[get_export_database] = exports_on_test_connection


def new_resident_id(born: date = date(1980, 3, 15)) -> str:
    """A valid resident ID number never used before in this test run."""
    return make_resident_id("510303", born, next(_sequence) % 1000)


@pytest.fixture(scope="session")
async def registry_app(common_settings: CommonSettings) -> AsyncIterator[FastAPI]:
    app = create_app(common=common_settings, settings=RegistrySettings())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(registry_app: FastAPI, connection: AsyncConnection) -> AsyncIterator[AsyncClient]:
    isolate(registry_app, connection)
    isolate_exports(registry_app, connection)
    async with client_for(registry_app) as client:
        yield client
    registry_app.dependency_overrides.clear()


@pytest.fixture
def token(common_settings: CommonSettings) -> Callable[..., dict[str, str]]:
    """Authorization headers for a role scoped to a division."""

    def make(
        role: Role = Role.admin,
        division: str = DISTRICT,
        pii: bool = False,
        subject: str = "tester",
    ) -> dict[str, str]:
        jwt = mint_token(
            common_settings,
            subject=subject,
            roles=[role],
            division=division,
            permissions=[Permission.pii] if pii else [],
        )
        return {"Authorization": f"Bearer {jwt}"}

    return make


@pytest.fixture
def admin(token: Callable[..., dict[str, str]]) -> dict[str, str]:
    return token(Role.admin, DISTRICT, pii=True)


@pytest.fixture
async def district(db: AsyncSession) -> None:
    """Gongjing District with two towns and three villages, and its 2020 parameters."""
    rows = [
        (DISTRICT, "Gongjing District", "county", None),
        (AIYE, "Aiye Town", "town", DISTRICT),
        (OTHER_TOWN, "Demo Town (synthetic)", "town", DISTRICT),
        (AIYE_V1, "Demo Village 1 (synthetic)", "village", AIYE),
        (AIYE_V2, "Demo Village 2 (synthetic)", "village", AIYE),
        (OTHER_TOWN_V1, "Demo Village 3 (synthetic)", "village", OTHER_TOWN),
    ]
    await db.execute(
        insert(DivisionRow),
        [
            {"code": c, "name": n, "level": lv, "parent_code": p, "synthetic": lv == "village"}
            for c, n, lv, p in rows
        ],
    )
    await db.execute(
        insert(ParameterSetRow).values(
            district_code=DISTRICT,
            year=2020,
            income_line=Decimal("4300.00"),
            school_age_min=6,
            school_age_max=15,
            water_min_litres=Decimal(35),
            water_min_litres_short_area=Decimal(20),
            water_max_fetch_minutes=20,
            water_max_outage_days=36,
            per_capita_review_ceiling=Decimal("100000.00"),
            sources={"income_line": "seed"},
        )
    )
    await db.commit()


def member_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resident_id": new_resident_id(),
        "name": "张三",
        "relation_to_head": "head",
        "labour_capacity": "ordinary",
        "basic_medical_insured": True,
        "critical_illness_insured": True,
    }
    body.update(overrides)
    return body


def household_body(
    division: str = AIYE_V1, members: int | list[dict[str, Any]] = 1, **overrides: Any
) -> dict[str, Any]:
    """A valid household; ``members`` is a count of made-up members or the list itself."""
    if isinstance(members, int):
        members = [member_body()][:members] + [
            member_body(name=f"成员{i}", relation_to_head="son") for i in range(1, members)
        ]
    body: dict[str, Any] = {
        "division_code": division,
        "status": "registered_poor",
        "status_effective_on": "2016-01-01",
        "main_poverty_cause": "illness",
        "members": members,
    }
    body.update(overrides)
    return body


@pytest.fixture
def create_household(
    client: AsyncClient, admin: dict[str, str], district: None
) -> Callable[..., Any]:
    async def create(**overrides: Any) -> dict[str, Any]:
        response = await client.post(
            "/v1/households", json=household_body(**overrides), headers=admin
        )
        assert response.status_code == 201, response.text
        return response.json()

    return create
