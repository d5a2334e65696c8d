"""Large imports as background jobs: a row to poll, a connection of their own.

A job runs in the service process that accepted the file, on a connection
outside the request pool (a million rows take longer than any request may),
and holds a PostgreSQL advisory lock for as long as it runs. A job left
``running`` whose lock nobody holds belongs to a process that has gone:
``mark_interrupted`` finds those when a service starts. Its final status is
written in the transaction that writes the rows, so a committed import is
never reported as anything but succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import structlog
from fastapi import FastAPI
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from tuopin_registry.imports.models import ImportJobRow
from tuopin_registry.imports.service import ImportOptions, run_import
from tuopin_registry.imports.sources import LedgerFile, LedgerFileError
from tuopin_shared.contracts.imports import (
    ImportMode,
    ImportReport,
    ImportStage,
    ImportStatus,
    LedgerFormat,
)
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.database import asyncpg_url, driver

__all__ = [
    "ImportJobs",
    "bulk_connection",
    "create_job",
    "jobs_of",
    "mark_interrupted",
    "recover_interrupted",
    "run_job",
]

log = structlog.get_logger("tuopin.imports")

# The first key of every job's advisory lock; the second is the job id's hash.
_LOCK_NAMESPACE = zlib.crc32(b"tuopin-registry-import-job") & 0x7FFFFFFF

# Bulk statements outlast the request timeout; a million staged rows and their
# hash aggregates stay in memory instead of going through temporary files.
SERVER_SETTINGS = {
    "application_name": "tuopin-registry-import",
    "statement_timeout": "0",
    "work_mem": "64MB",
    "temp_buffers": "256MB",
    "timezone": "UTC",
}

# Progress is written at most this often (each write is a committed UPDATE).
_PROGRESS_INTERVAL = 0.5
# A start-up waits this long at most to find jobs interrupted by the last stop.
_RECOVERY_SECONDS = 10


@asynccontextmanager
async def bulk_connection(url: str | URL) -> AsyncIterator[asyncpg.Connection]:
    """A driver connection in autocommit, outside any pool, for one import.

    Made through SQLAlchemy so that the URL means what it means to the service
    (sslmode, sockets, the embedded server) and only then handed over raw.
    """
    engine = create_async_engine(
        asyncpg_url(url) if isinstance(url, str) else url,
        poolclass=NullPool,
        connect_args={"server_settings": SERVER_SETTINGS},
    )
    try:
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield await driver(autocommit)
    finally:
        await engine.dispose()


async def create_job(
    session: AsyncSession,
    principal: Principal,
    ledger: LedgerFile,
    mode: ImportMode,
    rows_total: int | None,
    request_id: str | None,
) -> ImportJobRow:
    job = ImportJobRow(
        created_by=principal.subject,
        created_by_roles=",".join(sorted(principal.roles)),
        division_code=principal.division,
        can_see_pii=principal.can_see_pii,
        request_id=request_id,
        file_name=ledger.name,
        format=ledger.format.value,
        mode=mode.value,
        status=ImportStatus.QUEUED.value,
        rows_total=rows_total,
    )
    session.add(job)
    await session.flush()
    await session.refresh(job)
    return job


class _Progress:
    def __init__(self, connection: asyncpg.Connection, job_id: uuid.UUID) -> None:
        self._connection = connection
        self._job_id = job_id
        self._stage: ImportStage | None = None
        self._written = 0.0

    async def __call__(self, stage: ImportStage, rows: int) -> None:
        now = time.monotonic()
        if stage is self._stage and now - self._written < _PROGRESS_INTERVAL:
            return
        self._stage, self._written = stage, now
        await self._connection.execute(
            "UPDATE registry.import_job SET stage = $2, rows_done = $3 WHERE id = $1",
            self._job_id,
            stage.value,
            rows,
        )


async def _finish(connection: asyncpg.Connection, job_id: uuid.UUID, report: ImportReport) -> None:
    succeeded = report.committed if report.mode is ImportMode.COMMIT else report.valid
    await connection.execute(
        """
        UPDATE registry.import_job
        SET status = $2, stage = NULL, rows_total = $3, rows_done = $3, error_count = $4,
            households_created = $5, members_created = $6, report = $7::jsonb,
            finished_at = now()
        WHERE id = $1
        """,
        job_id,
        (ImportStatus.SUCCEEDED if succeeded else ImportStatus.FAILED).value,
        report.rows,
        report.error_count,
        report.households_created,
        report.members_created,
        report.model_dump_json(),
    )


async def _stop(
    connection: asyncpg.Connection,
    job_id: uuid.UUID,
    detail: str,
    status: ImportStatus = ImportStatus.FAILED,
) -> None:
    """End an unfinished job without a report (one that finished keeps its outcome)."""
    await connection.execute(
        """
        UPDATE registry.import_job
        SET status = $2, stage = NULL, detail = $3, finished_at = now()
        WHERE id = $1 AND status IN ($4, $5)
        """,
        job_id,
        status.value,
        detail,
        ImportStatus.QUEUED.value,
        ImportStatus.RUNNING.value,
    )


_INTERRUPTED = "the service stopped while the import ran; nothing was written"


async def run_job(connection: asyncpg.Connection, job_id: uuid.UUID, path: Path) -> None:
    """The body of a job: claim it, import the file at ``path``, record the outcome.

    ``connection`` is the job's own, in autocommit, so that progress is seen while
    it runs (a test may pass its own connection, inside its transaction).
    """
    key = str(job_id)
    await connection.execute("SELECT pg_advisory_lock($1, hashtext($2))", _LOCK_NAMESPACE, key)
    try:
        job = await connection.fetchrow(
            """
            UPDATE registry.import_job
            SET status = $2, stage = $3, started_at = now()
            WHERE id = $1 AND status = $4
            RETURNING *
            """,
            job_id,
            ImportStatus.RUNNING.value,
            ImportStage.READING.value,
            ImportStatus.QUEUED.value,
        )
        if job is None:
            return  # not queued any more: interrupted before it could start
        ledger = LedgerFile(path, job["file_name"], LedgerFormat(job["format"]))
        options = ImportOptions(
            mode=ImportMode(job["mode"]),
            actor=job["created_by"],
            roles=job["created_by_roles"],
            scope=job["division_code"],
            can_see_pii=job["can_see_pii"],
            import_id=job_id,
            request_id=job["request_id"],
        )

        async def finish(report: ImportReport) -> None:
            await _finish(connection, job_id, report)

        try:
            report = await run_import(
                connection,
                ledger,
                options,
                progress=_Progress(connection, job_id),
                before_commit=finish,
            )
        except LedgerFileError as error:
            await _stop(connection, job_id, error.message)
            return
        if not report.committed:
            await _finish(connection, job_id, report)
    finally:
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
            await connection.execute(
                "SELECT pg_advisory_unlock($1, hashtext($2))", _LOCK_NAMESPACE, key
            )


async def mark_interrupted(connection: asyncpg.Connection) -> int:
    """Mark interrupted the jobs whose process has gone; how many there were.

    A running job's lock is held by its connection; a job whose lock can be taken
    has no process left. A queued job gets a minute to be picked up first.
    """
    if not await connection.fetchval("SELECT to_regclass('registry.import_job') IS NOT NULL"):
        return 0
    status = await connection.execute(
        """
        UPDATE registry.import_job
        SET status = $2, stage = NULL, finished_at = now(), detail = $5
        WHERE (status = $3 OR (status = $4 AND created_at < now() - interval '1 minute'))
          AND pg_try_advisory_xact_lock($1, hashtext(id::text))
        """,
        _LOCK_NAMESPACE,
        ImportStatus.INTERRUPTED.value,
        ImportStatus.RUNNING.value,
        ImportStatus.QUEUED.value,
        _INTERRUPTED,
    )
    return int(status.rsplit(" ", 1)[-1])


class ImportJobs:
    """The jobs this process runs: started after the request that queued them has
    committed, each with its own connection, the uploaded file deleted when done."""

    def __init__(self, url: str | URL) -> None:
        self._url = url
        # The loop keeps only weak references to tasks; these are the strong ones.
        self._running: dict[asyncio.Task[None], tuple[uuid.UUID, Path]] = {}

    async def launch(self, job_id: uuid.UUID, path: Path) -> None:
        """Start the job and return: it runs on after the request that launched it."""
        task = asyncio.create_task(self._run(job_id, path), name=f"import-{job_id}")
        self._running[task] = (job_id, path)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)

    async def _run(self, job_id: uuid.UUID, path: Path) -> None:
        try:
            async with bulk_connection(self._url) as connection:
                await run_job(connection, job_id, path)
        except Exception:
            log.exception("import job failed", job_id=str(job_id))
            await self._record(
                job_id,
                "the import stopped on an unexpected error (logged); nothing was written",
                ImportStatus.FAILED,
            )
        finally:
            path.unlink(missing_ok=True)  # noqa: ASYNC240 - one unlink, also when cancelled

    async def _record(self, job_id: uuid.UUID, detail: str, status: ImportStatus) -> None:
        # Best effort on a connection of its own: if the database is gone too, the
        # next start marks the job interrupted.
        with contextlib.suppress(Exception):
            async with bulk_connection(self._url) as connection:
                await _stop(connection, job_id, detail, status)

    async def wait(self) -> None:
        """Until every job launched so far has finished."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def cancel(self) -> None:
        """Stop every job (at shutdown): their transactions roll back, their files go,
        and each is marked interrupted now rather than at the next start."""
        stopped = dict(self._running)
        for task in stopped:
            task.cancel()
        await self.wait()
        for job_id, path in stopped.values():
            # A task cancelled before it started never ran its own clean-up.
            path.unlink(missing_ok=True)
            await self._record(job_id, _INTERRUPTED, ImportStatus.INTERRUPTED)


def jobs_of(app: FastAPI) -> ImportJobs:
    """The app's job runner, made on first use from the app's database URL."""
    jobs: ImportJobs | None = getattr(app.state, "import_jobs", None)
    if jobs is None:
        jobs = ImportJobs(app.state.engine.url)
        app.state.import_jobs = jobs
    return jobs


async def recover_interrupted(app: FastAPI) -> None:
    """At start-up: jobs left running by a process that has gone are marked interrupted.

    A database that cannot be reached only delays this to the next start: the
    service still starts, and its readiness probe reports the database.
    """
    try:
        async with (
            asyncio.timeout(_RECOVERY_SECONDS),
            bulk_connection(app.state.engine.url) as connection,
        ):
            count = await mark_interrupted(connection)
    except (OSError, TimeoutError, asyncpg.PostgresError, SQLAlchemyError) as error:
        log.warning("could not check for interrupted import jobs", error=str(error))
        return
    if count:
        log.warning("import jobs interrupted by a restart", count=count)
