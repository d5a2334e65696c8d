"""The alert evaluation after a sync reads the households the sync changed, and only
them: a household the feed did not touch is neither re-evaluated nor cleared; the full
evaluation (daily, on demand, `evaluate-alerts`) still sees every household.

Driven through the real registry: its API writes, its feed carries the changes.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.conftest import client_for
from tests.monitoring.conftest import V1, feed_client, fetch, headers, sync_all
from tests.registry.conftest import DISTRICT, household_body, member_body
from tuopin_monitoring.jobs import (
    evaluate_changed,
    evaluate_current_plans,
    evaluate_daily,
    seconds_until_daily_pass,
)
from tuopin_monitoring.plans import service as plans
from tuopin_monitoring.projection.sync import SyncOutcome, sync_forever
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.monitoring import PlanInput
from tuopin_shared.kit.database import driver
from tuopin_shared.kit.settings import CommonSettings

WORKING = {"labour_capacity": "ordinary", "employment_status": "local", "months_worked": 10}


async def plan_for_this_year(monitoring: FastAPI) -> None:
    """The district's plan for the current year (alerts are evaluated against it)."""
    year = today().year
    async with monitoring.state.sessionmaker() as session:
        if await session.scalar(
            text("SELECT count(*) FROM monitoring.plan WHERE year = :y AND district_code = :d"),
            {"y": year, "d": DISTRICT},
        ):
            return
        await plans.create_plan(
            session, PlanInput(district_code=DISTRICT, year=year, name="this year"), "test"
        )
        await session.commit()


async def open_alerts(monitoring: FastAPI) -> set[tuple[uuid.UUID, str]]:
    rows = await fetch(
        monitoring,
        "SELECT household_id, rule FROM monitoring.alert"
        " WHERE status = 'open' AND cleared_at IS NULL",
    )
    return {(r["household_id"], r["rule"]) for r in rows}


async def test_the_evaluation_after_a_sync_reads_only_the_households_it_changed(
    apps: tuple[FastAPI, FastAPI, CommonSettings],
) -> None:
    registry, monitoring, common = apps
    engine = monitoring.state.engine
    year = today().year
    await plan_for_this_year(monitoring)

    admin = headers(common, Role.admin)
    # Edge households (watched for return to poverty), everybody in them working.
    edge: dict[str, Any] = {"division": V1, "status": "monitored", "registered_year": None}
    async with client_for(registry) as api:

        async def household(*members: dict[str, Any]) -> dict[str, Any]:
            created = await api.post(
                "/v1/households", json=household_body(members=list(members), **edge), headers=admin
            )
            assert created.status_code == 201, created.text
            result: dict[str, Any] = created.json()
            return result

        a = await household(member_body(**WORKING))
        b = await household(member_body(**WORKING))
        # X: two members able to work, one of them working.
        x = await household(
            member_body(**WORKING),
            member_body(name="弟弟", relation_to_head="sibling", labour_capacity="ordinary"),
        )
        ids = {name: uuid.UUID(h["id"]) for name, h in (("a", a), ("b", b), ("x", x))}

        async with feed_client(registry, common) as feed:
            first = await sync_all(monitoring, feed)
        assert first.households == set(ids.values())
        assert await evaluate_changed(engine, first) == 0

        # Through the registry: A's income falls below the line, and X's working member
        # moves to A, leaving X with nobody at work. The feed names A twice; X only as
        # the household the member left.
        income = await api.put(
            f"/v1/households/{a['id']}/incomes/{year}",
            json={"wage_income": "3000.00"},
            headers=admin,
        )
        assert income.status_code in (200, 201), income.text
        moved = await api.post(
            f"/v1/members/{x['members'][0]['id']}/move",
            json={"household_id": a["id"], "relation_to_head": "sibling"},
            headers={**admin, "If-Match": '"1"'},
        )
        assert moved.status_code == 200, moved.text
        # Outside the feed: B's member stops working in the projection itself.
        async with engine.begin() as connection:
            raw: Any = await driver(connection)
            await raw.execute(
                "UPDATE monitoring.person SET employment_status = 'unemployed'"
                " WHERE household_id = $1",
                ids["b"],
            )

        async with feed_client(registry, common) as feed:
            second = await sync_all(monitoring, feed)
        assert second.households == {ids["a"], ids["x"]}
        assert await evaluate_changed(engine, second) == 2
        assert await open_alerts(monitoring) == {
            (ids["a"], "income_below_line"),
            (ids["x"], "no_employed_member"),
        }

        # The full evaluation reads every household: B's condition is found.
        assert await evaluate_current_plans(engine) == 1
        assert (ids["b"], "no_employed_member") in await open_alerts(monitoring)

        # A's income recovers: the pass after that sync clears A's alert, and B's stays
        # open although B's facts were not read.
        recovered = await api.put(
            f"/v1/households/{a['id']}/incomes/{year}",
            json={"wage_income": "20000.00"},
            headers=admin,
        )
        assert recovered.status_code in (200, 201), recovered.text
        async with feed_client(registry, common) as feed:
            third = await sync_all(monitoring, feed)
        assert third.households == {ids["a"]}
        await evaluate_changed(engine, third)
        assert await open_alerts(monitoring) == {
            (ids["x"], "no_employed_member"),
            (ids["b"], "no_employed_member"),
        }


