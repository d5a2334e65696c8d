"""Requests at the same moment, on a database where commits are real: two creations make
one run, one key does its work once, two batches never share a line, bank results
uploaded at once are recorded one after the other."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import date
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response

from tests.benefits.test_runs_factories import AIYE_V1, DISTRICT
from tests.conftest import _dsn, client_for
from tuopin_benefits.main import create_app
from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.identity import make_resident_id
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.database import driver
from tuopin_shared.kit.settings import CommonSettings, Environment


@pytest.fixture(scope="module")
async def app(committing_database_url: str) -> AsyncIterator[tuple[FastAPI, CommonSettings]]:
    common = CommonSettings(database_url=committing_database_url, environment=Environment.test)
    connection = await asyncpg.connect(_dsn(committing_database_url))
    try:
        await connection.executemany(
            "INSERT INTO benefits.policy_set (district_code, year, version, parameters, created_by)"
            " VALUES ($1, $2, 1, $3::jsonb, 'test')",
            [
                (DISTRICT, year, json.dumps(PolicyParameters().model_dump(mode="json")))
                for year in (2019, 2020, 2021)
            ],
        )
        household = uuid.uuid4()
        await connection.execute(
            "INSERT INTO benefits.household (household_id, division_code, status, version)"
            " VALUES ($1, $2, 'registered_poor', 1)",
            household,
            AIYE_V1,
        )
        await connection.executemany(
            "INSERT INTO benefits.person (member_id, household_id, resident_id, name, birth_date,"
            " school_stage, resident_pension_enrolled, employee_pension_enrolled, dibao, tekun,"
            " work_injury_care_allowance, version)"
            " VALUES ($1, $2, $3, $4, $5, 'not_in_school', true, false, false, false, false, 1)",
            [
                (
                    uuid.uuid4(),
                    household,
                    make_resident_id("510303", date(1980, 1, 1), n),
                    f"人{n}",
                    date(1980, 1, 1),
                )
                for n in range(1, 41)
            ],
        )
    finally:
        await connection.close()
    app = create_app(common=common, settings=BenefitsSettings(sync_interval_seconds=0))
    async with app.router.lifespan_context(app):
        yield app, common


def headers(
    common: CommonSettings, subject: str, role: Role = Role.benefits_officer
) -> dict[str, str]:
    token = mint_token(common, subject=subject, roles=[role], division=DISTRICT)
    return {"Authorization": f"Bearer {token}"}


async def post_run(client: AsyncClient, who: dict[str, str], key: str, period: str) -> Any:
    return await client.post(
        "/v1/runs",
        json={"program": "pension", "period": period, "district": DISTRICT},
        headers={**who, "Idempotency-Key": key},
    )


async def live_runs(app: FastAPI, period: str) -> int:
    async with app.state.engine.connect() as connection:
        raw: Any = await driver(connection)
        count: int = await raw.fetchval(
            "SELECT count(*) FROM benefits.run WHERE period = $1 AND status <> 'cancelled'", period
        )
    return count


async def test_two_creations_at_once_make_one_run(app: tuple[FastAPI, CommonSettings]) -> None:
    api, common = app
    async with client_for(api) as client:
        for round_ in range(5):
            period = str(2030 + round_)
            first, second = await asyncio.gather(
                post_run(client, headers(common, "a"), uuid.uuid4().hex, period),
                post_run(client, headers(common, "b"), uuid.uuid4().hex, period),
            )
            assert sorted([first.status_code, second.status_code]) == [200, 201]
            assert first.json()["id"] == second.json()["id"]
            assert await live_runs(api, period) == 1


async def test_one_key_sent_twice_at_once_does_its_work_once(
    app: tuple[FastAPI, CommonSettings],
) -> None:
    api, common = app
    async with client_for(api) as client:
        who = headers(common, "a")
        first, second = await asyncio.gather(
            post_run(client, who, "same-key", "2040"), post_run(client, who, "same-key", "2040")
        )
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json() == second.json()
        assert await live_runs(api, "2040") == 1


async def test_two_batches_at_once_never_share_a_line(app: tuple[FastAPI, CommonSettings]) -> None:
    api, common = app
    async with client_for(api) as client:
        maker, checker = headers(common, "maker"), headers(common, "checker", Role.district_officer)
        run = (await post_run(client, maker, uuid.uuid4().hex, "2020")).json()
        assert (await client.post(f"/v1/runs/{run['id']}/compute", headers=maker)).json()[
            "lines"
        ] == 40
        assert (
            await client.post(f"/v1/runs/{run['id']}/approve", headers=checker)
        ).status_code == 200
        first, second = await asyncio.gather(
            *(
                client.post(
                    "/v1/batches",
                    json={"run_id": run["id"]},
                    headers={**maker, "Idempotency-Key": uuid.uuid4().hex},
                )
                for _ in range(2)
            )
        )
        assert sorted([first.status_code, second.status_code]) == [201, 409]
        made = first if first.status_code == 201 else second
        assert made.json()["lines"] == 40
    async with api.state.engine.connect() as connection:
        raw: Any = await driver(connection)
        assert (
            await raw.fetchval("SELECT count(DISTINCT entitlement_id) FROM benefits.payment") == 40
        )
        assert await raw.fetchval("SELECT count(*) FROM benefits.payment") == 40


async def approved_run(client: AsyncClient, common: CommonSettings, period: str) -> dict[str, Any]:
    maker, checker = headers(common, "maker"), headers(common, "checker", Role.district_officer)
    run: dict[str, Any] = (await post_run(client, maker, uuid.uuid4().hex, period)).json()
    computed = await client.post(f"/v1/runs/{run['id']}/compute", headers=maker)
    assert computed.json()["lines"] == 40, computed.text
    approved = await client.post(f"/v1/runs/{run['id']}/approve", headers=checker)
    assert approved.status_code == 200, approved.text
    return run


async def new_batch(client: AsyncClient, common: CommonSettings, run_id: str) -> dict[str, Any]:
    made = await client.post(
        "/v1/batches",
        json={"run_id": run_id},
        headers={**headers(common, "maker"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert made.status_code == 201, made.text
    batch: dict[str, Any] = made.json()
    return batch


async def upload(
    client: AsyncClient, common: CommonSettings, batch_id: str, rows: list[str]
) -> Response:
    return await client.post(
        f"/v1/batches/{batch_id}/bank-result",
        content=("line_id,status,bank_reference,reason\n" + "".join(rows)).encode(),
        headers={**headers(common, "maker"), "Content-Type": "text/csv"},
    )


async def connect(common: CommonSettings) -> Any:
    """A connection of the test's own to the module's database, outside the app's pool."""
    assert common.database_url is not None
    return await asyncpg.connect(_dsn(common.database_url))


