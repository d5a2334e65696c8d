"""Return-to-poverty alerts: each rule on its boundaries, one open alert per household
and rule, the lifecycle and who may move it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from httpx import AsyncClient

from tests.monitoring.conftest import V1, V2, V3, Projection
from tuopin_monitoring.plans.models import PlanRow
from tuopin_shared.contracts.auth import Role

AS_OF = "2020-06-30"
LIFTED = [("registered_poor", "2016-01-01"), ("lifted_out", "2019-12-01")]


@pytest.fixture
async def watched(projection: Projection) -> dict[str, uuid.UUID]:
    """Households each on one side of one rule's boundary (everyone else in them is fine:
    unable to work, insured, out of school age)."""
    p = projection
    h: dict[str, uuid.UUID] = {}

    async def lifted(name: str, division: str = V1) -> uuid.UUID:
        h[name] = await p.household(division, LIFTED, lifted_out_year=2019)
        await p.person(h[name])
        return h[name]

    await p.income(await lifted("at_line"), 2020, "4300.00")  # not below: monitoring line
    await p.income(await lifted("fen_below"), 2020, "4299.99")  # below the line
    drop = await lifted("drop_30")
    await p.income(drop, 2019, "10000.00")
    await p.income(drop, 2020, "7000.00")  # fell exactly 30%
    small_drop = await lifted("drop_29_9")
    await p.income(small_drop, 2019, "10000.00")
    await p.income(small_drop, 2020, "7010.00")  # fell 29.9%
    # 2020-06-30 less 365 days is 2019-07-01: a change that day is still new.
    await p.person(await lifted("ill_in_window"), health_status="serious_illness",
                   health_worsened_on=date(2019, 7, 1))  # fmt: skip
    await p.person(await lifted("ill_before_window"), health_status="disabled",
                   disability_grade=2, health_worsened_on=date(2019, 6, 30))  # fmt: skip
    # Aged 15 on the date (16 tomorrow): school age; born a day earlier: 16, not.
    await p.person(await lifted("dropout_15"), birth_date=date(2004, 7, 1),
                   school_stage="dropped_out")  # fmt: skip
    await p.person(await lifted("dropout_16"), birth_date=date(2004, 6, 30),
                   school_stage="dropped_out")  # fmt: skip
    await p.person(await lifted("exempt_child"), birth_date=date(2012, 1, 1),
                   school_exempt=True)  # fmt: skip
    await p.assessment(await lifted("house_c"), "2020-05-01", unmet=("housing",), housing_grade="C")
    # Graded D but reinforced: housing met.
    await p.assessment(await lifted("house_d_reinforced"), "2020-05-01", housing_grade="D")
    await p.person(await lifted("nobody_works"), labour_capacity="ordinary")
    await p.person(await lifted("somebody_works"), labour_capacity="ordinary",
                   employment_status="local", months_worked=2)  # fmt: skip
    # Edge household, watched; registered poor household, not watched.
    h["edge"] = await p.household(V2, [("monitored", "2019-03-01")], registered_year=None)
    await p.person(h["edge"])
    await p.income(h["edge"], 2020, "5000.00")
    h["registered"] = await p.household(V3, [("registered_poor", "2016-01-01")])
    await p.person(h["registered"])
    await p.income(h["registered"], 2020, "1000.00")
    return h


async def evaluate(client: AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/v1/alerts/evaluate", json={"as_of": AS_OF}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def alerts(
    client: AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    response = await client.get("/v1/alerts", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def by_household(items: list[dict[str, Any]], names: dict[str, uuid.UUID]) -> set[tuple[str, str]]:
    label = {str(v): k for k, v in names.items()}
    return {(label[a["household_id"]], a["rule"]) for a in items}


async def test_each_rule_on_its_boundary(
    client: AsyncClient, plan: PlanRow, watched: dict[str, uuid.UUID], officer: dict[str, str]
) -> None:
    outcome = await evaluate(client, officer)
    found = by_household(await alerts(client, officer), watched)
    assert found == {
        ("at_line", "income_below_monitoring_line"),
        ("fen_below", "income_below_line"),
        ("drop_30", "income_drop"),
        ("ill_in_window", "new_disability_or_illness"),
        ("dropout_15", "school_dropout"),
        ("house_c", "unsafe_housing"),
        ("nobody_works", "no_employed_member"),
        ("edge", "income_below_monitoring_line"),
    }
    assert outcome["opened"] == 8
    items = {(a["rule"], a["household_id"]): a for a in await alerts(client, officer)}
    drop = items[("income_drop", str(watched["drop_30"]))]
    assert drop["evidence"] == {
        "income_year": 2020,
        "per_capita_net_income": "7000.00",
        "previous_year": 2019,
        "previous_per_capita_net_income": "10000.00",
        "drop": "0.3000",
        "threshold": "0.30",
    }
    assert (drop["severity"], drop["status"]) == ("medium", "open")
    below = items[("income_below_line", str(watched["fen_below"]))]
    assert below["evidence"]["income_line"] == "4300.00"
    assert below["severity"] == "high"
    assert below["registry_url"].endswith(f"/v1/households/{watched['fen_below']}")


async def test_one_open_alert_per_household_and_rule(
    client: AsyncClient,
    plan: PlanRow,
    watched: dict[str, uuid.UUID],
    officer: dict[str, str],
    projection: Projection,
) -> None:
    await evaluate(client, officer)
    again = await evaluate(client, officer)
    assert (again["opened"], again["refreshed"], again["cleared"]) == (0, 8, 0)
    assert len(await alerts(client, officer)) == 8

    # The fen is found: that alert is cleared (a cadre still closes it) and the
    # household now sits between the lines.
    await projection.income(watched["fen_below"], 2020, "4300.00")
    third = await evaluate(client, officer)
    assert (third["opened"], third["cleared"]) == (1, 1)
    mine = {
        a["rule"]: a for a in await alerts(client, officer, household_id=str(watched["fen_below"]))
    }
    assert mine["income_below_line"]["cleared_at"] is not None
    assert mine["income_below_line"]["status"] == "open"
    assert mine["income_below_monitoring_line"]["cleared_at"] is None


async def test_closed_alerts_are_not_reopened_for_the_same_facts(
    client: AsyncClient,
    plan: PlanRow,
    watched: dict[str, uuid.UUID],
    officer: dict[str, str],
    projection: Projection,
) -> None:
    await evaluate(client, officer)
    [alert] = await alerts(client, officer, rule="income_below_line")
    dismissed = await client.post(
        f"/v1/alerts/{alert['id']}/dismiss",
        json={"note": "income under-reported; verified on a visit"},
        headers=officer,
    )
    assert dismissed.status_code == 200, dismissed.text
    assert (await evaluate(client, officer))["opened"] == 0
    # A new year's income below the line is a new fact: a new alert.
    await projection.income(watched["fen_below"], 2020, "4100.00")
    assert (await evaluate(client, officer))["opened"] == 1
    statuses = sorted(a["status"] for a in await alerts(client, officer, rule="income_below_line"))
    assert statuses == ["dismissed", "open"]


async def test_lifecycle_and_who_may_move_it(
    client: AsyncClient,
    plan: PlanRow,
    watched: dict[str, uuid.UUID],
    officer: dict[str, str],
    token: Callable[..., dict[str, str]],
) -> None:
    await evaluate(client, officer)
    [alert] = await alerts(client, officer, rule="unsafe_housing")  # a household in V1
    url = f"/v1/alerts/{alert['id']}"
    own, neighbour = token(Role.village_cadre, V1, "cadre-1"), token(Role.village_cadre, V2)
    auditor = token(Role.auditor)

    # Another village's cadre does not see it; an auditor sees but cannot touch it.
    assert (await client.post(f"{url}/acknowledge", json={}, headers=neighbour)).status_code == 404
    assert (await client.get(url, headers=neighbour)).status_code == 404
    assert (await client.get(url, headers=auditor)).status_code == 200
    refused = await client.post(f"{url}/acknowledge", json={}, headers=auditor)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert all(a["division_code"] == V1 for a in await alerts(client, own))

    # Resolving needs someone to have taken it in hand first.
    early = await client.post(f"{url}/resolve", json={"note": "done"}, headers=own)
    assert early.status_code == 409
    assert (await client.post(f"{url}/acknowledge", json={"note": "seen"}, headers=own)).is_success
    assigned = await client.post(
        f"{url}/assign", json={"assignee": "cadre-7", "note": "visit this week"}, headers=own
    )
    assert assigned.json()["assignee"] == "cadre-7"
    no_note = await client.post(f"{url}/resolve", json={}, headers=own)
    assert no_note.status_code == 422
    assert no_note.json()["errors"][0]["field"] == "note"
    resolved = await client.post(
        f"{url}/resolve", json={"note": "house reinforced with the county grant"}, headers=own
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved"
    assert [
        (a["action"], a["from_status"], a["to_status"], a["actor"]) for a in body["actions"]
    ] == [
        ("acknowledge", "open", "acknowledged", "cadre-1"),
        ("assign", "acknowledged", "assigned", "cadre-1"),
        ("resolve", "assigned", "resolved", "cadre-1"),
    ]
    again = await client.post(f"{url}/dismiss", json={"note": "x"}, headers=own)
    assert again.status_code == 409
    assert "resolved" in again.json()["detail"]


async def test_filters_and_bad_input(
    client: AsyncClient, plan: PlanRow, watched: dict[str, uuid.UUID], officer: dict[str, str]
) -> None:
    await evaluate(client, officer)
    high = await alerts(client, officer, severity="high")
    assert {a["rule"] for a in high} == {"income_below_line", "school_dropout", "unsafe_housing"}
    assert {a["division_code"] for a in await alerts(client, officer, division=V2)} == {V2}
    page = await client.get("/v1/alerts", params={"limit": 3}, headers=officer)
    rest = await client.get(
        "/v1/alerts", params={"limit": 500, "cursor": page.json()["next_cursor"]}, headers=officer
    )
    ids = [a["id"] for a in page.json()["items"] + rest.json()["items"]]
    assert len(ids) == len(set(ids)) == 8
    for params, field in [
        ({"rule": "nonsense"}, "rule"),
        ({"status": "closed"}, "status"),
        ({"division": "12x"}, "division"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ]:
        response = await client.get("/v1/alerts", params=params, headers=officer)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] == field
    rules = (await client.get("/v1/alerts/rules", headers=officer)).json()
    assert {r["rule"]: r["evaluated"] for r in rules}["medical_spending"] is False
    assert len(rules) == 8
    missing = await client.post("/v1/alerts/1/assign", json={"note": "x"}, headers=officer)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "assignee"
