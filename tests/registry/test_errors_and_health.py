"""Every error is a problem document; health and readiness; the OpenAPI document."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

PROBLEM = "application/problem+json"


async def test_errors_are_problem_documents(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    cases = [
        ("GET", "/v1/households", None, {}, 401),
        ("GET", "/v1/households", None, {"Authorization": "Bearer not-a-jwt"}, 401),
        ("GET", "/v1/nowhere", None, admin, 404),
        ("DELETE", "/v1/households", None, admin, 405),
        ("POST", "/v1/households", {"division_code": "12"}, admin, 422),
        ("POST", "/v1/households", "not json", admin, 422),
    ]
    for method, path, body, headers, status in cases:
        kwargs: dict[str, Any] = {"headers": headers}
        if isinstance(body, str):
            kwargs["content"] = body
            kwargs["headers"] = {**headers, "Content-Type": "application/json"}
        elif body is not None:
            kwargs["json"] = body
        response = await client.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM, (method, path)
        problem = response.json()
        assert problem["status"] == status
        assert problem["title"]
        assert problem["instance"] == path
        assert problem["request_id"] == response.headers["x-request-id"]
    unauthenticated = await client.get("/v1/households")
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")


async def test_validation_problem_names_every_bad_field(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    response = await client.post(
        "/v1/households",
        json={"division_code": "12", "status": "rich", "members": [{"name": ""}]},
        headers=admin,
    )
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"division_code", "status", "members.0.name", "members.0.resident_id"} <= fields


async def test_expired_and_foreign_tokens_are_refused(
    client: AsyncClient, common_settings: Any, district: None
) -> None:
    import jwt

    from tuopin_shared.contracts.auth import Role
    from tuopin_shared.kit.auth import mint_token

    expired = mint_token(
        common_settings, subject="x", roles=[Role.admin], division="510303", ttl_seconds=-60
    )
    response = await client.get("/v1/households", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    forged = jwt.encode(
        {
            "sub": "x",
            "roles": ["admin"],
            "division": "510303",
            "iss": "tuopin",
            "aud": "tuopin",
            "exp": 2**31,
        },
        "a-different-secret-of-at-least-32-bytes",
        algorithm="HS256",
    )
    assert (
        await client.get("/v1/households", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401


async def test_request_id_is_echoed_or_made(client: AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


async def test_health_and_readiness(client: AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.json() == {"status": "ok", "service": "registry"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


async def test_audit_log_is_append_only(db: AsyncSession) -> None:
    await db.execute(
        text(
            "INSERT INTO registry.audit_log (actor, roles, action, entity, entity_id)"
            " VALUES ('a', 'admin', 'x', 'y', 'z')"
        )
    )
    try:
        async with db.begin_nested():
            await db.execute(text("UPDATE registry.audit_log SET actor = 'b'"))
    except DBAPIError as exc:
        assert "append-only" in str(exc)
    else:
        raise AssertionError("the audit log accepted an update")
    try:
        async with db.begin_nested():
            await db.execute(text("DELETE FROM registry.audit_log"))
    except DBAPIError as exc:
        assert "append-only" in str(exc)
    else:
        raise AssertionError("the audit log accepted a delete")


async def test_openapi_has_readable_operation_ids_summaries_and_errors(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    ids = {op["operationId"] for op in operations}
    assert {
        "create_household",
        "get_household",
        "list_households",
        "update_household",
        "put_income",
    } <= ids
    for op in operations:
        assert op.get("summary"), op["operationId"]
    create = spec["paths"]["/v1/households"]["post"]
    assert {"401", "403", "409", "422"} <= set(create["responses"])
    assert "application/problem+json" in create["responses"]["409"]["content"]
    assert spec["components"]["schemas"]["HouseholdCreate"]["examples"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert create["security"] == [{"bearer": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
