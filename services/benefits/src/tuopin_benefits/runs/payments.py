"""Payment batches: the payable lines of an approved run go to the bank, the bank's
results come back, failed lines go into a later batch, and nothing is paid twice.

The run's row is locked while a batch is made, so two batches never pick the same
line; the database refuses a second pending or a second paid payment of a line
whatever the code does (partial unique indexes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tuopin_benefits.runs import bank
from tuopin_benefits.runs import service as runs
from tuopin_shared.contracts.runs import Batch, BatchStatus, RunStatus
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Conflict, NotFound, Unprocessable, field_error

_CREATE = """
WITH payable AS (
    SELECT e.id, e.amount
    FROM benefits.entitlement e
    WHERE e.run_id = :run_id
      AND e.amount > 0
      AND NOT EXISTS (
          SELECT 1 FROM benefits.payment p
          WHERE p.entitlement_id = e.id AND p.status IN ('pending', 'paid'))
),
batch AS (
    INSERT INTO benefits.payment_batch (id, run_id, lines, amount, created_by)
    SELECT :batch_id, :run_id, count(*), sum(amount), :actor FROM payable HAVING count(*) > 0
    RETURNING id
)
INSERT INTO benefits.payment (batch_id, entitlement_id, amount)
SELECT b.id, p.id, p.amount FROM payable p CROSS JOIN batch b
"""

_VIEW = """
SELECT b.id, b.run_id, b.status, b.lines, b.amount, b.created_by, b.created_at, b.closed_at,
       r.district_code, r.program, r.status AS run_status,
       count(*) FILTER (WHERE p.status = 'pending') AS pending_lines,
       count(*) FILTER (WHERE p.status = 'paid') AS paid_lines,
       coalesce(sum(p.amount) FILTER (WHERE p.status = 'paid'), 0) AS paid_amount,
       count(*) FILTER (WHERE p.status = 'failed') AS failed_lines
FROM benefits.payment_batch b
JOIN benefits.run r ON r.id = b.run_id
JOIN benefits.payment p ON p.batch_id = b.id
WHERE b.id = :batch_id
GROUP BY b.id, r.id
"""

# Which lines of the upload do not fit the batch: not in it, or already given another result.
_MISFITS = """
SELECT r.line_id, p.status AS current, r.status AS result
FROM unnest(CAST(:line_ids AS bigint[]), CAST(:statuses AS text[])) AS r(line_id, status)
LEFT JOIN benefits.payment p ON p.batch_id = :batch_id AND p.entitlement_id = r.line_id
WHERE p.id IS NULL OR (p.status <> 'pending' AND p.status <> r.status)
ORDER BY r.line_id
"""

_APPLY = """
UPDATE benefits.payment p
SET status = r.status, bank_reference = r.reference, reason = r.reason,
    resulted_at = clock_timestamp()
FROM unnest(CAST(:line_ids AS bigint[]), CAST(:statuses AS text[]),
            CAST(:references AS text[]), CAST(:reasons AS text[]))
     AS r(line_id, status, reference, reason)
WHERE p.batch_id = :batch_id AND p.entitlement_id = r.line_id AND p.status = 'pending'
"""

_CLOSE = """
UPDATE benefits.payment_batch b SET status = 'closed', closed_at = clock_timestamp()
WHERE b.id = :batch_id AND b.status = 'open'
  AND NOT EXISTS (
      SELECT 1 FROM benefits.payment p WHERE p.batch_id = b.id AND p.status = 'pending')
"""

# The run is paid when every payable line has a paid payment; a result file sent again
# to a paid run leaves the moment it was paid as it was.
_SETTLE_RUN = """
UPDATE benefits.run r
SET paid_amount = x.paid,
    status = CASE WHEN x.unpaid = 0 THEN 'paid' ELSE r.status END,
    paid_at = CASE WHEN x.unpaid = 0 THEN coalesce(r.paid_at, clock_timestamp()) END
FROM (
    SELECT coalesce(sum(p.amount), 0) AS paid,
           count(*) FILTER (WHERE e.amount > 0 AND p.id IS NULL) AS unpaid
    FROM benefits.entitlement e
    LEFT JOIN benefits.payment p ON p.entitlement_id = e.id AND p.status = 'paid'
    WHERE e.run_id = :run_id
) x
WHERE r.id = :run_id
RETURNING r.status
"""

_BANK_FILE_PAGE = """
SELECT p.batch_id, e.id AS line_id, pe.resident_id, pe.name, p.amount, e.program, e.period
FROM benefits.payment p
JOIN benefits.entitlement e ON e.id = p.entitlement_id
LEFT JOIN benefits.person pe ON pe.member_id = e.member_id
WHERE p.batch_id = :batch_id AND p.entitlement_id > :after
ORDER BY p.entitlement_id
LIMIT :limit
"""


async def create_batch(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> uuid.UUID:
    """A batch of the run's payable lines neither paid nor waiting in another batch."""
    run = await runs.get(session, principal, run_id, for_update=True)
    if not principal.covers(run.district_code):
        raise NotFound(f"run {run_id} not found")
    if run.status != RunStatus.APPROVED:
        raise Conflict(
            f"only an approved run is paid; this one is {run.status}", run_status=run.status
        )
    batch_id = uuid.uuid4()
    result = await session.execute(
        text(_CREATE), {"run_id": run.id, "batch_id": batch_id, "actor": principal.subject}
    )
    if getattr(result, "rowcount", 0) == 0:
        raise Conflict(
            "nothing left to pay: every payable line is paid or waits in an open batch",
            run_id=str(run.id),
        )
    return batch_id


