"""A reported target's value at a division and date, from the reports filed. Pure.

Each division's latest report on or before the date holds (a correction filed
later for the same date replaces the earlier one). A division that reported its
own figure is taken at its word; otherwise an additive target (km, counts) is
the sum of the latest reports filed below it, and a share (coverage, a
milestone) has no value there: shares of villages do not add up to a town's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tuopin_shared.contracts.divisions import division_contains, division_level
from tuopin_shared.contracts.enums import DivisionLevel


@dataclass(frozen=True)
class ReportFact:
    id: int
    division_code: str
    reported_on: date
    value: Decimal


def latest_by_division(reports: Iterable[ReportFact], on: date) -> dict[str, ReportFact]:
    latest: dict[str, ReportFact] = {}
    for report in reports:
        if report.reported_on > on:
            continue
        held = latest.get(report.division_code)
        if held is None or (report.reported_on, report.id) > (held.reported_on, held.id):
            latest[report.division_code] = report
    return latest


def reported_value(
    reports: Iterable[ReportFact], division: str, on: date, *, additive: bool
) -> Decimal | None:
    latest = latest_by_division(
        (r for r in reports if division_contains(division, r.division_code)), on
    )
    if division in latest:
        return latest[division].value
    if not additive or not latest:
        return None
    return sum((r.value for r in latest.values()), Decimal(0))


def reported_trend(
    reports: Sequence[ReportFact], division: str, on: date, *, additive: bool, points: int
) -> list[tuple[date, Decimal | None]]:
    """The value at each of the last ``points`` dates on which something was reported."""
    dates = sorted(
        {
            r.reported_on
            for r in reports
            if r.reported_on <= on and division_contains(division, r.division_code)
        }
    )[-points:]
    return [(d, reported_value(reports, division, d, additive=additive)) for d in dates]


def child_code(parent: str, code: str) -> str | None:
    """The division one level below ``parent`` that ``code`` lies in (None: not below it)."""
    level = division_level(parent)
    width = {DivisionLevel.COUNTY: 9, DivisionLevel.TOWN: 12}.get(level)
    if width is None or code == parent or not division_contains(parent, code):
        return None
    return code[:width].ljust(12, "0")
