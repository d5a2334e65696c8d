"""Queries on divisions and their parameter sets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry.divisions.models import DivisionRow, ParameterSetRow
from tuopin_shared.contracts.divisions import division_prefix


def district_of(code: str) -> str:
    """The county-level division (a district) a code belongs to: parameters are set there."""
    return division_prefix(code)[:6].ljust(12, "0")


async def children(session: AsyncSession, parent: str | None) -> list[DivisionRow]:
    statement = select(DivisionRow).order_by(DivisionRow.code)
    if parent is None:
        statement = statement.where(DivisionRow.parent_code.is_(None))
    else:
        statement = statement.where(DivisionRow.parent_code == parent)
    return list((await session.execute(statement)).scalars())


async def parameters(
    session: AsyncSession, division_code: str, year: int
) -> ParameterSetRow | None:
    return await session.get(ParameterSetRow, (district_of(division_code), year))
