"""Requests at the same moment, on a database where commits are real: two creations make
one run, one key does its work once, two batches never share a line."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.benefits.test_runs_factories import AIYE_V1, DISTRICT
from tests.conftest import _dsn, client_for
from tuopin_benefits.main import create_app
from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.identity import make_resident_id
from tuopin_shared.kit.auth import mint_token
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
                for year in (2019, 2020)
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
        raw: Any = (await connection.get_raw_connection()).driver_connection
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
        raw: Any = (await connection.get_raw_connection()).driver_connection
        assert (
            await raw.fetchval("SELECT count(DISTINCT entitlement_id) FROM benefits.payment") == 40
        )
        assert await raw.fetchval("SELECT count(*) FROM benefits.payment") == 40


async def test_results_for_two_batches_at_once_settle_the_run(
    app: tuple[FastAPI, CommonSettings],
) -> None:
    api, common = app
    async with client_for(api) as client:
        maker, checker = headers(common, "maker"), headers(common, "checker", Role.district_officer)
        run = (await post_run(client, maker, uuid.uuid4().hex, "2019")).json()
        await client.post(f"/v1/runs/{run['id']}/compute", headers=maker)
        await client.post(f"/v1/runs/{run['id']}/approve", headers=checker)

        async def batch() -> dict[str, Any]:
            made = await client.post(
                "/v1/batches",
                json={"run_id": run["id"]},
                headers={**maker, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert made.status_code == 201, made.text
            result: dict[str, Any] = made.json()
            return result

        async def results(batch_id: str, rows: list[str]) -> Any:
            return await client.post(
                f"/v1/batches/{batch_id}/bank-result",
                content=("line_id,status,bank_reference,reason\n" + "".join(rows)).encode(),
                headers={**maker, "Content-Type": "text/csv"},
            )

        first = await batch()
        async with api.state.engine.connect() as connection:
            raw: Any = (await connection.get_raw_connection()).driver_connection
            lines = [
                r["entitlement_id"]
                for r in await raw.fetch(
                    "SELECT entitlement_id FROM benefits.payment WHERE batch_id = $1 ORDER BY 1",
                    uuid.UUID(first["id"]),
                )
            ]
        # All paid but one failed and one not answered yet; the failed one goes again.
        answered = [f"{line},paid,B{line},\n" for line in lines[2:]]
        answered.append(f"{lines[0]},failed,,account frozen\n")
        assert (await results(first["id"], answered)).status_code == 200
        second = await batch()
        assert second["lines"] == 1
        # The last line of each batch answered at the same moment: the run is paid.
        one, two = await asyncio.gather(
            results(first["id"], [f"{lines[1]},paid,B{lines[1]},\n"]),
            results(second["id"], [f"{lines[0]},paid,B{lines[0]},\n"]),
        )
        assert (one.status_code, two.status_code) == (200, 200)
        assert {one.json()["run_status"], two.json()["run_status"]} == {"approved", "paid"}
        final = await client.get(f"/v1/runs/{run['id']}", headers=maker)
        assert (final.json()["status"], final.json()["paid_amount"]) == ("paid", "4000.00")
