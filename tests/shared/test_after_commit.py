"""Actions that wait for a commit: run once it happens, dropped when it does not."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tuopin_shared.kit.database import after_commit


async def test_an_action_runs_once_after_the_commit_and_never_after_a_rollback(
    engine: AsyncEngine,
) -> None:
    ran: list[str] = []
    async with AsyncSession(engine) as session:
        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("committed"))
        assert ran == []  # not before the commit
        await session.commit()
        assert ran == ["committed"]

        after_commit(session, lambda: ran.append("rolled back"))  # before anything is begun
        await session.execute(text("SELECT 1"))
        await session.rollback()
        async with session.begin():  # nothing was begun for it: the session is free
            after_commit(session, lambda: ran.append("in a block"))
        assert ran == ["committed", "in a block"]
        await session.execute(text("SELECT 1"))
        await session.commit()  # a later commit does not run what the rollback dropped
        assert ran == ["committed", "in a block"]


async def test_a_failed_commit_runs_nothing(engine: AsyncEngine) -> None:
    ran: list[str] = []
    async with AsyncSession(engine) as session:
        # A deferred constraint fails at COMMIT itself.
        await session.execute(
            text(
                "CREATE TEMPORARY TABLE t (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
                " ON COMMIT DROP"
            )
        )
        await session.execute(text("INSERT INTO t VALUES (1), (1)"))
        after_commit(session, lambda: ran.append("counted"))
        with pytest.raises(IntegrityError, match="duplicate key"):
            await session.commit()
        await session.rollback()
        await session.execute(text("SELECT 1"))
        await session.commit()
        assert ran == []


async def test_a_session_closed_without_a_commit_forgets_its_actions(engine: AsyncEngine) -> None:
    ran: list[str] = []
    session = AsyncSession(engine)
    await session.execute(text("SELECT 1"))
    after_commit(session, lambda: ran.append("counted"))
    await session.close()
    await session.execute(text("SELECT 1"))
    await session.commit()
    await session.close()
    assert ran == []


async def test_in_a_savepoint_an_action_waits_for_the_whole_transaction(
    engine: AsyncEngine,
) -> None:
    ran: list[str] = []
    async with AsyncSession(engine) as session:
        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("outer"))
        async with session.begin_nested():
            after_commit(session, lambda: ran.append("released"))
        assert ran == []  # released, but the transaction around it is still open
        nested = await session.begin_nested()
        after_commit(session, lambda: ran.append("rolled back"))
        await nested.rollback()
        await session.commit()
        assert ran == ["outer", "released"]

        await session.execute(text("SELECT 1"))
        async with session.begin_nested():
            after_commit(session, lambda: ran.append("released, then all rolled back"))
        await session.rollback()
        assert ran == ["outer", "released"]


async def test_an_action_that_fails_does_not_stop_the_others(engine: AsyncEngine) -> None:
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("a broken counter")

    async with AsyncSession(engine) as session:
        await session.execute(text("SELECT 1"))
        after_commit(session, fail)
        after_commit(session, lambda: ran.append("counted"))
        await session.commit()  # committed: the failure is logged, not raised
    assert ran == ["counted"]
