"""Exports of the register: every person or household in the caller's division, streamed.

The format is chosen by ``?format=`` or, failing that, by the Accept header;
``format`` wins when both are given, and an Accept header that admits none of
the three is 406. Identifiers are masked unless the caller holds ``pii``. Each
export is recorded in the audit log before a byte is sent.

NDJSON and CSV come in the database's own order, which costs nothing to
produce; sort on ``division_code`` and ``household_id`` where an order matters.
XLSX, made for people, is sorted by village and household, the head first.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from tuopin_registry.access import Reader, record
from tuopin_registry.exports import queries
from tuopin_registry.exports.streaming import (
    MEDIA_TYPES,
    XLSX_MAX_ROWS,
    ExportDatabase,
    ExportFormat,
    ExportPlan,
    ExportResponse,
    get_export_database,
    too_many_rows_detail,
)
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.enums import PovertyStatus
from tuopin_shared.contracts.problems import Problem
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.database import driver
from tuopin_shared.kit.errors import PROBLEM_JSON, TuopinError, Unprocessable, problem_responses
from tuopin_shared.kit.http import ReadDatabase

router = APIRouter(prefix="/v1/exports", tags=["exports"])

Exports = Annotated[ExportDatabase, Depends(get_export_database)]
Division = Annotated[
    DivisionCode | None,
    Query(description="Only under this division (a town, a village); always within the caller's."),
]
Status = Annotated[
    PovertyStatus | None, Query(alias="status", description="Only households in this status.")
]
Format = Annotated[
    ExportFormat | None,
    Query(
        alias="format",
        description="ndjson (default), csv or xlsx; takes precedence over the Accept header.",
    ),
]
Accept = Annotated[str | None, Header(include_in_schema=False)]


class NotAcceptable(TuopinError):
    status, slug, title = 406, "not-acceptable", "No acceptable format"


# ---------------------------------------------------------------- content negotiation

# In order of preference when the Accept header ranks several equally.
_BY_MEDIA_TYPE = {
    "application/x-ndjson": ExportFormat.ndjson,
    "text/csv": ExportFormat.csv,
    MEDIA_TYPES[ExportFormat.xlsx]: ExportFormat.xlsx,
}


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def negotiate(format_: ExportFormat | None, accept: str | None) -> ExportFormat:
    """The format asked for: ``format`` if given, else the best the Accept header admits."""
    if format_ is not None:
        return format_
    if not accept or not accept.strip():
        return ExportFormat.ndjson
    # For each format, the quality of the most specific range that matches it (RFC 9110 12.5.1).
    best: dict[ExportFormat, tuple[int, float]] = {}
    for item in accept.split(","):
        media_range, *parameters = item.split(";")
        media_range = media_range.strip().lower()
        quality = _quality(parameters)
        for media_type, candidate in _BY_MEDIA_TYPE.items():
            kind = media_type.split("/")[0]
            if media_range == media_type:
                specificity = 2
            elif media_range == f"{kind}/*":
                specificity = 1
            elif media_range == "*/*":
                specificity = 0
            else:
                continue
            if candidate not in best or specificity > best[candidate][0]:
                best[candidate] = (specificity, quality)
    ranked = [
        (quality, -order, candidate)
        for order, candidate in enumerate(_BY_MEDIA_TYPE.values())
        if (quality := best.get(candidate, (0, 0.0))[1]) > 0
    ]
    if not ranked:
        raise NotAcceptable(
            "exports are available as " + ", ".join(_BY_MEDIA_TYPE) + "; ask for one in Accept,"
            " or choose with ?format=ndjson|csv|xlsx"
        )
    return max(ranked)[2]


# ---------------------------------------------------------------- endpoints


def _export_responses(what: str) -> dict[int | str, dict[str, Any]]:
    responses = problem_responses(406)
    responses[406] = {
        "model": Problem,
        "description": "The Accept header admits none of the export formats",
        "content": {PROBLEM_JSON: {}},
    }
    names = (
        "the import template's column names and the JSON API's value formats"
        if what == "ledger"
        else "the same field names and value formats as the JSON API"
    )
    responses[200] = {
        "description": (
            f"The {what}, streamed. NDJSON: one JSON object per line, with {names}."
            " CSV: UTF-8 with a byte order mark,"
            " a header row with the same names, dates as YYYY-MM-DD, booleans as"
            f" true/false, empty for null. XLSX: one sheet, at most {XLSX_MAX_ROWS:,} rows."
        ),
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            MEDIA_TYPES[ExportFormat.xlsx]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
    return responses


async def _export(
    entity: str,
    request: Request,
    principal: Principal,
    database: ReadDatabase,
    exports: ExportDatabase,
    division: str | None,
    status: PovertyStatus | None,
    format_: ExportFormat,
) -> ExportResponse:
    exported = division or principal.division
    filters = queries.ExportFilter(
        scope=principal.division, division=division, status=status.value if status else None
    )
    build = {
        "persons": queries.persons,
        "households": queries.households,
        "ledger": queries.ledger,
    }[entity]
    query = build(filters, masked=not principal.can_see_pii)
    details = {
        "filters": {"division": division, "status": filters.status},
        "scope": principal.division,
        "format": format_.value,
        "unmasked": principal.can_see_pii,
    }
    async with database.connection() as connection:
        if format_ is ExportFormat.xlsx:
            raw = await driver(connection)
            rows = await raw.fetchval(query.count(), *query.args)
            if rows > XLSX_MAX_ROWS:
                raise Unprocessable(too_many_rows_detail(rows))
        # Written and committed before the response starts: an export that is
        # interrupted was still an export of personal data.
        await record(connection, request, principal, "export", entity, exported, details)
    filename = None
    if format_ is not ExportFormat.ndjson:
        filename = f"{entity}-{exported}-{today():%Y%m%d}.{format_.value}"
    return ExportResponse(ExportPlan(query, format_, filename), exports)


def _route(entity: str, summary: str) -> None:
    """``GET /v1/exports/{entity}``: the same filters and formats for every export."""

    async def endpoint(
        request: Request,
        principal: Reader,
        database: ReadDatabase,
        exports: Exports,
        division: Division = None,
        status: Status = None,
        format_: Format = None,
        accept: Accept = None,
    ) -> ExportResponse:
        return await _export(
            entity,
            request,
            principal,
            database,
            exports,
            division,
            status,
            negotiate(format_, accept),
        )

    router.add_api_route(
        f"/{entity}",
        endpoint,
        methods=["GET"],
        name=f"export_{entity}",
        description=summary,
        status_code=200,
        response_class=ExportResponse,
        responses=_export_responses(entity),
    )


_route(
    "persons",
    "Export every person in the caller's division, the deceased included, one record each.",
)
_route(
    "households",
    "Export every household in the caller's division, with its head and living size.",
)
_route(
    "ledger",
    """Export the register as an import ledger: one row per living member, the household's
columns repeated, in the columns and order of the import template.

`POST /v1/imports` takes the file in any of the three formats, so households move to
another register, registered there anew; the household number is the household's id.
Without `pii` the identifiers are masked and the file does not import. What the
template has no column for stays behind: ids, the year a household was lifted out, its
status history, incomes, assessments and deceased members. The import takes households
in an initial status with exactly one living head: export by `status` to move those.""",
)
