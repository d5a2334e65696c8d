"""Factories for the runs tests: projection rows written the way the feed sync writes
them, policy sets, and calls to the runs API; and a check that they agree with the sync."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_benefits.policies.models import PolicySetRow
from tuopin_benefits.projection.models import HouseholdRow, HouseholdStatusRow, PersonRow
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.identity import make_resident_id

DISTRICT = "510303000000"
AIYE = "510303100000"
AIYE_V1 = "510303100001"
OTHER_TOWN_V1 = "510303101001"
OTHER_DISTRICT_V1 = "510304100001"

_sequence = itertools.count(1)
# Status history ids are the registry's; far from anything a sync test writes.
_status_ids = itertools.count(7_000_000_000)


async def add_household(
    db: AsyncSession,
    *history: tuple[str, date],
    division: str = AIYE_V1,
    current: str | None = None,
) -> uuid.UUID:
    """A household with its status history (default: registered poor since 2016)."""
    if not history and current is None:
        history = (("registered_poor", date(2016, 5, 1)),)
    household_id = uuid.uuid4()
    status = current or history[-1][0]
    await db.execute(
        insert(HouseholdRow).values(
            household_id=household_id, division_code=division, status=status, version=1
        )
    )
    for status_, effective_on in history:
        await db.execute(
            insert(HouseholdStatusRow).values(
                id=next(_status_ids),
                household_id=household_id,
                status=status_,
                effective_on=effective_on,
            )
        )
    await db.flush()
    return household_id


async def add_person(
    db: AsyncSession, household_id: uuid.UUID, born: date = date(1980, 3, 15), **facts: Any
) -> uuid.UUID:
    """A person of working age, enrolled in the resident pension, otherwise plain."""
    member_id = uuid.uuid4()
    values: dict[str, Any] = {
        "member_id": member_id,
        "household_id": household_id,
        "resident_id": make_resident_id("510303", born, next(_sequence) % 999 + 1),
        "name": f"测试{next(_sequence)}",
        "birth_date": born,
        "deceased_on": None,
        "disability_grade": None,
        "disability_certified_on": None,
        "school_stage": "not_in_school",
        "resident_pension_enrolled": True,
        "employee_pension_enrolled": False,
        "dibao": False,
        "tekun": False,
        "work_injury_care_allowance": False,
        "version": 1,
    }
    values.update(facts)
    await db.execute(insert(PersonRow).values(**values))
    await db.flush()
    return member_id


async def update_person(db: AsyncSession, member_id: uuid.UUID, **facts: Any) -> None:
    """What a later feed event does: new facts, a higher version."""
    row = await db.get(PersonRow, member_id)
    assert row is not None
    for name, value in facts.items():
        setattr(row, name, value)
    row.version += 1
    await db.flush()


async def add_policy(
    db: AsyncSession, year: int = 2020, district: str = DISTRICT, **sections: dict[str, Any]
) -> uuid.UUID:
    """A new version of the district's policy set for the year; the defaults, overridden."""
    parameters = PolicyParameters.model_validate(sections).model_dump(mode="json")
    latest = await db.scalar(
        text(
            "SELECT coalesce(max(version), 0) FROM benefits.policy_set"
            " WHERE district_code = :d AND year = :y"
        ),
        {"d": district, "y": year},
    )
    policy_id = uuid.uuid4()
    await db.execute(
        insert(PolicySetRow).values(
            id=policy_id,
            district_code=district,
            year=year,
            version=latest + 1,
            parameters=parameters,
            sources={},
            created_by="test",
        )
    )
    await db.flush()
    return policy_id


async def set_feed(db: AsyncSession, age: timedelta = timedelta(0)) -> None:
    """The projection's position, as if it last heard from the registry ``age`` ago."""
    await db.execute(
        text(
            "INSERT INTO benefits.feed_position (feed, position, events_applied, updated_at)"
            " VALUES ('registry', '42.7', 100, now() - CAST(:age AS interval))"
            " ON CONFLICT (feed) DO UPDATE SET updated_at = EXCLUDED.updated_at"
        ),
        {"age": age},
    )
    await db.flush()


async def create_run(
    client: AsyncClient,
    headers: dict[str, str],
    program: str,
    period: str,
    *,
    key: str | None = None,
    district: str = DISTRICT,
    **extra: Any,
) -> Response:
    return await client.post(
        "/v1/runs",
        json={"program": program, "period": period, "district": district, **extra},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def computed_run(
    client: AsyncClient, headers: dict[str, str], program: str, period: str, **extra: Any
) -> dict[str, Any]:
    created = await create_run(client, headers, program, period, **extra)
    assert created.status_code in (200, 201), created.text
    computed = await client.post(f"/v1/runs/{created.json()['id']}/compute", headers=headers)
    assert computed.status_code == 200, computed.text
    result: dict[str, Any] = computed.json()
    return result


async def all_lines(
    client: AsyncClient, headers: dict[str, str], run_id: str, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/v1/runs/{run_id}/entitlements", params=query, headers=headers)
        assert page.status_code == 200, page.text
        items.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def by_member(lines: list[dict[str, Any]]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """member -> kind -> [(month or year, amount)] for compact assertions."""
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for line in lines:
        entry = out.setdefault(line["member_id"], {})
        if line["months"]:
            months = [(m["month"][:7], m["amount"]) for m in line["months"]]
        else:
            months = [(str(line["year"]), line["amount"])]
        entry.setdefault(line["kind"], []).extend(months)
    return out


async def test_factories_write_what_the_sync_writes(db: AsyncSession) -> None:
    household = await add_household(
        db, ("registered_poor", date(2016, 5, 1)), ("lifted_out", date(2019, 12, 1))
    )
    member = await add_person(db, household, disability_grade=2)
    await update_person(db, member, dibao=True)
    row = await db.get(PersonRow, member)
    assert row is not None and (row.dibao, row.version, row.disability_grade) == (True, 2, 2)
    household_row = await db.get(HouseholdRow, household)
    assert household_row is not None and household_row.status == "lifted_out"
