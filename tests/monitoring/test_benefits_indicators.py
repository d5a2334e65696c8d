"""The social-security indicators (S3, S6, S8) from the real benefits service's statistics:
runs computed, approved and paid, settlements made, all through the benefits API; then a
snapshot and the dashboard. And the snapshot when benefits cannot give them: taken for
everything else, the missing figures named with the reason, never a 500.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.benefits.test_runs_factories import (
    add_household,
    add_person,
    add_policy,
    computed_run,
    set_feed,
)
from tests.benefits.test_settlements import INSTITUTION, claim_body
from tests.conftest import client_for
from tests.monitoring.conftest import (
    AIYE,
    DISTRICT,
    OTHER_TOWN,
    V1,
    V3,
    Projection,
    benefits_reached_by,
)
from tuopin_monitoring.benefits.client import benefits_client
from tuopin_monitoring.main import create_app as create_monitoring
from tuopin_monitoring.plans.models import PlanRow
from tuopin_monitoring.settings import MonitoringSettings
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings

AS_OF = "2020-06-30"
S3 = "in_county_poor_within_cap_share"
S6 = "pension_paid_on_behalf_share"
PER_PERSON = "pension_paid_per_person"
S8 = "disability_subsidies_paid_share"


def unavailable(medical: str, entitlements: str) -> dict[str, str]:
    """The reasons a snapshot records when it could not have the benefits statistics:
    the medical statistics' for S3, the entitlement statistics' for the others."""
    return {S3: medical, S6: entitlements, PER_PERSON: entitlements, S8: entitlements}


@pytest.fixture
async def benefits(
    benefits_app: FastAPI, client: AsyncClient, common_settings: CommonSettings
) -> AsyncIterator[AsyncClient]:
    """A client of the benefits app on the test's connection (the ``client`` fixture
    isolates both apps), for arranging what benefits knows."""
    async with client_for(benefits_app) as api:
        yield api


def bearer(common: CommonSettings, role: Role, subject: str, **claims: Any) -> dict[str, str]:
    token = mint_token(common, subject=subject, roles=[role], division=DISTRICT, **claims)
    return {"Authorization": f"Bearer {token}"}


async def approve(api: AsyncClient, common: CommonSettings, run: dict[str, Any]) -> None:
    # Four eyes: another user approves what the maker computed.
    approved = await api.post(
        f"/v1/runs/{run['id']}/approve", headers=bearer(common, Role.district_officer, "checker")
    )
    assert approved.status_code == 200, approved.text


async def pay(
    api: AsyncClient,
    db: AsyncSession,
    common: CommonSettings,
    run: dict[str, Any],
    failed: set[uuid.UUID] = frozenset(),  # type: ignore[assignment]
) -> None:
    """A batch of the run's lines, and the bank's answer: paid, except ``failed`` members."""
    payer = bearer(common, Role.benefits_officer, "payer", permissions=[Permission.pii])
    batch = await api.post(
        "/v1/batches",
        json={"run_id": run["id"]},
        headers={**payer, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert batch.status_code == 201, batch.text
    lines = (
        await db.execute(
            text("SELECT id, member_id FROM benefits.entitlement WHERE run_id = :run"),
            {"run": run["id"]},
        )
    ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line_id", "status", "bank_reference", "reason"])
    for line in lines:
        if line.member_id in failed:
            writer.writerow([line.id, "failed", "", "account closed"])
        else:
            writer.writerow([line.id, "paid", f"BK-{line.id}", ""])
    result = await api.post(
        f"/v1/batches/{batch.json()['id']}/bank-result",
        content=out.getvalue().encode(),
        headers={**payer, "Content-Type": "text/csv"},
    )
    assert result.status_code == 200, result.text


async def settle(
    api: AsyncClient, common: CommonSettings, resident_id: str, **overrides: Any
) -> dict[str, Any]:
    hospital = bearer(
        common,
        Role.medical_institution,
        f"his-{INSTITUTION}",
        permissions=[Permission.pii],
        institution=INSTITUTION,
    )
    body = claim_body(
        resident_id, **{"total_cost": "12000.00", "in_policy_cost": "10000.00", **overrides}
    )
    response = await api.post(
        "/v1/medical/settlements",
        json=body,
        headers={**hospital, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def resident_id(db: AsyncSession, member_id: uuid.UUID) -> str:
    return str(
        await db.scalar(
            text("SELECT resident_id FROM benefits.person WHERE member_id = :m"), {"m": member_id}
        )
    )


@pytest.fixture
async def paid_and_settled(
    benefits: AsyncClient, db: AsyncSession, common_settings: CommonSettings
) -> None:
    """What benefits knows, worked out for 2020-06-30 in the comments.

    Village V1 (Aiye): p1, p2. Village V3 (the other town): p3, and p4 with a grade 1
    disability certified in 2019. Four people owed the 2020 pension contribution; the bank
    pays p1, p2 and p3 and fails p4. The nursing subsidy: p4 is owed Q1 and Q2; Q1 is paid,
    Q2 approved and not yet paid. Settlements (in county, inpatient, poor): p1 within the
    10% cap; p3 settled under a 5% cap and left paying 10%: above it; p1 out of county and
    p2 in August, neither counted at the end of June.
    """
    await add_policy(db)
    await set_feed(db)
    village_1 = await add_household(db, division=V1)
    village_3 = await add_household(db, division=V3)
    p1 = await add_person(db, village_1)
    p2 = await add_person(db, village_1)
    p3 = await add_person(db, village_3)
    p4 = await add_person(
        db, village_3, disability_grade=1, disability_certified_on=date(2019, 1, 1)
    )
    maker = bearer(common_settings, Role.benefits_officer, "maker")

    pension = await computed_run(benefits, maker, "pension", "2020")
    assert pension["lines"] == 4, pension
    await approve(benefits, common_settings, pension)
    await pay(benefits, db, common_settings, pension, failed={p4})

    q1 = await computed_run(benefits, maker, "nursing_subsidy", "2020-Q1")
    await approve(benefits, common_settings, q1)
    await pay(benefits, db, common_settings, q1)
    q2 = await computed_run(benefits, maker, "nursing_subsidy", "2020-Q2")
    assert q2["lines"] == 1, q2  # Q1 paid: no arrears
    await approve(benefits, common_settings, q2)

    await settle(benefits, common_settings, await resident_id(db, p1))
    above = await settle(benefits, common_settings, await resident_id(db, p3))
    await db.execute(
        text("UPDATE benefits.medical_settlement SET personal_share_cap = 0.05 WHERE id = :id"),
        {"id": above["id"]},
    )
    await settle(benefits, common_settings, await resident_id(db, p1), in_county=False)
    await settle(
        benefits,
        common_settings,
        await resident_id(db, p2),
        admitted_on="2020-08-01",
        discharged_on="2020-08-05",
    )


async def take_snapshot(client: AsyncClient, plan: PlanRow, headers: dict[str, str]) -> Any:
    response = await client.post(
        "/v1/snapshots", json={"plan_id": str(plan.id), "as_of": AS_OF}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def values_of(
    client: AsyncClient, snapshot_id: int, headers: dict[str, str], indicators: set[str]
) -> dict[tuple[str, str], tuple[Any, ...]]:
    response = await client.get(f"/v1/snapshots/{snapshot_id}", headers=headers)
    assert response.status_code == 200, response.text
    return {
        (v["indicator"], v["division_code"]): (
            v["level"],
            v["numerator"],
            v["denominator"],
            v["value"],
        )
        for v in response.json()["values"]
        if v["indicator"] in indicators
    }


async def test_social_security_indicators_from_the_benefits_statistics(
    client: AsyncClient,
    plan: PlanRow,
    projection: Projection,
    paid_and_settled: None,
    officer: dict[str, str],
) -> None:
    household = await projection.household(V1, [("registered_poor", "2016-01-01")])
    await projection.person(household)
    await projection.synced()

    snapshot = await take_snapshot(client, plan, officer)
    assert snapshot["unavailable"] == {}
    got = await values_of(client, snapshot["id"], officer, {S3, S6, PER_PERSON, S8})
    assert got == {
        # S3: of the in-county settlements of poor patients up to June, those within the cap.
        (S3, DISTRICT): ("county", "1", "2", "50.00"),
        (S3, AIYE): ("town", "1", "1", "100.00"),
        (S3, V1): ("village", "1", "1", "100.00"),
        (S3, OTHER_TOWN): ("town", "0", "1", "0.00"),
        (S3, V3): ("village", "0", "1", "0.00"),
        # S6: paid of eligible for 2020, and the amount per person paid.
        (S6, DISTRICT): ("county", "3", "4", "75.00"),
        (S6, AIYE): ("town", "2", "2", "100.00"),
        (S6, V1): ("village", "2", "2", "100.00"),
        (S6, OTHER_TOWN): ("town", "1", "2", "50.00"),
        (S6, V3): ("village", "1", "2", "50.00"),
        (PER_PERSON, DISTRICT): ("county", "300.00", "3", "100.00"),
        (PER_PERSON, AIYE): ("town", "200.00", "2", "100.00"),
        (PER_PERSON, V1): ("village", "200.00", "2", "100.00"),
        (PER_PERSON, OTHER_TOWN): ("town", "100.00", "1", "100.00"),
        (PER_PERSON, V3): ("village", "100.00", "1", "100.00"),
        # S8: person-quarters paid (Q1) of those owed (Q1, Q2); nobody disabled in Aiye.
        (S8, DISTRICT): ("county", "1", "2", "50.00"),
        (S8, OTHER_TOWN): ("town", "1", "2", "50.00"),
        (S8, V3): ("village", "1", "2", "50.00"),
    }

    response = await client.get(
        "/v1/dashboard", params={"division": DISTRICT, "date": AS_OF}, headers=officer
    )
    assert response.status_code == 200, response.text
    dashboard = response.json()
    assert dashboard["stale"] is False, dashboard["stale_reasons"]
    lines = {t["code"]: t for t in dashboard["targets"]}
    assert (lines["S3"]["value"], lines["S3"]["figure"]) == ("50.00", "100")
    assert (lines["S6"]["value"], lines["S6"]["numerator"], lines["S6"]["denominator"]) == (
        "75.00",
        "3",
        "4",
    )
    assert [w["division_code"] for w in lines["S6"]["worst_subdivisions"]] == [OTHER_TOWN, AIYE]
    assert lines["S8"]["value"] == "50.00"
    assert lines["S7"]["status"] == "not_available"
    assert "civil affairs" in lines["S7"]["status_reason"]
    # Aiye has no disabled person owed a subsidy: no value, and the reason says why.
    aiye = await client.get(
        "/v1/dashboard", params={"division": AIYE, "date": AS_OF}, headers=officer
    )
    s8 = {t["code"]: t for t in aiye.json()["targets"]}["S8"]
    assert (s8["status"], s8["value"]) == ("not_available", None)
    assert "disability subsidy run" in s8["status_reason"]


async def test_benefits_down_the_snapshot_is_taken_without_its_figures_and_says_why(
    client: AsyncClient,
    monitoring_app: FastAPI,
    common_settings: CommonSettings,
    plan: PlanRow,
    projection: Projection,
    officer: dict[str, str],
) -> None:
    household = await projection.household(V1, [("registered_poor", "2016-01-01")])
    await projection.person(household, critical_illness_insured=False)
    await projection.synced()
    # Nothing listens there: every call fails to connect, retries included.
    down = benefits_client(
        common_settings,
        monitoring_app.state.settings.model_copy(update={"benefits_url": "http://127.0.0.1:9"}),
    )
    async with benefits_reached_by(monitoring_app, down):
        snapshot = await take_snapshot(client, plan, officer)

    reason = "the benefits service could not be reached (ConnectError)"
    assert snapshot["unavailable"] == unavailable(reason, reason)
    registry_based = await values_of(client, snapshot["id"], officer, {"insurance_coverage_share"})
    assert registry_based[("insurance_coverage_share", DISTRICT)][1:] == ("0", "1", "0.00")
    assert not await values_of(client, snapshot["id"], officer, {S3, S6, PER_PERSON, S8})

    dashboard = (
        await client.get(
            "/v1/dashboard", params={"division": DISTRICT, "date": AS_OF}, headers=officer
        )
    ).json()
    lines = {t["code"]: t for t in dashboard["targets"]}
    for code in ("S3", "S6", "S8"):
        assert lines[code]["status"] == "not_available"
        assert lines[code]["status_reason"] == f"not in the snapshot of {AS_OF}: {reason}"
    assert lines["S2"]["value"] == "0.00"
    assert dashboard["stale"] is True
    assert (
        f"the last snapshot has no value for some indicators: {reason}"
        in (dashboard["stale_reasons"])
    )


async def test_a_token_benefits_refuses_is_a_reason_not_a_500(
    client: AsyncClient,
    monitoring_app: FastAPI,
    benefits_app: FastAPI,
    common_settings: CommonSettings,
    plan: PlanRow,
    projection: Projection,
    officer: dict[str, str],
) -> None:
    # A token for another district: benefits answers that it has no such division.
    elsewhere = mint_token(
        common_settings, subject="monitoring", roles=[Role.service], division="510304"
    )
    settings = monitoring_app.state.settings.model_copy(
        update={"benefits_token": SecretStr(elsewhere)}
    )
    refused = benefits_client(
        common_settings, settings, transport=httpx.ASGITransport(app=benefits_app)
    )
    await projection.synced()
    async with benefits_reached_by(monitoring_app, refused):
        snapshot = await take_snapshot(client, plan, officer)
    medical = "the benefits service refused /v1/stats/medical: 404 division 510303000000 not found"
    assert snapshot["unavailable"] == unavailable(
        medical, medical.replace("medical", "entitlements")
    )


async def test_an_answer_that_is_not_json_is_a_reason_not_a_500(
    client: AsyncClient,
    monitoring_app: FastAPI,
    common_settings: CommonSettings,
    plan: PlanRow,
    projection: Projection,
    officer: dict[str, str],
) -> None:
    # What stands between the services (a proxy's error page sent with 200), not benefits.
    def proxy_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, text="<html>gateway</html>", headers={"content-type": "text/html"}
        )

    garbled = benefits_client(
        common_settings, monitoring_app.state.settings, transport=httpx.MockTransport(proxy_page)
    )
    await projection.synced()
    async with benefits_reached_by(monitoring_app, garbled):
        snapshot = await take_snapshot(client, plan, officer)
    medical = "the benefits service answered /v1/stats/medical with no JSON"
    assert snapshot["unavailable"] == unavailable(
        medical, medical.replace("medical", "entitlements")
    )


async def test_a_benefits_service_that_hangs_delays_a_snapshot_by_the_deadline_only(
    client: AsyncClient,
    monitoring_app: FastAPI,
    common_settings: CommonSettings,
    plan: PlanRow,
    projection: Projection,
    officer: dict[str, str],
) -> None:
    connections: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = monitoring_app.state.settings
    patient = settings.model_copy(
        update={
            "benefits_url": f"http://127.0.0.1:{port}",
            "benefits_timeout_seconds": 30.0,
            "benefits_deadline_seconds": 0.5,
        }
    )
    await projection.synced()
    monitoring_app.state.settings = patient
    try:
        async with benefits_reached_by(monitoring_app, benefits_client(common_settings, patient)):
            started = time.monotonic()
            snapshot = await take_snapshot(client, plan, officer)
            elapsed = time.monotonic() - started
    finally:
        monitoring_app.state.settings = settings
        server.close()
        for writer in connections:
            writer.close()
        await server.wait_closed()
    reason = "the benefits service did not answer within 0.5 s"
    assert snapshot["unavailable"] == unavailable(reason, reason)
    assert elapsed < 5, elapsed


@pytest.mark.parametrize(
    ("tokens", "missing"),
    [
        ({"registry_token": "r"}, "MONITORING_BENEFITS_TOKEN"),
        ({"benefits_token": "b"}, "MONITORING_REGISTRY_TOKEN"),
    ],
)
async def test_production_does_not_start_without_either_service_token(
    tokens: dict[str, str], missing: str
) -> None:
    production = CommonSettings(
        environment="production", database_url="postgresql://db.invalid/x", jwt_secret="x" * 40
    )
    app = create_monitoring(common=production, settings=MonitoringSettings(**tokens))
    with pytest.raises(RuntimeError, match=f"{missing} is required in production"):
        async with app.router.lifespan_context(app):
            pass
