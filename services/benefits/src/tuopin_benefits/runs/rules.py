"""Who is owed what under POLICY.md: pure functions over the projected facts.

They explain a single person's entitlement and are the reference the set-based
SQL of ``queries`` is tested against: both must give the same answer.

What the projection can and cannot tell
---------------------------------------
The projection keeps each person's *current* facts and each household's status
history. Only these dates are known: the birth date, the date of death, the
date of the current disability certificate and the effective date of each
status change. Hence:

- A disability grade counts from the first month after its certificate date. A
  grade change comes with a new certificate, so the new grade takes effect from
  the new certificate's date; what the person held before is not known. Months
  before the current certificate are therefore *not known*: what was paid for
  them stands (no recovery) and nothing more is paid for them (no arrears). A
  grade without a certificate date does not count until the date is recorded.
- Flags without a date (dibao, tekun, work-injury care allowance, school stage,
  pension schemes) are taken as holding for every month and year the run looks
  at. A flag set late changes every month of the arrears window; the recovery
  lines this can raise carry their inputs and wait for a second officer's
  approval.
- A household with no status history is taken to have held its current status
  throughout.
- A person is counted in the household (and district) they belong to now.

Readings of POLICY.md
---------------------
- "Registered poor" is a household status of registered_poor,
  returned_to_poverty or newly_impoverished; lifted_out counts too while the
  transition parameter (``pension.lifted_out_keep_policy``) is on. It is the
  same reading for the living subsidy's registered-poor extension. monitored
  (edge households and unstable lifted-out ones) does not count by itself.
- A full-time student is one in senior secondary, secondary vocational, higher
  vocational, undergraduate or graduate education: the stages beyond
  compulsory schooling at which the pension age can be reached. Primary and
  junior secondary pupils are below the pension age anyway.
- "Alive on 1 Jan": not dead before it (someone who dies on 1 January is
  counted).
- The month of death, and the month in which a status is lost, are still
  owed, whatever the day; eligibility starts the month after a certificate or
  status date, even when the date is the first of a month.
- A person's own dibao flag makes theirs a dibao household.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.enums import PovertyStatus, SchoolStage
from tuopin_shared.contracts.money import round_fen
from tuopin_shared.contracts.runs import EntitlementKind, Program

FULL_TIME_STUDENT = frozenset(
    {
        SchoolStage.SENIOR_SECONDARY.value,
        SchoolStage.SECONDARY_VOCATIONAL.value,
        SchoolStage.HIGHER_VOCATIONAL.value,
        SchoolStage.UNDERGRADUATE.value,
        SchoolStage.GRADUATE.value,
    }
)
REGISTERED_POOR = frozenset(
    {
        PovertyStatus.REGISTERED_POOR.value,
        PovertyStatus.RETURNED_TO_POVERTY.value,
        PovertyStatus.NEWLY_IMPOVERISHED.value,
    }
)
NURSING_GRADES = (1, 2)

# Rule identifiers written on every line: what a line was computed by.
RULES = {
    Program.PENSION: "pension_contribution.v1",
    Program.NURSING_SUBSIDY: "nursing_subsidy.v1",
    Program.LIVING_SUBSIDY: "living_subsidy.v1",
}


def poor_statuses(params: PolicyParameters) -> frozenset[str]:
    """Household statuses that count as registered poor under ``params``."""
    if params.pension.lifted_out_keep_policy:
        return REGISTERED_POOR | {PovertyStatus.LIFTED_OUT.value}
    return REGISTERED_POOR


# ------------------------------------------------------------------ periods


@dataclass(frozen=True, order=True)
class Period:
    year: int
    quarter: int | None = None

    def __str__(self) -> str:
        return f"{self.year}" if self.quarter is None else f"{self.year}-Q{self.quarter}"

    @property
    def first_month(self) -> date:
        return date(self.year, 1 if self.quarter is None else 3 * self.quarter - 2, 1)

    @property
    def last_month(self) -> date:
        return date(self.year, 12 if self.quarter is None else 3 * self.quarter, 1)


_PERIOD = re.compile(r"([0-9]{4})(?:-Q([1-4]))?")


def parse_period(text: str) -> Period:
    match = _PERIOD.fullmatch(text)
    if match is None:
        raise ValueError(f"not a period such as 2020 or 2020-Q3: {text!r}")
    return Period(int(match.group(1)), int(match.group(2)) if match.group(2) else None)


def month_after(day: date) -> date:
    """First day of the month after the one ``day`` falls in."""
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def month_of(day: date) -> date:
    return day.replace(day=1)


def months_between(first: date, last: date) -> list[date]:
    """First days of the months from ``first`` to ``last``, both included."""
    months, month = [], month_of(first)
    while month <= last:
        months.append(month)
        month = month_after(month)
    return months


# ------------------------------------------------------------------ facts


@dataclass(frozen=True)
class PersonFacts:
    """A person as the projection holds them, with the household's current status."""

    member_id: uuid.UUID
    birth_date: date
    deceased_on: date | None
    disability_grade: int | None
    disability_certified_on: date | None
    school_stage: str
    resident_pension_enrolled: bool
    employee_pension_enrolled: bool
    dibao: bool
    tekun: bool
    work_injury_care_allowance: bool
    household_status: str


