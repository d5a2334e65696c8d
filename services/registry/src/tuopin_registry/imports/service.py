"""Running an import: one path for the API, its background jobs and the command line.

The file is read in a worker thread a batch of rows at a time, each batch parsed
and COPYed into the staging table while the next is being read; then the
set-based checks run; then, for a commit without a single error, one
transaction writes everything. Memory holds a batch or two, never the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from tuopin_registry.imports.parsing import COLUMN_NAMES, RowError, RowParser
from tuopin_registry.imports.sources import LedgerFile, LedgerFileError, LedgerReader, open_ledger
from tuopin_registry.imports.staging import Scope, Staging, record_audit
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.divisions import division_prefix
from tuopin_shared.contracts.identity import mask_resident_id
from tuopin_shared.contracts.imports import (
    REPORTED_ERRORS,
    ImportMode,
    ImportReport,
    ImportRowError,
    ImportStage,
)
from tuopin_shared.contracts.masking import mask_certificate_number, mask_phone
from tuopin_shared.kit import metrics

IMPORTS = metrics.counter(
    "tuopin_imports_total", "Ledger imports by mode and outcome.", ["mode", "outcome"]
)

__all__ = [
    "BATCH_ROWS",
    "ImportOptions",
    "Progress",
    "count",
    "mask_report",
    "run_import",
]

# Rows copied at a time: large enough that a COPY's fixed cost is spread thin,
# small enough that a batch is a few megabytes.
BATCH_ROWS = 5_000
# Characters of a bad cell's value a report repeats.
REPORTED_VALUE_CHARS = 200
# Rows read and parsed at a time. Each row read is a list (and a tuple with its
# number) until it is parsed into the batch's columns: a few hundred at a time
# die before the garbage collector's youngest generation fills, where thousands
# would be traversed by it again and again (a fifth of the reading at 5,000).
PARSE_ROWS = 500

# Told how far the import has got: the stage and the rows read so far.
Progress = Callable[[ImportStage, int], Awaitable[None]]
# Runs inside the writing transaction, with the report of what it wrote.
BeforeCommit = Callable[[ImportReport], Awaitable[None]]

_MASKS: dict[str, Callable[[str], str | None]] = {
    "resident_id": mask_resident_id,
    "phone": mask_phone,
    "disability_certificate_no": mask_certificate_number,
}
_COLUMN_ORDER = {name: index for index, name in enumerate(COLUMN_NAMES)}
_UNIQUE_RESIDENT_ID = "uq_member_resident_id"


@dataclass(frozen=True)
class ImportOptions:
    """Who imports, and how."""

    mode: ImportMode
    actor: str
    roles: str
    # The caller's division: rows for divisions outside it are refused. None: every
    # division (an operator at the command line).
    scope: str | None
    can_see_pii: bool
    import_id: uuid.UUID = field(default_factory=uuid.uuid4)
    request_id: str | None = None
    # The day the households' initial status takes effect, and the bound on birth dates.
    today: date = field(default_factory=today)

    @property
    def scope_range(self) -> Scope:
        return Scope.of(division_prefix(self.scope) if self.scope else "")


@dataclass
class _Batch:
    columns: list[list[Any]]  # the parsed values, a list per field of ``RECORD_FIELDS``
    errors: list[RowError]


class _Errors:
    """Counts every error; keeps the first ones (parse errors come in row order)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.first: list[RowError] = []
        self.counts: Counter[str] = Counter()

    def add(self, errors: list[RowError]) -> None:
        for error in errors:
            self.counts[error.code] += 1
        room = self.limit - len(self.first)
        if room > 0:
            self.first.extend(errors[:room])


def _batches(reader: LedgerReader, parser: RowParser, size: int) -> Generator[_Batch, None, None]:
    rows = reader.rows()
    while True:
        columns: list[list[Any]] | None = None
        errors: list[RowError] = []
        read = 0
        while read < size and (chunk := list(itertools.islice(rows, min(PARSE_ROWS, size - read)))):
            parsed, found = parser.parse_batch(chunk)
            if columns is None:
                columns = parsed
            else:
                for values, more in zip(columns, parsed, strict=True):
                    values.extend(more)
            errors.extend(found)
            read += len(chunk)
        if columns is None:
            return
        yield _Batch(columns, errors)


async def _no_progress(stage: ImportStage, rows: int) -> None:
    return None


def mask(column: str | None, value: str | None) -> str | None:
    masker = _MASKS.get(column or "")
    return masker(value) if masker is not None and value is not None else value


def mask_report(report: ImportReport) -> ImportReport:
    """The report as a caller without the pii permission may see it."""
    errors = [e.model_copy(update={"value": mask(e.column, e.value)}) for e in report.errors]
    return report.model_copy(update={"errors": errors})


def _report(
    ledger: LedgerFile,
    options: ImportOptions,
    reader: LedgerReader,
    rows: int,
    households_in_file: int,
    found: list[RowError],
    counts: Counter[str],
    started: float,
    *,
    households: int | None = None,
    members: int | None = None,
) -> ImportReport:
    """The report; with counts of what was written when the rows were committed."""
    total = sum(counts.values())
    listed = found[:REPORTED_ERRORS]
    return ImportReport(
        import_id=options.import_id,
        mode=options.mode,
        file_name=ledger.name,
        format=ledger.format,
        rows=rows,
        households=households_in_file,
        valid=total == 0,
        committed=members is not None,
        households_created=households or 0,
        members_created=members or 0,
        error_count=total,
        error_counts=dict(counts),
        errors=[
            ImportRowError(
                row=e.row,
                column=e.column,
                header=reader.layout.header(e.column),
                value=_echoed(e.value if options.can_see_pii else mask(e.column, e.value)),
                message=e.message,
                code=e.code,
            )
            for e in listed
        ],
        errors_truncated=total > len(listed),
        elapsed_seconds=round(time.perf_counter() - started, 3),
    )