async def first_column(common: CommonSettings, sql: str, *args: Any) -> list[Any]:
    """The first column of a query's rows, read on a connection of the test's own."""
    connection = await connect(common)
    try:
        return [row[0] for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()


async def batch_lines(common: CommonSettings, batch_id: str) -> list[int]:
    return await first_column(
        common,
        "SELECT entitlement_id FROM benefits.payment WHERE batch_id = $1 ORDER BY 1",
        uuid.UUID(batch_id),
    )


async def queued_on_the_run(
    common: CommonSettings, run_id: str, *requests: Coroutine[Any, Any, Response]
) -> list[Response]:
    """Send the requests while another transaction holds the run's row, wait until each
    of them waits for a lock, then let them go.

    Sent plainly, one request is usually done before the other starts, and a missing
    lock goes unseen. Here both are under way at once, each stopped at the first lock
    it needs: where that is the run's row, as it should be, they go one after the other.
    """
    holder = await connect(common)
    tasks: list[asyncio.Task[Response]] = []
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT 1 FROM benefits.run WHERE id = $1 FOR UPDATE", uuid.UUID(run_id)
            )
            tasks = [asyncio.ensure_future(request) for request in requests]
            for _ in range(1000):
                # Statistics are read once per transaction unless told to read them again.
                await holder.execute("SELECT pg_stat_clear_snapshot()")
                waiting = await holder.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if waiting == len(tasks) or any(task.done() for task in tasks):
                    break
                await asyncio.sleep(0.01)
            assert not any(task.done() for task in tasks), "a request did not wait for the run"
            assert waiting == len(tasks), f"{waiting} of {len(tasks)} requests wait for a lock"
    finally:
        await holder.close()
        # The lock is released either way: the requests finish before the test does.
        responses = await asyncio.gather(*tasks, return_exceptions=True)
    for response in responses:
        if isinstance(response, BaseException):
            raise response
    return [r for r in responses if isinstance(r, Response)]


