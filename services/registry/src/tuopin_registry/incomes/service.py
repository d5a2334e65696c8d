"""Recording a household's annual income."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry import outbox, parameters
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.incomes.models import IncomeRow
from tuopin_registry.incomes.rules import IncomeParts, compute_income
from tuopin_registry.members.models import MemberRow
from tuopin_shared.contracts.registry import IncomeInput
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Unprocessable, field_error


async def household_size(session: AsyncSession, household_id: uuid.UUID, year: int) -> int:
    """Members registered in the household during the year: born by its end, alive at its start."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    statement = select(func.count()).where(
        MemberRow.household_id == household_id,
        MemberRow.birth_date <= last,
        or_(MemberRow.deceased_on.is_(None), MemberRow.deceased_on >= first),
    )
    return int(await session.scalar(statement) or 0)


async def record(
    session: AsyncSession,
    principal: Principal,
    household: HouseholdRow,
    year: int,
    body: IncomeInput,
) -> IncomeRow:
    size = await household_size(session, household.id, year)
    if size == 0:
        raise Unprocessable(
            f"the household had no members in {year}",
            errors=[field_error("year", f"no members registered in {year}", "no_members", "path")],
        )
    ceiling = await parameters.review_ceiling(session, household.division_code, year)
    parts = IncomeParts(**body.model_dump())
    figures = compute_income(parts, size, ceiling)
    values = {
        **body.model_dump(),
        "net_income": figures.net_income,
        "household_size": size,
        "per_capita_net_income": figures.per_capita_net_income,
        "needs_review": figures.needs_review,
        "review_reasons": list(figures.review_reasons),
        "recorded_by": principal.subject,
    }
    statement = (
        insert(IncomeRow)
        .values(household_id=household.id, year=year, **values)
        .on_conflict_do_update(
            index_elements=["household_id", "year"], set_={**values, "recorded_at": func.now()}
        )
        .returning(IncomeRow)
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(statement)).scalar_one()
    await outbox.append(
        session,
        household.division_code,
        "household_income",
        household.id,
        year,
        "recorded",
        {
            "household_id": str(household.id),
            "year": year,
            "net_income": str(row.net_income),
            "household_size": size,
            "per_capita_net_income": str(row.per_capita_net_income),
            "needs_review": row.needs_review,
        },
    )
    return row


async def history(session: AsyncSession, household_id: uuid.UUID) -> list[IncomeRow]:
    statement = (
        select(IncomeRow).where(IncomeRow.household_id == household_id).order_by(IncomeRow.year)
    )
    return list((await session.execute(statement)).scalars())


async def latest(session: AsyncSession, household_id: uuid.UUID) -> IncomeRow | None:
    statement = (
        select(IncomeRow)
        .where(IncomeRow.household_id == household_id)
        .order_by(IncomeRow.year.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()
