"""The benefits indicators' figures by division, made from the benefits service's
statistics as they come over the wire. Pure: no I/O, no clock.

The statistics are aggregates the benefits service computed in SQL, one row per
division (and month, or program and period); here they are only added up and
divided, by the formulas the catalogue states. Counts of distinct people are
never added across divisions (a person may have lines in two villages): each
level's figure is the row benefits gave for that level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from tuopin_shared.contracts.divisions import division_level, division_parent
from tuopin_shared.contracts.enums import DivisionLevel
from tuopin_shared.contracts.medical import MedicalStats, MedicalStatsRow
from tuopin_shared.contracts.money import round_fen
from tuopin_shared.contracts.runs import EntitlementStat, Program, TotalsLevel

WITHIN_CAP = "in_county_poor_within_cap_share"
PENSION_PAID = "pension_paid_on_behalf_share"
PENSION_PER_PERSON = "pension_paid_per_person"
DISABILITY_PAID = "disability_subsidies_paid_share"

DISABILITY_PROGRAMS = frozenset({Program.NURSING_SUBSIDY, Program.LIVING_SUBSIDY})

# The snapshot's levels: what benefits' statistics call each one.
LEVELS: Mapping[TotalsLevel, DivisionLevel] = {
    TotalsLevel.DISTRICT: DivisionLevel.COUNTY,
    TotalsLevel.TOWN: DivisionLevel.TOWN,
    TotalsLevel.VILLAGE: DivisionLevel.VILLAGE,
}

_HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Figure:
    """One value of a snapshot: an indicator at a division."""

    indicator: str
    division_code: str
    numerator: Decimal
    denominator: Decimal | None
    value: Decimal | None

    @property
    def level(self) -> str:
        return division_level(self.division_code).value

    @property
    def parent_code(self) -> str | None:
        # A district's parent (the city) is outside the plan: the snapshot stops there.
        if division_level(self.division_code) is DivisionLevel.COUNTY:
            return None
        return division_parent(self.division_code)


def percent(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """100 x numerator / denominator to two places, halves up (as the snapshot's SQL
    rounds its shares); None when there is nothing to divide by."""
    if denominator == 0:
        return None
    return (100 * numerator / denominator).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def per_person(amount: Decimal, persons: Decimal) -> Decimal | None:
    """An amount per person, rounded half-up to the fen; None for nobody."""
    if persons == 0:
        return None
    return round_fen(amount / persons)


def quarters_through(day: date) -> list[str]:
    """The periods of a quarterly program from January to the quarter of ``day``."""
    return [f"{day.year}-Q{q}" for q in range(1, (day.month - 1) // 3 + 2)]


def _share(indicator: str, division: str, numerator: int, denominator: int) -> Figure:
    n, d = Decimal(numerator), Decimal(denominator)
    return Figure(indicator, division, n, d, percent(n, d))


def medical_figures(
    district: MedicalStats, towns: Iterable[MedicalStats], through: date
) -> list[Figure]:
    """S3 at the district, its towns and villages: of the in-county inpatient and chronic
    outpatient settlements of registered poor patients, the share within the cap.

    ``district`` is the district's statistics for the year (rows by town and month),
    ``towns`` each town's (rows by village and month); months after ``through`` are left
    out. A settlement filed at the district's or a town's own code counts in that
    division and the ones above it, never as a town or village of its own.
    """
    last_month = through.strftime("%Y-%m")
    settled: dict[str, int] = defaultdict(int)
    above: dict[str, int] = defaultdict(int)

    def add(row: MedicalStatsRow, *codes: str) -> None:
        if row.month is None or row.month > last_month:
            return
        for code in codes:
            settled[code] += row.in_county_poor_settlements
            above[code] += row.in_county_poor_above_cap

    for row in district.rows:
        if division_level(row.division_code) is DivisionLevel.TOWN:
            add(row, district.division_code, row.division_code)
        else:
            add(row, district.division_code)
    for stats in towns:
        # The town's own total came with the district's rows: only its villages here.
        for row in stats.rows:
            if division_level(row.division_code) is DivisionLevel.VILLAGE:
                add(row, row.division_code)
    return [
        _share(WITHIN_CAP, code, settled[code] - above[code], settled[code])
        for code in sorted(settled)
    ]


def entitlement_figures(
    by_level: Mapping[TotalsLevel, Sequence[EntitlementStat]], year: int, quarters: Sequence[str]
) -> list[Figure]:
    """S6 (coverage and amount per person) and S8 at each level, from the rows benefits
    gave for that level; a row filed at a code of another level (lines registered at a
    town's own code, seen at village level) is not a division of that level."""
    figures: list[Figure] = []
    for totals_level, rows in by_level.items():
        level = LEVELS[totals_level]
        eligible: dict[str, int] = defaultdict(int)
        paid: dict[str, int] = defaultdict(int)
        for row in rows:
            code = row.division_code
            if division_level(code) is not level:
                continue
            if row.program is Program.PENSION and row.period == str(year):
                figures.append(_share(PENSION_PAID, code, row.paid_persons, row.eligible_persons))
                persons = Decimal(row.paid_persons)
                figures.append(
                    Figure(
                        PENSION_PER_PERSON,
                        code,
                        row.paid_amount,
                        persons,
                        per_person(row.paid_amount, persons),
                    )
                )
            elif row.program in DISABILITY_PROGRAMS and row.period in quarters:
                # Person-quarters of each program: adding them up is counting what was owed.
                eligible[code] += row.eligible_persons
                paid[code] += row.paid_persons
        figures.extend(
            _share(DISABILITY_PAID, code, paid[code], eligible[code]) for code in sorted(eligible)
        )
    return figures
