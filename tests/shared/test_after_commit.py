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

        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("rolled back"))
        await session.rollback()
        await session.commit()  # a later commit does not run what the rollback dropped
        assert ran == ["committed"]


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
        assert ran == []
