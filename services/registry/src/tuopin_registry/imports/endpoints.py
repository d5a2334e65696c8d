"""Ledger imports: upload a town's spreadsheet, get a report on every row, commit it whole."""

from __future__ import annotations

import asyncio
import re
import uuid
from functools import partial
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry.access import Editor, record
from tuopin_registry.imports import jobs
from tuopin_registry.imports.models import ImportJobRow
from tuopin_registry.imports.service import ImportOptions, mask_report, run_import
from tuopin_registry.imports.service import count as count_import
from tuopin_registry.imports.sources import (
    LedgerFile,
    LedgerFileError,
    detect_format,
    estimate_rows,
    open_ledger,
    spool,
    temporary_path,
)
from tuopin_registry.imports.templates import Language, template_file, template_xlsx
from tuopin_shared.contracts.imports import (
    ImportJob,
    ImportMode,
    ImportReport,
)
from tuopin_shared.contracts.problems import FieldError, Problem
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.database import after_commit, driver
from tuopin_shared.kit.errors import (
    PROBLEM_JSON,
    NotFound,
    TuopinError,
    Unprocessable,
    field_error,
    problem_responses,
)
from tuopin_shared.kit.http import Session

router = APIRouter(prefix="/v1/imports", tags=["imports"])

# Files of up to this many data rows are imported within the request and answered
# with the report (a few seconds at most); larger ones become a job to poll.
INLINE_MAX_ROWS = 5_000

_XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PII_COLUMNS = frozenset({"resident_id", "phone", "disability_certificate_no"})


class ImportRefused(TuopinError):
    status, slug, title = 422, "import-refused", "The file has errors; nothing was written"


def _file_problem(error: LedgerFileError) -> Unprocessable:
    errors = [field_error("file", f"unknown column: {h}", "unknown_column") for h in error.unknown]
    errors += [field_error("file", f"missing column: {h}", "missing_column") for h in error.missing]
    errors += [
        field_error("file", f"column given twice: {h}", "duplicate_column")
        for h in error.duplicated
    ]
    return Unprocessable(
        error.message,
        errors=errors or [field_error("file", error.message, error.code)],
        unknown_columns=error.unknown,
        missing_columns=error.missing,
    )


def _file_name(upload: UploadFile) -> str:
    # Browsers may send a whole client path; only its last part names the file.
    name = re.split(r"[\\/]", upload.filename or "")[-1].strip()
    return name[:255] or "ledger"


async def _driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The request's own database connection, inside its transaction, for COPY."""
    connection = await session.connection()
    # SQLAlchemy sends BEGIN with the first statement; the import then talks to the
    # driver directly and must find the transaction already open.
    await connection.exec_driver_sql("SELECT 1")
    return await driver(connection)


def _options(principal: Principal, request: Request, mode: ImportMode) -> ImportOptions:
    return ImportOptions(
        mode=mode,
        actor=principal.subject,
        roles=",".join(sorted(principal.roles)),
        scope=principal.division,
        can_see_pii=principal.can_see_pii,
        request_id=getattr(request.state, "request_id", None),
    )


