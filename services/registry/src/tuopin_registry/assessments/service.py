"""Recording guarantee assessments."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry import outbox, parameters
from tuopin_registry.assessments.models import AssessmentRow
from tuopin_registry.assessments.rules import Findings, MemberFacts, evaluate
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.members.models import MemberRow
from tuopin_shared.contracts.enums import SchoolStage
from tuopin_shared.contracts.registry import AssessmentInput
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Unprocessable, field_error


async def record(
    session: AsyncSession,
    principal: Principal,
    household: HouseholdRow,
    body: AssessmentInput,
    today: date,
) -> AssessmentRow:
    if body.assessed_on > today:
        raise Unprocessable(errors=[field_error("assessed_on", "is in the future", "future_date")])
    members = (
        await session.execute(select(MemberRow).where(MemberRow.household_id == household.id))
    ).scalars()
    facts = [
        MemberFacts(
            birth_date=m.birth_date,
            deceased_on=m.deceased_on,
            school_stage=SchoolStage(m.school_stage),
            school_exempt=m.school_exempt,
            basic_medical_insured=m.basic_medical_insured,
        )
        for m in members
    ]
    params = await parameters.guarantee_parameters(
        session, household.division_code, body.assessed_on.year
    )
    findings = Findings(
        food_secure=body.food_secure,
        clothing_secure=body.clothing_secure,
        education_secure=body.education_secure,
        medical_secure=body.medical_secure,
        housing_grade=body.housing_grade,
        relocated=body.relocated,
        reinforced=body.reinforced,
        water_litres_per_person_day=body.water_litres_per_person_day,
        water_quality_ok=body.water_quality_ok,
        water_fetch_minutes=body.water_fetch_minutes,
        water_outage_days=body.water_outage_days,
    )
    result = evaluate(
        findings, facts, params, on=body.assessed_on, water_short_area=household.water_short_area
    )
    row = AssessmentRow(
        household_id=household.id,
        assessed_on=body.assessed_on,
        food_secure=body.food_secure,
        clothing_secure=body.clothing_secure,
        education_secure=result.education_secure,
        education_derived=result.education_derived,
        medical_secure=result.medical_secure,
        medical_derived=result.medical_derived,
        housing_grade=body.housing_grade.value,
        relocated=body.relocated,
        reinforced=body.reinforced,
        housing_secure=result.housing_secure,
        water_litres_per_person_day=body.water_litres_per_person_day,
        water_quality_ok=body.water_quality_ok,
        water_fetch_minutes=body.water_fetch_minutes,
        water_outage_days=body.water_outage_days,
        water_secure=result.water_secure,
        all_met=result.all_met,
        unmet=list(result.unmet),
        notes=body.notes,
        assessor=principal.subject,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await outbox.append(
        session,
        household.division_code,
        "guarantee_assessment",
        row.id,
        1,
        "recorded",
        {
            "id": str(row.id),
            "household_id": str(household.id),
            "assessed_on": row.assessed_on.isoformat(),
            "all_met": row.all_met,
            "unmet": row.unmet,
            "housing_grade": row.housing_grade,
        },
    )
    return row


async def history(session: AsyncSession, household_id: uuid.UUID) -> list[AssessmentRow]:
    statement = (
        select(AssessmentRow)
        .where(AssessmentRow.household_id == household_id)
        .order_by(AssessmentRow.assessed_on, AssessmentRow.recorded_at)
    )
    return list((await session.execute(statement)).scalars())


async def latest(session: AsyncSession, household_id: uuid.UUID) -> AssessmentRow | None:
    statement = (
        select(AssessmentRow)
        .where(AssessmentRow.household_id == household_id)
        .order_by(AssessmentRow.assessed_on.desc(), AssessmentRow.recorded_at.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()
