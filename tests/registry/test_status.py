"""The poverty-status lifecycle and the lift-out check."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.registry.conftest import AIYE_V1
from tests.registry.test_incomes_and_assessments import assessment
from tuopin_shared.contracts.auth import Role


async def test_lift_out_is_refused_with_reasons_then_accepted(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household(members=2)
    hid = household["id"]
    url = f"/v1/households/{hid}/status-changes"
    lift = {"to_status": "lifted_out", "effective_on": "2020-11-30", "reason": "verified"}

    refused = await client.post(url, json=lift, headers=admin)
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] == "/problems/lift-out-refused"
    assert problem["reasons"] == [
        "no annual income is recorded",
        "no guarantee assessment is recorded",
    ]

    await client.put(
        f"/v1/households/{hid}/incomes/2020", json={"wage_income": "8599.98"}, headers=admin
    )
    await client.post(
        f"/v1/households/{hid}/assessments", json=assessment(housing_grade="D"), headers=admin
    )
    refused = (await client.post(url, json=lift, headers=admin)).json()
    assert refused["reasons"] == [
        "per-capita net income 4299.99 in 2020 is below the income line 4300.00",
        "guarantee not met in the latest assessment: housing",
    ]

    await client.put(
        f"/v1/households/{hid}/incomes/2020", json={"wage_income": "8600.00"}, headers=admin
    )
    await client.post(
        f"/v1/households/{hid}/assessments",
        json=assessment(assessed_on="2020-07-01", housing_grade="D", reinforced=True),
        headers=admin,
    )
    accepted = await client.post(url, json=lift, headers=admin)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["lifted_out_year"] == 2020
    after = (await client.get(f"/v1/households/{hid}", headers=admin)).json()
    assert (after["status"], after["lifted_out_year"], after["version"]) == ("lifted_out", 2020, 2)
    history = (await client.get(url, headers=admin)).json()
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "registered_poor"),
        ("registered_poor", "lifted_out"),
    ]


async def test_lift_out_needs_an_income_line_for_the_year(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    hid = household["id"]
    await client.put(
        f"/v1/households/{hid}/incomes/2019", json={"wage_income": "9000.00"}, headers=admin
    )
    await client.post(f"/v1/households/{hid}/assessments", json=assessment(), headers=admin)
    refused = await client.post(
        f"/v1/households/{hid}/status-changes",
        json={"to_status": "lifted_out", "effective_on": "2020-01-15", "reason": "x"},
        headers=admin,
    )
    assert refused.json()["reasons"] == ["no income line is configured for 2019"]


async def test_transitions_follow_the_lifecycle(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    url = f"/v1/households/{household['id']}/status-changes"
    response = await client.post(
        url,
        json={"to_status": "monitored", "effective_on": "2020-01-01", "reason": "x"},
        headers=admin,
    )
    assert response.status_code == 409
    assert "registered_poor household cannot become monitored" in response.json()["detail"]
    # An edge household may be registered directly as monitored, then fall into poverty.
    edge = await create_household(status="monitored", status_effective_on="2020-01-01")
    moved = await client.post(
        f"/v1/households/{edge['id']}/status-changes",
        json={"to_status": "newly_impoverished", "effective_on": "2020-03-01", "reason": "illness"},
        headers=admin,
    )
    assert moved.status_code == 201
    backwards = await client.post(
        f"/v1/households/{edge['id']}/status-changes",
        json={"to_status": "lifted_out", "effective_on": "2019-03-01", "reason": "x"},
        headers=admin,
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "effective_on"


async def test_new_household_cannot_start_lifted_out(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    from tests.registry.conftest import household_body

    response = await client.post(
        "/v1/households", json=household_body(status="lifted_out"), headers=admin
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "status"


async def test_village_cadre_cannot_change_status(
    client: AsyncClient, token: Any, create_household: Any
) -> None:
    household = await create_household()
    response = await client.post(
        f"/v1/households/{household['id']}/status-changes",
        json={"to_status": "lifted_out", "effective_on": "2020-01-01", "reason": "x"},
        headers=token(Role.village_cadre, AIYE_V1),
    )
    assert response.status_code == 403
