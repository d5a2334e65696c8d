"""Two migration runs of one service never run at once (kit.migrations takes an
advisory lock per schema), so two release Jobs started together are safe.

Each run here is ``upgrade()`` in a process of its own, as each release Job is.
Not threads: alembic's ``context`` and ``op`` are module-level proxies, shared
by every migration running in one process.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import _dsn, _server_url
from tuopin_shared.kit.migrations import _lock_key, head_revisions
from tuopin_shared.kit.service import installed_services

SPEC = installed_services()["registry"]
# What ``tuopin migrate registry`` does, without loading the other services first.
_UPGRADE = (
    "import sys\n"
    "from tuopin_registry.main import SERVICE\n"
    "from tuopin_shared.kit.migrations import upgrade\n"
    "upgrade(SERVICE, sys.argv[1])\n"
)
KEY = _lock_key(SPEC.schema)
# Generous: a run starts a Python process that imports the service first.
DEADLINE_SECONDS = 90.0


@dataclass
class Database:
    url: str
    name: str
    runner: asyncio.Runner

    def query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(_dsn(self.url))
            try:
                return await connection.fetch(sql, *args)
            finally:
                await connection.close()

        return self.runner.run(run())

    def revisions(self) -> list[str]:
        exists = self.query("SELECT to_regclass($1) IS NOT NULL", f"{SPEC.schema}.alembic_version")
        if not exists[0][0]:
            return []
        rows = self.query(f'SELECT version_num FROM "{SPEC.schema}".alembic_version')  # noqa: S608
        return [row[0] for row in rows]

    def blocked_runs(self) -> list[str]:
        """What each other session in this database is waiting for, if it waits on a lock."""
        rows = self.query(
            "SELECT wait_event FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
            self.name,
        )
        return [row[0] for row in rows]


class LockHolder:
    """A third session holding the migrations' lock, as a running migration would."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._connection: asyncpg.Connection | None = None

    def __enter__(self) -> LockHolder:
        self._connection = self._database.runner.run(asyncpg.connect(_dsn(self._database.url)))
        self._database.runner.run(self._connection.execute("SELECT pg_advisory_lock($1)", KEY))
        return self

    def release(self) -> None:
        if self._connection is not None:
            self._database.runner.run(self._connection.close())  # closing releases it
            self._connection = None

    def __exit__(self, *_: object) -> None:
        self.release()


@pytest.fixture
def fresh_database() -> Iterator[Database]:
    """An empty database: no schema yet, so the runs also race to create it."""
    server = _server_url()
    name = f"tuopin_lock_{uuid.uuid4().hex[:12]}"
    with asyncio.Runner() as runner:

        async def admin(sql: str) -> None:
            connection = await asyncpg.connect(_dsn(server))
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        runner.run(admin(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        try:
            yield Database(url, name, runner)
        finally:
            runner.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def start_migration(url: str) -> subprocess.Popen[str]:
    """A migration run of the registry's schema against ``url``, in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-c", _UPGRADE, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def finish(run: subprocess.Popen[str]) -> str:
    output, _ = run.communicate(timeout=DEADLINE_SECONDS)
    assert run.returncode == 0, output
    return output


def test_a_run_waits_while_another_holds_the_lock(fresh_database: Database) -> None:
    with LockHolder(fresh_database) as holder:
        run = start_migration(fresh_database.url)
        try:
            wait_until(
                lambda: fresh_database.blocked_runs() == ["advisory"],
                "the run waits for the migrations' lock",
            )
            time.sleep(1.0)
            # Still waiting, and nothing of its work is visible to anyone.
            assert run.poll() is None
            assert fresh_database.blocked_runs() == ["advisory"]
            assert fresh_database.revisions() == []
        except BaseException:
            run.kill()
            raise
        holder.release()
        finish(run)
    assert set(fresh_database.revisions()) == head_revisions(SPEC)


def test_concurrent_runs_on_a_fresh_database_both_succeed(fresh_database: Database) -> None:
    with LockHolder(fresh_database) as holder:
        # Both start while the lock is held, so they are certain to overlap.
        runs = [start_migration(fresh_database.url) for _ in range(2)]
        try:
            wait_until(
                lambda: len(fresh_database.blocked_runs()) == 2, "both runs wait for each other"
            )
        except BaseException:
            for run in runs:
                run.kill()
            raise
        holder.release()
        outputs = [run.communicate(timeout=DEADLINE_SECONDS)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # One run migrated; the other found the schema at head and did nothing.
    assert sorted(fresh_database.revisions()) == sorted(head_revisions(SPEC))
