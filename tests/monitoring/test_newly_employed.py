"""E4, newly employed poor labourers: the sync dates a member's change from unemployed
into work as it applies the feed, and the indicator counts the members of poor
households whose date falls in the plan's year, up to the snapshot's date. The
sync dates a change for the worse in health the same way."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.monitoring.conftest import DISTRICT, V1, V2, Projection
from tuopin_monitoring.plans.models import PlanRow
from tuopin_monitoring.projection.sync import PROJECTION, group_by_entity
from tuopin_shared.kit.database import driver

AS_OF = "2020-06-30"


def member_event(
    member_id: uuid.UUID, household_id: uuid.UUID, version: int, occurred_at: str, **facts: Any
) -> dict[str, Any]:
    """A member's event on the registry's feed, as the sync groups and applies it."""
    payload: dict[str, Any] = {
        "id": str(member_id),
        "household_id": str(household_id),
        "birth_date": "1980-01-01",
        "deceased_on": None,
        "labour_capacity": "ordinary",
        "employment_status": "unemployed",
        "months_worked": 0,
        "health_status": "healthy",
        "disability_grade": None,
        "school_stage": "not_in_school",
        "school_exempt": False,
        "basic_medical_insured": True,
        "critical_illness_insured": True,
        "version": version,
        **facts,
    }
    return {"entity": "member", "payload": payload, "occurred_at": occurred_at}


async def apply(connection: AsyncConnection, *events: dict[str, Any]) -> None:
    """One page of member events through the sync's own statement."""
    grouped = group_by_entity(list(events))
    raw = await driver(connection)
    await raw.execute(PROJECTION.apply["member"], json.dumps(grouped["member"]))


async def test_members_moving_into_work_this_year_in_poor_households_count(
    client: AsyncClient,
    plan: PlanRow,
    projection: Projection,
    connection: AsyncConnection,
    officer: dict[str, str],
) -> None:
    poor = await projection.household(V1, [("registered_poor", "2016-01-01")])
    # Watched but never registered poor: not a poor household.
    edge = await projection.household(V2, [("monitored", "2019-03-01")], registered_year=None)
    newly, already, last_year, not_poor = (uuid.uuid4() for _ in range(4))
    # Registered without work in 2019, then into local work: 20:00 UTC on 1 March is
    # 2 March in China.
    await apply(connection, member_event(newly, poor, 1, "2019-05-01T02:00:00+00:00"))
    await apply(
        connection,
        member_event(
            newly, poor, 2, "2020-03-01T20:00:00+00:00", employment_status="local", months_worked=4
        ),
    )
    # Registered already working, then a change that keeps them working: never new.
    await apply(
        connection,
        member_event(
            already, poor, 1, "2019-05-01T02:00:00+00:00", employment_status="migrant",
            months_worked=8,
        ),
    )  # fmt: skip
    await apply(
        connection,
        member_event(
            already, poor, 2, "2020-04-01T02:00:00+00:00", employment_status="local",
            months_worked=10,
        ),
    )  # fmt: skip
    # Into work in November 2019: newly employed the year before.
    await apply(connection, member_event(last_year, poor, 1, "2018-05-01T02:00:00+00:00"))
    await apply(
        connection,
        member_event(last_year, poor, 2, "2019-11-01T02:00:00+00:00",
                     employment_status="self_employed", months_worked=6),
    )  # fmt: skip
    # Into work this year, in a household that is not poor.
    await apply(connection, member_event(not_poor, edge, 1, "2019-05-01T02:00:00+00:00"))
    await apply(
        connection,
        member_event(
            not_poor, edge, 2, "2020-04-01T02:00:00+00:00", employment_status="local",
            months_worked=3,
        ),
    )  # fmt: skip
    await projection.synced()

    raw = await driver(connection)
    rows = await raw.fetch(
        "SELECT member_id, employed_on FROM monitoring.person WHERE member_id = ANY($1::uuid[])",
        [newly, already, last_year, not_poor],
    )
    assert {r["member_id"]: r["employed_on"] for r in rows} == {
        newly: date(2020, 3, 2),
        already: None,
        last_year: date(2019, 11, 1),
        not_poor: date(2020, 4, 1),
    }

    taken = await client.post(
        "/v1/snapshots", json={"plan_id": str(plan.id), "as_of": AS_OF}, headers=officer
    )
    assert taken.status_code == 201, taken.text
    got = await client.get(f"/v1/snapshots/{taken.json()['id']}", headers=officer)
    values = {
        (v["division_code"], v["indicator"]): (v["numerator"], v["denominator"], v["value"])
        for v in got.json()["values"]
    }
    assert values[(DISTRICT, "newly_employed_labourers")] == ("1", None, "1")
    assert values[(V1, "newly_employed_labourers")] == ("1", None, "1")
    assert values[(V2, "newly_employed_labourers")] == ("0", None, "0")
    # Before the change reached the feed, nobody was newly employed.
    earlier = await client.post(
        "/v1/snapshots", json={"plan_id": str(plan.id), "as_of": "2020-03-01"}, headers=officer
    )
    assert earlier.status_code == 201, earlier.text
    got = await client.get(f"/v1/snapshots/{earlier.json()['id']}", headers=officer)
    district = next(
        v
        for v in got.json()["values"]
        if (v["division_code"], v["indicator"]) == (DISTRICT, "newly_employed_labourers")
    )
    assert district["value"] == "0"

    # E4 is computed in the seed plan, and its households are the ones behind the count.
    listed = await client.get(
        "/v1/indicators/E4/households", params={"date": AS_OF}, headers=officer
    )
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["household_id"] == str(poor)
    assert item["evidence"]["newly_employed"] == 1
    assert item["evidence"]["newly_employed_members"] == [
        {"member_id": str(newly), "employment_status": "local", "on": "2020-03-02"}
    ]


