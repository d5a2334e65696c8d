"""From the registry to the dashboard: the projection follows the change feed (households,
members, incomes, assessments, status history), a snapshot and the alerts read it, and
the dashboard keeps answering, marked stale, while the registry is down."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import _dsn, client_for
from tests.monitoring.conftest import feed_client, fetch, headers, sync_all
from tests.registry.conftest import DISTRICT, household_body, member_body, new_resident_id
from tuopin_monitoring.jobs import evaluate_current_plans
from tuopin_monitoring.plans import service as plans
from tuopin_monitoring.projection.sync import RegistryUnavailable, sync_once
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.monitoring import PlanInput, TargetInput
from tuopin_shared.kit.settings import CommonSettings


async def test_from_the_registry_to_the_dashboard_and_through_an_outage(
    apps: tuple[FastAPI, FastAPI, CommonSettings],
) -> None:
    registry, monitoring, common = apps
    admin = headers(common, Role.admin)
    async with client_for(registry) as api:
        put = await api.put(
            f"/v1/divisions/{DISTRICT}/parameters/2020",
            json={"income_line": "4300.00"},
            headers=admin,
        )
        assert put.status_code in (200, 201), put.text
        lifted = (
            await api.post(
                "/v1/households",
                json=household_body(
                    registered_year=2016,
                    members=[
                        member_body(employment_status="local", months_worked=10),
                        member_body(
                            name="儿子",
                            relation_to_head="son",
                            resident_id=new_resident_id(date(2010, 5, 1)),
                            labour_capacity="none",
                            school_stage="primary",
                        ),
                    ],
                ),
                headers=admin,
            )
        ).json()
        hid = lifted["id"]
        await api.put(
            f"/v1/households/{hid}/incomes/2020", json={"wage_income": "12000.00"}, headers=admin
        )
        assessed = await api.post(
            f"/v1/households/{hid}/assessments",
            json={
                "assessed_on": "2020-02-20",
                "food_secure": True,
                "clothing_secure": True,
                "housing_grade": "B",
                "water_litres_per_person_day": 60,
                "water_quality_ok": True,
                "water_fetch_minutes": 5,
                "water_outage_days": 0,
            },
            headers=admin,
        )
        assert assessed.status_code == 201, assessed.text
        change = await api.post(
            f"/v1/households/{hid}/status-changes",
            json={"to_status": "lifted_out", "effective_on": "2020-03-01", "reason": "verified"},
            headers=admin,
        )
        assert change.status_code == 201, change.text
        poor = (
            await api.post(
                "/v1/households", json=household_body(registered_year=2016), headers=admin
            )
        ).json()
        await api.put(
            f"/v1/households/{poor['id']}/incomes/2019",
            json={"wage_income": "3000.00"},
            headers=admin,
        )

        engine = monitoring.state.engine
        async with feed_client(registry, common) as feed:
            first = await sync_all(monitoring, feed, page_size=3)
        assert first.pages >= 3
        rows = await fetch(
            monitoring,
            "SELECT h.status, h.lifted_out_year, count(s.*) AS history"
            " FROM monitoring.household h JOIN monitoring.household_status s USING (household_id)"
            " WHERE h.household_id = $1 GROUP BY 1, 2",
            uuid.UUID(hid),
        )
        assert [tuple(r) for r in rows] == [("lifted_out", 2020, 2)]
        [income] = await fetch(
            monitoring, "SELECT * FROM monitoring.household_income WHERE household_id = $1",
            uuid.UUID(hid),
        )  # fmt: skip
        assert (income["year"], income["per_capita_net_income"]) == (2020, Decimal("6000.00"))
        [assessment] = await fetch(monitoring, "SELECT * FROM monitoring.assessment")
        assert (assessment["all_met"], assessment["housing_grade"]) == (True, "B")

        # The son becomes disabled: the projection notes when.
        son = lifted["members"][1]
        patched = await api.patch(
            f"/v1/members/{son['id']}",
            json={"health_status": "disabled", "disability_category": "physical",
                  "disability_grade": 2},
            headers={**admin, "If-Match": '"1"'},
        )  # fmt: skip
        assert patched.status_code == 200, patched.text
        async with feed_client(registry, common) as feed:
            assert (await sync_all(monitoring, feed)).events == 1
        [person] = await fetch(
            monitoring,
            "SELECT health_status, health_worsened_on FROM monitoring.person WHERE member_id = $1",
            uuid.UUID(son["id"]),
        )
        assert (person["health_status"], person["health_worsened_on"]) == ("disabled", today())

    g1 = TargetInput(
        code="G1",
        name="income at or above the line",
        indicator="income_at_or_above_line_share",
        measurement="computed",
        figure=Decimal(100),
        unit="%",
    )
    async with monitoring.state.sessionmaker() as session:
        for year in sorted({2020, today().year}):
            plan = await plans.create_plan(
                session, PlanInput(district_code=DISTRICT, year=year, name=str(year)), "test"
            )
            await plans.add_target(session, plan, g1, "test")
            if year == 2020:
                plan_2020 = plan.id
        await session.commit()

    officer = headers(common, Role.district_officer)
    async with client_for(monitoring) as client:
        taken = await client.post(
            "/v1/snapshots",
            json={"plan_id": str(plan_2020), "as_of": "2020-06-30"},
            headers=officer,
        )
        assert taken.status_code == 201, taken.text
        evaluated = await client.post("/v1/alerts/evaluate", json={}, headers=officer)
        assert evaluated.status_code == 200, evaluated.text
        alerts = (await client.get("/v1/alerts", headers=officer)).json()["items"]
        assert [(a["household_id"], a["rule"]) for a in alerts] == [
            (hid, "new_disability_or_illness")
        ]
        assert alerts[0]["evidence"]["members"][0]["member_id"] == son["id"]
        # The background job after a sync evaluates the same way: nothing new to open.
        assert await evaluate_current_plans(engine) == 0

        async def dashboard() -> dict[str, Any]:
            response = await client.get(
                "/v1/dashboard", params={"division": DISTRICT, "date": "2020-06-30"},
                headers=officer,
            )  # fmt: skip
            assert response.status_code == 200, response.text
            return response.json()

        fresh = await dashboard()
        assert (fresh["stale"], fresh["as_of"]) == (False, "2020-06-30")
        assert fresh["targets"][0]["value"] == "50.00"  # 6,000 a head yes, 3,000 no

        # The registry goes down: the sync fails (retried, then given up) and says so ...
        down = httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=0.5)
        async with down:
            with pytest.raises(RegistryUnavailable):
                await sync_once(engine, down)
        # ... and the dashboard still answers from the last snapshot, marked stale.
        stale = await dashboard()
        assert stale["stale"] is True
        assert stale["stale_reasons"] == ["the registry could not be reached at the last attempt"]
        assert (stale["as_of"], stale["targets"][0]["value"]) == ("2020-06-30", "50.00")

        # Back up: the next sync clears it.
        async with feed_client(registry, common) as feed:
            await sync_all(monitoring, feed)
        assert (await dashboard())["stale"] is False


async def test_the_background_loop_backs_off_while_the_registry_is_down(
    apps: tuple[FastAPI, FastAPI, CommonSettings],
) -> None:
    from tuopin_monitoring.projection.sync import sync_forever

    _, monitoring, _ = apps
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            raise asyncio.CancelledError

    def unreachable() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=0.2)

    with pytest.raises(asyncio.CancelledError):
        await sync_forever(monitoring.state.engine, unreachable, 1.0, 100, sleep=sleep)
    assert pauses == [2.0, 4.0, 8.0]
    [state] = await fetch(monitoring, "SELECT failed_at, last_error FROM monitoring.sync_state")
    assert state["failed_at"] is not None
    assert "ConnectError" in state["last_error"] or "RegistryUnavailable" in state["last_error"]


def test_seed_plan_command(committing_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from tuopin_monitoring.commands import seed_plan

    monkeypatch.setenv("TUOPIN_DATABASE_URL", committing_database_url)
    app = typer.Typer()
    app.command()(seed_plan)
    runner = CliRunner()
    first = runner.invoke(app, ["--district", "510303", "--year", "2019"])
    assert first.exit_code == 0, first.output
    assert "38 targets, 14 computed, 24 reported" in first.output
    again = runner.invoke(app, ["--district", "510303", "--year", "2019"])
    assert "has a plan for 2019 already" in again.output

    async def count() -> int:
        connection = await asyncpg.connect(_dsn(committing_database_url))
        try:
            return int(
                await connection.fetchval(
                    "SELECT count(*) FROM monitoring.target t JOIN monitoring.plan p"
                    " ON p.id = t.plan_id WHERE p.year = 2019"
                )
            )
        finally:
            await connection.close()

    assert asyncio.run(count()) == 38


def test_take_snapshot_command_without_benefits_says_what_is_missing(
    committing_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    from typer.testing import CliRunner

    from tuopin_monitoring.commands import seed_plan, take_snapshot

    monkeypatch.setenv("TUOPIN_DATABASE_URL", committing_database_url)
    monkeypatch.setenv("MONITORING_BENEFITS_URL", "http://127.0.0.1:9")
    runner = CliRunner()
    seed = typer.Typer()
    seed.command()(seed_plan)
    assert runner.invoke(seed, ["--district", "510303", "--year", "2018"]).exit_code == 0
    take = typer.Typer()
    take.command()(take_snapshot)
    taken = runner.invoke(take, ["--district", "510303", "--date", "2018-06-30"])
    assert taken.exit_code == 0, taken.output
    assert "at 2018-06-30:" in taken.output
    assert (
        "without pension_paid_on_behalf_share: the benefits service could not be reached"
        " (ConnectError)"
    ) in taken.output
