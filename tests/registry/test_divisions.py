"""Divisions and the per-district parameter sets."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.registry.conftest import AIYE, AIYE_V1, DISTRICT
from tuopin_shared.contracts.auth import Role


async def test_division_tree(client: AsyncClient, token: Any, district: None) -> None:
    headers = token(Role.village_cadre, AIYE_V1)
    roots = (await client.get("/v1/divisions", headers=headers)).json()
    assert [d["code"] for d in roots] == [DISTRICT]
    towns = (await client.get("/v1/divisions", params={"parent": "510303"}, headers=headers)).json()
    assert [(t["code"], t["level"]) for t in towns] == [(AIYE, "town"), ("510303101000", "town")]
    aiye = (await client.get("/v1/divisions/510303100", headers=headers)).json()
    assert aiye == {
        "code": AIYE,
        "name": "Aiye Town",
        "level": "town",
        "parent_code": DISTRICT,
        "synthetic": False,
    }
    assert (await client.get("/v1/divisions/510303199000", headers=headers)).status_code == 404
    assert (await client.get("/v1/divisions/5103", headers=headers)).status_code == 422


async def test_parameters_are_data(client: AsyncClient, token: Any, district: None) -> None:
    officer = token(Role.district_officer, DISTRICT)
    got = await client.get("/v1/divisions/510303/parameters/2020", headers=officer)
    assert got.status_code == 200
    assert got.json()["income_line"] == "4300.00"
    assert (
        await client.get("/v1/divisions/510303/parameters/2021", headers=officer)
    ).status_code == 404
    body = {"income_line": "4500.00", "sources": {"income_line": "placeholder"}}
    put = await client.put("/v1/divisions/510303/parameters/2021", json=body, headers=officer)
    assert put.status_code == 200, put.text
    assert (put.json()["income_line"], put.json()["school_age_max"], put.json()["year"]) == (
        "4500.00",
        15,
        2021,
    )
    changed = await client.put(
        "/v1/divisions/510303/parameters/2021",
        json={**body, "income_line": "4600.00"},
        headers=officer,
    )
    assert changed.json()["income_line"] == "4600.00"
    # Parameters belong to a district, and a town officer may not set them.
    town = await client.put("/v1/divisions/510303100/parameters/2021", json=body, headers=officer)
    assert town.status_code == 422
    assert town.json()["errors"][0]["field"] == "code"
    refused = await client.put(
        "/v1/divisions/510303/parameters/2021", json=body, headers=token(Role.town_officer, AIYE)
    )
    assert refused.status_code == 403
    bad = await client.put(
        "/v1/divisions/510303/parameters/2021",
        json={"income_line": "4500.00", "school_age_min": 16, "school_age_max": 15},
        headers=officer,
    )
    assert bad.status_code == 422
