"""Test fixtures: a real PostgreSQL, the schemas built by the migrations, each test
isolated in a transaction that is rolled back at its end.

By default an embedded PostgreSQL (pgserver) is started in ``.data/test-pg``; with
``TUOPIN_TEST_DATABASE_URL`` the tests run on that server instead. Either way a
fresh database is created for the session and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from tuopin_shared.kit.database import Reads, asyncpg_url, get_reads, get_session
from tuopin_shared.kit.embedded import embedded_database_url
from tuopin_shared.kit.migrations import upgrade
from tuopin_shared.kit.service import installed_services
from tuopin_shared.kit.settings import CommonSettings, Environment

ROOT = Path(__file__).resolve().parents[1]


def _server_url() -> str:
    configured = os.environ.get("TUOPIN_TEST_DATABASE_URL")
    if configured:
        return asyncpg_url(configured)
    return embedded_database_url(ROOT / ".data" / "test-pg", database="postgres")


def _dsn(url: str) -> str:
    """asyncpg wants plain postgresql:// (and takes host=/socket/dir as a query)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextmanager
def migrated_database(server: str) -> Iterator[str]:
    """A new database on ``server`` with every service's schema at head; dropped afterwards."""
    name = f"tuopin_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(_dsn(server))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        for spec in installed_services().values():
            upgrade(spec, url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The session's database; each test runs in a transaction rolled back at its end."""
    with migrated_database(_server_url()) as url:
        yield url


@pytest.fixture(scope="module")
def committing_database_url() -> Iterator[str]:
    """A database of the module's own, for tests whose subject is what commits do
    (ordering, concurrency): there, writes really commit."""
    with migrated_database(_server_url()) as url:
        yield url


@pytest.fixture(scope="session")
def common_settings(database_url: str) -> CommonSettings:
    return CommonSettings(database_url=database_url, environment=Environment.test)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[object]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine) -> AsyncIterator[AsyncConnection]:  # type: ignore[no-untyped-def]
    """One connection per test inside a transaction that is always rolled back."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture
async def db(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session on the test's connection, for arranging data and checking what was written."""
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


def isolate(app: FastAPI, connection: AsyncConnection) -> None:
    """Requests use the test's connection; their commits become savepoints."""

    async def session_on_test_connection() -> AsyncIterator[AsyncSession]:
        async with AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    class ReadsOnTestConnection(Reads):
        @asynccontextmanager
        async def connection(self) -> AsyncIterator[AsyncConnection]:
            yield connection

    async def reads_on_test_connection() -> Reads:
        return ReadsOnTestConnection(connection.engine)

    app.dependency_overrides[get_session] = session_on_test_connection
    app.dependency_overrides[get_reads] = reads_on_test_connection


def client_for(app: FastAPI) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test")


async def counted(client: AsyncClient, metric: str, *labels: str) -> Counter[tuple[str, ...]]:
    """A counter's samples by the given labels' values, as ``/metrics`` shows them now."""
    exposition = (await client.get("/metrics")).text
    return Counter(
        {
            tuple(sample.labels[label] for label in labels): int(sample.value)
            for family in text_string_to_metric_families(exposition)
            for sample in family.samples
            if sample.name == metric
        }
    )


async def insert_divisions(
    database_url: str,
    divisions: list[tuple[str, str, str, str | None]],
    synthetic: Collection[str] = (),
) -> None:
    """Divisions (code, name, level, parent code) written and committed to the register;
    those whose codes are in ``synthetic`` marked so."""
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        await connection.executemany(
            "INSERT INTO registry.division (code, name, level, parent_code, synthetic)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(*division, division[0] in synthetic) for division in divisions],
        )
    finally:
        await connection.close()
