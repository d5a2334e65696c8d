"""Wire models of ledger imports: the report on a file's rows and the job that runs a large one."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tuopin_shared.contracts.divisions import DivisionCode

__all__ = [
    "ImportJob",
    "ImportMode",
    "ImportReport",
    "ImportRowError",
    "ImportStage",
    "ImportStatus",
    "LedgerFormat",
]

# A report lists at most this many errors (the first, by row); it counts them all.
REPORTED_ERRORS = 1_000


class ImportMode(StrEnum):
    VALIDATE = "validate"  # a dry run: every check, nothing written
    COMMIT = "commit"  # all or nothing: one bad row and nothing is written


class LedgerFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    NDJSON = "ndjson"  # one JSON object per line, keyed by the column names


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # validated without errors, or committed
    FAILED = "failed"  # the file has errors (see the report) or could not be read (detail)
    INTERRUPTED = "interrupted"  # the service stopped while it ran; nothing was written


class ImportStage(StrEnum):
    READING = "reading"  # parsing rows and staging them
    CHECKING = "checking"  # the checks across the file and against the register
    WRITING = "writing"  # inserting households, members, history and change events


class ImportRowError(BaseModel):
    """One bad cell or row of a ledger."""

    row: int = Field(
        description="Row number as a spreadsheet shows it, the header being row 1;"
        " in an NDJSON file, the line number."
    )
    column: str | None = Field(
        description="The column's English name; null when the error is about the whole row."
    )
    header: str | None = Field(description="The column's header as written in the file.")
    value: str | None = Field(
        description="The cell's value; resident ID, phone and certificate numbers are masked"
        " unless the caller holds the pii permission."
    )
    message: str
    code: str = Field(description="Machine-readable reason, e.g. invalid_resident_id.")


class ImportReport(BaseModel):
    """What an import found in a file and, for a commit, what it wrote."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "import_id": "3f2a0c1e-8a4b-4e0f-9a51-2b7d4c6e8f10",
                    "mode": "validate",
                    "file_name": "aiye-2020.csv",
                    "format": "csv",
                    "rows": 3,
                    "households": 1,
                    "valid": False,
                    "committed": False,
                    "households_created": 0,
                    "members_created": 0,
                    "error_count": 1,
                    "error_counts": {"invalid_resident_id": 1},
                    "errors": [
                        {
                            "row": 3,
                            "column": "resident_id",
                            "header": "身份证号",
                            "value": "510303********1230",
                            "message": "check character should be '7', got '0'",
                            "code": "invalid_resident_id",
                        }
                    ],
                    "errors_truncated": False,
                    "elapsed_seconds": 0.12,
                }
            ]
        }
    )

    import_id: uuid.UUID
    mode: ImportMode
    file_name: str
    format: LedgerFormat
    rows: int = Field(description="Data rows read (blank rows are skipped).")
    households: int = Field(description="Distinct household numbers in the file.")
    valid: bool = Field(description="True when no row has an error.")
    committed: bool = Field(description="True when the rows were written to the register.")
    households_created: int
    members_created: int
    error_count: int
    error_counts: dict[str, int] = Field(description="Errors by code.")
    errors: list[ImportRowError] = Field(
        description=f"The first {REPORTED_ERRORS:,} errors, by row and column."
    )
    errors_truncated: bool = Field(description="True when more errors were found than listed.")
    elapsed_seconds: float


class ImportJob(BaseModel):
    """A large file's import, run in the background; poll it for progress and the report."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: ImportStatus
    stage: ImportStage | None
    mode: ImportMode
    format: LedgerFormat
    file_name: str
    created_by: str
    division_code: DivisionCode = Field(description="The division the import was scoped to.")
    rows_total: int | None = Field(description="Data rows in the file, estimated until read.")
    rows_done: int = Field(description="Data rows read so far.")
    error_count: int
    households_created: int
    members_created: int
    detail: str | None = Field(description="Why the job failed, when not for its rows.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    report: ImportReport | None = Field(description="Set when the job has finished.")
