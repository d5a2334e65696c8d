"""Divisions (district > town > village) and the per-district rule parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.dialects.postgresql import insert

from tuopin_registry.access import ParameterEditor, Reader, ensure_in_scope, record
from tuopin_registry.divisions import repository
from tuopin_registry.divisions.models import DivisionRow, ParameterSetRow
from tuopin_shared.contracts.divisions import DivisionCode, division_level
from tuopin_shared.contracts.enums import DivisionLevel
from tuopin_shared.contracts.registry import Division, ParameterSet, ParameterSetOut
from tuopin_shared.kit.errors import NotFound, Unprocessable, field_error, problem_responses
from tuopin_shared.kit.http import Session

router = APIRouter(prefix="/v1/divisions", tags=["divisions"])

CodeParam = Annotated[DivisionCode, Path(description="6, 9 or 12 digits.")]
YearParam = Annotated[int, Path(ge=2000, le=2100)]


def _view(row: DivisionRow) -> Division:
    return Division(
        code=row.code,
        name=row.name,
        level=DivisionLevel(row.level),
        parent_code=row.parent_code,
        synthetic=row.synthetic,
    )


@router.get("", responses=problem_responses())
async def list_divisions(
    session: Session,
    _: Reader,
    parent: Annotated[
        DivisionCode | None, Query(description="List this division's children; omit for the roots.")
    ] = None,
) -> list[Division]:
    """List the children of a division (or the top-level divisions)."""
    return [_view(row) for row in await repository.children(session, parent)]


@router.get("/{code}", responses=problem_responses(404))
async def get_division(code: CodeParam, session: Session, _: Reader) -> Division:
    """Get one division."""
    row = await session.get(DivisionRow, code)
    if row is None:
        raise NotFound(f"division {code} not found")
    return _view(row)


def _district_param(code: str) -> str:
    if division_level(code) is not DivisionLevel.COUNTY:
        raise Unprocessable(
            errors=[
                field_error(
                    "code",
                    "parameters are set per district (county level)",
                    "not_a_district",
                    "path",
                )
            ]
        )
    return code


@router.get("/{code}/parameters/{year}", responses=problem_responses(404))
async def get_parameters(
    code: CodeParam, year: YearParam, session: Session, _: Reader
) -> ParameterSetOut:
    """Get a district's rule parameters (income line, school ages, water) for a year."""
    row = await session.get(ParameterSetRow, (_district_param(code), year))
    if row is None:
        raise NotFound(f"no parameters are set for {code} in {year}")
    return ParameterSetOut.model_validate(row, from_attributes=True)


@router.put("/{code}/parameters/{year}", responses=problem_responses(404))
async def put_parameters(
    code: CodeParam,
    year: YearParam,
    body: ParameterSet,
    request: Request,
    session: Session,
    principal: ParameterEditor,
) -> ParameterSetOut:
    """Set the registry's rule parameters for a district and year."""
    district = _district_param(code)
    ensure_in_scope(principal, district, f"division {code}")
    if await session.get(DivisionRow, district) is None:
        raise NotFound(f"division {code} not found")
    values = {"district_code": district, "year": year, **body.model_dump()}
    statement = (
        insert(ParameterSetRow)
        .values(**values)
        .on_conflict_do_update(index_elements=["district_code", "year"], set_=body.model_dump())
        .returning(ParameterSetRow)
    )
    row = (await session.execute(statement)).scalar_one()
    await record(
        session, request, principal, "set_parameters", "parameter_set", f"{district}/{year}"
    )
    return ParameterSetOut.model_validate(row, from_attributes=True)
