"""Households through the HTTP API: create, read, update with ETags, list, scoping, masking."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry.conftest import (
    AIYE,
    AIYE_V1,
    AIYE_V2,
    OTHER_TOWN_V1,
    household_body,
    member_body,
    new_resident_id,
)
from tuopin_registry.db import audit_log, change_event
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.members.models import MemberRow
from tuopin_shared.contracts.auth import Role


async def test_create_household_with_members_returns_it_with_etag_and_location(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    body = household_body(members=3)
    response = await client.post("/v1/households", json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/households/{created['id']}"
    assert created["status"] == "registered_poor"
    assert created["registered_year"] == 2016
    assert created["members"][0]["relation_to_head"] == "head"
    assert {m["resident_id"] for m in created["members"]} == {
        m["resident_id"] for m in body["members"]
    }
    head = created["members"][0]
    assert head["birth_date"] == "1980-03-15"
    assert head["sex"] in ("male", "female")

    again = await client.get(f"/v1/households/{created['id']}", headers=admin)
    assert again.status_code == 200
    assert again.json() == created


async def test_creating_writes_status_history_change_feed_and_audit(
    client: AsyncClient, admin: dict[str, str], district: None, db: AsyncSession
) -> None:
    created = (
        await client.post("/v1/households", json=household_body(members=2), headers=admin)
    ).json()
    history = (
        await client.get(f"/v1/households/{created['id']}/status-changes", headers=admin)
    ).json()
    assert [(h["from_status"], h["to_status"], h["effective_on"]) for h in history] == [
        (None, "registered_poor", "2016-01-01")
    ]
    events = (
        await db.execute(
            select(change_event.c.entity, change_event.c.kind).order_by(change_event.c.seq)
        )
    ).all()
    assert sorted(events) == [
        ("household", "created"),
        ("household_status", "recorded"),
        ("member", "created"),
        ("member", "created"),
    ]
    audited = (await db.execute(select(audit_log.c.action, audit_log.c.entity_id))).all()
    assert ("create", created["id"]) in audited


async def test_resident_id_is_masked_without_pii_and_unmasked_reads_are_audited(
    client: AsyncClient, token: Any, district: None, db: AsyncSession
) -> None:
    body = household_body()
    number = body["members"][0]["resident_id"]
    created = (await client.post("/v1/households", json=body, headers=token(Role.admin))).json()
    masked = created["members"][0]["resident_id"]
    assert masked == number[:6] + "********" + number[-4:]

    reads_before = await db.scalar(
        select(func.count()).select_from(audit_log).where(audit_log.c.action == "read_pii")
    )
    full = await client.get(
        f"/v1/households/{created['id']}", headers=token(Role.auditor, pii=True)
    )
    assert full.json()["members"][0]["resident_id"] == number
    reads_after = await db.scalar(
        select(func.count()).select_from(audit_log).where(audit_log.c.action == "read_pii")
    )
    assert reads_after == reads_before + 1


async def test_duplicate_resident_id_is_409_naming_the_holding_household(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    first = await create_household()
    number = first["members"][0]["resident_id"]
    response = await client.post(
        "/v1/households",
        json=household_body(members=[member_body(resident_id=number)]),
        headers=admin,
    )
    assert response.status_code == 409
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["household_id"] == first["id"]
    assert problem["errors"][0]["field"] == "members.0.resident_id"
    assert first["id"] in problem["detail"]

    added = await client.post(
        f"/v1/households/{first['id']}/members", json=member_body(resident_id=number), headers=admin
    )
    assert added.status_code == 409
    assert added.json()["errors"][0]["field"] == "resident_id"


async def test_a_refused_household_leaves_no_row_behind(
    client: AsyncClient, admin: dict[str, str], create_household: Any, db: AsyncSession
) -> None:
    first = await create_household()
    taken = first["members"][0]["resident_id"]
    households_before = await db.scalar(select(func.count()).select_from(HouseholdRow))
    members_before = await db.scalar(select(func.count()).select_from(MemberRow))
    events_before = await db.scalar(select(func.count()).select_from(change_event))
    # The first member is fine, the second is already registered: all or nothing.
    body = household_body(
        members=[member_body(), member_body(resident_id=taken, relation_to_head="son")]
    )
    response = await client.post("/v1/households", json=body, headers=admin)
    assert response.status_code == 409
    assert await db.scalar(select(func.count()).select_from(HouseholdRow)) == households_before
    assert await db.scalar(select(func.count()).select_from(MemberRow)) == members_before
    assert await db.scalar(select(func.count()).select_from(change_event)) == events_before


async def test_same_resident_id_twice_in_one_request_is_422(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    number = new_resident_id()
    body = household_body(
        members=[
            member_body(resident_id=number),
            member_body(resident_id=number, relation_to_head="son"),
        ]
    )
    response = await client.post("/v1/households", json=body, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "members.1.resident_id"


async def test_bad_resident_id_is_422_naming_the_field(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    body = household_body()
    good = body["members"][0]["resident_id"]
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    body["members"][0]["resident_id"] = wrong_check
    response = await client.post("/v1/households", json=body, headers=admin)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["location"], error["field"]) == ("body", "members.0.resident_id")
    assert "check character" in error["message"]


async def test_household_must_be_in_a_known_village(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    town = await client.post("/v1/households", json=household_body(division=AIYE), headers=admin)
    assert town.status_code == 422
    assert town.json()["errors"][0]["field"] == "division_code"
    unknown = await client.post(
        "/v1/households", json=household_body(division="510303100099"), headers=admin
    )
    assert unknown.status_code == 422
    assert "does not exist" in unknown.json()["errors"][0]["message"]


async def test_village_cadre_sees_only_their_village(
    client: AsyncClient, token: Any, create_household: Any
) -> None:
    mine = await create_household(division=AIYE_V1)
    other = await create_household(division=AIYE_V2)
    cadre = token(Role.village_cadre, AIYE_V1)
    assert (await client.get(f"/v1/households/{mine['id']}", headers=cadre)).status_code == 200
    hidden = await client.get(f"/v1/households/{other['id']}", headers=cadre)
    assert hidden.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"
    listed = (await client.get("/v1/households", headers=cadre)).json()
    assert [h["id"] for h in listed["items"]] == [mine["id"]]
    # Nor can the cadre change it or add to it.
    patch = await client.patch(
        f"/v1/households/{other['id']}", json={"address": "x"}, headers={**cadre, "If-Match": '"1"'}
    )
    assert patch.status_code == 404
    add = await client.post(
        f"/v1/households/{other['id']}/members",
        json=member_body(relation_to_head="son"),
        headers=cadre,
    )
    assert add.status_code == 404
    # And cannot register a household in another village.
    elsewhere = await client.post(
        "/v1/households", json=household_body(division=AIYE_V2), headers=cadre
    )
    assert elsewhere.status_code == 403
    assert elsewhere.json()["errors"][0]["field"] == "division_code"


async def test_town_officer_sees_the_whole_town_only(
    client: AsyncClient, token: Any, create_household: Any
) -> None:
    a = await create_household(division=AIYE_V1)
    b = await create_household(division=AIYE_V2)
    c = await create_household(division=OTHER_TOWN_V1)
    officer = token(Role.town_officer, AIYE)
    listed = {
        h["id"] for h in (await client.get("/v1/households", headers=officer)).json()["items"]
    }
    assert listed == {a["id"], b["id"]}
    assert (await client.get(f"/v1/households/{c['id']}", headers=officer)).status_code == 404


async def test_update_needs_if_match_and_refuses_a_stale_etag(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    created = await create_household()
    url = f"/v1/households/{created['id']}"
    missing = await client.patch(url, json={"address": "Group 4"}, headers=admin)
    assert missing.status_code == 428
    ok = await client.patch(url, json={"address": "Group 4"}, headers={**admin, "If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert ok.json()["address"] == "Group 4"
    stale = await client.patch(
        url, json={"address": "Group 5"}, headers={**admin, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"2"'
    assert (await client.get(url, headers=admin)).json()["address"] == "Group 4"


async def test_read_only_roles_cannot_write(
    client: AsyncClient, token: Any, district: None
) -> None:
    for role in (Role.auditor, Role.benefits_officer, Role.service):
        response = await client.post("/v1/households", json=household_body(), headers=token(role))
        assert response.status_code == 403, role
    medical = await client.get("/v1/households", headers=token(Role.medical_institution))
    assert medical.status_code == 403


async def test_unknown_household_is_404_and_bad_uuid_is_422(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    assert (await client.get(f"/v1/households/{uuid.uuid4()}", headers=admin)).status_code == 404
    bad = await client.get("/v1/households/not-a-uuid", headers=admin)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["location"] == "path"


async def test_list_filters(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    ill = await create_household(main_poverty_cause="illness")
    disabled = await create_household(
        main_poverty_cause="disability",
        members=[
            member_body(
                disability_category="physical", disability_grade=2, health_status="disabled"
            )
        ],
    )
    monitored = await create_household(status="monitored", main_poverty_cause="lack_of_skills")

    async def ids(**params: Any) -> set[str]:
        response = await client.get("/v1/households", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return {h["id"] for h in response.json()["items"]}

    assert await ids(main_poverty_cause="illness") == {ill["id"]}
    assert await ids(has_disabled_member="true") == {disabled["id"]}
    assert await ids(status="monitored") == {monitored["id"]}
    assert await ids(division=OTHER_TOWN_V1) == set()
    await client.put(
        f"/v1/households/{ill['id']}/incomes/2020", json={"wage_income": "3000.00"}, headers=admin
    )
    assert await ids(per_capita_income_below="4300") == {ill["id"]}
    assert await ids(per_capita_income_below="1000") == set()


async def test_phone_and_certificate_number_are_masked_without_pii(
    client: AsyncClient, token: Any, district: None
) -> None:
    number = new_resident_id()
    body = household_body(
        phone="13812345678",
        members=[
            member_body(
                resident_id=number,
                disability_category="physical",
                disability_grade=2,
                disability_certificate_no=number + "42",
            )
        ],
    )
    created = (await client.post("/v1/households", json=body, headers=token(Role.admin))).json()
    assert created["phone"] == "138****5678"
    certificate = created["members"][0]["disability_certificate_no"]
    assert certificate == number[:6] + "********" + number[14:] + "42"
    assert number not in str(created)
    full = (
        await client.get(f"/v1/households/{created['id']}", headers=token(Role.admin, pii=True))
    ).json()
    assert full["phone"] == "13812345678"
    assert full["members"][0]["disability_certificate_no"] == number + "42"


async def test_fast_household_json_equals_the_validated_model(
    client: AsyncClient, admin: dict[str, str], create_household: Any, connection: Any
) -> None:
    import json

    from tuopin_registry.households.repository import household_with_members
    from tuopin_registry.households.views import household_json, present

    number = new_resident_id()
    created = await create_household(
        phone="13812345678",
        members=[
            member_body(
                resident_id=number,
                disability_category="mental",
                disability_grade=3,
                disability_certificate_no=number + "63",
            ),
            member_body(relation_to_head="daughter", school_stage="primary", dibao=True),
        ],
    )
    row = await household_with_members(connection, uuid.UUID(created["id"]))
    assert row is not None
    members = row.pop("members")
    for unmasked in (False, True):
        fast = json.loads(household_json(row, members, unmasked))
        validated = json.loads(present(row, members, unmasked).model_dump_json())
        assert fast == validated
    response = await client.get(f"/v1/households/{created['id']}", headers=admin)
    assert response.json() == json.loads(present(row, members, True).model_dump_json())