@dataclass(frozen=True)
class StatusChange:
    status: str
    effective_on: date
    id: int = 0  # orders changes with the same date, as the registry recorded them


@dataclass(frozen=True)
class StatusPeriod:
    """A status held from ``starts_on`` (None: since before anything recorded) up to,
    not including, ``ends_on`` (None: still held)."""

    status: str
    starts_on: date | None
    ends_on: date | None


def status_periods(changes: Iterable[StatusChange], current_status: str) -> list[StatusPeriod]:
    """A household's history as periods; a change superseded on its own day held no day."""
    ordered = sorted(changes, key=lambda c: (c.effective_on, c.id))
    if not ordered:
        return [StatusPeriod(current_status, None, None)]
    periods = []
    for change, following in zip(ordered, [*ordered[1:], None], strict=True):
        ends_on = following.effective_on if following is not None else None
        if ends_on is None or ends_on > change.effective_on:
            periods.append(StatusPeriod(change.status, change.effective_on, ends_on))
    return periods


# ------------------------------------------------------------------ pension


def pension_eligible(
    person: PersonFacts,
    household_status_history: Sequence[StatusChange],
    params: PolicyParameters,
    year: int,
) -> tuple[bool, list[str]]:
    """Whether the pension contribution is paid for ``person`` in ``year``, and why.

    Eligible: the reasons are the grounds found; not eligible: every condition failed.
    """
    pension = params.pension
    first_day, last_day = date(year, 1, 1), date(year, 12, 31)
    refusals: list[str] = []
    # Turns age_min by 31 Dec; not yet age_max + 1 on 1 Jan. Written on birth dates,
    # so 29 February needs no special case.
    if person.birth_date > date(year - pension.age_min, 12, 31):
        refusals.append(f"does not turn {pension.age_min} by 31 December {year}")
    if person.birth_date <= date(year - pension.age_max - 1, 1, 1):
        refusals.append(f"is {pension.age_max + 1} or older on 1 January {year}")
    if person.deceased_on is not None and person.deceased_on < first_day:
        refusals.append(f"died before 1 January {year}")
    if person.school_stage in FULL_TIME_STUDENT:
        refusals.append(f"full-time student ({person.school_stage})")
    if person.employee_pension_enrolled:
        refusals.append("in the employee pension scheme")
    if not person.resident_pension_enrolled:
        refusals.append("not enrolled in the resident basic pension")

    grounds: list[str] = []
    poor = poor_statuses(params)
    for period in status_periods(household_status_history, person.household_status):
        overlaps = (period.starts_on is None or period.starts_on <= last_day) and (
            period.ends_on is None or period.ends_on > first_day
        )
        if overlaps and period.status in poor:
            grounds.append(f"household {period.status} in {year}")
    if person.dibao:
        grounds.append("dibao")
    if person.tekun:
        grounds.append("tekun")
    if (
        person.disability_grade in pension.disability_grades
        and person.disability_certified_on is not None
        and person.disability_certified_on <= last_day
    ):
        grounds.append(f"disability grade {person.disability_grade}")
    if not grounds:
        refusals.append(f"neither registered poor, dibao, tekun nor a qualifying grade in {year}")
    if refusals:
        return False, refusals
    return True, sorted(set(grounds))


