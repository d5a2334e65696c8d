"""One-stop medical settlement: settle, reverse, read and list; monitoring figures.

``router`` serves ``/v1/medical``; ``stats_router`` serves ``/v1/stats/medical``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from tuopin_benefits.access import READ_ROLES, Reader
from tuopin_benefits.db import audit_log
from tuopin_benefits.settlement import repository, service, views
from tuopin_benefits.settlement.idempotency import IdempotencyKey
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.identity import ResidentIdNumber, mask_resident_id
from tuopin_shared.contracts.medical import (
    MedicalStats,
    MedicalStatsRow,
    Settlement,
    SettlementClaim,
    SettlementReversalInput,
)
from tuopin_shared.contracts.pages import Page
from tuopin_shared.kit import audit
from tuopin_shared.kit.auth import Principal, require_roles
from tuopin_shared.kit.errors import NotFound, Unprocessable, field_error, problem_responses
from tuopin_shared.kit.http import Autocommit, ReadDatabase, Session
from tuopin_shared.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1/medical", tags=["medical"])
stats_router = APIRouter(prefix="/v1/stats", tags=["stats"])

# A hospital's billing system settles; officers read and may reverse within
# their division, an institution its own settlements only.
Settler = Annotated[Principal, Depends(require_roles(Role.medical_institution))]
SettlementReader = Annotated[
    Principal, Depends(require_roles(*READ_ROLES, Role.medical_institution))
]
Reverser = Annotated[
    Principal,
    Depends(require_roles(Role.medical_institution, Role.admin, Role.benefits_officer)),
]

_MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def _record_pii_read(
    database: repository.Database,
    request: Request,
    principal: Principal,
    entity_id: object,
    details: dict[str, object] | None = None,
) -> None:
    """Reads of unmasked resident ID numbers are audited like writes."""
    if principal.can_see_pii:
        await audit.record(
            database,
            audit_log,
            principal,
            "read_pii",
            "medical_settlement",
            entity_id,
            _request_id(request),
            details,
        )


def _answer(answer: service.Answer, principal: Principal) -> Response:
    return Response(
        views.for_caller(answer.body, principal.can_see_pii),
        status_code=answer.status_code,
        media_type="application/json",
        headers={"Location": f"/v1/medical/settlements/{answer.settlement_id}"},
    )


def _shown(settlement: Settlement, principal: Principal) -> Settlement:
    if principal.can_see_pii:
        return settlement
    return settlement.model_copy(update={"resident_id": mask_resident_id(settlement.resident_id)})


@router.post(
    "/settlements",
    status_code=status.HTTP_201_CREATED,
    response_model=Settlement,
    responses=problem_responses(409),
)
async def create_settlement(
    body: SettlementClaim,
    request: Request,
    # Two statements that each commit on their own (see settlement.repository),
    # not a request-long transaction.
    database: Autocommit,
    principal: Settler,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Settle a claim across every payer in one call (one-stop settlement).

    Splits the claim's total cost between basic medical insurance, critical-illness
    insurance, medical assistance and the health poverty-relief top-up, leaving the
    personal payment; the parts add up to the total exactly. Parameters come from the
    policy set in force for the patient's district and the discharge year; the
    patient's category from the register on the discharge date; the year-to-date sums
    from this service's own ledger, which the settlement moves in the same transaction.

    - Only a `medical_institution` token settles, and only its own claims
      (`institution_code` must be the token's `institution`; 403 otherwise).
    - The patient must be in the district's register: an unknown `resident_id` is 422
      (a patient from elsewhere is settled by their own district's system).
    - The same `Idempotency-Key` gives the first answer again (same status and body);
      the same key with another request is 422. A claim number already settled by the
      institution gives that answer again when the request is the same, 409 when not:
      a correction is a reversal plus a claim under a new number.
    """
    answer = await service.settle(database, principal, body, idempotency_key, _request_id(request))
    if answer.replayed and principal.can_see_pii:  # no connection taken otherwise
        async with database.connection() as connection:
            await _record_pii_read(connection, request, principal, answer.settlement_id)
    return _answer(answer, principal)


