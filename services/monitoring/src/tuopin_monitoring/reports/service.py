"""Filing progress reports: the checks a report must pass, and reading them back."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_monitoring.access import within
from tuopin_monitoring.plans.models import PlanRow, TargetRow
from tuopin_monitoring.reports.models import ProgressReportRow
from tuopin_monitoring.reports.rules import ReportFact
from tuopin_shared.contracts.divisions import division_contains
from tuopin_shared.contracts.monitoring import Measurement, ProgressReportInput
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Forbidden, Unprocessable, field_error


async def file(
    session: AsyncSession, principal: Principal, body: ProgressReportInput, today: date
) -> tuple[ProgressReportRow, TargetRow]:
    target = await session.get(TargetRow, body.target_id)
    plan = await session.get(PlanRow, target.plan_id) if target is not None else None
    if (
        target is None
        or plan is None
        or not division_contains(plan.district_code, principal.division)
    ):
        raise Unprocessable(
            errors=[field_error("target_id", "no such target in your district", "unknown_target")]
        )
    if target.measurement != Measurement.REPORTED:
        raise Unprocessable(
            errors=[
                field_error(
                    "target_id",
                    f"{target.code} is computed from the registry's data, not reported",
                    "computed_target",
                )
            ]
        )
    errors = []
    if body.unit != target.unit:
        errors.append(
            field_error(
                "unit",
                f"{target.code} is measured in {target.unit!r}, not {body.unit!r}",
                "unit_mismatch",
            )
        )
    if body.reported_on > today:
        errors.append(field_error("reported_on", "is in the future", "future_date"))
    elif body.reported_on.year != plan.year:
        errors.append(
            field_error("reported_on", f"must fall in the plan's year {plan.year}", "outside_year")
        )
    if not division_contains(target.scope, body.division_code):
        errors.append(
            field_error(
                "division_code", f"outside the target's scope {target.scope}", "out_of_scope"
            )
        )
    if body.corrects is not None:
        corrected = await session.get(ProgressReportRow, body.corrects)
        if (
            corrected is None
            or corrected.target_id != target.id
            or corrected.division_code != body.division_code
        ):
            errors.append(
                field_error(
                    "corrects",
                    "must be a report of the same target and division",
                    "unknown_report",
                )
            )
    if errors:
        raise Unprocessable("the report cannot be filed", errors=errors)
    if not principal.covers(body.division_code):
        raise Forbidden(
            f"division {body.division_code} is outside your division {principal.division}",
            errors=[field_error("division_code", "outside your division", "out_of_scope")],
        )
    row = ProgressReportRow(
        target_id=target.id,
        division_code=body.division_code,
        reported_on=body.reported_on,
        value=body.value,
        unit=body.unit,
        evidence=body.evidence,
        reporter=principal.subject,
        reporter_name=body.reporter_name,
        corrects=body.corrects,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row, target


async def facts_for(
    session: AsyncSession, target_ids: list[uuid.UUID], division: str, on: date
) -> dict[uuid.UUID, list[ReportFact]]:
    """Every report of the targets filed at or below the division up to the date."""
    if not target_ids:
        return {}
    statement = select(
        ProgressReportRow.id,
        ProgressReportRow.target_id,
        ProgressReportRow.division_code,
        ProgressReportRow.reported_on,
        ProgressReportRow.value,
    ).where(
        ProgressReportRow.target_id.in_(target_ids),
        within(ProgressReportRow.division_code, division),
        ProgressReportRow.reported_on <= on,
    )
    out: dict[uuid.UUID, list[ReportFact]] = {}
    for row in await session.execute(statement):
        out.setdefault(row.target_id, []).append(
            ReportFact(row.id, row.division_code, row.reported_on, row.value)
        )
    return out
