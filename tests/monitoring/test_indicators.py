"""Computed indicators on a small district whose right answers are known, through a
snapshot, the dashboard and the drill-down lists."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.monitoring.conftest import AIYE, DISTRICT, OTHER_TOWN, REGISTRY, V1, V2, V3, Projection
from tuopin_monitoring.plans.models import PlanRow
from tuopin_shared.contracts.auth import Role

AS_OF = "2020-06-30"
EMPLOYED = {"labour_capacity": "ordinary", "employment_status": "local", "months_worked": 10}


@pytest.fixture
async def district(projection: Projection) -> dict[str, uuid.UUID]:
    """Seven households; the answers at 2020-06-30 are worked out in each comment."""
    p = projection
    # H1: lifted out, 5,000 a head, guarantees met; an employed adult, a pupil of 10,
    # and a member who died in January (not counted).
    h1 = await p.household(
        V1, [("registered_poor", "2016-01-01"), ("lifted_out", "2019-12-01")], lifted_out_year=2019
    )
    await p.person(h1, **EMPLOYED)
    await p.person(h1, birth_date=date(2010, 5, 1), school_stage="primary")
    await p.person(h1, deceased_on=date(2020, 1, 10), **EMPLOYED)
    await p.income(h1, 2020, "5000.00")
    await p.assessment(h1, "2020-03-01")
    # H2: registered poor, 4,299.99 a head (a fen short), never assessed; an adult able
    # to work without work and with basic insurance only, a dropout of 12.
    h2 = await p.household(V1, [("registered_poor", "2016-01-01")])
    await p.person(h2, labour_capacity="ordinary", critical_illness_insured=False)
    await p.person(h2, birth_date=date(2008, 2, 1), school_stage="dropped_out")
    await p.income(h2, 2019, "4299.99")
    # H3: lifted out at exactly the line; house graded C, not made safe; a weak labourer.
    h3 = await p.household(
        V2, [("registered_poor", "2016-01-01"), ("lifted_out", "2019-12-01")], lifted_out_year=2019
    )
    await p.person(h3, labour_capacity="weak")
    await p.income(h3, 2020, "4300.00")
    await p.assessment(h3, "2020-04-01", unmet=("housing",), housing_grade="C")
    # H4: newly impoverished in April; a migrant worker; a baby born after the date.
    h4 = await p.household(V3, [("newly_impoverished", "2020-04-01")], registered_year=2020)
    await p.person(h4, labour_capacity="ordinary", employment_status="migrant", months_worked=11)
    await p.person(h4, birth_date=date(2020, 9, 1))
    # H5: returned to poverty in May, 3,000 a head; works 3 months (not stable work).
    h5 = await p.household(
        V3,
        [
            ("registered_poor", "2016-01-01"),
            ("lifted_out", "2018-12-01"),
            ("returned_to_poverty", "2020-05-10"),
        ],
        lifted_out_year=2018,
    )
    await p.person(h5, labour_capacity="ordinary", employment_status="local", months_worked=3)
    await p.income(h5, 2020, "3000.00")
    await p.assessment(h5, "2020-02-01", housing_grade="A")
    # H6: an edge household, never registered poor: watched, not counted as poor.
    h6 = await p.household(V2, [("monitored", "2019-03-01")], registered_year=None)
    await p.person(h6)
    # H7: registered in August, after the date: not in the programme yet.
    h7 = await p.household(V1, [("registered_poor", "2020-08-01")], registered_year=2020)
    await p.person(h7)
    # A household of another district in the same projection: never counted here.
    elsewhere = await p.household("510304100001", [("registered_poor", "2016-01-01")])
    await p.person(elsewhere)
    await p.synced()
    return {"h1": h1, "h2": h2, "h3": h3, "h4": h4, "h5": h5, "h6": h6, "h7": h7}


async def take_snapshot(client: AsyncClient, plan: PlanRow, headers: dict[str, str]) -> Any:
    response = await client.post(
        "/v1/snapshots", json={"plan_id": str(plan.id), "as_of": AS_OF}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def values(client: AsyncClient, snapshot_id: int, headers: dict[str, str]) -> dict[Any, Any]:
    response = await client.get(f"/v1/snapshots/{snapshot_id}", headers=headers)
    assert response.status_code == 200, response.text
    return {
        (v["division_code"], v["indicator"]): (v["numerator"], v["denominator"], v["value"])
        for v in response.json()["values"]
    }


async def test_snapshot_values_for_district_towns_and_villages(
    client: AsyncClient, plan: PlanRow, district: dict[str, uuid.UUID], officer: dict[str, str]
) -> None:
    snapshot = await take_snapshot(client, plan, officer)
    got = await values(client, snapshot["id"], officer)
    district_values = {
        "income_at_or_above_line_share": ("2", "5", "40.00"),
        "lifted_out_consolidated_people": ("2", None, "2"),
        "newly_impoverished_households": ("1", None, "1"),
        "returned_to_poverty_households": ("1", None, "1"),
        "guarantees_met_share": ("2", "5", "40.00"),
        "labour_households_employed_share": ("2", "4", "50.00"),
        "newly_employed_labourers": ("0", None, "0"),
        "safe_housing_share": ("2", "5", "40.00"),
        "school_enrolment_share": ("1", "2", "50.00"),
        "insurance_coverage_share": ("6", "7", "85.71"),
    }
    for indicator, expected in district_values.items():
        assert got[(DISTRICT, indicator)] == expected, indicator
    # The same indicator at each level: villages, towns, district.
    g1 = "income_at_or_above_line_share"
    assert got[(V1, g1)] == ("1", "2", "50.00")  # H1 yes, H2 a fen short
    assert got[(V2, g1)] == ("1", "1", "100.00")  # H3 exactly at the line counts; H6 not poor
    assert got[(V3, g1)] == ("0", "2", "0.00")  # H4 no income yet, H5 3,000
    assert got[(AIYE, g1)] == ("2", "3", "66.67")
    assert got[(OTHER_TOWN, g1)] == ("0", "2", "0.00")
    assert snapshot["values_count"] == 10 * 6  # ten indicators at six divisions
    assert snapshot["feed_position"] == "1.1"


async def test_dashboard_statuses_trend_and_worst_subdivisions(
    client: AsyncClient,
    plan: PlanRow,
    district: dict[str, uuid.UUID],
    officer: dict[str, str],
    token: Callable[..., dict[str, str]],
) -> None:
    await take_snapshot(client, plan, officer)
    response = await client.get(
        "/v1/dashboard", params={"division": "510303", "date": AS_OF}, headers=officer
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["as_of"], body["stale"]) == (AS_OF, False)
    lines = {t["code"]: t for t in body["targets"]}
    assert len(lines) == 38
    g1 = lines["G1"]
    # The first snapshot is the baseline, so on its own day the target is on its line.
    assert (g1["value"], g1["figure"], g1["status"]) == ("40.00", "100", "on_track")
    assert g1["trend"] == [{"as_of": AS_OF, "value": "40.00"}]
    assert [w["division_code"] for w in g1["worst_subdivisions"]] == [OTHER_TOWN, AIYE]
    # Counts that must stay at zero are off track as soon as there is one case.
    assert (lines["G3"]["value"], lines["G3"]["status"]) == ("1", "off_track")
    assert lines["S3"]["status"] == "not_available"
    assert "benefits" in lines["S3"]["status_reason"]
    assert lines["N1"]["status_reason"] == "nothing reported yet"

    # A village cadre sees the plan measured on their village, and nothing else.
    cadre = token(Role.village_cadre, V1)
    mine = await client.get("/v1/dashboard", params={"date": AS_OF}, headers=cadre)
    assert mine.status_code == 200, mine.text
    assert {t["code"]: t["value"] for t in mine.json()["targets"]}["G1"] == "50.00"
    other = await client.get("/v1/dashboard", params={"division": V3, "date": AS_OF}, headers=cadre)
    assert other.status_code == 404


async def test_dashboard_trend_over_snapshots(
    client: AsyncClient,
    plan: PlanRow,
    district: dict[str, uuid.UUID],
    officer: dict[str, str],
    db: AsyncSession,
    projection: Projection,
) -> None:
    first = await client.post(
        "/v1/snapshots", json={"plan_id": str(plan.id), "as_of": "2020-03-31"}, headers=officer
    )
    assert first.status_code == 201
    # H2's 2020 income reaches the line.
    await projection.income(district["h2"], 2020, "4300.00")
    await take_snapshot(client, plan, officer)
    body = (
        await client.get(
            "/v1/dashboard", params={"division": DISTRICT, "date": AS_OF}, headers=officer
        )
    ).json()
    g1 = {t["code"]: t for t in body["targets"]}["G1"]
    # On 31 March: H1, H2, H3 and H5 (not yet returned, H4 not yet impoverished), two at
    # the line; at the end of June H2 reached it and H4 joined below it: 3 of 5.
    assert [p["value"] for p in g1["trend"]] == ["50.00", "60.00"]
    # The baseline is the first snapshot's 50%: by the end of June 91 of the remaining 275
    # days have passed, so 50 + 50 × 91/275 = 66.55% is expected; 60% is 6.55 behind, more
    # than the margin (10% of the 50 points to go): off track.
    assert Decimal(g1["expected"]) == Decimal("66.55")
    assert g1["status"] == "off_track"


async def test_failing_households_link_to_the_registry_and_page(
    client: AsyncClient,
    plan: PlanRow,
    district: dict[str, uuid.UUID],
    officer: dict[str, str],
    token: Callable[..., dict[str, str]],
) -> None:
    params: dict[str, Any] = {"division": DISTRICT, "date": AS_OF, "limit": 2}
    first = await client.get("/v1/indicators/G1/households", params=params, headers=officer)
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    second = await client.get(
        "/v1/indicators/G1/households",
        params={**params, "cursor": page["next_cursor"]},
        headers=officer,
    )
    items = page["items"] + second.json()["items"]
    assert second.json()["next_cursor"] is None
    expected = {district["h2"], district["h4"], district["h5"]}
    assert {uuid.UUID(i["household_id"]) for i in items} == expected
    h2 = next(i for i in items if i["household_id"] == str(district["h2"]))
    assert h2["registry_url"] == f"{REGISTRY}/v1/households/{district['h2']}"
    assert h2["evidence"] == {
        "income_year": 2019,
        "per_capita": "4299.99",
        "income_line": "4300.00",
    }

    # The same list by indicator key, children out of school, from a village cadre.
    cadre = token(Role.village_cadre, V1)
    mine = await client.get(
        "/v1/indicators/school_enrolment_share/households", params={"date": AS_OF}, headers=cadre
    )
    assert [i["household_id"] for i in mine.json()["items"]] == [str(district["h2"])]
    assert mine.json()["items"][0]["evidence"]["out_of_school"][0]["school_stage"] == "dropped_out"
    outside = await client.get(
        "/v1/indicators/G1/households", params={"division": V3}, headers=cadre
    )
    assert outside.status_code == 404
    benefits = await client.get(
        "/v1/indicators/S3/households", params={"date": AS_OF}, headers=officer
    )
    assert benefits.status_code == 422
    assert benefits.json()["errors"][0]["field"] == "code"


async def test_snapshot_is_stored_whole_or_not_at_all(
    plan: PlanRow,
    district: dict[str, uuid.UUID],
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy.exc import OperationalError

    from tuopin_monitoring.snapshots import service

    class Serialization(Exception):
        sqlstate = "40001"

    real = service.insert_values
    calls = {"n": 0}

    async def fail_first(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("INSERT …", {}, Serialization())
        return await real(*args, **kwargs)

    async def count() -> int:
        return int(await db.scalar(text("SELECT count(*) FROM monitoring.snapshot")) or 0)

    before = await count()
    monkeypatch.setattr(service, "insert_values", fail_first)
    snapshot = await service.take_in_session(db, plan, date(2020, 6, 30), "test", attempts=3)
    assert calls["n"] == 2
    assert await count() == before + 1
    stored = await db.scalar(
        text("SELECT count(*) FROM monitoring.snapshot_value WHERE snapshot_id = :id"),
        {"id": snapshot.id},
    )
    assert stored == snapshot.values_count == 60

    async def always_fail(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("INSERT …", {}, Serialization())

    monkeypatch.setattr(service, "insert_values", always_fail)
    with pytest.raises(OperationalError):
        await service.take_in_session(db, plan, date(2020, 6, 30), "test", attempts=2)
    assert await count() == before + 1  # the failed snapshot left no row behind


async def test_a_lifted_out_household_without_income_is_listed_as_not_consolidated(
    client: AsyncClient, plan: PlanRow, projection: Projection, officer: dict[str, str]
) -> None:
    # No income recorded for the year: nobody has shown it keeps above the line.
    household = await projection.household(
        V1, [("registered_poor", "2016-01-01"), ("lifted_out", "2019-12-01")], lifted_out_year=2019
    )
    await projection.person(household)
    await projection.assessment(household, "2020-03-01")
    await projection.synced()
    response = await client.get(
        "/v1/indicators/G2/households", params={"date": AS_OF}, headers=officer
    )
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert item["household_id"] == str(household)
    assert (item["evidence"]["income_year"], item["evidence"]["all_met"]) == (None, True)
