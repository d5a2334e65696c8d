"""Plans and their targets: the rules around the writes, and finding the plan in force."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_monitoring.indicators import catalogue
from tuopin_monitoring.plans.models import PlanRow, TargetRow
from tuopin_shared.contracts.divisions import division_contains, division_level
from tuopin_shared.contracts.enums import DivisionLevel
from tuopin_shared.contracts.monitoring import (
    Measurement,
    PlanInput,
    PlanParameters,
    TargetInput,
)
from tuopin_shared.contracts.problems import FieldError
from tuopin_shared.kit.errors import Conflict, Unprocessable, field_error

# The seed's groups in its order: goals, industry, employment, infrastructure, social.
_GROUPS = {"G": 0, "I": 1, "E": 2, "N": 3, "S": 4}


def parameters_of(plan: PlanRow) -> PlanParameters:
    return PlanParameters.model_validate(plan.parameters)


def district_of(division_code: str) -> str:
    return division_code[:6].ljust(12, "0")


async def create_plan(session: AsyncSession, body: PlanInput, actor: str) -> PlanRow:
    if division_level(body.district_code) is not DivisionLevel.COUNTY:
        raise Unprocessable(
            errors=[field_error("district_code", "a plan belongs to a district", "not_a_district")]
        )
    statement = (
        insert(PlanRow)
        .values(
            district_code=body.district_code,
            year=body.year,
            name=body.name,
            parameters=body.parameters.model_dump(mode="json"),
            sources=body.sources,
            created_by=actor,
        )
        .on_conflict_do_nothing(index_elements=["district_code", "year"])
        .returning(PlanRow)
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None:
        raise Conflict(
            f"district {body.district_code} has a plan for {body.year} already",
            errors=[field_error("year", "a plan for this district and year exists", "duplicate")],
        )
    return row


async def plan_for(session: AsyncSession, division_code: str, year: int) -> PlanRow | None:
    """The plan of the district the division lies in, for the year."""
    statement = select(PlanRow).where(
        PlanRow.district_code == district_of(division_code), PlanRow.year == year
    )
    return (await session.execute(statement)).scalar_one_or_none()


def check_target(plan: PlanRow, body: TargetInput) -> list[FieldError]:
    """What is wrong with a target for this plan (the model checked the fields alone)."""
    errors: list[FieldError] = []
    if body.measurement is Measurement.COMPUTED:
        indicator = catalogue.find(body.indicator)
        if indicator is None:
            known = ", ".join(i.key for i in catalogue.INDICATORS)
            errors.append(
                field_error(
                    "indicator",
                    f"no computed indicator {body.indicator!r}; known: {known}",
                    "unknown_indicator",
                )
            )
        elif indicator.unit != body.unit:
            errors.append(
                field_error(
                    "unit",
                    f"{body.indicator} is measured in {indicator.unit!r}, not {body.unit!r}",
                    "unit_mismatch",
                )
            )
    if body.scope is not None and not division_contains(plan.district_code, body.scope):
        errors.append(
            field_error("scope", "must be the plan's district or inside it", "out_of_plan")
        )
    for index, point in enumerate(body.expected_progress or []):
        if point.on.year != plan.year:
            errors.append(
                field_error(
                    f"expected_progress.{index}.on", f"must fall in {plan.year}", "outside_year"
                )
            )
    return errors


async def add_target(
    session: AsyncSession, plan: PlanRow, body: TargetInput, actor: str
) -> TargetRow:
    errors = check_target(plan, body)
    if errors:
        raise Unprocessable("the target does not fit the plan", errors=errors)
    values = body.model_dump(mode="json", exclude={"scope", "expected_progress"})
    values.update(
        figure=body.figure,
        baseline=body.baseline,
        scope=body.scope or plan.district_code,
        expected_progress=[p.model_dump(mode="json") for p in body.expected_progress]
        if body.expected_progress
        else None,
    )
    statement = (
        insert(TargetRow)
        .values(plan_id=plan.id, created_by=actor, **values)
        .on_conflict_do_nothing(index_elements=["plan_id", "code"])
        .returning(TargetRow)
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None:
        raise Conflict(
            f"the plan has a target {body.code} already",
            errors=[field_error("code", "already used in this plan", "duplicate")],
        )
    return row


async def targets_of(session: AsyncSession, plan_id: uuid.UUID) -> list[TargetRow]:
    statement = select(TargetRow).where(TargetRow.plan_id == plan_id)
    return sorted((await session.execute(statement)).scalars(), key=lambda t: code_order(t.code))


def code_order(code: str) -> tuple[int, str, int, str]:
    """G1 < G2 < … < I1 < I2 < … < I10: the plan's own order, numbers as numbers."""
    match = re.fullmatch(r"([A-Z]+)(\d*)(.*)", code)
    letters, number, rest = match.groups() if match else (code, "", "")
    return (_GROUPS.get(letters, 9), letters, int(number) if number else 0, rest)
