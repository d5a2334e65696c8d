"""The set-based SQL and the pure rules give the same answer for a generated district:
the demo register loaded into the registry, followed into the projection through the
change feed, then runs computed by the API and by hand with the rules, person by person."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.benefits.test_runs_factories import DISTRICT
from tests.conftest import _dsn, client_for
from tuopin_benefits.main import create_app
from tuopin_benefits.projection.sync import sync_once
from tuopin_benefits.runs.rules import (
    PersonFacts,
    StatusChange,
    monthly_lines,
    parse_period,
    pension_eligible,
)
from tuopin_benefits.settings import BenefitsSettings
from tuopin_registry.demo.generator import generate
from tuopin_registry.demo.loader import load
from tuopin_registry.main import create_app as create_registry
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.runs import Program
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.database import driver, make_engine
from tuopin_shared.kit.settings import CommonSettings, Environment

PERSONS = 4000
# Without the transition parameter the household's status history decides more.
PARAMS = PolicyParameters.model_validate({"pension": {"lifted_out_keep_policy": False}})

Lines = dict[tuple[str, str, int], tuple[tuple[date, ...], tuple[Decimal, ...]]]


@pytest.fixture(scope="module")
async def district(committing_database_url: str) -> AsyncIterator[tuple[FastAPI, CommonSettings]]:
    """The demo district in the registry, synced into the projection; the benefits app."""
    common = CommonSettings(database_url=committing_database_url, environment=Environment.test)
    connection = await asyncpg.connect(_dsn(committing_database_url))
    try:
        await load(connection, generate(PERSONS, seed=11))
        await connection.execute(
            "INSERT INTO benefits.policy_set (district_code, year, version, parameters, created_by)"
            " VALUES ($1, 2020, 1, $2::jsonb, 'test')",
            DISTRICT,
            PARAMS.model_dump_json(),
        )
    finally:
        await connection.close()
    registry = create_registry(common=common)
    engine = make_engine(committing_database_url, BenefitsSettings(), "test-equivalence")
    feed_token = mint_token(
        common,
        subject="sync",
        roles=[Role.service],
        division=DISTRICT,
        permissions=[Permission.pii],
    )
    try:
        async with registry.router.lifespan_context(registry), client_for(registry) as feed:
            feed.headers["Authorization"] = f"Bearer {feed_token}"
            synced = await sync_once(engine, feed)
            assert synced.events > PERSONS
    finally:
        await engine.dispose()
    app = create_app(common=common, settings=BenefitsSettings(sync_interval_seconds=0))
    async with app.router.lifespan_context(app):
        yield app, common


async def fetch(app: FastAPI, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with app.state.engine.connect() as connection:
        raw: Any = await driver(connection)
        rows: list[asyncpg.Record] = await raw.fetch(sql, *args)
        await connection.commit()
    return rows


async def projection(app: FastAPI) -> tuple[list[PersonFacts], dict[uuid.UUID, list[StatusChange]]]:
    persons = [
        PersonFacts(
            member_id=r["member_id"],
            birth_date=r["birth_date"],
            deceased_on=r["deceased_on"],
            disability_grade=r["disability_grade"],
            disability_certified_on=r["disability_certified_on"],
            school_stage=r["school_stage"],
            resident_pension_enrolled=r["resident_pension_enrolled"],
            employee_pension_enrolled=r["employee_pension_enrolled"],
            dibao=r["dibao"],
            tekun=r["tekun"],
            work_injury_care_allowance=r["work_injury_care_allowance"],
            household_status=r["status"],
        )
        for r in await fetch(
            app,
            "SELECT p.*, h.status FROM benefits.person p"
            " JOIN benefits.household h ON h.household_id = p.household_id",
        )
    ]
    history: dict[uuid.UUID, list[StatusChange]] = defaultdict(list)
    for r in await fetch(app, "SELECT * FROM benefits.household_status"):
        history[r["household_id"]].append(StatusChange(r["status"], r["effective_on"], r["id"]))
    households = {
        r["member_id"]: r["household_id"]
        for r in await fetch(app, "SELECT member_id, household_id FROM benefits.person")
    }
    return persons, {p.member_id: history[households[p.member_id]] for p in persons}


async def run(client: AsyncClient, common: CommonSettings, program: str, period: str) -> str:
    token = mint_token(common, subject="officer", roles=[Role.benefits_officer], division=DISTRICT)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    created = await client.post(
        "/v1/runs",
        json={"program": program, "period": period, "district": DISTRICT},
        headers=headers,
    )
    computed = await client.post(f"/v1/runs/{created.json()['id']}/compute", headers=headers)
    assert computed.status_code == 200, computed.text
    return str(created.json()["id"])


async def sql_lines(app: FastAPI, run_id: str) -> Lines:
    rows = await fetch(
        app,
        "SELECT member_id, kind, year, months, month_amounts FROM benefits.entitlement"
        " WHERE run_id = $1",
        uuid.UUID(run_id),
    )
    return {
        (str(r["member_id"]), r["kind"], r["year"]): (
            tuple(r["months"] or ()),
            tuple(r["month_amounts"] or ()),
        )
        for r in rows
    }


def pure_lines(
    program: Program,
    persons: list[PersonFacts],
    history: dict[uuid.UUID, list[StatusChange]],
    period: str,
    paid: dict[uuid.UUID, dict[date, Decimal]],
) -> Lines:
    out: Lines = {}
    for person in persons:
        for line in monthly_lines(
            program,
            person,
            history[person.member_id],
            {2020: PARAMS},
            date(2020, 1, 1),
            parse_period(period),
            paid.get(person.member_id, {}),
        ):
            out[(str(person.member_id), line.kind.value, line.year)] = (line.months, line.amounts)
    return out


async def paid_so_far(app: FastAPI, program: str) -> dict[uuid.UUID, dict[date, Decimal]]:
    paid: dict[uuid.UUID, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in await fetch(
        app,
        "SELECT member_id, months, month_amounts FROM benefits.entitlement WHERE program = $1",
        program,
    ):
        for month, amount in zip(r["months"], r["month_amounts"], strict=True):
            paid[r["member_id"]][month] += amount
    return paid


async def test_pension_sql_and_rules_agree(district: tuple[FastAPI, CommonSettings]) -> None:
    app, common = district
    async with client_for(app) as client:
        run_id = await run(client, common, "pension", "2020")
    persons, history = await projection(app)
    assert len(persons) == PERSONS
    expected = {
        str(p.member_id)
        for p in persons
        if pension_eligible(p, history[p.member_id], PARAMS, 2020)[0]
    }
    found = {key[0] for key in await sql_lines(app, run_id)}
    assert found == expected
    # The district gives both answers in numbers: a test that cannot fail is a defect.
    assert 200 < len(expected) < PERSONS - 200


async def test_subsidy_sql_and_rules_agree_with_arrears_and_recoveries(
    district: tuple[FastAPI, CommonSettings],
) -> None:
    app, common = district
    async with client_for(app) as client:
        for program in ("nursing_subsidy", "living_subsidy"):
            persons, history = await projection(app)
            q2 = await run(client, common, program, "2020-Q2")
            assert await sql_lines(app, q2) == pure_lines(
                Program(program), persons, history, "2020-Q2", {}
            )

        # Late news after Q2, set-based: deaths, certificates dated back or re-issued,
        # extreme-poverty support, dibao granted.
        await fetch(
            app,
            """
            UPDATE benefits.person SET version = version + 1,
                deceased_on = CASE WHEN n % 7 = 0 THEN DATE '2020-03-15' ELSE deceased_on END,
                disability_certified_on = CASE
                    WHEN n % 7 = 1 THEN DATE '2020-02-10'
                    WHEN n % 7 = 2 THEN DATE '2020-08-15' ELSE disability_certified_on END,
                disability_grade = CASE
                    WHEN n % 7 IN (1, 2) THEN coalesce(disability_grade, 2)
                    ELSE disability_grade END,
                tekun = tekun OR n % 7 = 3,
                dibao = dibao OR n % 7 = 4
            FROM (SELECT member_id AS id, row_number() OVER (ORDER BY member_id) AS n
                  FROM benefits.person
                  WHERE disability_grade IS NOT NULL OR member_id::text < '1') picked
            WHERE member_id = picked.id
            """,
        )
        persons, history = await projection(app)
        for program in ("nursing_subsidy", "living_subsidy"):
            paid = await paid_so_far(app, program)
            q3 = await run(client, common, program, "2020-Q3")
            found = await sql_lines(app, q3)
            assert found == pure_lines(Program(program), persons, history, "2020-Q3", paid)
            kinds = {kind for _, kind, _ in found}
            assert kinds == {"due", "arrears", "recovery"}, kinds
