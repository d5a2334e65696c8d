"""Wire models of the benefits service's runs: entitlements computed for a program and
period, their approval, payment batches and the bank's results, a person's ledger and
the figures monitoring reads."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.money import Money, NonNegativeMoney

__all__ = [
    "ARREARS_MONTHS_MAX",
    "YEARLY_PROGRAMS",
    "BankResultSummary",
    "Batch",
    "BatchCreate",
    "BatchStatus",
    "DivisionTotal",
    "Entitlement",
    "EntitlementKind",
    "EntitlementMonth",
    "EntitlementStat",
    "LedgerEntry",
    "LineStatus",
    "PaymentStatus",
    "PersonLedger",
    "Program",
    "Run",
    "RunCreate",
    "RunInputs",
    "RunStatus",
    "RunTotals",
    "TotalsLevel",
]


class Program(StrEnum):
    """What a run computes (POLICY.md)."""

    PENSION = "pension"  # 城乡居民基本养老保险代缴: yearly, per person
    NURSING_SUBSIDY = "nursing_subsidy"  # 重度残疾人护理补贴: by month, paid quarterly
    LIVING_SUBSIDY = "living_subsidy"  # 困难残疾人生活补贴: by month, paid quarterly


YEARLY_PROGRAMS = frozenset({Program.PENSION})


class RunStatus(StrEnum):
    """draft → computed → approved → paid; cancelled from any state before paid."""

    DRAFT = "draft"
    COMPUTED = "computed"
    APPROVED = "approved"
    PAID = "paid"
    CANCELLED = "cancelled"


class EntitlementKind(StrEnum):
    DUE = "due"  # the run's own period
    ARREARS = "arrears"  # earlier months now found owed and not yet paid
    RECOVERY = "recovery"  # earlier months paid but now found not owed (negative)


class PaymentStatus(StrEnum):
    PENDING = "pending"  # in an open batch, waiting for the bank's result
    PAID = "paid"
    FAILED = "failed"


class BatchStatus(StrEnum):
    OPEN = "open"  # some lines wait for the bank's result
    CLOSED = "closed"  # every line has a result


class LineStatus(StrEnum):
    """Where an entitlement line stands in payment."""

    UNPAID = "unpaid"
    IN_BATCH = "in_batch"
    PAID = "paid"
    FAILED = "failed"  # the last attempt failed; the next batch takes it again
    TO_RECOVER = "to_recover"  # a recovery: money to be taken back, never paid out


class TotalsLevel(StrEnum):
    DISTRICT = "district"
    TOWN = "town"
    VILLAGE = "village"


# A program runs up to five years of arrears at most: older claims go to a review.
ARREARS_MONTHS_MAX = 60

_PERIOD = re.compile(r"([0-9]{4})(?:-Q([1-4]))?")

Period = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}(-Q[1-4])?$",
        description="A year (`2020`) for pension, a quarter (`2020-Q3`) for the subsidies.",
        examples=["2020", "2020-Q3"],
    ),
]


class RunCreate(BaseModel):
    """A run of one program for one period and district; computing it is a separate step."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"program": "pension", "period": "2020", "district": "510303"},
                {"program": "nursing_subsidy", "period": "2020-Q3", "district": "510303"},
            ]
        },
    )

    program: Program
    period: Period
    district: DivisionCode
    arrears_from: date | None = Field(
        default=None,
        description="Subsidies only: the first month (its first day) whose arrears and"
        " recoveries the run settles; by default 1 January of the period's year.",
        examples=["2020-01-01"],
    )

    @field_validator("period")
    @classmethod
    def _period_fits_program(cls, value: str, info: ValidationInfo) -> str:
        match = _PERIOD.fullmatch(value)
        if match is None:  # the pattern has refused it already
            return value
        year = int(match.group(1))
        if not 2000 <= year <= 2100:
            raise ValueError("the year must be between 2000 and 2100")
        program = info.data.get("program")
        if program in YEARLY_PROGRAMS and match.group(2) is not None:
            raise ValueError(f"the {program} program runs by year, such as {year}")
        if program is not None and program not in YEARLY_PROGRAMS and match.group(2) is None:
            raise ValueError(f"the {program} program runs by quarter, such as {year}-Q3")
        return value

    @field_validator("arrears_from")
    @classmethod
    def _arrears_from_in_range(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return value
        program, period = info.data.get("program"), info.data.get("period")
        if program in YEARLY_PROGRAMS:
            raise ValueError("a yearly program has no arrears window")
        if value.day != 1:
            raise ValueError("must be the first day of a month")
        match = _PERIOD.fullmatch(period or "")
        if match is None or match.group(2) is None:
            return value
        year, quarter = int(match.group(1)), int(match.group(2))
        starts = date(year, 3 * quarter - 2, 1)
        if value > starts:
            raise ValueError(f"must not be after the quarter's first month ({starts})")
        if (starts.year - value.year) * 12 + starts.month - value.month > ARREARS_MONTHS_MAX:
            raise ValueError(f"reaches back more than {ARREARS_MONTHS_MAX} months")
        return value


class RunInputs(BaseModel):
    """What the run computed from: the projection of the registry and how fresh it was."""

    feed_position: str | None = Field(description="Registry feed position the projection was at.")
    as_of: datetime | None = Field(description="When the projection last heard from the registry.")
    age_seconds: int | None = Field(description="How old the projection was when computed.")
    stale: bool = Field(description="Older than the service accepts as current.")
    note: str = Field(description="The same, for people: 'inputs as of …'.")


class Run(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    program: Program
    period: str
    district: DivisionCode
    status: RunStatus
    arrears_from: date | None
    policy_set_id: uuid.UUID | None = Field(description="Policy set of the period's year.")
    policy_version: int | None
    inputs: RunInputs | None = Field(description="Null until computed.")
    persons: int = Field(description="People with at least one line.")
    lines: int
    payable_amount: NonNegativeMoney = Field(description="Sum of the due and arrears lines.")
    recovery_amount: Money = Field(description="Sum of the recovery lines (zero or negative).")
    paid_amount: NonNegativeMoney
    created_by: str
    created_at: datetime
    computed_by: str | None
    computed_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    paid_at: datetime | None


class EntitlementMonth(BaseModel):
    month: date = Field(description="First day of the month.")
    amount: Money


class Entitlement(BaseModel):
    """One line: what a person is owed (or owes back) for a program, with its trace."""

    id: int = Field(description="The line id (also in the bank file).")
    run_id: uuid.UUID
    program: Program
    period: str
    kind: EntitlementKind
    year: int = Field(description="Year of the months covered (the policy set's year).")
    member_id: uuid.UUID
    household_id: uuid.UUID
    division_code: DivisionCode
    name: str | None
    resident_id: str | None = Field(description="Masked unless the caller has the pii right.")
    amount: Money
    months: list[EntitlementMonth] = Field(description="Empty for yearly programs.")
    rule: str
    policy_set_id: uuid.UUID
    policy_version: int
    inputs: dict[str, Any] = Field(description="The projected facts the rule was applied to.")
    status: LineStatus


class DivisionTotal(BaseModel):
    division_code: DivisionCode
    persons: int
    lines: int
    payable_amount: NonNegativeMoney
    recovery_amount: Money
    paid_amount: NonNegativeMoney


class RunTotals(BaseModel):
    run_id: uuid.UUID
    level: TotalsLevel
    divisions: list[DivisionTotal]
    total: DivisionTotal = Field(description="Over the caller's part of the run.")


class BatchCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"run_id": "0b5e0a4e-4f5c-4d8e-9a43-2f8d1b9e6c11"}]},
    )

    run_id: uuid.UUID