async def test_a_move_into_work_is_dated_wherever_the_pages_fall(
    projection: Projection, connection: AsyncConnection
) -> None:
    poor = await projection.household(V1, [("registered_poor", "2016-01-01")])
    same_page, back_and_forth, lost_it = (uuid.uuid4() for _ in range(3))
    # Registered without work and into work in one page (a catch-up, a rebuild).
    await apply(
        connection,
        member_event(same_page, poor, 1, "2019-05-01T02:00:00+00:00"),
        member_event(
            same_page, poor, 2, "2020-05-10T02:00:00+00:00", employment_status="local",
            months_worked=2,
        ),
    )  # fmt: skip
    # Working, out of work, into work again, all in one page after the first.
    await apply(
        connection,
        member_event(
            back_and_forth, poor, 1, "2019-05-01T02:00:00+00:00", employment_status="migrant"
        ),
    )
    await apply(
        connection,
        member_event(back_and_forth, poor, 2, "2020-02-01T02:00:00+00:00"),
        member_event(
            back_and_forth, poor, 3, "2020-04-01T02:00:00+00:00", employment_status="local"
        ),
    )
    # Into work, then out of it again: dated, but not counted while out of work.
    await apply(
        connection,
        member_event(lost_it, poor, 1, "2019-05-01T02:00:00+00:00"),
        member_event(lost_it, poor, 2, "2020-03-01T02:00:00+00:00", employment_status="local"),
    )
    await apply(connection, member_event(lost_it, poor, 3, "2020-06-01T02:00:00+00:00"))
    # A page applied again changes nothing (its versions are not newer).
    await apply(connection, member_event(same_page, poor, 1, "2019-05-01T02:00:00+00:00"))
    await projection.synced()

    raw = await driver(connection)
    rows = await raw.fetch(
        "SELECT member_id, employed_on, employment_status FROM monitoring.person"
        " WHERE member_id = ANY($1::uuid[])",
        [same_page, back_and_forth, lost_it],
    )
    assert {r["member_id"]: (r["employed_on"], r["employment_status"]) for r in rows} == {
        same_page: (date(2020, 5, 10), "local"),
        back_and_forth: (date(2020, 4, 1), "local"),
        lost_it: (date(2020, 3, 1), "unemployed"),
    }


async def test_a_change_for_the_worse_in_health_is_dated_wherever_the_pages_fall(
    projection: Projection, connection: AsyncConnection
) -> None:
    # The illness alert rule reads this date; the sync notes it as it notes E4's.
    poor = await projection.household(V1, [("registered_poor", "2016-01-01")])
    same_page, registered_ill, graver = (uuid.uuid4() for _ in range(3))
    await apply(
        connection,
        member_event(same_page, poor, 1, "2020-01-10T02:00:00+00:00"),
        member_event(
            same_page, poor, 2, "2020-03-05T02:00:00+00:00", health_status="serious_illness"
        ),
        member_event(
            registered_ill, poor, 1, "2020-01-10T02:00:00+00:00", health_status="serious_illness"
        ),
        member_event(
            graver, poor, 1, "2020-01-10T02:00:00+00:00", health_status="disabled",
            disability_grade=3,
        ),
    )  # fmt: skip
    await apply(
        connection,
        member_event(
            graver, poor, 2, "2020-04-01T02:00:00+00:00", health_status="disabled",
            disability_grade=2,
        ),
    )  # fmt: skip
    raw = await driver(connection)
    rows = await raw.fetch(
        "SELECT member_id, health_worsened_on FROM monitoring.person"
        " WHERE member_id = ANY($1::uuid[])",
        [same_page, registered_ill, graver],
    )
    assert {r["member_id"]: r["health_worsened_on"] for r in rows} == {
        same_page: date(2020, 3, 5),
        registered_ill: None,
        graver: date(2020, 4, 1),
    }
