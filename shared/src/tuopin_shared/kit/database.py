"""Async engine, the per-request unit of work, and the ORM base of each service's schema."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import structlog
from fastapi import Request
from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction

from tuopin_shared.kit.embedded import embedded_database_url
from tuopin_shared.kit.settings import CommonSettings, ServiceSettings

# Named constraints make migrations reviewable and errors translatable by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_base(schema: str) -> type[DeclarativeBase]:
    """Declarative base whose tables all live in the service's own PostgreSQL schema."""

    class Base(DeclarativeBase):
        metadata = MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
        type_annotation_map = {datetime: _timestamptz()}  # noqa: RUF012 - SQLAlchemy's own API

    return Base


def _timestamptz() -> Any:
    from sqlalchemy import DateTime

    return DateTime(timezone=True)


def database_url(common: CommonSettings, service: ServiceSettings) -> str:
    """The URL a service uses: its own, the shared one, or the embedded server's."""
    url = service.database_url or common.database_url
    if url is None:
        return embedded_database_url(common.data_dir)
    return asyncpg_url(url)


def asyncpg_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form operators copy from their provider.

    libpq's ``sslmode=`` is spelt ``ssl=`` by asyncpg; translate it rather than let
    a managed database's usual URL fail at the first connection.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+asyncpg://" + url[len(prefix) :]
            break
    return re.sub(r"([?&])sslmode=", r"\1ssl=", url)


def make_engine(url: str, service: ServiceSettings, application_name: str) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=service.pool_size,
        max_overflow=service.max_overflow,
        # No pre-ping: it costs a round trip on every checkout. A connection the
        # server dropped fails one request and is discarded with the pool's others.
        pool_recycle=1800,
        # Statement parameters are personal data: keep them out of error messages.
        hide_parameters=True,
        connect_args={
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(service.statement_timeout_ms),
                "timezone": "UTC",
            }
        },
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class Reads:
    """Reads in autocommit: no BEGIN/COMMIT round trips, and the pooled connection
    is held only while the statements run, not while the response is sent."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as connection:
            yield connection


async def driver(connection: AsyncConnection) -> Any:
    """The asyncpg connection under a SQLAlchemy one, for the few hot or bulk
    statements (COPY, a settlement's two statements) where SQLAlchemy's cursor
    layer costs more than the statement itself. asyncpg prepares and caches
    each statement text on the connection."""
    return (await connection.get_raw_connection()).driver_connection


async def get_reads(request: Request) -> Reads:
    # A coroutine, not a generator nor a class: FastAPI runs a sync callable (a
    # class) in a worker thread and wraps a generator in context managers, and
    # either costs more than the read itself on the hottest path.
    return Reads(request.app.state.read_engine)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request is the unit of work: commit when the endpoint returns, roll back if it raises.

    Services only ``flush()``; nothing else commits.
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# ---------------------------------------------------------------- after commit

# session.info keys: the actions waiting, each with the transaction (a savepoint's
# or the session's own) it was registered in; and how the last one ended.
_PENDING = "tuopin_after_commit"
_ENDING = "tuopin_after_commit_ending"

log = structlog.get_logger("tuopin.database")


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction has committed; never if it rolls back.

    For what must only count what happened (metrics): a step counted before its
    commit would be counted again by the retry of a commit that failed. Inside a
    savepoint, the action waits for the savepoint's release and then for the
    transaction around it; a savepoint rolled back drops what was registered in it.
    """
    sync = session.sync_session
    # None while nothing has begun: the session's next transaction then holds it.
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault(_PENDING, []).append((transaction, action))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info[_ENDING] = "commit"


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info[_ENDING] = "rollback"


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    ending = session.info.pop(_ENDING, None)
    pending = session.info.get(_PENDING)
    if not pending:
        return
    root = transaction.parent is None

    def held(owner: SessionTransaction | None) -> bool:
        return owner is transaction or (owner is None and root)

    mine = [action for owner, action in pending if held(owner)]
    if not mine:
        return
    rest = [(owner, action) for owner, action in pending if not held(owner)]
    if ending == "commit" and not root:
        # A savepoint released: its actions now wait on the transaction around it.
        rest += [(transaction.parent, action) for action in mine]
    session.info[_PENDING] = rest
    if ending == "commit" and root:
        for action in mine:
            try:
                action()
            except Exception:
                # Committed is committed: one failed action neither undoes it nor
                # keeps the others from running.
                log.exception("after_commit_action_failed")
