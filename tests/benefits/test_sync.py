"""The projection follows the registry's change feed, resumes where it stopped, and
keeps what it has while the registry is down."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for, insert_divisions
from tests.registry.conftest import AIYE, AIYE_V1, DISTRICT, household_body, member_body
from tuopin_benefits.main import create_app
from tuopin_benefits.projection.sync import RegistryUnavailable, current_position, sync_once
from tuopin_benefits.settings import BenefitsSettings
from tuopin_registry.main import create_app as create_registry
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.database import driver, make_engine
from tuopin_shared.kit.settings import CommonSettings, Environment


@pytest.fixture(scope="module")
async def registry(committing_database_url: str) -> AsyncIterator[tuple[FastAPI, CommonSettings]]:
    common = CommonSettings(database_url=committing_database_url, environment=Environment.test)
    await insert_divisions(
        committing_database_url,
        [
            (DISTRICT, "Gongjing District", "county", None),
            (AIYE, "Aiye Town", "town", DISTRICT),
            (AIYE_V1, "Demo Village 1 (synthetic)", "village", AIYE),
        ],
    )
    app = create_registry(common=common)
    async with app.router.lifespan_context(app):
        yield app, common


@pytest.fixture
async def engine(committing_database_url: str) -> AsyncIterator[Any]:
    engine = make_engine(committing_database_url, BenefitsSettings(), "test-sync")
    yield engine
    await engine.dispose()


def feed_client(app: FastAPI, common: CommonSettings) -> httpx.AsyncClient:
    token = mint_token(
        common,
        subject="benefits-sync",
        roles=[Role.service],
        division=DISTRICT,
        permissions=[Permission.pii],
    )
    client = client_for(app)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


async def sync_until(engine: Any, feed: httpx.AsyncClient, events: int, **kwargs: Any) -> Any:
    """Sync until ``events`` were applied: the feed holds events back while any
    transaction on the server is still running, and other work may share it."""
    applied = 0
    result = None
    for _ in range(600):
        result = await sync_once(engine, feed, **kwargs)
        applied += result.events
        if applied >= events:
            return result, applied
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {applied} of {events} events arrived")


async def projection(engine: Any) -> dict[str, dict[str, Any]]:
    async with engine.connect() as connection:
        raw: Any = await driver(connection)
        rows = await raw.fetch("SELECT * FROM benefits.person")
    return {str(r["member_id"]): dict(r) for r in rows}


async def test_projection_follows_the_feed_and_resumes(
    registry: tuple[FastAPI, CommonSettings], engine: Any
) -> None:
    app, common = registry
    admin = {
        "Authorization": "Bearer "
        + mint_token(common, subject="a", roles=[Role.admin], division=DISTRICT)
    }
    async with client_for(app) as api, feed_client(app, common) as feed:
        created = (
            await api.post("/v1/households", json=household_body(members=3), headers=admin)
        ).json()
        first, applied = await sync_until(engine, feed, 5, page_size=2)
        assert applied >= 5 and first.pages >= 1
        persons = await projection(engine)
        assert {m["id"] for m in created["members"]} <= set(persons)
        son = created["members"][1]
        assert persons[son["id"]]["dibao"] is False

        await api.patch(
            f"/v1/members/{son['id']}",
            json={"dibao": True, "disability_category": "physical", "disability_grade": 1},
            headers={**admin, "If-Match": '"1"'},
        )
        await api.post(
            f"/v1/members/{son['id']}/death",
            json={"deceased_on": "2020-08-15"},
            headers={**admin, "If-Match": '"2"'},
        )
        position_before = await current_position(engine)
        second, applied = await sync_until(engine, feed, 2)
        # Only the new events were applied: the position was kept between runs.
        assert applied == 2
        assert second.position != position_before
        person = (await projection(engine))[son["id"]]
        assert (
            person["dibao"],
            person["disability_grade"],
            str(person["deceased_on"]),
            person["version"],
        ) == (True, 1, "2020-08-15", 3)
        # Nothing new: nothing applied.
        assert (await sync_once(engine, feed)).events == 0

        async with engine.connect() as connection:
            raw: Any = await driver(connection)
            statuses = await raw.fetch(
                "SELECT status, effective_on FROM benefits.household_status"
                " WHERE household_id = $1",
                uuid.UUID(created["id"]),
            )
            household = await raw.fetchrow(
                "SELECT * FROM benefits.household WHERE household_id = $1",
                uuid.UUID(created["id"]),
            )
        assert [(s["status"], str(s["effective_on"])) for s in statuses] == [
            ("registered_poor", "2016-01-01")
        ]
        assert household["division_code"] == AIYE_V1


async def test_registry_down_keeps_the_projection_and_position(
    registry: tuple[FastAPI, CommonSettings], engine: Any
) -> None:
    app, common = registry
    async with feed_client(app, common) as feed:
        await sync_once(engine, feed)
    before, position = await projection(engine), await current_position(engine)
    down = httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=0.5)
    async with down:
        with pytest.raises(RegistryUnavailable):
            await sync_once(engine, down)
    assert await projection(engine) == before
    assert await current_position(engine) == position


async def test_one_syncer_at_a_time(registry: tuple[FastAPI, CommonSettings], engine: Any) -> None:
    from tuopin_benefits.projection.sync import SYNC_LOCK

    app, common = registry
    admin = {
        "Authorization": "Bearer "
        + mint_token(common, subject="a", roles=[Role.admin], division=DISTRICT)
    }
    async with client_for(app) as api, feed_client(app, common) as feed:
        await sync_once(engine, feed)
        await api.post(
            "/v1/households", json=household_body(members=[member_body()]), headers=admin
        )
        position = await current_position(engine)
        async with engine.connect() as other:
            raw: Any = await driver(other)
            await raw.execute("SELECT pg_advisory_lock($1)", SYNC_LOCK)
            try:
                # Another syncer holds the projection: this one applies nothing and says so.
                busy = await sync_once(engine, feed)
                assert (busy.events, busy.position) == (0, position)
            finally:
                await raw.execute("SELECT pg_advisory_unlock($1)", SYNC_LOCK)
        await sync_until(engine, feed, 2)


async def test_production_does_not_start_without_the_registry_token() -> None:
    production = CommonSettings(
        environment="production", database_url="postgresql://db.invalid/x", jwt_secret="x" * 40
    )
    app = create_app(common=production, settings=BenefitsSettings())
    with pytest.raises(RuntimeError, match="BENEFITS_REGISTRY_TOKEN is required in production"):
        async with app.router.lifespan_context(app):
            pass