class CutAfter(httpx.AsyncBaseTransport):
    """The way to the registry, cut after ``requests`` requests for ``outage`` more: the
    network failing mid-sync, the registry itself untouched."""

    def __init__(self, inner: httpx.AsyncBaseTransport, requests: int, outage: int) -> None:
        self.inner, self.left, self.outage = inner, requests, outage

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.left == 0 and self.outage > 0:
            self.outage -= 1
            raise httpx.ConnectError("connection refused", request=request)
        self.left = max(self.left - 1, 0)
        return await self.inner.handle_async_request(request)


async def test_households_of_pages_applied_before_a_failed_sync_are_evaluated_after_the_next(
    apps: tuple[FastAPI, FastAPI, CommonSettings],
) -> None:
    registry, monitoring, common = apps
    admin = headers(common, Role.admin)
    edge: dict[str, Any] = {"division": V1, "status": "monitored", "registered_year": None}
    async with client_for(registry) as api:
        # Catch up first, so that the loop below sees only these households' events.
        async with feed_client(registry, common) as feed:
            await sync_all(monitoring, feed)
        created = []
        for _ in range(3):
            response = await api.post(
                "/v1/households",
                json=household_body(members=[member_body(**WORKING)], **edge),
                headers=admin,
            )
            assert response.status_code == 201, response.text
            created.append(uuid.UUID(response.json()["id"]))

    # One event a page: the pages of the first household's transaction go through, then
    # every try of the next fails (the feed client tries three times); the next round
    # finds the way open again.
    [first] = await fetch(
        monitoring,
        "SELECT count(*) AS events FROM registry.change_event WHERE txid = (SELECT txid"
        " FROM registry.change_event WHERE entity = 'household' AND entity_id = $1)",
        created[0],
    )
    transport = CutAfter(httpx.ASGITransport(app=registry), requests=first["events"], outage=3)
    seen: list[frozenset[uuid.UUID] | None] = []
    rounds = 0

    def client() -> httpx.AsyncClient:
        feed = httpx.AsyncClient(transport=transport, base_url="http://registry.test")
        feed.headers.update(headers(common, Role.service, "monitoring-sync"))
        return feed

    async def after_sync(result: SyncOutcome) -> None:
        seen.append(result.households)

    async def sleep(_: float) -> None:
        nonlocal rounds
        rounds += 1
        if seen or rounds == 5:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await sync_forever(monitoring.state.engine, client, 0.01, 1, after_sync, sleep)
    # The first round failed after applying the first household: no evaluation then; the
    # second evaluated it together with the households of its own pages.
    assert rounds == 2
    assert seen == [frozenset(created)]


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        # 00:04:59 in China: one second to go.
        (datetime(2020, 6, 30, 16, 4, 59, tzinfo=UTC), 1),
        # 00:05 exactly has just run: the next is tomorrow's.
        (datetime(2020, 6, 30, 16, 5, tzinfo=UTC), 24 * 3600),
        # Noon in China (04:00 UTC): twelve hours and five minutes.
        (datetime(2020, 7, 1, 4, 0, tzinfo=UTC), 12 * 3600 + 300),
    ],
)
def test_the_daily_pass_comes_just_after_midnight_in_china(now: datetime, seconds: int) -> None:
    assert seconds_until_daily_pass(now) == seconds


async def test_the_daily_pass_finds_what_no_sync_brought(
    apps: tuple[FastAPI, FastAPI, CommonSettings],
) -> None:
    registry, monitoring, common = apps
    engine = monitoring.state.engine
    await plan_for_this_year(monitoring)
    edge: dict[str, Any] = {"division": V1, "status": "monitored", "registered_year": None}
    async with client_for(registry) as api:
        created = await api.post(
            "/v1/households",
            json=household_body(members=[member_body(**WORKING)], **edge),
            headers=headers(common, Role.admin),
        )
        assert created.status_code == 201, created.text
        household = uuid.UUID(created.json()["id"])
        async with feed_client(registry, common) as feed:
            await sync_all(monitoring, feed)
    # A condition no feed event brings (in the projection itself: the member stopped working).
    async with engine.begin() as connection:
        raw: Any = await driver(connection)
        await raw.execute(
            "UPDATE monitoring.person SET employment_status = 'unemployed' WHERE household_id = $1",
            household,
        )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await evaluate_daily(engine, sleep, lambda: datetime(2020, 6, 30, 16, 0, tzinfo=UTC))
    assert waits == [300, 300]
    assert (household, "no_employed_member") in await open_alerts(monitoring)