async def paid_per_line(common: CommonSettings, run_id: str) -> list[int]:
    return await first_column(
        common,
        "SELECT count(p.id) FILTER (WHERE p.status = 'paid') AS paid"
        " FROM benefits.entitlement e LEFT JOIN benefits.payment p ON p.entitlement_id = e.id"
        " WHERE e.run_id = $1 GROUP BY e.id",
        uuid.UUID(run_id),
    )


async def test_results_for_two_batches_at_once_settle_the_run(
    app: tuple[FastAPI, CommonSettings],
) -> None:
    api, common = app
    async with client_for(api) as client:
        run = await approved_run(client, common, "2019")
        first = await new_batch(client, common, run["id"])
        lines = await batch_lines(common, first["id"])
        # All paid but one failed and one not answered yet; the failed one goes again.
        answered = [f"{line},paid,B{line},\n" for line in lines[2:]]
        answered.append(f"{lines[0]},failed,,account frozen\n")
        assert (await upload(client, common, first["id"], answered)).status_code == 200
        second = await new_batch(client, common, run["id"])
        assert second["lines"] == 1

        # The last line of each batch answered at the same moment. Each upload must see
        # the other's payment when it decides whether the run is paid, or neither does
        # and the run stays approved with everything paid.
        one, two = await queued_on_the_run(
            common,
            run["id"],
            upload(client, common, first["id"], [f"{lines[1]},paid,B{lines[1]},\n"]),
            upload(client, common, second["id"], [f"{lines[0]},paid,B{lines[0]},\n"]),
        )
        assert (one.status_code, two.status_code) == (200, 200), (one.text, two.text)
        assert sorted([one.json()["run_status"], two.json()["run_status"]]) == ["approved", "paid"]
        final = (await client.get(f"/v1/runs/{run['id']}", headers=headers(common, "a"))).json()
        assert (final["status"], final["paid_amount"]) == ("paid", "4000.00")
    assert await paid_per_line(common, run["id"]) == [1] * 40


async def test_contradicting_results_for_one_line_at_once_are_not_both_taken(
    app: tuple[FastAPI, CommonSettings],
) -> None:
    api, common = app
    async with client_for(api) as client:
        run = await approved_run(client, common, "2021")
        batch = await new_batch(client, common, run["id"])
        lines = await batch_lines(common, batch["id"])
        paid = [f"{line},paid,B{line},\n" for line in lines]
        # Two files for the batch at once, one saying the first line failed. The second
        # to go must see the first's results before it compares its own with them:
        # otherwise its result is dropped and it still answers 200.
        answers = await queued_on_the_run(
            common,
            run["id"],
            upload(client, common, batch["id"], paid),
            upload(client, common, batch["id"], [f"{lines[0]},failed,,account closed\n"]),
        )
        codes = [r.status_code for r in answers]
        assert sorted(codes) == [200, 409], [r.text for r in answers]
        refused = answers[codes.index(409)].json()
        assert refused["errors"][0]["code"] == "already_resulted"
        taken = answers[codes.index(200)].json()
        # Whichever came first is recorded in full, and the run follows it.
        if codes == [200, 409]:
            assert (taken["applied"], taken["run_status"]) == (40, "paid")
            assert await paid_per_line(common, run["id"]) == [1] * 40
        else:
            assert (taken["applied"], taken["run_status"]) == (1, "approved")
            assert await paid_per_line(common, run["id"]) == [0] * 40
