"""Alembic, one environment per service, each in its own schema with its own version table."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tuopin_shared.kit.service import ServiceSpec

VERSION_TABLE = "alembic_version"


def alembic_config(spec: ServiceSpec, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(spec.migrations))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["schema"] = spec.schema
    return config


def upgrade(spec: ServiceSpec, url: str, revision: str = "head") -> None:
    """Bring the service's schema to ``revision``. Blocking: call it from a thread or the CLI."""
    command.upgrade(alembic_config(spec, url), revision)


@dataclass(frozen=True)
class Revisions:
    """What this version of the service knows of its schema's history."""

    heads: frozenset[str]
    known: frozenset[str]

    def readiness(self, current: set[str]) -> str | None:
        """None when the service can serve on a schema at ``current``; else why not.

        A schema ahead of this version (a revision it does not know) is served:
        migrations are expand/contract, so the previous version keeps working
        while the next one rolls out.
        """
        if not current:
            return "the schema is not migrated"
        if current == self.heads or not current <= self.known:
            return None
        return f"migrations behind: at {sorted(current)}, head is {sorted(self.heads)}"


def revisions(spec: ServiceSpec) -> Revisions:
    script = ScriptDirectory.from_config(alembic_config(spec, "postgresql+asyncpg://unused"))
    return Revisions(
        heads=frozenset(script.get_heads()),
        known=frozenset(rev.revision for rev in script.walk_revisions()),
    )


def head_revisions(spec: ServiceSpec) -> set[str]:
    return set(revisions(spec).heads)


async def current_revisions(connection: AsyncConnection, schema: str) -> set[str]:
    exists = await connection.scalar(
        text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"{schema}.{VERSION_TABLE}"}
    )
    if not exists:
        return set()
    # The schema name is the service's own constant, never input.
    query = f'SELECT version_num FROM "{schema}".{VERSION_TABLE}'  # noqa: S608
    rows = await connection.execute(text(query))
    return {row[0] for row in rows}


def _lock_key(schema: str) -> int:
    # A stable 32-bit key per schema: two migration runs of one service never overlap.
    return zlib.crc32(f"tuopin-migrate:{schema}".encode())


def run_env(context: Any, metadata: MetaData) -> None:
    """Body of every ``migrations/<service>/env.py``."""
    config = context.config
    schema: str = config.attributes.get("schema") or metadata.schema

    def include_name(name: str | None, type_: str, _parent: Any) -> bool:
        return name == schema if type_ == "schema" else True

    def configure_and_run(connection: Connection) -> None:
        # The lock comes first, before even CREATE SCHEMA: two runs on an empty
        # database would otherwise race to create the schema. It is held until the
        # migrations commit, all in this one transaction.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(schema)})
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
            compare_server_default=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        configure_and_run(given)
        return

    async def run_async() -> None:
        engine = create_async_engine(config.get_main_option("sqlalchemy.url"))
        try:
            async with engine.connect() as connection:
                await connection.run_sync(configure_and_run)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def compare_with_models(connection: Connection, metadata: MetaData, schema: str) -> list[Any]:
    """Differences autogenerate finds between the migrated database and the models."""
    from alembic.autogenerate import compare_metadata

    def include_name(name: str | None, type_: str, _parent: Any) -> bool:
        return name == schema if type_ == "schema" else True

    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": include_name,
            "compare_type": True,
            "compare_server_default": True,
            "version_table": VERSION_TABLE,
            "version_table_schema": schema,
        },
    )
    return list(compare_metadata(context, metadata))
