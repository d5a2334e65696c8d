"""Reads over runs, lines and payments: pages, totals, a person's ledger, statistics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_benefits.runs.queries import division_range
from tuopin_shared.contracts.divisions import division_prefix
from tuopin_shared.contracts.runs import TotalsLevel

LEVEL_DIGITS = {TotalsLevel.DISTRICT: 6, TotalsLevel.TOWN: 9, TotalsLevel.VILLAGE: 12}

# Where a line stands: the latest attempt decides, a paid one above all.
_LINE_STATUS = """
CASE WHEN e.amount < 0 THEN 'to_recover'
     WHEN last.status = 'paid' THEN 'paid'
     WHEN last.status = 'pending' THEN 'in_batch'
     WHEN last.status = 'failed' THEN 'failed'
     ELSE 'unpaid' END"""

_LAST_PAYMENT = """
LEFT JOIN LATERAL (
    SELECT pay.batch_id, pay.status, pay.bank_reference, pay.resulted_at
    FROM benefits.payment pay
    WHERE pay.entitlement_id = e.id
    ORDER BY pay.status = 'paid' DESC, pay.id DESC
    LIMIT 1
) last ON true"""


@dataclass(frozen=True)
class RunFilter:
    scope: str
    program: str | None = None
    period: str | None = None
    district: str | None = None
    status: str | None = None


async def page_runs(
    session: AsyncSession, filters: RunFilter, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[uuid.UUID]:
    """Ids of runs newest first; a run is listed when its district and the caller's
    scope overlap."""
    lo, hi = division_range(division_prefix(filters.scope))
    conditions = [
        "(r.district_code BETWEEN :lo AND :hi OR :scope LIKE left(r.district_code, 6) || '%')"
    ]
    values: dict[str, Any] = {"lo": lo, "hi": hi, "scope": filters.scope, "limit": limit + 1}
    for column in ("program", "period", "status"):
        if getattr(filters, column) is not None:
            conditions.append(f"r.{column} = :{column}")
            values[column] = getattr(filters, column)
    if filters.district is not None:
        conditions.append("r.district_code = :district")
        values["district"] = filters.district
    if after is not None:
        conditions.append("(r.created_at, r.id) < (:after_at, :after_id)")
        values["after_at"], values["after_id"] = after
    statement = (
        "SELECT r.id FROM benefits.run r WHERE "  # noqa: S608 - fixed fragments, bound values
        + " AND ".join(conditions)
        + " ORDER BY r.created_at DESC, r.id DESC LIMIT :limit"
    )
    return list((await session.scalars(text(statement), values)).all())


async def page_entitlements(
    session: AsyncSession,
    run_id: uuid.UUID,
    division: str,
    kind: str | None,
    after: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    lo, hi = division_range(division_prefix(division))
    statement = (
        """
SELECT e.id, e.run_id, e.program, e.period, e.kind, e.year, e.member_id, e.household_id,
       e.division_code, e.months, e.month_amounts, e.amount, e.rule, e.policy_set_id,
       e.policy_version, e.inputs, p.name, p.resident_id, """
        + _LINE_STATUS
        + """ AS status
FROM benefits.entitlement e
LEFT JOIN benefits.person p ON p.member_id = e.member_id"""
        + _LAST_PAYMENT
        + """
WHERE e.run_id = :run_id
  AND e.division_code BETWEEN :lo AND :hi
  AND (CAST(:kind AS text) IS NULL OR e.kind = :kind)
  AND e.id > :after
ORDER BY e.id
LIMIT :limit
"""
    )
    rows = await session.execute(
        text(statement),
        {
            "run_id": run_id,
            "lo": lo,
            "hi": hi,
            "kind": kind,
            "after": after or 0,
            "limit": limit + 1,
        },
    )
    return [dict(r._mapping) for r in rows]


async def totals(
    session: AsyncSession, run_id: uuid.UUID, division: str, level: TotalsLevel
) -> list[dict[str, Any]]:
    lo, hi = division_range(division_prefix(division))
    rows = await session.execute(
        text(
            """
