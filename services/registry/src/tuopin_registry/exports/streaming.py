"""Streaming an export: its own snapshot connection, PostgreSQL's COPY into a
bounded queue, and a response that drains the queue as fast as the client reads.

NDJSON and CSV never exist whole anywhere: PostgreSQL renders each line, COPY
sends them, and the queue holds at most ``QUEUE_CHUNKS`` chunks, so the process
stays in constant memory however large the export. When the client is slower
than the database the queue fills, the COPY's sink waits, asyncpg stops reading
the socket and PostgreSQL waits on its send: back-pressure end to end. When the
client goes away, what the COPY still sends is dropped, the server is asked to
cancel it, and the connection goes back to the pool once it has ended.

An XLSX file is a zip archive whose directory comes last, so it cannot be sent
while it is written: it is written in a worker thread into a temporary folder
(``workbook.Workbook`` keeps one batch of rows in memory and the sheet's XML on
disk), then sent from the finished file with its length. Memory stays
constant; disk use while it is built is about the sheet's XML plus the archive;
the body starts only when the workbook is complete, and the database connection
is released before it is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import IO, Any

import anyio
import asyncpg
import structlog
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from tuopin_registry.exports.queries import ExportQuery
from tuopin_registry.exports.workbook import Workbook
from tuopin_shared.kit.database import driver
from tuopin_shared.kit.errors import problem_response

log = structlog.get_logger("tuopin.exports")


class ExportFormat(StrEnum):
    ndjson = "ndjson"
    csv = "csv"
    xlsx = "xlsx"


MEDIA_TYPES = {
    ExportFormat.ndjson: "application/x-ndjson",
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# Excel opens a CSV without a byte order mark in the machine's legacy code page
# (GBK on a Chinese Windows), garbling every name; with it, as UTF-8. Programs
# reading the file should decode it as "utf-8-sig".
UTF8_BOM = b"\xef\xbb\xbf"

# The worksheet's limit is 1,048,576 rows; one of them is the header.
XLSX_MAX_ROWS = 1_048_575

# COPY hands over whatever has arrived from the socket, from a line to a few
# hundred kilobytes; a queue of 64 bounds what waits for the client to a few MB.
QUEUE_CHUNKS = 64
# Chunks already queued are sent together, up to this size: fewer, larger writes.
COALESCE_BYTES = 256 * 1024
# Rows fetched at a time for a workbook, and bytes read at a time from its file.
XLSX_FETCH_ROWS = 2_000
FILE_CHUNK_BYTES = 256 * 1024

# Each JSON line is a single text value. COPY's CSV mode with a quote and a
# delimiter that JSON never contains raw (PostgreSQL escapes every control
# character in JSON strings) writes it exactly as it is, one per line; the
# text mode would double every backslash of the JSON escapes.
_RAW_LINES = {"format": "csv", "quote": "\x01", "delimiter": "\x02"}


class ExportDatabase:
    """Where an export reads from: one connection for the whole stream, in a
    REPEATABLE READ READ ONLY transaction, so the file is one consistent snapshot
    of the register however long the client takes to read it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._engine.connect() as connection:
            connection = await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            await connection.begin()
            try:
                # The service's statement timeout is sized for requests; an export's
                # COPY lasts as long as the client takes to read it.
                await connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
                yield await driver(connection)
            finally:
                # Read only: there is nothing to commit, and after a cancelled
                # COPY there is nothing a commit could do.
                await connection.rollback()

    async def cancel(self, backend_pid: int) -> None:
        """Ask PostgreSQL to cancel what the export's backend is running.

        From a second connection, as a client would: the export's own connection
        then ends its COPY through the ordinary error path and stays usable.
        """
        async with self._engine.connect() as connection:
            await connection.exec_driver_sql("SELECT pg_cancel_backend($1)", (backend_pid,))


async def get_export_database(request: Request) -> ExportDatabase:
    # A coroutine, not a generator: the connection is opened by the response when
    # it is sent, after the request's own unit of work has ended (see kit.database).
    return ExportDatabase(request.app.state.engine)


# ---------------------------------------------------------------- COPY formats


async def copy_chunks(
    connection: asyncpg.Connection,
    sql: str,
    args: Sequence[object],
    cancel: Callable[[], Awaitable[None]],
    **options: Any,
) -> AsyncGenerator[bytes, None]:
    """The output of ``COPY (sql) TO STDOUT``, chunk by chunk, with back-pressure.

    Closing the iterator early (the client went away) drops whatever the COPY
    still sends, asks the server to cancel it (``cancel``), and waits until the
    COPY has ended, so that the connection is usable again.
    """
    queue: asyncio.Queue[bytes | Exception | None] = asyncio.Queue(maxsize=QUEUE_CHUNKS)
    abandoned = False

    async def sink(chunk: bytes) -> None:
        if not abandoned:
            await queue.put(chunk)

    async def produce() -> None:
        try:
            await connection.copy_from_query(sql, *args, output=sink, **options)
        except Exception as error:  # handed to the reader, who raises it
            if not abandoned:
                await queue.put(error)
        else:
            if not abandoned:
                await queue.put(None)

    # Cancelling the task itself would leave asyncpg mid-protocol, the connection
    # unusable; the COPY is ended by the server instead.
    producer = asyncio.create_task(produce())
    try:
        finished = False
        while not finished:
            item = await queue.get()
            if isinstance(item, Exception):
                raise item
            if item is None:
                return
            parts = [item]
            size = len(item)
            while size < COALESCE_BYTES and not queue.empty():
                more = queue.get_nowait()
                if isinstance(more, Exception):
                    raise more
                if more is None:
                    finished = True
                    break
                parts.append(more)
                size += len(more)
            # asyncpg hands over bytearrays; the response wants bytes.
            yield bytes(parts[0]) if len(parts) == 1 else b"".join(parts)
    finally:
        # Shielded: when the client's disconnect cancelled the response, this must
        # still run to its end, or the connection would be handed back mid-COPY.
        with anyio.CancelScope(shield=True):
            if not producer.done():
                abandoned = True
                while not queue.empty():  # unblocks a sink waiting for room
                    queue.get_nowait()
                await cancel()
            await asyncio.wait({producer})


