"""Policy sets: versions of a district's parameters for a year."""

from __future__ import annotations

import zlib

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_benefits.policies import medical
from tuopin_benefits.policies.models import PolicySetRow
from tuopin_shared.contracts.benefits import PolicySetInput


async def in_force(session: AsyncSession, district_code: str, year: int) -> PolicySetRow | None:
    statement = (
        select(PolicySetRow)
        .where(PolicySetRow.district_code == district_code, PolicySetRow.year == year)
        .order_by(PolicySetRow.version.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def create(session: AsyncSession, body: PolicySetInput, actor: str) -> PolicySetRow:
    """Save the next version; 422 when the settlement rules would refuse its medical figures."""
    medical.check(body.parameters)
    # Two officers saving at once get versions n and n+1, never the same number.
    key = zlib.crc32(f"policy:{body.district_code}:{body.year}".encode())
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    latest = await session.scalar(
        select(func.max(PolicySetRow.version)).where(
            PolicySetRow.district_code == body.district_code, PolicySetRow.year == body.year
        )
    )
    row = PolicySetRow(
        district_code=body.district_code,
        year=body.year,
        version=(latest or 0) + 1,
        parameters=body.parameters.model_dump(mode="json"),
        sources=body.sources,
        created_by=actor,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row