async def batch_row(
    session: AsyncSession, principal: Principal, batch_id: uuid.UUID, *, for_update: bool = False
) -> dict[str, Any]:
    if for_update:
        # The run first, as when a batch is made: uploads for two batches of one run then
        # follow each other, and the second sees the first's payments when it decides
        # whether the run is paid.
        await session.execute(
            text(
                "SELECT 1 FROM benefits.run r JOIN benefits.payment_batch b ON b.run_id = r.id"
                " WHERE b.id = :id FOR UPDATE OF r, b"
            ),
            {"id": batch_id},
        )
    row = (await session.execute(text(_VIEW), {"batch_id": batch_id})).one_or_none()
    if row is None or not principal.covers(row.district_code):
        raise NotFound(f"batch {batch_id} not found")
    return dict(row._mapping)


def batch_view(row: dict[str, Any]) -> Batch:
    return Batch(
        id=row["id"],
        run_id=row["run_id"],
        status=BatchStatus(row["status"]),
        lines=row["lines"],
        amount=row["amount"],
        pending_lines=row["pending_lines"],
        paid_lines=row["paid_lines"],
        paid_amount=row["paid_amount"],
        failed_lines=row["failed_lines"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        closed_at=row["closed_at"],
    )


async def apply_results(
    session: AsyncSession, batch: dict[str, Any], results: Sequence[bank.BankResult]
) -> tuple[int, RunStatus]:
    """Record the bank's results; returns how many lines changed and the run's status."""
    ids = [r.line_id for r in results]
    statuses = [r.status.value for r in results]
    misfits = (
        await session.execute(
            text(_MISFITS), {"line_ids": ids, "statuses": statuses, "batch_id": batch["id"]}
        )
    ).all()
    index = {line_id: n for n, line_id in enumerate(ids)}
    unknown = [m for m in misfits if m.current is None]
    if unknown:
        raise Unprocessable(
            f"{len(unknown)} line(s) of the result file are not in batch {batch['id']}",
            errors=[
                field_error(
                    f"rows.{index[m.line_id]}.line_id",
                    f"line {m.line_id} is not in this batch",
                    "not_in_batch",
                )
                for m in unknown[:100]
            ],
        )
    if misfits:
        raise Conflict(
            "the result file contradicts results already recorded",
            errors=[
                field_error(
                    f"rows.{index[m.line_id]}.status",
                    f"line {m.line_id} is already {m.current}",
                    "already_resulted",
                )
                for m in misfits[:100]
            ],
        )
    try:
        applied = await session.execute(
            text(_APPLY),
            {
                "batch_id": batch["id"],
                "line_ids": ids,
                "statuses": statuses,
                "references": [r.bank_reference for r in results],
                "reasons": [r.reason for r in results],
            },
        )
    except IntegrityError as exc:  # the last line: a line paid in another batch
        raise Conflict("a line of this batch is already paid in another batch") from exc
    await session.execute(text(_CLOSE), {"batch_id": batch["id"]})
    run_status = RunStatus(await session.scalar(text(_SETTLE_RUN), {"run_id": batch["run_id"]}))
    # The status read with the run's row locked: only the upload that paid it counts it.
    if run_status is RunStatus.PAID and batch["run_status"] != RunStatus.PAID:
        runs.count(session, batch["program"], "paid")
    return int(getattr(applied, "rowcount", 0)), run_status


async def bank_file(
    connection: AsyncConnection, batch_id: uuid.UUID, page: int = 5000
) -> AsyncIterator[str]:
    """The payment file, a page of lines at a time (keyset: nothing held in memory)."""
    after, header = 0, True
    while True:
        rows = (
            await connection.execute(
                text(_BANK_FILE_PAGE), {"batch_id": batch_id, "after": after, "limit": page}
            )
        ).all()
        if rows or header:
            yield bank.payment_rows(rows, header=header)
        header = False
        if len(rows) < page:
            return
        after = rows[-1].line_id