@router.post(
    "/settlements/{settlement_id}/reversal",
    response_model=Settlement,
    responses=problem_responses(404, 409),
)
async def reverse_settlement(
    settlement_id: uuid.UUID,
    body: SettlementReversalInput,
    request: Request,
    session: Session,
    principal: Reverser,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Undo a settlement and its year-to-date effects; a correction is this plus a new claim."""
    answer = await service.reverse(
        session, principal, settlement_id, body, idempotency_key, _request_id(request)
    )
    if answer.replayed:
        await _record_pii_read(session, request, principal, answer.settlement_id)
    return _answer(answer, principal)


@router.get("/settlements/{settlement_id}", responses=problem_responses(404))
async def get_settlement(
    settlement_id: uuid.UUID, request: Request, database: ReadDatabase, principal: SettlementReader
) -> Settlement:
    """One settlement, with what applied and its reversal if any."""
    async with database.connection() as connection:
        settlement = await service.get(connection, principal, settlement_id)
        await _record_pii_read(connection, request, principal, settlement_id)
    return _shown(settlement, principal)


@router.get("/settlements", responses=problem_responses())
async def list_settlements(
    request: Request,
    database: ReadDatabase,
    principal: SettlementReader,
    resident_id: Annotated[
        ResidentIdNumber | None, Query(description="One patient's settlements.")
    ] = None,
    institution: Annotated[
        str | None, Query(max_length=40, description="One institution's settlements.")
    ] = None,
    discharged_from: Annotated[date | None, Query(description="Discharged on or after.")] = None,
    discharged_to: Annotated[date | None, Query(description="Discharged on or before.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Settlement]:
    """List settlements by discharge date: a patient's, an institution's, or a division's."""
    after = _after(cursor)
    scope: str | None = principal.division
    if principal.has_role(Role.medical_institution):
        # An institution reads its own settlements, wherever its patients live.
        if principal.institution is None or institution not in (None, principal.institution):
            return Page[Settlement](items=[])
        scope, institution = None, principal.institution
    filters = repository.SettlementFilter(
        scope=scope,
        institution_code=institution,
        resident_id=resident_id,
        discharged_from=discharged_from,
        discharged_to=discharged_to,
    )
    async with database.connection() as connection:
        rows = await repository.page(connection, filters, after, limit)
        if rows:
            shown = [str(r["id"]) for r in rows[:limit]]
            await _record_pii_read(connection, request, principal, "list", {"ids": shown})
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor({"on": last["discharged_on"].isoformat(), "id": last["id"]})
    items = [_shown(s, principal) for s in service.present(rows[:limit])]
    return Page[Settlement](items=items, next_cursor=next_cursor)


def _after(cursor: str | None) -> tuple[date, uuid.UUID] | None:
    if not cursor:
        return None
    key = decode_cursor(cursor)
    try:
        return date.fromisoformat(str(key["on"])), uuid.UUID(str(key["id"]))
    except (KeyError, ValueError):
        raise Unprocessable(
            errors=[field_error("cursor", "not a valid cursor", "cursor_invalid", "query")]
        ) from None


@stats_router.get("/medical", responses=problem_responses(404))
async def medical_stats(
    database: ReadDatabase,
    principal: Reader,
    division: Annotated[
        DivisionCode | None, Query(description="Default: the caller's division.")
    ] = None,
    month: Annotated[
        str | None,
        Query(pattern=_MONTH, description="Discharge month, YYYY-MM.", examples=["2020-05"]),
    ] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Discharge year.")] = None,
) -> MedicalStats:
    """Settlements by division and month, personal shares, and the 10% cap check (S3)."""
    code = division or principal.division
    if not principal.covers(code):
        raise NotFound(f"division {code} not found")
    period = _period(month, year)
    async with database.connection() as connection:
        rows, total = await repository.stats(connection, code, period)
    return MedicalStats(
        division_code=code,
        month=month,
        year=year,
        rows=[MedicalStatsRow.model_validate(dict(r)) for r in rows],
        total=MedicalStatsRow.model_validate({**total, "division_code": code, "month": month}),
    )


def _period(month: str | None, year: int | None) -> repository.StatsPeriod:
    if month is not None:
        first = date(int(month[:4]), int(month[5:]), 1)
        if year is not None and year != first.year:
            raise Unprocessable(
                errors=[field_error("year", "not the month's year", "year_mismatch", "query")]
            )
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return repository.StatsPeriod(first, following)
    if year is not None:
        return repository.StatsPeriod(date(year, 1, 1), date(year + 1, 1, 1))
    return repository.StatsPeriod(None, None)
