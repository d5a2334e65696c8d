"""Benefits fixtures: the app on the test database, tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import client_for, isolate
from tuopin_benefits.main import create_app
from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings

DISTRICT = "510303000000"


@pytest.fixture(scope="session")
async def benefits_app(common_settings: CommonSettings) -> AsyncIterator[FastAPI]:
    # No background sync in tests: each test drives the sync itself.
    app = create_app(common=common_settings, settings=BenefitsSettings(sync_interval_seconds=0))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(benefits_app: FastAPI, connection: AsyncConnection) -> AsyncIterator[AsyncClient]:
    isolate(benefits_app, connection)
    async with client_for(benefits_app) as client:
        yield client
    benefits_app.dependency_overrides.clear()


@pytest.fixture
def token(common_settings: CommonSettings) -> Callable[..., dict[str, str]]:
    def make(
        role: Role = Role.admin,
        division: str = DISTRICT,
        pii: bool = False,
        subject: str = "tester",
    ) -> dict[str, str]:
        jwt = mint_token(
            common_settings,
            subject=subject,
            roles=[role],
            division=division,
            permissions=[Permission.pii] if pii else [],
        )
        return {"Authorization": f"Bearer {jwt}"}

    return make
