"""Runs, their lines and totals; payment batches and the bank's files; a person's
ledger; entitlement statistics for monitoring."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse

from tuopin_benefits.access import Reader
from tuopin_benefits.runs import bank, idempotency, payments, repository, service
from tuopin_benefits.runs.access import Officer, record, scope_of
from tuopin_benefits.runs.idempotency import IdempotencyKey
from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.divisions import DivisionCode, division_contains, division_level
from tuopin_shared.contracts.enums import DivisionLevel
from tuopin_shared.contracts.identity import mask_resident_id
from tuopin_shared.contracts.pages import Page
from tuopin_shared.contracts.runs import (
    BankResultSummary,
    Batch,
    BatchCreate,
    DivisionTotal,
    Entitlement,
    EntitlementKind,
    EntitlementMonth,
    EntitlementStat,
    LedgerEntry,
    PersonLedger,
    Program,
    Run,
    RunCreate,
    RunStatus,
    RunTotals,
    TotalsLevel,
)
from tuopin_shared.kit.errors import (
    Forbidden,
    NotFound,
    Unprocessable,
    field_error,
    problem_responses,
)
from tuopin_shared.kit.http import ReadDatabase, Session
from tuopin_shared.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1")
runs = APIRouter(prefix="/runs", tags=["runs"])
batches = APIRouter(tags=["payments"])
stats = APIRouter(prefix="/stats", tags=["stats"])

_EXISTING: dict[int | str, dict[str, Any]] = {
    200: {"model": Run, "description": "A live run for the program, period and district exists"}
}
_PERIOD = Query(pattern=r"^[0-9]{4}(-Q[1-4])?$", description="`2020` or `2020-Q3`.")


def _settings(request: Request) -> BenefitsSettings:
    settings: BenefitsSettings = request.app.state.settings
    return settings


Settings = Annotated[BenefitsSettings, Depends(_settings)]


def _bad_cursor() -> Unprocessable:
    return Unprocessable(
        errors=[field_error("cursor", "not a valid cursor", "cursor_invalid", "query")]
    )


# ------------------------------------------------------------------ runs


@runs.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Run,
    responses={**_EXISTING, **problem_responses(404, 409)},
)
async def create_run(
    body: RunCreate,
    request: Request,
    session: Session,
    principal: Officer,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Create a run (draft); a live run for the same program, period and district is returned
    instead (200), and a retry with the same Idempotency-Key returns the first response."""
    if division_level(body.district) is not DivisionLevel.COUNTY:
        raise Unprocessable(
            errors=[field_error("district", "runs are made for a district", "not_a_district")]
        )
    if not principal.covers(body.district):
        raise NotFound(f"district {body.district} not found")
    digest = idempotency.request_hash("create_run", body)
    replay = await idempotency.claim(
        session, principal.subject, "create_run", idempotency_key, digest
    )
    if replay is not None:
        return JSONResponse(
            replay.body,
            status_code=replay.status_code,
            headers={"Location": f"/v1/runs/{replay.body['id']}"},
        )
    row, created = await service.create(session, principal, body)
    if created:
        await record(session, request, principal, "create", "run", row.id)
    content = service.run_view(row).model_dump(mode="json")
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    await idempotency.remember(
        session, principal.subject, "create_run", idempotency_key, code, content
    )
    return JSONResponse(content, status_code=code, headers={"Location": f"/v1/runs/{row.id}"})


@runs.get("", responses=problem_responses())
async def list_runs(
    session: Session,
    principal: Reader,
    program: Program | None = None,
    period: Annotated[str | None, _PERIOD] = None,
    district: DivisionCode | None = None,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Run]:
    """Runs the caller can see, newest first, a page at a time."""
    after = None
    if cursor:
        key = decode_cursor(cursor)
        try:
            after = (datetime.fromisoformat(str(key["at"])), uuid.UUID(str(key["id"])))
        except (KeyError, ValueError):
            raise _bad_cursor() from None
    filters = repository.RunFilter(
        scope=principal.division,
        program=program.value if program else None,
        period=period,
        district=district,
        status=status_.value if status_ else None,
    )
    ids = await repository.page_runs(session, filters, after, limit)
    rows = await service.get_many(session, ids[:limit])
    next_cursor = (
        encode_cursor({"at": rows[-1].created_at.isoformat(), "id": str(rows[-1].id)})
        if len(ids) > limit
        else None
    )
    return Page[Run](items=[service.run_view(r) for r in rows], next_cursor=next_cursor)


@runs.get("/{run_id}", responses=problem_responses(404))
async def get_run(run_id: uuid.UUID, session: Session, principal: Reader) -> Run:
    """A run: its status, figures, policy set and the inputs it was computed from."""
    return service.run_view(await service.get(session, principal, run_id))


@runs.post("/{run_id}/compute", responses=problem_responses(404, 409))
async def compute_run(
    run_id: uuid.UUID, request: Request, session: Session, principal: Officer, settings: Settings
) -> Run:
    """Compute (or recompute) a draft or computed run from the projection as it stands."""
    row = await service.compute(session, principal, run_id, settings)
    await record(session, request, principal, "compute", "run", row.id, {"lines": row.lines})
    return service.run_view(row)


