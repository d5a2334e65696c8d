"""Each service starts on the kit alone: health, readiness, OpenAPI."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tuopin_shared.kit.service import installed_services
from tuopin_shared.kit.settings import CommonSettings

SERVICES = list(installed_services().values())


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
async def test_service_starts_alone_and_is_ready(spec, common_settings: CommonSettings) -> None:  # type: ignore[no-untyped-def]
    module = __import__(spec.app.split(":")[0], fromlist=["create_app"])
    app = module.create_app(common=common_settings)
    async with app.router.lifespan_context(app), client_for(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": spec.name}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        spec_doc = (await client.get("/openapi.json")).json()
        assert spec_doc["info"]["title"] == spec.title
        missing = await client.get("/v1/nothing-here")
        assert missing.headers["content-type"] == "application/problem+json"


async def test_readiness_fails_when_the_database_is_unreachable() -> None:
    from tuopin_registry.main import create_app

    unreachable = CommonSettings(database_url="postgresql://nobody@127.0.0.1:1/none")
    app = create_app(common=unreachable)
    async with app.router.lifespan_context(app), client_for(app) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert "database unreachable" in ready.json()["detail"]


def test_production_refuses_the_development_secret() -> None:
    from pydantic import ValidationError

    from tuopin_registry.main import create_app

    with pytest.raises(ValidationError, match="DATABASE_URL is required"):
        CommonSettings(environment="production", jwt_secret="x" * 40)
    # Migrations need only the database URL ...
    production = CommonSettings(environment="production", database_url="postgresql://db/x")
    # ... but no service starts with the development secret.
    with pytest.raises(ValueError, match="development default"):
        create_app(common=production)
    with pytest.raises(ValueError, match="at least 32 characters"):
        create_app(common=CommonSettings(database_url="postgresql://db/x", jwt_secret="short"))
    ok = CommonSettings(
        environment="production", database_url="postgresql://db/x", jwt_secret="x" * 40
    )
    assert create_app(common=ok).title == "Tuopin registry"


def test_readiness_by_schema_revision() -> None:
    from tuopin_shared.kit.migrations import Revisions

    revisions = Revisions(heads=frozenset({"0002"}), known=frozenset({"0001", "0002"}))
    assert revisions.readiness({"0002"}) is None
    # A newer schema (expand/contract) still serves the previous version.
    assert revisions.readiness({"0003"}) is None
    assert "behind" in str(revisions.readiness({"0001"}))
    assert "not migrated" in str(revisions.readiness(set()))


def test_database_urls_from_providers_are_accepted() -> None:
    from tuopin_shared.kit.database import asyncpg_url

    assert (
        asyncpg_url("postgres://u:p@db/x?sslmode=require")
        == "postgresql+asyncpg://u:p@db/x?ssl=require"
    )
    assert asyncpg_url("postgresql://u@db/x?a=1&sslmode=verify-full") == (
        "postgresql+asyncpg://u@db/x?a=1&ssl=verify-full"
    )
    assert asyncpg_url("postgresql+asyncpg://u@db/x") == "postgresql+asyncpg://u@db/x"
