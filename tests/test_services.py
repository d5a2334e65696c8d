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

    with pytest.raises(ValidationError, match="development default"):
        CommonSettings(environment="production", database_url="postgresql://db/x")
    with pytest.raises(ValidationError, match="DATABASE_URL is required"):
        CommonSettings(environment="production", jwt_secret="x" * 40)
    ok = CommonSettings(
        environment="production", database_url="postgresql://db/x", jwt_secret="x" * 40
    )
    assert ok.jwt_secret.get_secret_value() == "x" * 40