SELECT rpad(left(e.division_code, :digits), 12, '0') AS division_code,
       count(DISTINCT e.member_id) AS persons,
       count(*) AS lines,
       coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) AS payable_amount,
       coalesce(sum(e.amount) FILTER (WHERE e.amount < 0), 0) AS recovery_amount,
       coalesce(sum(pay.amount), 0) AS paid_amount
FROM benefits.entitlement e
LEFT JOIN benefits.payment pay ON pay.entitlement_id = e.id AND pay.status = 'paid'
WHERE e.run_id = :run_id AND e.division_code BETWEEN :lo AND :hi
GROUP BY 1
ORDER BY 1
"""
        ),
        {"run_id": run_id, "lo": lo, "hi": hi, "digits": LEVEL_DIGITS[level]},
    )
    return [dict(r._mapping) for r in rows]


async def person_division(session: AsyncSession, member_id: uuid.UUID) -> str | None:
    """Where a person is filed now, or where their last line was."""
    return await session.scalar(
        text(
            """
SELECT coalesce(
    (SELECT h.division_code FROM benefits.person p
     JOIN benefits.household h ON h.household_id = p.household_id
     WHERE p.member_id = :member_id),
    (SELECT e.division_code FROM benefits.entitlement e
     WHERE e.member_id = :member_id ORDER BY e.id DESC LIMIT 1))
"""
        ),
        {"member_id": member_id},
    )


async def ledger(session: AsyncSession, member_id: uuid.UUID) -> list[dict[str, Any]]:
    statement = (
        """
SELECT e.id AS line_id, e.run_id, r.status AS run_status, e.program, e.period, e.kind,
       e.year, e.months, e.month_amounts, e.amount, last.batch_id, last.bank_reference,
       CASE WHEN last.status = 'paid' THEN last.resulted_at END AS paid_at, """
        + _LINE_STATUS
        + """ AS status
FROM benefits.entitlement e
JOIN benefits.run r ON r.id = e.run_id"""
        + _LAST_PAYMENT
        + """
WHERE e.member_id = :member_id
ORDER BY e.year, e.period, e.program, e.kind, e.id
"""
    )
    rows = await session.execute(text(statement), {"member_id": member_id})
    return [dict(r._mapping) for r in rows]


async def stats(
    session: AsyncSession,
    division: str,
    level: TotalsLevel,
    program: str | None,
    period: str | None,
) -> list[dict[str, Any]]:
    """Figures of approved and paid runs: what has been decided, not drafts."""
    lo, hi = division_range(division_prefix(division))
    rows = await session.execute(
        text(
            """
SELECT e.program, e.period,
       rpad(left(e.division_code, :digits), 12, '0') AS division_code,
       count(DISTINCT e.member_id) FILTER (WHERE e.amount > 0) AS eligible_persons,
       count(DISTINCT e.member_id) FILTER (WHERE pay.id IS NOT NULL) AS paid_persons,
       coalesce(sum(e.amount) FILTER (WHERE e.amount > 0), 0) AS entitled_amount,
       coalesce(sum(pay.amount), 0) AS paid_amount,
       coalesce(sum(e.amount) FILTER (WHERE e.amount < 0), 0) AS recovery_amount
FROM benefits.entitlement e
JOIN benefits.run r ON r.id = e.run_id AND r.status IN ('approved', 'paid')
LEFT JOIN benefits.payment pay ON pay.entitlement_id = e.id AND pay.status = 'paid'
WHERE e.division_code BETWEEN :lo AND :hi
  AND (CAST(:program AS text) IS NULL OR e.program = :program)
  AND (CAST(:period AS text) IS NULL OR e.period = :period)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""
        ),
        {
            "lo": lo,
            "hi": hi,
            "digits": LEVEL_DIGITS[level],
            "program": program,
            "period": period,
        },
    )
    return [dict(r._mapping) for r in rows]
