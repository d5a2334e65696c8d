"""Runs through the HTTP API: idempotency, one live run per period, the lifecycle with
four eyes, the inputs a run says it used, scoping, pages and totals, bad input."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.benefits.test_runs_factories import (
    AIYE,
    AIYE_V1,
    OTHER_TOWN_V1,
    add_household,
    add_person,
    add_policy,
    all_lines,
    computed_run,
    create_run,
    set_feed,
)
from tuopin_benefits.db import audit_log
from tuopin_benefits.projection.sync import RegistryUnavailable, sync_once
from tuopin_benefits.runs.models import RunRow
from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.auth import Role


async def test_same_key_replays_and_a_second_run_returns_the_live_one(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    officer = token(Role.benefits_officer, subject="officer")
    first = await create_run(client, officer, "pension", "2020", key="key-1")
    assert first.status_code == 201, first.text
    run = first.json()
    assert (run["status"], run["created_by"], run["inputs"]) == ("draft", "officer", None)
    assert first.headers["Location"] == f"/v1/runs/{run['id']}"

    # The same key and body: the first response, whatever happened since.
    await add_policy(db)
    computed = await client.post(f"/v1/runs/{run['id']}/compute", headers=officer)
    assert computed.status_code == 200
    retry = await create_run(client, officer, "pension", "2020", key="key-1", district="510303")
    assert (retry.status_code, retry.json()) == (201, run)

    # The same key, another body: refused, naming the header.
    reused = await create_run(client, officer, "pension", "2021", key="key-1")
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"

    # Another key, the same program, period and district: the live run, 200.
    second = await create_run(
        client, token(Role.district_officer, subject="other"), "pension", "2020"
    )
    assert second.status_code == 200
    assert second.json()["id"] == run["id"] and second.json()["status"] == "computed"
    live = await db.scalar(select(func.count()).select_from(RunRow).where(RunRow.period == "2020"))
    assert live == 1


async def test_lifecycle_with_four_eyes(client: AsyncClient, token: Any, db: AsyncSession) -> None:
    creator = token(Role.benefits_officer, subject="creator")
    approver = token(Role.district_officer, subject="approver")
    await add_policy(db)
    await set_feed(db)
    await add_person(db, await add_household(db))
    run = (await create_run(client, creator, "pension", "2020")).json()

    draft = await client.post(f"/v1/runs/{run['id']}/approve", headers=approver)
    assert draft.status_code == 409 and "draft" in draft.json()["detail"]
    computed = await client.post(f"/v1/runs/{run['id']}/compute", headers=creator)
    assert computed.json()["status"] == "computed" and computed.json()["lines"] == 1

    own = await client.post(f"/v1/runs/{run['id']}/approve", headers=creator)
    assert own.status_code == 403
    assert own.headers["content-type"] == "application/problem+json"
    # Computing it makes the approver one of the makers: not allowed either.
    await client.post(f"/v1/runs/{run['id']}/compute", headers=approver)
    assert (await client.post(f"/v1/runs/{run['id']}/approve", headers=approver)).status_code == 403
    await client.post(f"/v1/runs/{run['id']}/compute", headers=creator)
    approved = await client.post(f"/v1/runs/{run['id']}/approve", headers=approver)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("approved", "approver")
    again = await client.post(f"/v1/runs/{run['id']}/compute", headers=creator)
    assert again.status_code == 409

    auditors = token(Role.auditor, subject="auditor")
    assert (await client.post(f"/v1/runs/{run['id']}/cancel", headers=auditors)).status_code == 403
    cancelled = await client.post(f"/v1/runs/{run['id']}/cancel", headers=approver)
    assert cancelled.json()["status"] == "cancelled"
    assert (await all_lines(client, creator, run["id"])) == []
    # The period is free again: a new run, 201.
    fresh = await create_run(client, creator, "pension", "2020")
    assert fresh.status_code == 201 and fresh.json()["id"] != run["id"]
    actions = (
        await db.execute(select(audit_log.c.action).where(audit_log.c.entity_id == run["id"]))
    ).scalars()
    assert {"create", "compute", "approve", "cancel"} <= set(actions)


async def test_a_run_without_the_registry_says_how_old_its_inputs_are(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    officer = token(Role.benefits_officer, subject="officer")
    await add_policy(db)
    await add_person(db, await add_household(db))
    # The registry does not answer: the projection keeps what it has.
    down = httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=0.5)
    async with down:
        with pytest.raises(RegistryUnavailable):
            await sync_once(db.bind.engine, down)  # type: ignore[union-attr]
    never = await computed_run(client, officer, "nursing_subsidy", "2020-Q1")
    assert never["inputs"]["stale"] is True
    assert "never been synced" in never["inputs"]["note"]

    # The projection last heard from the registry two hours ago.
    await set_feed(db, timedelta(hours=2))
    run = await computed_run(client, officer, "pension", "2020")
    assert run["status"] == "computed" and run["lines"] == 1
    inputs = run["inputs"]
    assert (inputs["feed_position"], inputs["stale"], inputs["age_seconds"]) == ("42.7", True, 7200)
    assert inputs["note"].startswith("inputs as of ")
    assert "2 h 0 min old" in inputs["note"] and "not in this run" in inputs["note"]

    await set_feed(db, timedelta(seconds=30))
    fresh = await client.post(f"/v1/runs/{run['id']}/compute", headers=officer)
    assert fresh.json()["inputs"]["stale"] is False
    assert "stale" not in fresh.json()["inputs"]["note"]


async def test_staleness_and_memory_of_a_run_follow_the_settings(
    client: AsyncClient, token: Any, db: AsyncSession, benefits_app: FastAPI
) -> None:
    await add_policy(db)
    await add_person(db, await add_household(db))
    await set_feed(db, timedelta(hours=2))
    assert await db.scalar(text("SHOW work_mem")) != "96MB"

    # The app is the session's: its settings are put back whatever happens.
    kept = benefits_app.state.settings
    benefits_app.state.settings = BenefitsSettings(
        sync_interval_seconds=0, run_stale_after_seconds=3 * 3600, run_work_mem="96MB"
    )
    try:
        run = await computed_run(client, token(Role.benefits_officer), "pension", "2020")
    finally:
        benefits_app.state.settings = kept

    # Two hours old, under a limit of three: not stale.
    assert (run["inputs"]["age_seconds"], run["inputs"]["stale"]) == (7200, False)
    # For the run's transaction only; here every request runs in the test's transaction.
    assert await db.scalar(text("SHOW work_mem")) == "96MB"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("run_work_mem", "64MB'; DROP SCHEMA benefits CASCADE; --"),
        ("run_work_mem", "64 MB"),
        ("run_work_mem", "64mb"),
        ("run_work_mem", "1TB"),
        ("run_work_mem", "63kB"),
        ("run_work_mem", "2048GB"),
        ("run_stale_after_seconds", "0"),
        ("run_stale_after_seconds", "soon"),
    ],
)
def test_run_settings_are_checked_at_start(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"BENEFITS_{name.upper()}", value)
    with pytest.raises(ValidationError) as refused:
        BenefitsSettings()
    assert [error["loc"] for error in refused.value.errors()] == [(name,)]


def test_run_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENEFITS_RUN_WORK_MEM", "2GB")
    monkeypatch.setenv("BENEFITS_RUN_STALE_AFTER_SECONDS", "3600")
    settings = BenefitsSettings()
    assert (settings.run_work_mem, settings.run_stale_after) == ("2GB", timedelta(hours=1))


async def test_pages_filters_totals_and_scope(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    officer = token(Role.benefits_officer, subject="officer")
    await add_policy(db)
    await set_feed(db)
    here, there = await add_household(db), await add_household(db, division=OTHER_TOWN_V1)
    for _ in range(5):
        await add_person(db, here)
    for _ in range(3):
        await add_person(db, there)
    run = await computed_run(client, officer, "pension", "2020")

    first = await client.get(
        f"/v1/runs/{run['id']}/entitlements", params={"limit": 3}, headers=officer
    )
    page = first.json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    # Masked without pii.
    assert "********" in page["items"][0]["resident_id"]
    everything = await all_lines(client, officer, run["id"])
    assert len(everything) == 8 and len({line["id"] for line in everything}) == 8
    in_aiye = await all_lines(client, officer, run["id"], division=AIYE)
    assert {line["division_code"] for line in in_aiye} == {AIYE_V1} and len(in_aiye) == 5

    totals = await client.get(
        f"/v1/runs/{run['id']}/totals", params={"level": "town"}, headers=officer
    )
    body = totals.json()
    assert [(d["division_code"], d["persons"], d["payable_amount"]) for d in body["divisions"]] == [
        (AIYE, 5, "500.00"),
        ("510303101000", 3, "300.00"),
    ]
    assert (body["total"]["persons"], body["total"]["payable_amount"]) == (8, "800.00")

    # A town officer sees the run, and only the town's lines.
    town = token(Role.benefits_officer, division=AIYE, subject="town")
    assert (await client.get(f"/v1/runs/{run['id']}", headers=town)).status_code == 200
    assert len(await all_lines(client, town, run["id"])) == 5
    town_totals = (await client.get(f"/v1/runs/{run['id']}/totals", headers=town)).json()
    assert town_totals["total"]["persons"] == 5
    # …but may not change it.
    assert (await client.post(f"/v1/runs/{run['id']}/cancel", headers=town)).status_code == 403
    outsider = token(Role.district_officer, division="510304", subject="outsider")
    assert (await client.get(f"/v1/runs/{run['id']}", headers=outsider)).status_code == 404

    listed = await client.get(
        "/v1/runs", params={"program": "pension", "limit": 1}, headers=officer
    )
    assert [r["id"] for r in listed.json()["items"]] == [run["id"]]
    with_pii = await client.get(
        f"/v1/runs/{run['id']}/entitlements",
        params={"limit": 1},
        headers=token(Role.auditor, pii=True),
    )
    assert "*" not in with_pii.json()["items"][0]["resident_id"]


@pytest.mark.parametrize(
    ("body", "headers", "field", "location"),
    [
        ({"program": "pension", "period": "2020-Q5", "district": "510303"}, {}, "period", "body"),
        ({"program": "pension", "period": "20201", "district": "510303"}, {}, "period", "body"),
        ({"program": "pension", "period": "2020-Q3", "district": "510303"}, {}, "period", "body"),
        (
            {"program": "nursing_subsidy", "period": "2020", "district": "510303"},
            {},
            "period",
            "body",
        ),
        (
            {"program": "holiday_bonus", "period": "2020", "district": "510303"},
            {},
            "program",
            "body",
        ),
        ({"program": "pension", "period": "2020", "district": "510303100"}, {}, "district", "body"),
        ({"program": "pension", "period": "2020", "district": "5103"}, {}, "district", "body"),
        ({"program": "pension", "period": "2020"}, {}, "district", "body"),
        (
            {
                "program": "living_subsidy",
                "period": "2020-Q3",
                "district": "510303",
                "arrears_from": "2020-02-15",
            },
            {},
            "arrears_from",
            "body",
        ),
        (
            {
                "program": "living_subsidy",
                "period": "2020-Q3",
                "district": "510303",
                "arrears_from": "2020-08-01",
            },
            {},
            "arrears_from",
            "body",
        ),
        (
            {"program": "pension", "period": "2020", "district": "510303"},
            None,
            "Idempotency-Key",
            "header",
        ),
    ],
)
async def test_bad_requests_are_problems_naming_the_field(
    client: AsyncClient,
    token: Any,
    body: dict[str, Any],
    headers: dict[str, str] | None,
    field: str,
    location: str,
) -> None:
    officer = token(Role.benefits_officer)
    if headers is not None:
        officer = {**officer, "Idempotency-Key": "k"}
    response = await client.post("/v1/runs", json=body, headers=officer)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["location"]) == (
        field,
        location,
    )


async def test_other_refusals(client: AsyncClient, token: Any, db: AsyncSession) -> None:
    officer = token(Role.benefits_officer, subject="officer")
    # No policy set for the year: the run cannot be computed, and says why.
    run = (await create_run(client, officer, "pension", "2031")).json()
    refused = await client.post(f"/v1/runs/{run['id']}/compute", headers=officer)
    assert refused.status_code == 409 and "no policy set" in refused.json()["detail"]
    # Arrears reaching into a year without a policy set: the same.
    await add_policy(db)
    early = (
        await create_run(
            client,
            officer,
            "nursing_subsidy",
            "2020-Q1",
            arrears_from=date(2019, 10, 1).isoformat(),
        )
    ).json()
    response = await client.post(f"/v1/runs/{early['id']}/compute", headers=officer)
    assert response.status_code == 409 and response.json()["year"] == 2019
    # Readers may not create runs; other districts are not found.
    auditor = token(Role.auditor)
    assert (await create_run(client, auditor, "pension", "2020")).status_code == 403
    assert (
        await create_run(client, officer, "pension", "2020", district="510304")
    ).status_code == 404
    missing = await client.get("/v1/runs/00000000-0000-0000-0000-000000000000", headers=officer)
    assert missing.status_code == 404
    bad_cursor = await client.get(
        f"/v1/runs/{run['id']}/entitlements", params={"cursor": "nonsense"}, headers=officer
    )
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"


async def test_a_run_counted_on_by_a_later_one_stays_as_it_is(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    officer = token(Role.benefits_officer, subject="officer")
    await add_policy(db)
    await add_person(
        db, await add_household(db), disability_grade=1, disability_certified_on=date(2019, 1, 1)
    )
    q2 = await computed_run(client, officer, "nursing_subsidy", "2020-Q2")
    q3 = await computed_run(client, officer, "nursing_subsidy", "2020-Q3")
    assert q3["payable_amount"] == "300.00"  # Q2 paid January to June
    for action in ("compute", "cancel"):
        refused = await client.post(f"/v1/runs/{q2['id']}/{action}", headers=officer)
        assert refused.status_code == 409 and refused.json()["run_id"] == q3["id"]
    await client.post(f"/v1/runs/{q3['id']}/cancel", headers=officer)
    assert (await client.post(f"/v1/runs/{q2['id']}/cancel", headers=officer)).status_code == 200
