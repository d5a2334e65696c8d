"""Plans, targets and progress reports: the seed plan, the checks, the history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.monitoring.conftest import AIYE, DISTRICT, OTHER_TOWN, V1, V2, Projection
from tuopin_monitoring.alerts.rules import Action, transition
from tuopin_monitoring.plans.defaults import seed_targets
from tuopin_monitoring.plans.models import PlanRow
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.monitoring import AlertStatus


def test_the_seed_plan_has_every_target_of_the_seed_document() -> None:
    targets = seed_targets(2020)
    codes = [t.code for t in targets]
    expected = (
        [f"G{i}" for i in range(1, 6)]
        + [f"I{i}" for i in range(1, 12)]
        + [f"E{i}" for i in range(1, 5)]
        + [f"N{i}" for i in range(1, 11)]
        + [f"S{i}" for i in range(1, 9)]
    )
    assert codes == expected
    computed = {t.code for t in targets if t.measurement == "computed"}
    assert computed == {
        "G1",
        "G2",
        "G3",
        "G4",
        "G5",
        "E1",
        "E4",
        "N9",
        "S1",
        "S2",
        "S3",
        "S6",
        "S7",
        "S8",
    }
    by_code = {t.code: t for t in targets}
    assert (by_code["N1"].figure, by_code["N1"].unit, by_code["N1"].comparator) == (35, "km", ">=")
    # S3 as the benefits statistics can measure it: every settlement within the 10% cap.
    s3 = by_code["S3"]
    assert (s3.indicator, s3.comparator, s3.figure) == (
        "in_county_poor_within_cap_share",
        ">=",
        100,
    )
    assert by_code["N3"].figure is None  # "raised", no figure
    assert all(t.source == "seed" for t in targets)


async def test_plan_targets_and_visibility(
    client: AsyncClient, plan: PlanRow, officer: dict[str, str], token: Callable[..., Any]
) -> None:
    listed = await client.get(f"/v1/plans/{plan.id}/targets", headers=officer)
    assert listed.status_code == 200
    assert [t["code"] for t in listed.json()][:6] == ["G1", "G2", "G3", "G4", "G5", "I1"]
    # A village cadre works to the district's plan; a cadre elsewhere does not see it.
    cadre = token(Role.village_cadre, V1)
    assert (await client.get(f"/v1/plans/{plan.id}", headers=cadre)).status_code == 200
    stranger = token(Role.district_officer, "510304")
    assert (await client.get(f"/v1/plans/{plan.id}", headers=stranger)).status_code == 404
    assert (await client.get("/v1/plans", headers=stranger)).json() == []


async def test_plan_and_target_checks(
    client: AsyncClient, plan: PlanRow, officer: dict[str, str], token: Callable[..., Any]
) -> None:
    created = await client.post(
        "/v1/plans", json={"district_code": "510303", "year": 2021, "name": "2021"}, headers=officer
    )
    assert created.status_code == 201, created.text
    assert created.json()["parameters"]["income_line"] == "4300.00"
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/v1/plans", {"district_code": "510303", "year": 2020, "name": "again"}, 409, "year"),
        ("/v1/plans", {"district_code": AIYE, "year": 2022, "name": "town"}, 422, "district_code"),
        ("/v1/plans", {"district_code": "510303", "year": 1999, "name": "x"}, 422, "year"),
        (
            "/v1/plans",
            {"district_code": "510303", "year": 2023, "name": "x",
             "parameters": {"income_line": "4300.005"}},
            422,
            "parameters.income_line",
        ),
    ]  # fmt: skip
    target = {
        "code": "X1",
        "name": "x",
        "indicator": "guarantees_met_share",
        "measurement": "computed",
        "figure": "100",
        "unit": "%",
    }
    targets = f"/v1/plans/{plan.id}/targets"
    cases += [
        (targets, {**target, "indicator": "no_such_thing"}, 422, "indicator"),
        (targets, {**target, "unit": "households"}, 422, "unit"),
        (targets, {**target, "scope": "510304"}, 422, "scope"),
        (targets, {**target, "code": "G1"}, 409, "code"),
        (targets, {**target, "comparator": ">"}, 422, "comparator"),
        (targets, {**target, "figure": "a lot"}, 422, "figure"),
        (targets, {**target, "colour": "red"}, 422, "colour"),
        (
            targets,
            {**target, "expected_progress": [{"on": "2021-03-01", "share": "0.5"}]},
            422,
            "expected_progress.0.on",
        ),
    ]
    for url, body, status, field in cases:
        response = await client.post(url, json=body, headers=officer)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
    ok = await client.post(targets, json={**target, "scope": AIYE}, headers=officer)
    assert ok.status_code == 201, ok.text
    assert ok.json()["scope"] == AIYE
    town = token(Role.town_officer, AIYE)
    assert (await client.post(targets, json=target, headers=town)).status_code == 403


async def report(
    client: AsyncClient, headers: dict[str, str], target: str, **overrides: Any
) -> Any:
    body = {
        "target_id": target,
        "division_code": AIYE,
        "reported_on": "2020-06-30",
        "value": "12.5",
        "unit": "km",
        "evidence": "acceptance certificates 2020-017 to 021",
        "reporter_name": "Aiye transport office",
    }
    return await client.post("/v1/progress-reports", json={**body, **overrides}, headers=headers)


async def test_progress_reports_checks_history_and_dashboard(
    client: AsyncClient,
    plan: PlanRow,
    officer: dict[str, str],
    token: Callable[..., Any],
    db: AsyncSession,
    projection: Projection,
) -> None:
    targets = {
        t["code"]: t["id"]
        for t in (await client.get(f"/v1/plans/{plan.id}/targets", headers=officer)).json()
    }
    roads = targets["N1"]
    wrong_unit = await report(client, officer, roads, unit="m")
    assert wrong_unit.status_code == 422
    assert [e["field"] for e in wrong_unit.json()["errors"]] == ["unit"]
    assert "km" in wrong_unit.json()["errors"][0]["message"]
    for overrides, field in [
        ({"target_id": targets["G1"], "unit": "%"}, "target_id"),  # computed, not reported
        ({"reported_on": "2999-01-01"}, "reported_on"),
        ({"reported_on": "2019-12-31"}, "reported_on"),
        ({"value": "-1"}, "value"),
        ({"evidence": ""}, "evidence"),
        ({"division_code": "510304100000"}, "division_code"),
        ({"corrects": 999999999}, "corrects"),
    ]:
        response = await report(client, officer, roads, **overrides)
        assert response.status_code == 422, (overrides, response.text)
        assert field in [e["field"] for e in response.json()["errors"]]
    # A village cadre reports for their village only.
    cadre = token(Role.village_cadre, V1, "cadre-1")
    outside = await report(client, cadre, roads, division_code=V2)
    assert outside.status_code == 403
    assert outside.json()["errors"][0]["field"] == "division_code"

    first = await report(client, cadre, roads, division_code=V1, value="7")
    assert first.status_code == 201, first.text
    assert (first.json()["reporter"], first.json()["target_code"]) == ("cadre-1", "N1")
    await report(client, officer, roads, division_code=V2, value="2.5")
    correction = await report(
        client, cadre, roads, division_code=V1, value="6", corrects=first.json()["id"]
    )
    assert correction.status_code == 201
    await report(
        client, officer, roads, division_code=OTHER_TOWN, value="20", reported_on="2020-05-31"
    )
    history = await client.get(
        "/v1/progress-reports", params={"target_id": roads, "division": V1}, headers=cadre
    )
    assert [r["value"] for r in history.json()["items"]] == ["6", "7"]  # newest first, kept
    # The database keeps the history whatever the code does.
    with pytest.raises(DBAPIError, match="never changed"):
        async with db.begin_nested():
            await db.execute(text("UPDATE monitoring.progress_report SET value = 0"))

    await projection.synced()
    dashboard = await client.get(
        "/v1/dashboard", params={"division": DISTRICT, "date": "2020-06-30"}, headers=officer
    )
    n1 = {t["code"]: t for t in dashboard.json()["targets"]}["N1"]
    # 6 (corrected) + 2.5 in Aiye's villages + 20 in the other town = 28.5 of 35 km; the
    # line is at 35 × 181/365 = 17.36: ahead of it.
    assert (n1["value"], n1["status"], n1["expected"]) == ("28.5", "on_track", "17.36")
    assert [w["division_code"] for w in n1["worst_subdivisions"]] == [AIYE, OTHER_TOWN]
    assert [p["value"] for p in n1["trend"]] == ["20", "28.5"]


def test_alert_lifecycle_transitions() -> None:
    o, k, a = AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.ASSIGNED
    assert transition(Action.ACKNOWLEDGE, o) is k
    assert transition(Action.ASSIGN, o) is a
    assert transition(Action.ASSIGN, a) is a  # reassigning
    assert transition(Action.RESOLVE, a) is AlertStatus.RESOLVED
    assert transition(Action.DISMISS, o) is AlertStatus.DISMISSED
    assert not isinstance(transition(Action.RESOLVE, o), AlertStatus)
    assert not isinstance(transition(Action.ACKNOWLEDGE, k), AlertStatus)
    for closed in (AlertStatus.RESOLVED, AlertStatus.DISMISSED):
        for action in Action:
            assert not isinstance(transition(action, closed), AlertStatus)