# ------------------------------------------------------------------ subsidies


def month_amount(
    program: Program,
    person: PersonFacts,
    periods: Sequence[StatusPeriod],
    params: PolicyParameters,
    month: date,
) -> Decimal | None:
    """What the current facts say is owed for ``month`` (zero when nothing), or None
    when they cannot tell: the month is before the current certificate counts."""
    if program is Program.PENSION:
        raise ValueError("the pension is yearly, not by month")
    nursing = program is Program.NURSING_SUBSIDY
    grade, certified_on = person.disability_grade, person.disability_certified_on
    if person.deceased_on is not None and person.deceased_on < month:
        return Decimal(0)
    if person.tekun or (nursing and person.work_injury_care_allowance):
        return Decimal(0)
    if grade is None or certified_on is None or (nursing and grade not in NURSING_GRADES):
        return Decimal(0)
    if month < month_after(certified_on):
        return None
    rates = params.disability
    if nursing:
        rate = rates.nursing_monthly_grade_1 if grade == 1 else rates.nursing_monthly_grade_2
        return round_fen(rate)
    if person.dibao or (
        rates.living_for_registered_poor and _poor_on(periods, poor_statuses(params), month)
    ):
        return round_fen(rates.living_monthly)
    return Decimal(0)


def _poor_on(periods: Sequence[StatusPeriod], poor: frozenset[str], month: date) -> bool:
    """A qualifying status counts from the month after it starts through the month it ends."""
    return any(
        p.status in poor
        and (p.starts_on is None or month_after(p.starts_on) <= month)
        and (p.ends_on is None or month <= month_of(p.ends_on))
        for p in periods
    )


def months_owed(
    program: Program,
    person: PersonFacts,
    household_status_history: Sequence[StatusChange],
    params_by_year: Mapping[int, PolicyParameters],
    first_month: date,
    last_month: date,
) -> list[date]:
    """The months from ``first_month`` to ``last_month`` the current facts say are owed."""
    periods = status_periods(household_status_history, person.household_status)
    return [
        month
        for month in months_between(first_month, last_month)
        if (month_amount(program, person, periods, params_by_year[month.year], month) or 0) > 0
    ]


@dataclass(frozen=True)
class MonthlyLine:
    kind: EntitlementKind
    year: int
    months: tuple[date, ...]
    amounts: tuple[Decimal, ...]

    @property
    def amount(self) -> Decimal:
        return sum(self.amounts, Decimal(0))


def monthly_lines(
    program: Program,
    person: PersonFacts,
    household_status_history: Sequence[StatusChange],
    params_by_year: Mapping[int, PolicyParameters],
    first_month: date,
    period: Period,
    paid: Mapping[date, Decimal],
) -> list[MonthlyLine]:
    """What a quarter's run records for ``person``: the quarter's owed months (due),
    earlier months found owed and not yet paid (arrears), and months paid but now
    found not owed (recovery, negative), from ``first_month``. ``paid`` is what
    earlier runs recorded for each month. One line per kind and year."""
    periods = status_periods(household_status_history, person.household_status)
    grouped: dict[tuple[EntitlementKind, int], list[tuple[date, Decimal]]] = {}
    for month in months_between(first_month, period.last_month):
        before = paid.get(month, Decimal(0))
        owed = month_amount(program, person, periods, params_by_year[month.year], month)
        delta = (before if owed is None else owed) - before
        if delta == 0:
            continue
        kind = (
            EntitlementKind.RECOVERY
            if delta < 0
            else EntitlementKind.DUE
            if month >= period.first_month
            else EntitlementKind.ARREARS
        )
        grouped.setdefault((kind, month.year), []).append((month, delta))
    return [
        MonthlyLine(kind, year, tuple(m for m, _ in items), tuple(a for _, a in items))
        for (kind, year), items in sorted(grouped.items())
    ]