def _echoed(value: str | None) -> str | None:
    """A cell's value as a report repeats it: enough to find the cell, not all of a long one."""
    if value is None or len(value) <= REPORTED_VALUE_CHARS:
        return value
    return value[:REPORTED_VALUE_CHARS] + "…"


def _sort_key(error: RowError) -> tuple[int, int, str]:
    return (error.row, _COLUMN_ORDER.get(error.column or "", -1), error.code)


def count(report: ImportReport) -> None:
    outcome = "committed" if report.committed else ("valid" if report.valid else "refused")
    IMPORTS.labels(mode=str(getattr(report.mode, "value", report.mode)), outcome=outcome).inc()


async def run_import(
    connection: asyncpg.Connection,
    ledger: LedgerFile,
    options: ImportOptions,
    *,
    counted: bool = True,
    **kwargs: Any,
) -> ImportReport:
    """Check every row of ``ledger`` and, to commit, write them all or nothing.

    Counted in ``tuopin_imports_total`` unless ``counted`` is False: a caller whose
    transaction commits the rows later counts them with ``count`` once it has.
    """
    result = await _run_import(connection, ledger, options, **kwargs)
    if counted:
        count(result)
    return result


async def _run_import(
    connection: asyncpg.Connection,
    ledger: LedgerFile,
    options: ImportOptions,
    *,
    reader: LedgerReader | None = None,
    progress: Progress = _no_progress,
    before_commit: BeforeCommit | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Check every row of ``ledger`` and, to commit, write them all or nothing.

    Runs on ``connection`` as it is: inside the caller's transaction (a request)
    or in autocommit (a job), where the writing gets a transaction of its own.
    ``reader`` is the ledger already opened (its header checked); it is closed.
    Raises ``LedgerFileError`` when the file as a whole cannot be read.
    """
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    if reader is None:
        reader = await loop.run_in_executor(None, open_ledger, ledger)
    staging = Staging(connection)
    errors = _Errors(REPORTED_ERRORS)
    try:
        await staging.create()
        rows = await _stage(staging, reader, options, errors, progress, batch_rows)
        if rows == 0:
            raise LedgerFileError("no_rows", "the file has a header but no data rows")
        await progress(ImportStage.CHECKING, rows)
        scope = options.scope_range
        checked = await staging.check(scope, REPORTED_ERRORS)
        counts = errors.counts + Counter(checked.error_counts)
        found = sorted(errors.first + checked.errors, key=_sort_key)

        def report(found: list[RowError], counts: Counter[str], **written: int) -> ImportReport:
            return _report(
                ledger, options, reader, rows, checked.households, found, counts, started, **written
            )

        if options.mode is ImportMode.VALIDATE or counts:
            return report(found, counts)
        await progress(ImportStage.WRITING, rows)
        try:
            async with connection.transaction():
                households, members = await staging.merge(
                    effective_on=options.today,
                    reason=f"registered by ledger import {options.import_id}",
                    actor=options.actor,
                )
                written = report([], Counter(), households=households, members=members)
                await record_audit(
                    connection,
                    actor=options.actor,
                    roles=options.roles,
                    import_id=options.import_id,
                    request_id=options.request_id,
                    details={
                        "file_name": ledger.name,
                        "format": ledger.format.value,
                        "rows": rows,
                        "households": households,
                        "members": members,
                    },
                )
                if before_commit is not None:
                    await before_commit(written)
            return written
        except asyncpg.UniqueViolationError as error:
            # Another writer registered one of these people after the checks ran:
            # the constraint refused the whole transaction. Say who.
            if error.constraint_name != _UNIQUE_RESIDENT_ID:
                raise
            late = await staging.registered_now(scope) or [
                RowError(
                    0,
                    "resident_id",
                    None,
                    "registered_concurrently",
                    "a resident ID in the file was registered while the import ran; run it again",
                )
            ]
            return report(late, Counter(e.code for e in late))
    finally:
        await loop.run_in_executor(None, reader.close)
        # After a failed statement the rollback under way removes them with the rest.
        with contextlib.suppress(asyncpg.InFailedSQLTransactionError, asyncpg.InterfaceError):
            await staging.drop()


async def _stage(
    staging: Staging,
    reader: LedgerReader,
    options: ImportOptions,
    errors: _Errors,
    progress: Progress,
    batch_rows: int,
) -> int:
    """Parse and COPY every row; the rows read."""
    loop = asyncio.get_running_loop()
    parser = RowParser(reader.layout, options.today)
    batches = _batches(reader, parser, batch_rows)
    rows = 0
    # The next batch is read in a worker thread while this one is copied: the
    # server's work and the parsing overlap.
    pending = loop.run_in_executor(None, next, batches, None)
    try:
        while (batch := await pending) is not None:
            pending = loop.run_in_executor(None, next, batches, None)
            await staging.copy(batch.columns)
            errors.add(batch.errors)
            rows += len(batch.columns[0])
            await progress(ImportStage.READING, rows)
    finally:
        # Wait for the batch being read before the file is closed under it.
        if not pending.done():
            await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # seen: the error that stopped the loop is the one raised
        batches.close()
    return rows