class Batch(BaseModel):
    """Payable lines sent to the bank together; a failed line goes into a later batch."""

    id: uuid.UUID
    run_id: uuid.UUID
    status: BatchStatus
    lines: int
    amount: NonNegativeMoney
    pending_lines: int
    paid_lines: int
    paid_amount: NonNegativeMoney
    failed_lines: int
    created_by: str
    created_at: datetime
    closed_at: datetime | None


class BankResultSummary(BaseModel):
    batch: Batch
    applied: int = Field(description="Lines whose result was recorded by this upload.")
    unchanged: int = Field(description="Lines that already had the same result.")
    run_status: RunStatus


class LedgerEntry(BaseModel):
    line_id: int
    run_id: uuid.UUID
    run_status: RunStatus
    program: Program
    period: str
    kind: EntitlementKind
    year: int
    months: list[EntitlementMonth]
    amount: Money
    status: LineStatus
    batch_id: uuid.UUID | None = Field(description="Batch of the latest payment attempt.")
    bank_reference: str | None
    paid_at: datetime | None


class PersonLedger(BaseModel):
    """Everything a person was found owed, paid or asked to pay back, across programs."""

    member_id: uuid.UUID
    entries: list[LedgerEntry]
    entitled_amount: NonNegativeMoney = Field(description="Due and arrears lines.")
    paid_amount: NonNegativeMoney
    recovery_amount: Money


class EntitlementStat(BaseModel):
    """Monitoring figures for one program, period and division (approved and paid runs)."""

    program: Program
    period: str
    division_code: DivisionCode
    eligible_persons: int = Field(description="People with a due or arrears line.")
    paid_persons: int = Field(description="People with at least one line paid.")
    entitled_amount: NonNegativeMoney
    paid_amount: NonNegativeMoney
    recovery_amount: Money
