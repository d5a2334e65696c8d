"""A target's status on and around its expected-progress line (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tuopin_monitoring.dashboard.rules import staleness
from tuopin_monitoring.plans.progress import curve_share, expected_value, target_status
from tuopin_monitoring.reports.rules import ReportFact, reported_value
from tuopin_shared.contracts.monitoring import Comparator, TargetStatus

START, END = date(2020, 1, 1), date(2020, 12, 31)  # 365 days apart
# On 1 July 182 of the 365 days have passed: with a figure of 365 from 0 the line is at 182.
JULY = date(2020, 7, 1)


def status(
    value: str | None,
    *,
    figure: str | None = "365",
    comparator: Comparator = Comparator.AT_LEAST,
    baseline: str = "0",
    baseline_on: date = START,
    on: date = JULY,
    points: list[tuple[date, Decimal]] | None = None,
) -> TargetStatus:
    return target_status(
        comparator=comparator,
        figure=Decimal(figure) if figure is not None else None,
        value=Decimal(value) if value is not None else None,
        baseline=Decimal(baseline),
        baseline_on=baseline_on,
        on=on,
        start=START,
        end=END,
        points=points or [],
        margin=Decimal("0.10"),
    ).status


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("365", TargetStatus.ACHIEVED),
        ("400", TargetStatus.ACHIEVED),
        ("182.01", TargetStatus.ON_TRACK),
        ("182", TargetStatus.ON_TRACK),  # exactly on the line
        ("181.99", TargetStatus.AT_RISK),  # a hair behind it
        ("145.5", TargetStatus.AT_RISK),  # behind by exactly the margin (10% of 365)
        ("145.49", TargetStatus.OFF_TRACK),  # beyond the margin
        ("0", TargetStatus.OFF_TRACK),
    ],
)
def test_around_the_linear_line(value: str, expected: TargetStatus) -> None:
    assert status(value) is expected


def test_the_line_runs_from_start_to_end() -> None:
    assert curve_share(START, START, END) == 0
    assert curve_share(JULY, START, END) == Decimal(182) / Decimal(365)
    assert curve_share(END, START, END) == 1
    assert curve_share(date(2021, 3, 1), START, END) == 1
    # Before the year starts nothing is expected; after it ends, everything.
    assert status("0", on=date(2019, 12, 1)) is TargetStatus.ON_TRACK
    assert status("364", on=date(2021, 1, 15)) is TargetStatus.AT_RISK
    assert status("300", on=date(2021, 1, 15)) is TargetStatus.OFF_TRACK


def test_a_target_may_give_its_own_curve() -> None:
    # Nothing due until December, then all of it by the 31st (a milestone).
    december = [(date(2020, 12, 1), Decimal(0))]
    assert status("0", figure="1", comparator=Comparator.EQUAL, points=december) is (
        TargetStatus.ON_TRACK
    )
    assert status("1", figure="1", comparator=Comparator.EQUAL, points=december) is (
        TargetStatus.ACHIEVED
    )
    on = date(2020, 12, 16)  # half of December: half expected
    assert status("0", figure="1", comparator=Comparator.EQUAL, points=december, on=on) is (
        TargetStatus.OFF_TRACK
    )
    # A front-loaded curve: 80% by the end of March, the rest over the year.
    early = [(date(2020, 3, 31), Decimal("0.8"))]
    assert expected_value(
        figure=Decimal(100),
        baseline=Decimal(0),
        baseline_on=START,
        on=date(2020, 3, 31),
        start=START,
        end=END,
        points=early,
    ) == Decimal("80.0")
    assert status("75", figure="100", points=early, on=date(2020, 3, 31)) is TargetStatus.AT_RISK


def test_a_baseline_taken_during_the_year_rebases_the_line() -> None:
    # Coverage stood at 90% on 1 July: that day it is on its line, whatever the calendar.
    assert status("90", figure="100", baseline="90", baseline_on=JULY) is TargetStatus.ON_TRACK
    # 91 of the 183 days left later, the line is at 90 + 10 × 91/183 = 94.97.
    later = date(2020, 9, 30)
    assert status("95", figure="100", baseline="90", baseline_on=JULY, on=later) is (
        TargetStatus.ON_TRACK
    )
    assert status("94", figure="100", baseline="90", baseline_on=JULY, on=later) is (
        TargetStatus.AT_RISK
    )


def test_ceilings_and_exact_figures() -> None:
    # At most 10% personal share, from 20% at the start of the year.
    assert status("10", figure="10", comparator=Comparator.AT_MOST, baseline="20") is (
        TargetStatus.ACHIEVED
    )
    assert status("15", figure="10", comparator=Comparator.AT_MOST, baseline="20") is (
        TargetStatus.ON_TRACK
    )  # the line is at 15.01 on 1 July
    assert status("16", figure="10", comparator=Comparator.AT_MOST, baseline="20") is (
        TargetStatus.AT_RISK
    )
    # Zero new cases: any case is off track, none is achieved.
    assert status("0", figure="0", comparator=Comparator.EQUAL) is TargetStatus.ACHIEVED
    assert status("1", figure="0", comparator=Comparator.EQUAL) is TargetStatus.OFF_TRACK


def test_without_a_figure_or_a_value_there_is_no_status() -> None:
    assert status("3", figure=None) is TargetStatus.NOT_AVAILABLE
    assert status(None) is TargetStatus.NOT_AVAILABLE


def test_staleness() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2020, 7, 1, 12, tzinfo=UTC)
    fifteen = timedelta(minutes=15)
    assert staleness(now - timedelta(minutes=5), None, now, fifteen) == []
    assert staleness(now - timedelta(minutes=20), None, now, fifteen) == [
        "the last successful sync with the registry was 20 minutes ago"
    ]
    # The registry down at the last attempt: stale, however recent the last success.
    assert staleness(now - timedelta(minutes=5), now, now, fifteen) == [
        "the registry could not be reached at the last attempt"
    ]
    assert staleness(None, None, now, fifteen) == [
        "the projection has never synced with the registry"
    ]


def test_reported_values_add_up_below_a_division_unless_it_reported_itself() -> None:
    town, v1, v2 = "510303100000", "510303100001", "510303100002"
    reports = [
        ReportFact(1, v1, date(2020, 3, 31), Decimal("4")),
        ReportFact(2, v2, date(2020, 3, 31), Decimal("2.5")),
        ReportFact(3, v1, date(2020, 6, 30), Decimal("7")),
        ReportFact(4, v1, date(2020, 6, 30), Decimal("6")),  # a correction of report 3
    ]
    assert reported_value(reports, town, date(2020, 5, 1), additive=True) == Decimal("6.5")
    assert reported_value(reports, town, date(2020, 7, 1), additive=True) == Decimal("8.5")
    assert reported_value(reports, v1, date(2020, 7, 1), additive=True) == Decimal("6")
    # Shares do not add up: only a division's own report gives its value.
    assert reported_value(reports, town, date(2020, 7, 1), additive=False) is None
    town_report = [*reports, ReportFact(5, town, date(2020, 6, 30), Decimal("10"))]
    assert reported_value(town_report, town, date(2020, 7, 1), additive=True) == Decimal("10")
