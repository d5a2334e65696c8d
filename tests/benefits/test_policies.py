"""Policy sets: data by district and year, versioned, the newest in force."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tuopin_shared.contracts.auth import Role


async def test_default_policy_set_and_new_versions(client: AsyncClient, token: Any) -> None:
    officer = token(Role.district_officer)
    first = await client.post(
        "/v1/policies",
        json={"district_code": "510303", "year": 2020, "sources": {"pension.amount": "seed"}},
        headers=officer,
    )
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["version"] == 1
    assert created["parameters"]["pension"]["amount"] == "100.00"
    assert created["parameters"]["disability"]["nursing_monthly_grade_2"] == "80.00"
    assert created["parameters"]["medical"]["personal_share_cap"] == "0.10"
    assert first.headers["Location"] == f"/v1/policies/{created['id']}"

    second = await client.post(
        "/v1/policies",
        json={
            "district_code": "510303",
            "year": 2020,
            "parameters": {"pension": {"amount": "120.00"}},
        },
        headers=officer,
    )
    assert second.json()["version"] == 2
    in_force = await client.get(
        "/v1/policies/in-force", params={"district": "510303", "year": 2020}, headers=officer
    )
    assert (in_force.json()["version"], in_force.json()["parameters"]["pension"]["amount"]) == (
        2,
        "120.00",
    )
    # The first version is kept as it was, for the runs that used it.
    kept = await client.get(f"/v1/policies/{created['id']}", headers=officer)
    assert kept.json()["parameters"]["pension"]["amount"] == "100.00"
    listed = await client.get("/v1/policies", params={"year": 2020}, headers=officer)
    assert [p["version"] for p in listed.json()] == [2, 1]


async def test_bad_policy_sets_are_refused(client: AsyncClient, token: Any) -> None:
    officer = token(Role.district_officer)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"district_code": "510303100", "year": 2020}, "district_code"),
        ({"district_code": "510303", "year": 1999}, "year"),
        (
            {"district_code": "510303", "year": 2020, "parameters": {"pension": {"amount": "-1"}}},
            "parameters.pension.amount",
        ),
        (
            {
                "district_code": "510303",
                "year": 2020,
                "parameters": {"pension": {"age_min": 60, "age_max": 16}},
            },
            "parameters.pension",
        ),
        (
            {
                "district_code": "510303",
                "year": 2020,
                "parameters": {"medical": {"assistance_ratio": "1.5"}},
            },
            "parameters.medical.assistance_ratio",
        ),
        (
            {"district_code": "510303", "year": 2020, "parameters": {"pension": {"amout": "1"}}},
            "parameters.pension.amout",
        ),
    ]
    for body, field in cases:
        response = await client.post("/v1/policies", json=body, headers=officer)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field, response.json()


async def test_policy_roles_and_scope(client: AsyncClient, token: Any) -> None:
    body = {"district_code": "510303", "year": 2021}
    assert (
        await client.post("/v1/policies", json=body, headers=token(Role.benefits_officer))
    ).status_code == 403
    assert (
        await client.post("/v1/policies", json=body, headers=token(Role.auditor))
    ).status_code == 403
    elsewhere = await client.post(
        "/v1/policies",
        json={"district_code": "510302", "year": 2021},
        headers=token(Role.district_officer),
    )
    assert elsewhere.status_code == 404
    missing = await client.get(
        "/v1/policies/in-force",
        params={"district": "510303", "year": 2030},
        headers=token(Role.auditor),
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