@runs.post("/{run_id}/approve", responses=problem_responses(404, 409))
async def approve_run(
    run_id: uuid.UUID, request: Request, session: Session, principal: Officer
) -> Run:
    """Approve a computed run; not by the officer who created or computed it."""
    row = await service.approve(session, principal, run_id)
    await record(session, request, principal, "approve", "run", row.id)
    return service.run_view(row)


@runs.post("/{run_id}/cancel", responses=problem_responses(404, 409))
async def cancel_run(
    run_id: uuid.UUID, request: Request, session: Session, principal: Officer
) -> Run:
    """Cancel a run before any of it went to the bank; its lines are dropped."""
    row = await service.cancel(session, principal, run_id)
    await record(session, request, principal, "cancel", "run", row.id)
    return service.run_view(row)


def _months(months: list[Any] | None, amounts: list[Decimal] | None) -> list[EntitlementMonth]:
    return [
        EntitlementMonth(month=m, amount=a)
        for m, a in zip(months or [], amounts or [], strict=True)
    ]


@runs.get("/{run_id}/entitlements", responses=problem_responses(404))
async def list_entitlements(
    run_id: uuid.UUID,
    request: Request,
    session: Session,
    principal: Reader,
    division: Annotated[DivisionCode | None, Query(description="Only under this division.")] = None,
    kind: EntitlementKind | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Entitlement]:
    """A run's lines with their trace, in line order, a page at a time."""
    run = await service.get(session, principal, run_id)
    scope = scope_of(principal, run.district_code)
    if division is not None and not division_contains(scope, division):
        raise NotFound(f"division {division} not found")
    after = None
    if cursor:
        try:
            after = int(decode_cursor(cursor)["id"])
        except (KeyError, ValueError, TypeError):
            raise _bad_cursor() from None
    rows = await repository.page_entitlements(
        session, run.id, division or scope, kind.value if kind else None, after, limit
    )
    unmasked = principal.can_see_pii
    if unmasked and rows:
        await record(session, request, principal, "read_pii", "run_entitlements", run.id)
    items = [
        Entitlement(
            id=r["id"],
            run_id=r["run_id"],
            program=r["program"],
            period=r["period"],
            kind=r["kind"],
            year=r["year"],
            member_id=r["member_id"],
            household_id=r["household_id"],
            division_code=r["division_code"],
            name=r["name"],
            resident_id=(
                r["resident_id"]
                if unmasked or r["resident_id"] is None
                else mask_resident_id(r["resident_id"])
            ),
            amount=r["amount"],
            months=_months(r["months"], r["month_amounts"]),
            rule=r["rule"],
            policy_set_id=r["policy_set_id"],
            policy_version=r["policy_version"],
            inputs=r["inputs"],
            status=r["status"],
        )
        for r in rows[:limit]
    ]
    next_cursor = encode_cursor({"id": rows[limit - 1]["id"]}) if len(rows) > limit else None
    return Page[Entitlement](items=items, next_cursor=next_cursor)


def _total(division_code: str, rows: list[dict[str, Any]]) -> DivisionTotal:
    return DivisionTotal(
        division_code=division_code,
        persons=sum(r["persons"] for r in rows),
        lines=sum(r["lines"] for r in rows),
        payable_amount=sum((r["payable_amount"] for r in rows), Decimal(0)),
        recovery_amount=sum((r["recovery_amount"] for r in rows), Decimal(0)),
        paid_amount=sum((r["paid_amount"] for r in rows), Decimal(0)),
    )


@runs.get("/{run_id}/totals", responses=problem_responses(404))
async def get_run_totals(
    run_id: uuid.UUID,
    session: Session,
    principal: Reader,
    level: TotalsLevel = TotalsLevel.VILLAGE,
) -> RunTotals:
    """A run's persons, lines and amounts by division (village, town or district)."""
    run = await service.get(session, principal, run_id)
    scope = scope_of(principal, run.district_code)
    rows = await repository.totals(session, run.id, scope, level)
    return RunTotals(
        run_id=run.id,
        level=level,
        divisions=[_total(r["division_code"], [r]) for r in rows],
        total=_total(scope, rows),
    )


# ------------------------------------------------------------------ payments


