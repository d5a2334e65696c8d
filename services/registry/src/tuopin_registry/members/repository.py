"""Queries on members."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.members.models import MemberRow


async def insert_unless_registered(
    session: AsyncSession, values: dict[str, Any]
) -> MemberRow | None:
    """Insert a member; None when the resident ID is already in the registry.

    ON CONFLICT keeps the transaction usable (unlike a failed INSERT), so the caller
    can still look up who holds the number, and two concurrent inserts of one
    number cannot both succeed.
    """
    statement = (
        insert(MemberRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[MemberRow.resident_id])
        .returning(MemberRow)
    )
    result = await session.execute(statement)
    return result.scalar_one_or_none()


async def holder_of(session: AsyncSession, resident_id: str) -> tuple[uuid.UUID, str] | None:
    """The household (id, division) that holds ``resident_id``."""
    row = (
        await session.execute(
            select(MemberRow.household_id, HouseholdRow.division_code)
            .join(HouseholdRow, HouseholdRow.id == MemberRow.household_id)
            .where(MemberRow.resident_id == resident_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def get(
    session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False
) -> MemberRow | None:
    statement = select(MemberRow).where(MemberRow.id == member_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def of_households(
    session: AsyncSession, household_ids: Sequence[uuid.UUID]
) -> list[MemberRow]:
    if not household_ids:
        return []
    statement = (
        select(MemberRow)
        .where(MemberRow.household_id.in_(household_ids))
        .order_by(
            MemberRow.household_id, MemberRow.relation_to_head != "head", MemberRow.birth_date
        )
    )
    return list((await session.execute(statement)).scalars())
