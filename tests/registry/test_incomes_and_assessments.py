"""Incomes (exact Decimal money) and guarantee assessments."""

from __future__ import annotations

from datetime import date
from typing import Any

from httpx import AsyncClient

from tests.registry.conftest import member_body
from tuopin_shared.contracts.identity import make_resident_id


async def test_income_is_computed_exactly_in_decimal(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household(members=3)
    body = {
        "wage_income": "10000.10",
        "business_income": "3000.20",
        "property_income": "0.10",
        "transfer_income": "2400.20",
        "business_costs": "1200.31",
    }
    response = await client.put(
        f"/v1/households/{household['id']}/incomes/2020", json=body, headers=admin
    )
    assert response.status_code == 200, response.text
    income = response.json()
    # 10000.10 + 3000.20 + 0.10 + 2400.20 - 1200.31 = 14200.29 exactly
    # (the same sum in floats is 14200.289999999999).
    assert income["net_income"] == "14200.29"
    assert income["household_size"] == 3
    # 14200.29 / 3 = 4733.4299… -> 4733.43
    assert income["per_capita_net_income"] == "4733.43"
    assert income["needs_review"] is False
    assert income["wage_income"] == "10000.10"


async def test_income_rounds_half_up_once(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household(members=2)
    response = await client.put(
        f"/v1/households/{household['id']}/incomes/2020",
        json={"wage_income": "0.05"},
        headers=admin,
    )
    # 0.05 / 2 = 0.025 -> 0.03 (half-up), and it is flagged as implausibly low.
    assert response.json()["per_capita_net_income"] == "0.03"


async def test_implausible_income_is_flagged_not_refused(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    url = f"/v1/households/{household['id']}/incomes/2020"
    loss = await client.put(
        url, json={"business_income": "100.00", "business_costs": "900.00"}, headers=admin
    )
    assert loss.status_code == 200
    assert (loss.json()["net_income"], loss.json()["needs_review"]) == ("-800.00", True)
    rich = await client.put(url, json={"wage_income": "100000.01"}, headers=admin)
    assert rich.json()["needs_review"] is True
    assert "above" in rich.json()["review_reasons"][0]
    # PUT replaced the year's record: one row per household and year.
    listed = (await client.get(f"/v1/households/{household['id']}/incomes", headers=admin)).json()
    assert [(i["year"], i["wage_income"]) for i in listed] == [(2020, "100000.01")]


async def test_money_must_be_non_negative_with_two_places(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    url = f"/v1/households/{household['id']}/incomes/2020"
    for value, field in (
        ("-1.00", "wage_income"),
        ("1.005", "wage_income"),
        ("abc", "wage_income"),
    ):
        response = await client.put(url, json={field: value}, headers=admin)
        assert response.status_code == 422, value
        assert response.json()["errors"][0]["field"] == field
    assert (
        await client.get(f"/v1/households/{household['id']}/incomes/2020", headers=admin)
    ).status_code == 404


async def test_household_size_counts_members_of_that_year(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household(members=2)
    baby = make_resident_id("510303", date(2021, 2, 1), 7)
    await client.post(
        f"/v1/households/{household['id']}/members",
        json=member_body(resident_id=baby, relation_to_head="grandson"),
        headers=admin,
    )
    income = await client.put(
        f"/v1/households/{household['id']}/incomes/2020",
        json={"wage_income": "9000.00"},
        headers=admin,
    )
    # The grandson born in 2021 is not part of the 2020 household.
    assert (income.json()["household_size"], income.json()["per_capita_net_income"]) == (
        2,
        "4500.00",
    )


def assessment(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "assessed_on": "2020-06-30",
        "food_secure": True,
        "clothing_secure": True,
        "housing_grade": "B",
        "water_litres_per_person_day": 60,
        "water_quality_ok": True,
        "water_fetch_minutes": 5,
        "water_outage_days": 3,
    }
    body.update(overrides)
    return body


async def test_assessment_derives_education_and_medical_from_members(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    child = make_resident_id("510303", date(2010, 9, 1), 11)
    household = await create_household(
        members=[
            member_body(),
            member_body(resident_id=child, relation_to_head="son", school_stage="dropped_out"),
        ]
    )
    url = f"/v1/households/{household['id']}/assessments"
    first = (await client.post(url, json=assessment(), headers=admin)).json()
    assert (first["education_secure"], first["education_derived"]) == (False, True)
    assert first["medical_secure"] is True
    assert (first["all_met"], first["unmet"]) == (False, ["education"])

    son = household["members"][1]
    await client.patch(
        f"/v1/members/{son['id']}",
        json={"school_stage": "primary"},
        headers={**admin, "If-Match": '"1"'},
    )
    second = (
        await client.post(url, json=assessment(assessed_on="2020-07-01"), headers=admin)
    ).json()
    assert (second["all_met"], second["unmet"]) == (True, [])
    assert [a["assessed_on"] for a in (await client.get(url, headers=admin)).json()] == [
        "2020-06-30",
        "2020-07-01",
    ]


async def test_housing_and_water_criteria(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    url = f"/v1/households/{household['id']}/assessments"

    async def unmet(**findings: Any) -> list[str]:
        response = await client.post(url, json=assessment(**findings), headers=admin)
        assert response.status_code == 201, response.text
        return response.json()["unmet"]

    assert await unmet(housing_grade="C") == ["housing"]
    assert await unmet(housing_grade="D", reinforced=True) == []
    assert await unmet(housing_grade="C", relocated=True) == []
    assert await unmet(water_litres_per_person_day=34.9) == ["water"]
    assert await unmet(water_litres_per_person_day=35) == []
    assert await unmet(water_fetch_minutes=21) == ["water"]
    assert await unmet(water_outage_days=37) == ["water"]
    assert await unmet(water_quality_ok=False, food_secure=False) == ["food", "water"]
    # In a water-short area 20 L per person per day is enough.
    await client.patch(
        f"/v1/households/{household['id']}",
        json={"water_short_area": True},
        headers={**admin, "If-Match": '"1"'},
    )
    assert await unmet(water_litres_per_person_day=20) == []
    assert await unmet(water_litres_per_person_day=19.9) == ["water"]


async def test_future_assessment_is_refused(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    response = await client.post(
        f"/v1/households/{household['id']}/assessments",
        json=assessment(assessed_on="2999-01-01"),
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "assessed_on"
