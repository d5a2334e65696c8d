"""The parameter set a rule uses, or the national defaults when none is configured."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry.assessments.rules import GuaranteeParameters
from tuopin_registry.divisions import repository
from tuopin_shared.contracts.registry import ParameterSet

# The national criteria; the income line has no national default and must be configured.
_NATIONAL = ParameterSet.model_construct(
    **{
        name: field.default
        for name, field in ParameterSet.model_fields.items()
        if field.default is not None
    }
)


async def guarantee_parameters(
    session: AsyncSession, division_code: str, year: int
) -> GuaranteeParameters:
    row = await repository.parameters(session, division_code, year)
    source = row if row is not None else _NATIONAL
    return GuaranteeParameters(
        school_age_min=source.school_age_min,
        school_age_max=source.school_age_max,
        water_min_litres=Decimal(source.water_min_litres),
        water_min_litres_short_area=Decimal(source.water_min_litres_short_area),
        water_max_fetch_minutes=source.water_max_fetch_minutes,
        water_max_outage_days=source.water_max_outage_days,
    )


async def review_ceiling(session: AsyncSession, division_code: str, year: int) -> Decimal:
    row = await repository.parameters(session, division_code, year)
    return Decimal(
        row.per_capita_review_ceiling if row is not None else _NATIONAL.per_capita_review_ceiling
    )


async def income_line(session: AsyncSession, division_code: str, year: int) -> Decimal | None:
    row = await repository.parameters(session, division_code, year)
    return row.income_line if row is not None else None