@batches.post(
    "/batches",
    status_code=status.HTTP_201_CREATED,
    response_model=Batch,
    responses=problem_responses(404, 409),
)
async def create_batch(
    body: BatchCreate,
    request: Request,
    session: Session,
    principal: Officer,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Put an approved run's payable lines that are neither paid nor in an open batch
    into a new batch for the bank; a retry with the same Idempotency-Key returns it."""
    digest = idempotency.request_hash("create_batch", body)
    replay = await idempotency.claim(
        session, principal.subject, "create_batch", idempotency_key, digest
    )
    if replay is not None:
        return JSONResponse(
            replay.body,
            status_code=replay.status_code,
            headers={"Location": f"/v1/batches/{replay.body['id']}"},
        )
    batch_id = await payments.create_batch(session, principal, body.run_id)
    await record(session, request, principal, "create", "payment_batch", batch_id)
    content = payments.batch_view(await payments.batch_row(session, principal, batch_id))
    dumped = content.model_dump(mode="json")
    await idempotency.remember(
        session, principal.subject, "create_batch", idempotency_key, 201, dumped
    )
    return JSONResponse(dumped, status_code=201, headers={"Location": f"/v1/batches/{batch_id}"})


@batches.get("/batches/{batch_id}", responses=problem_responses(404))
async def get_batch(batch_id: uuid.UUID, session: Session, principal: Reader) -> Batch:
    """A batch and how far the bank has answered it."""
    return payments.batch_view(await payments.batch_row(session, principal, batch_id))


@batches.get(
    "/batches/{batch_id}/bank-file",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The payment file: " + ", ".join(bank.PAYMENT_COLUMNS),
        },
        **problem_responses(404),
    },
)
async def download_bank_file(
    batch_id: uuid.UUID,
    request: Request,
    session: Session,
    database: ReadDatabase,
    principal: Officer,
) -> StreamingResponse:
    """The batch's payment file for the bank, with unmasked resident IDs (needs pii)."""
    batch = await payments.batch_row(session, principal, batch_id)
    if not principal.can_see_pii:
        raise Forbidden("the bank file carries resident ID numbers: it needs the pii right")
    await record(session, request, principal, "read_pii", "payment_batch", batch["id"])

    async def content() -> Any:
        async with database.connection() as connection:
            async for chunk in payments.bank_file(connection, batch["id"]):
                yield chunk

    return StreamingResponse(
        content(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch["id"]}.csv"'},
    )


@batches.post(
    "/batches/{batch_id}/bank-result",
    responses=problem_responses(404, 409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "CSV with the header " + ",".join(bank.RESULT_COLUMNS),
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def upload_bank_result(
    batch_id: uuid.UUID, request: Request, session: Session, principal: Officer
) -> BankResultSummary:
    """Record the bank's result file: lines paid or failed. Sending it again changes
    nothing; failed lines go into the next batch."""
    batch = await payments.batch_row(session, principal, batch_id, for_update=True)
    results, errors = bank.parse_results(await request.body())
    if errors:
        count = len(errors)
        raise Unprocessable(
            f"the result file has {count} problem{'s' if count != 1 else ''}", errors=errors[:100]
        )
    applied, run_status = await payments.apply_results(session, batch, results)
    await record(
        session,
        request,
        principal,
        "bank_result",
        "payment_batch",
        batch["id"],
        {"lines": len(results), "applied": applied},
    )
    return BankResultSummary(
        batch=payments.batch_view(await payments.batch_row(session, principal, batch_id)),
        applied=applied,
        unchanged=len(results) - applied,
        run_status=run_status,
    )


@batches.get("/persons/{member_id}/payments", responses=problem_responses(404))
async def get_person_payments(
    member_id: uuid.UUID, session: Session, principal: Reader
) -> PersonLedger:
    """A person's ledger: every line found owed or to recover, and what was paid."""
    division = await repository.person_division(session, member_id)
    if division is None or not principal.covers(division):
        raise NotFound(f"person {member_id} not found")
    rows = await repository.ledger(session, member_id)
    entries = [
        LedgerEntry(
            line_id=r["line_id"],
            run_id=r["run_id"],
            run_status=r["run_status"],
            program=r["program"],
            period=r["period"],
            kind=r["kind"],
            year=r["year"],
            months=_months(r["months"], r["month_amounts"]),
            amount=r["amount"],
            status=r["status"],
            batch_id=r["batch_id"],
            bank_reference=r["bank_reference"],
            paid_at=r["paid_at"],
        )
        for r in rows
    ]
    return PersonLedger(
        member_id=member_id,
        entries=entries,
        entitled_amount=sum((e.amount for e in entries if e.amount > 0), Decimal(0)),
        paid_amount=sum((e.amount for e in entries if e.status == "paid"), Decimal(0)),
        recovery_amount=sum((e.amount for e in entries if e.amount < 0), Decimal(0)),
    )


# ------------------------------------------------------------------ statistics


@stats.get("/entitlements", responses=problem_responses(404))
async def get_entitlement_stats(
    session: Session,
    principal: Reader,
    program: Program | None = None,
    period: Annotated[str | None, _PERIOD] = None,
    division: Annotated[
        DivisionCode | None, Query(description="Under this division (default: the caller's).")
    ] = None,
    level: Annotated[
        TotalsLevel, Query(description="Division level the figures are grouped by.")
    ] = TotalsLevel.VILLAGE,
) -> list[EntitlementStat]:
    """Eligible and paid persons and amounts by program, period and division, from
    approved and paid runs."""
    scope = division or principal.division
    if not principal.covers(scope):
        raise NotFound(f"division {scope} not found")
    rows = await repository.stats(session, scope, level, program.value if program else None, period)
    return [EntitlementStat.model_validate(r) for r in rows]


router.include_router(runs)
router.include_router(batches)
router.include_router(stats)