def copy_options(format_: ExportFormat) -> dict[str, Any]:
    if format_ is ExportFormat.ndjson:
        return dict(_RAW_LINES)
    return {"format": "csv", "header": True}


# ---------------------------------------------------------------- XLSX


async def _build_workbook(
    connection: asyncpg.Connection, query: ExportQuery, workbook: Workbook
) -> bool:
    """Fill the workbook from the snapshot; False when it holds more rows than a sheet can."""
    cursor = await connection.cursor(query.rows(ordered=True), *query.args)
    while records := await cursor.fetch(XLSX_FETCH_ROWS):
        if workbook.rows + len(records) > XLSX_MAX_ROWS:
            return False
        await anyio.to_thread.run_sync(workbook.append, records)
    return True


async def _file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := await anyio.to_thread.run_sync(file.read, FILE_CHUNK_BYTES):
        yield chunk


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# ---------------------------------------------------------------- the response


def too_many_rows_detail(rows: int | None = None) -> str:
    counted = f"{rows:,} rows match; " if rows is not None else "more rows match than "
    return (
        f"{counted}an XLSX sheet holds at most {XLSX_MAX_ROWS:,}."
        " Narrow the export with `division` or `status`, or ask for `format=csv`."
    )


@dataclass(frozen=True)
class ExportPlan:
    """What to send: the query, the format, and the file name offered to the client."""

    query: ExportQuery
    format: ExportFormat
    filename: str | None


class ExportResponse(Response):
    """Sends an export from its own snapshot connection.

    The connection is opened when the response is sent, after the request's own
    unit of work has committed (its audit row included), and released as soon as
    the body is done, the client has gone, or, for XLSX, the workbook is written.
    Nothing is sent before the first chunk exists, so a failure to start is an
    ordinary problem response rather than a truncated 200.
    """

    def __init__(self, plan: ExportPlan, database: ExportDatabase) -> None:
        super().__init__(status_code=200, media_type=MEDIA_TYPES[plan.format])
        self._plan = plan
        self._database = database

    def _export_headers(self) -> dict[str, str]:
        headers = {
            # Personal data: no shared cache may keep a copy.
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
        if self._plan.filename:
            headers["Content-Disposition"] = f'attachment; filename="{self._plan.filename}"'
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._plan.format is ExportFormat.xlsx:
            await self._send_xlsx(scope, receive, send)
        else:
            await self._send_copy(scope, receive, send)

    async def _send_copy(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = self._plan
        sql = plan.query.ndjson() if plan.format is ExportFormat.ndjson else plan.query.csv()
        async with self._database.snapshot() as connection:
            chunks = copy_chunks(
                connection,
                sql,
                plan.query.args,
                partial(self._database.cancel, connection.get_server_pid()),
                **copy_options(plan.format),
            )
            try:
                # The first chunk before the status line: a query that fails at once
                # is a problem response, not a 200 with a cut body.
                first = await anext(chunks, b"")
                if plan.format is ExportFormat.csv:
                    first = UTF8_BOM + first
                body = _prepend(first, chunks)
                try:
                    response = StreamingResponse(
                        body, media_type=self.media_type, headers=self._export_headers()
                    )
                    await response(scope, receive, send)
                finally:
                    await body.aclose()
            finally:
                await chunks.aclose()

    async def _send_xlsx(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = self._plan
        workbook = Workbook(plan.query.entity, plan.query.names)
        try:
            fits = complete = False
            # The task group inside the snapshot: when the client leaves mid-build,
            # the connection is released after, and outside, the cancelled scope.
            async with (
                self._database.snapshot() as connection,
                anyio.create_task_group() as group,
            ):

                async def stop_if_client_leaves() -> None:
                    await _wait_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(stop_if_client_leaves)
                fits = await _build_workbook(connection, plan.query, workbook)
                complete = True
                group.cancel_scope.cancel()
            if not complete:
                log.info("export abandoned by the client", entity=plan.query.entity)
                return
            if not fits:
                # Rows were added between the count and the snapshot.
                problem = problem_response(
                    Request(scope),
                    status=422,
                    title="The request cannot be carried out",
                    slug="unprocessable",
                    detail=too_many_rows_detail(),
                )
                await problem(scope, receive, send)
                return
            size = await anyio.to_thread.run_sync(workbook.finish)
            headers = {**self._export_headers(), "Content-Length": str(size)}
            response = StreamingResponse(
                _file_chunks(workbook.file), media_type=self.media_type, headers=headers
            )
            await response(scope, receive, send)
        finally:
            await anyio.to_thread.run_sync(workbook.close)


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk
