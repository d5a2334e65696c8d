"""The migrations build exactly what the models describe, and go down and up again."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from alembic import command
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import _dsn
from tuopin_shared.kit.migrations import (
    alembic_config,
    compare_with_models,
    current_revisions,
    head_revisions,
)
from tuopin_shared.kit.service import installed_services

SERVICES = list(installed_services().values())


def _metadata(name: str):  # type: ignore[no-untyped-def]
    module = __import__(f"tuopin_{name}.models", fromlist=["metadata"])
    return module.metadata


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
async def test_models_and_migrations_agree(spec, database_url: str) -> None:  # type: ignore[no-untyped-def]
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_with_models(sync, _metadata(spec.name), spec.schema)
            )
            assert await current_revisions(connection, spec.schema) == head_revisions(spec)
    finally:
        await engine.dispose()
    assert differences == [], f"autogenerate finds differences: {differences}"


def test_every_service_migrates_down_and_up_again(database_url: str) -> None:
    name = f"tuopin_mig_{uuid.uuid4().hex[:10]}"
    server = make_url(database_url)

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(_dsn(database_url))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        for spec in SERVICES:
            config = alembic_config(spec, url)
            command.upgrade(config, "head")
            command.downgrade(config, "base")
            command.upgrade(config, "head")
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