@router.post(
    "",
    response_model=ImportReport,
    responses={
        **problem_responses(),
        202: {
            "model": ImportJob,
            "description": f"More than {INLINE_MAX_ROWS:,} rows: accepted as a job; poll"
            " the Location for its progress and report",
        },
        422: {
            "model": Problem,
            "content": {PROBLEM_JSON: {}},
            "description": "Not a CSV, XLSX or NDJSON ledger, empty, unknown or missing columns;"
            " or, to commit, rows with errors (the `report` extension lists them) and"
            " nothing written",
        },
    },
)
async def import_ledger(
    request: Request,
    background: BackgroundTasks,
    session: Session,
    principal: Editor,
    file: Annotated[
        UploadFile,
        File(
            description="The ledger: CSV (UTF-8 or GB18030), XLSX, or NDJSON (one object per"
            " line keyed by the column names, as `GET /v1/exports/ledger` writes it)."
        ),
    ],
    mode: Annotated[
        ImportMode,
        Form(description="validate: check every row, write nothing; commit: all or nothing."),
    ] = ImportMode.VALIDATE,
) -> Response:
    """Import a household ledger (one row per member): check every row, commit all or none."""
    name = _file_name(file)
    path = await asyncio.to_thread(temporary_path, ".ledger")
    owned_by_job = False
    try:
        _, line_breaks = await asyncio.to_thread(spool, file.file, path)
        ledger = LedgerFile(path, name, await asyncio.to_thread(detect_format, path, name))
        rows = await asyncio.to_thread(estimate_rows, ledger, line_breaks, INLINE_MAX_ROWS)
        if rows is not None and rows <= INLINE_MAX_ROWS:
            report = await run_import(
                await _driver_connection(session),
                ledger,
                _options(principal, request, mode),
                counted=False,
            )
            # Rows written in the request's transaction count once it has committed.
            if report.committed:
                after_commit(session, partial(count_import, report))
            else:
                count_import(report)
            if mode is ImportMode.COMMIT and not report.committed:
                raise ImportRefused(
                    f"{report.error_count} error{'s' if report.error_count != 1 else ''}"
                    " in the file; nothing was written",
                    errors=[
                        FieldError(
                            location="file",
                            field=f"rows.{e.row}.{e.column}" if e.column else f"rows.{e.row}",
                            message=e.message,
                            code=e.code,
                        )
                        for e in report.errors
                    ],
                    report=report.model_dump(mode="json"),
                )
            return JSONResponse(report.model_dump(mode="json"))
        # The header is checked before the job is accepted: a wrong file is refused at once.
        reader = await asyncio.to_thread(open_ledger, ledger)
        await asyncio.to_thread(reader.close)
        job = await jobs.create_job(
            session, principal, ledger, mode, rows, getattr(request.state, "request_id", None)
        )
        # Started once the response is on its way, hence after the job row has committed.
        background.add_task(jobs.jobs_of(request.app).launch, job.id, path)
        owned_by_job = True
        return JSONResponse(
            _job_view(job, principal).model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/v1/imports/{job.id}"},
        )
    except LedgerFileError as error:
        raise _file_problem(error) from None
    finally:
        if not owned_by_job:
            await asyncio.to_thread(path.unlink, missing_ok=True)


@router.get(
    "/template.csv",
    response_class=FileResponse,
    responses={**problem_responses(), 200: {"content": {"text/csv": {}}}},
)
async def get_ledger_template_csv(
    principal: Editor,
    language: Annotated[Language, Query(description="Headers in English or Chinese.")] = "en",
) -> FileResponse:
    """The ledger template as CSV (UTF-8 with a byte-order mark, as Excel expects)."""
    path = template_file(language)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=path.name)


@router.get(
    "/template.xlsx",
    response_class=Response,
    responses={**problem_responses(), 200: {"content": {_XLSX_TYPE: {}}}},
)
async def get_ledger_template_xlsx(
    principal: Editor,
    language: Annotated[Language, Query(description="Headers in English or Chinese.")] = "en",
) -> Response:
    """The ledger template as a workbook, with sheets explaining the columns and words."""
    content = await asyncio.to_thread(template_xlsx, language)
    suffix = "" if language == "en" else ".zh"
    return Response(
        content,
        media_type=_XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="ledger-template{suffix}.xlsx"'},
    )


def _job_view(job: ImportJobRow, principal: Principal) -> ImportJob:
    fields: dict[str, Any] = {c.key: getattr(job, c.key) for c in ImportJobRow.__table__.columns}
    report = ImportReport.model_validate(job.report) if job.report else None
    if report is not None and not principal.can_see_pii:
        report = mask_report(report)
    fields["report"] = report
    return ImportJob.model_validate(fields)


@router.get("/{import_id}", responses=problem_responses(404))
async def get_import(
    import_id: uuid.UUID, request: Request, session: Session, principal: Editor
) -> ImportJob:
    """A large import's progress and, once it has finished, its report."""
    job = await session.get(ImportJobRow, import_id)
    if job is None or not principal.covers(job.division_code):
        raise NotFound(f"import {import_id} not found")
    view = _job_view(job, principal)
    # Unmasked only when both the reader and the requester (who stored it) may see it.
    if (
        principal.can_see_pii
        and job.can_see_pii
        and view.report is not None
        and any(e.column in _PII_COLUMNS and e.value for e in view.report.errors)
    ):
        await record(session, request, principal, "read_pii", "import", import_id)
    return view
