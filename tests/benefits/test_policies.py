"""Policy sets: data by district and year, versioned, the newest in force."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_benefits.db import audit_log
from tuopin_benefits.policies import service
from tuopin_benefits.policies.defaults import SOURCES, default_parameters
from tuopin_benefits.policies.medical import field_of
from tuopin_benefits.policies.models import PolicySetRow
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.benefits import PolicySetInput
from tuopin_shared.kit.errors import Unprocessable


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


def _medical(**changes: Any) -> dict[str, Any]:
    """The default medical section with ``changes`` made to it."""
    medical: dict[str, Any] = copy.deepcopy(default_parameters().model_dump(mode="json")["medical"])
    for path, value in changes.items():
        target = medical
        *parents, last = path.split("__")
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        target[last] = value
    return medical


@pytest.mark.parametrize(
    ("medical", "field", "says"),
    [
        # Each figure passes the wire model alone; the settlement rules refuse them.
        (_medical(basic_ratio__county="1.5"), "basic_ratio.county", "between 0 and 1"),
        (
            _medical(inpatient_deductible__township="100.005"),
            "inpatient_deductible.township",
            "2 decimal places",
        ),
        (
            _medical(critical_illness_tiers__1__up_to="40000.00"),
            "critical_illness_tiers",
            "increasing",
        ),
        (_medical(critical_illness_tiers__2__up_to="150000.00"), "critical_illness_tiers", "open"),
        (_medical(critical_illness_tiers=[]), "critical_illness_tiers", "open tier"),
    ],
)
async def test_medical_parameters_the_settlement_rules_refuse_are_not_saved(
    client: AsyncClient,
    token: Any,
    db: AsyncSession,
    medical: dict[str, Any],
    field: str,
    says: str,
) -> None:
    body = {"district_code": "510303", "year": 2020, "parameters": {"medical": medical}}
    response = await client.post("/v1/policies", json=body, headers=token(Role.district_officer))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["location"], error["field"], error["code"]) == (
        "body",
        f"parameters.medical.{field}",
        "medical_parameters_invalid",
    )
    assert says in error["message"]
    # Refused before anything is written: also by the service (tuopin seed-policies
    # calls it directly), in a session nothing rolls back.
    with pytest.raises(Unprocessable):
        await service.create(db, PolicySetInput.model_validate(body), "seed-policies")
    assert await db.scalar(select(func.count()).select_from(PolicySetRow)) == 0
    assert await db.scalar(select(func.count()).select_from(audit_log)) == 0


async def test_the_seeded_defaults_are_saved(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    # As tuopin seed-policies saves them, and as the API takes them written out in full.
    seeded = await service.create(
        db,
        PolicySetInput(
            district_code="510303", year=2020, parameters=default_parameters(), sources=SOURCES
        ),
        "seed-policies",
    )
    assert seeded.version == 1
    posted = await client.post(
        "/v1/policies",
        json={
            "district_code": "510303",
            "year": 2020,
            "parameters": default_parameters().model_dump(mode="json"),
            "sources": SOURCES,
        },
        headers=token(Role.district_officer),
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["parameters"] == seeded.parameters


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            "critical_illness_tiers[1].ratio must be between 0 and 1",
            "critical_illness_tiers.1.ratio",
        ),
        ("basic_annual_cap is too large: 1E+30", "basic_annual_cap"),
        # Not a figure of the medical section: the section itself.
        ("the figures do not hold together", ""),
        ("year-to-date basic_paid is less than", ""),
    ],
)
def test_the_field_a_complaint_of_the_rules_is_about(message: str, field: str) -> None:
    assert field_of(message) == "parameters.medical" + (f".{field}" if field else "")
