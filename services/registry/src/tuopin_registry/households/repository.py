"""Queries on households."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.incomes.models import IncomeRow
from tuopin_registry.members.models import MemberRow
from tuopin_shared.contracts.divisions import division_prefix
from tuopin_shared.kit.database import driver


@dataclass(frozen=True)
class HouseholdFilter:
    scope: str  # the caller's division: nothing outside it is listed
    division: str | None = None
    status: str | None = None
    main_poverty_cause: str | None = None
    per_capita_income_below: Decimal | None = None
    has_disabled_member: bool | None = None


def within(column: object, division_code: str) -> object:
    """Codes under a division, as a range so the plain b-tree index serves it."""
    prefix = division_prefix(division_code)
    return column.between(prefix.ljust(12, "0"), prefix.ljust(12, "9"))  # type: ignore[attr-defined]


async def get(
    session: AsyncSession, household_id: uuid.UUID, *, for_update: bool = False
) -> HouseholdRow | None:
    statement = select(HouseholdRow).where(HouseholdRow.id == household_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


def _living_member() -> object:
    return and_(MemberRow.household_id == HouseholdRow.id, MemberRow.deceased_on.is_(None))


def summary_query(filters: HouseholdFilter) -> Select[tuple[object, ...]]:
    head_name = (
        select(MemberRow.name)
        .where(_living_member(), MemberRow.relation_to_head == "head")
        .limit(1)
        .scalar_subquery()
    )
    size = select(func.count()).where(_living_member()).scalar_subquery()
    statement = select(
        HouseholdRow.id,
        HouseholdRow.division_code,
        HouseholdRow.status,
        HouseholdRow.main_poverty_cause,
        HouseholdRow.version,
        head_name.label("head_name"),
        size.label("size"),
    ).where(within(HouseholdRow.division_code, filters.scope))
    if filters.division:
        statement = statement.where(within(HouseholdRow.division_code, filters.division))
    if filters.status:
        statement = statement.where(HouseholdRow.status == filters.status)
    if filters.main_poverty_cause:
        statement = statement.where(HouseholdRow.main_poverty_cause == filters.main_poverty_cause)
    if filters.per_capita_income_below is not None:
        latest = (
            select(IncomeRow.per_capita_net_income)
            .where(IncomeRow.household_id == HouseholdRow.id)
            .order_by(IncomeRow.year.desc())
            .limit(1)
            .scalar_subquery()
        )
        statement = statement.where(latest < filters.per_capita_income_below)
    if filters.has_disabled_member is not None:
        disabled = exists().where(_living_member(), MemberRow.disability_grade.is_not(None))
        statement = statement.where(disabled if filters.has_disabled_member else ~disabled)
    return statement


# The household and its members in one round trip; PostgreSQL builds the members' JSON.
_HOUSEHOLD_WITH_MEMBERS_SQL = """
    SELECT h.*,
           (SELECT coalesce(json_agg(m ORDER BY m.relation_to_head <> 'head', m.birth_date), '[]')
              FROM registry.member m
             WHERE m.household_id = h.id) AS members
      FROM registry.household h
     WHERE h.id = $1
"""


async def household_with_members(
    connection: AsyncConnection, household_id: uuid.UUID
) -> dict[str, Any] | None:
    # The driver's own fetch on the pooled connection: the hottest read skips
    # SQLAlchemy's statement compilation and result processing.
    raw = await driver(connection)
    row = await raw.fetchrow(_HOUSEHOLD_WITH_MEMBERS_SQL, household_id)
    if row is None:
        return None
    household = dict(row)
    members = household["members"]
    # SQLAlchemy's adapter registers a JSON codec on its connections; a bare one has none.
    household["members"] = json.loads(members) if isinstance(members, str) else members
    return household


async def page(
    session: AsyncSession, filters: HouseholdFilter, after: uuid.UUID | None, limit: int
) -> list[dict[str, object]]:
    statement = summary_query(filters)
    if after is not None:
        statement = statement.where(HouseholdRow.id > after)
    statement = statement.order_by(HouseholdRow.id).limit(limit + 1)
    return [dict(row._mapping) for row in await session.execute(statement)]
