"""Members: add, update with If-Match, record a death, move between households."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.registry.conftest import AIYE_V1, OTHER_TOWN_V1, member_body
from tuopin_shared.contracts.auth import Role


async def test_add_member_derives_birth_date_and_sex(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    # 51030320100704002X: born 2010-07-04, sequence 002 (even: female).
    from datetime import date

    from tuopin_shared.contracts.identity import make_resident_id

    number = make_resident_id("510303", date(2010, 7, 4), 2)
    response = await client.post(
        f"/v1/households/{household['id']}/members",
        json=member_body(
            resident_id=number.lower(), relation_to_head="daughter", school_stage="primary"
        ),
        headers=admin,
    )
    assert response.status_code == 201, response.text
    member = response.json()
    assert (member["birth_date"], member["sex"], member["in_school"]) == (
        "2010-07-04",
        "female",
        True,
    )
    assert member["resident_id"] == number.upper()
    assert response.headers["Location"] == f"/v1/members/{member['id']}"


async def test_fifteen_digit_number_is_refused_with_advice(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    response = await client.post(
        f"/v1/households/{household['id']}/members",
        json=member_body(resident_id="510303800315123", relation_to_head="son"),
        headers=admin,
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "resident_id"
    assert "15-digit" in error["message"] and "18" in error["message"]


async def test_update_member_with_etag(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    member = household["members"][0]
    url = f"/v1/members/{member['id']}"
    read = await client.get(url, headers=admin)
    etag = read.headers["ETag"]
    assert (await client.patch(url, json={"dibao": True}, headers=admin)).status_code == 428
    ok = await client.patch(
        url,
        json={"dibao": True, "disability_category": "visual", "disability_grade": 1},
        headers={**admin, "If-Match": etag},
    )
    assert ok.status_code == 200, ok.text
    assert (ok.json()["dibao"], ok.json()["disability_grade"], ok.json()["version"]) == (True, 1, 2)
    assert (
        await client.patch(url, json={"tekun": True}, headers={**admin, "If-Match": etag})
    ).status_code == 412
    # A grade without a category makes no sense and is refused, nothing changed.
    refused = await client.patch(
        url, json={"disability_category": None}, headers={**admin, "If-Match": ok.headers["ETag"]}
    )
    assert refused.status_code == 422
    assert (await client.get(url, headers=admin)).json()["disability_category"] == "visual"
    # Nulling a required field names the field.
    nulled = await client.patch(
        url, json={"name": None}, headers={**admin, "If-Match": ok.headers["ETag"]}
    )
    assert nulled.status_code == 422
    assert nulled.json()["errors"][0]["field"] == "name"


async def test_unknown_fields_are_refused(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household()
    url = f"/v1/members/{household['members'][0]['id']}"
    response = await client.patch(url, json={"nmae": "x"}, headers={**admin, "If-Match": '"1"'})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "nmae"


async def test_record_death(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household(members=2)
    member = household["members"][1]
    url = f"/v1/members/{member['id']}/death"
    future = await client.post(
        url, json={"deceased_on": "2999-01-01"}, headers={**admin, "If-Match": '"1"'}
    )
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "deceased_on"
    ok = await client.post(
        url, json={"deceased_on": "2020-05-01"}, headers={**admin, "If-Match": '"1"'}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["deceased_on"] == "2020-05-01"
    again = await client.post(
        url, json={"deceased_on": "2020-05-02"}, headers={**admin, "If-Match": '"2"'}
    )
    assert again.status_code == 409
    summary = (await client.get("/v1/households", headers=admin)).json()["items"]
    assert [h["size"] for h in summary if h["id"] == household["id"]] == [1]


async def test_move_member(
    client: AsyncClient, admin: dict[str, str], token: Any, create_household: Any
) -> None:
    source = await create_household(members=2)
    target = await create_household()
    far = await create_household(division=OTHER_TOWN_V1)
    member = source["members"][1]
    url = f"/v1/members/{member['id']}/move"
    moved = await client.post(
        url,
        json={"household_id": target["id"], "relation_to_head": "son_in_law"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["household_id"], moved.json()["relation_to_head"]) == (
        target["id"],
        "son_in_law",
    )
    members = (await client.get(f"/v1/households/{target['id']}/members", headers=admin)).json()
    assert member["id"] in {m["id"] for m in members}
    # A village cadre cannot move someone into another town's household.
    cadre = token(Role.village_cadre, AIYE_V1)
    refused = await client.post(
        url,
        json={"household_id": far["id"], "relation_to_head": "son"},
        headers={**cadre, "If-Match": '"2"'},
    )
    assert refused.status_code == 404
    same = await client.post(
        url,
        json={"household_id": target["id"], "relation_to_head": "son"},
        headers={**admin, "If-Match": '"2"'},
    )
    assert same.status_code == 422
