"""The dashboard: every target of the plan at a division and date, from the last snapshot
(computed targets) and the progress reports (reported ones).

It reads only this service's own tables, so it answers while the registry or
the benefits service is down, and says how old the projection behind the
snapshot is, and which figures the snapshot had to go without.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tuopin_monitoring.dashboard.repository import Loaded, SnapshotMark, TargetFacts
from tuopin_monitoring.dashboard.rules import missing_figures, staleness, worst
from tuopin_monitoring.indicators import catalogue
from tuopin_monitoring.plans.progress import Verdict, target_status
from tuopin_monitoring.plans.service import code_order
from tuopin_monitoring.reports.rules import (
    ReportFact,
    child_code,
    reported_trend,
    reported_value,
)
from tuopin_shared.contracts.monitoring import (
    Comparator,
    Dashboard,
    DashboardTarget,
    Measurement,
    PlanParameters,
    SubdivisionValue,
    TargetStatus,
    TrendPoint,
)


class _Judge:
    """Holds what every target's verdict needs: the year, the margin, the first snapshot."""

    def __init__(self, loaded: Loaded, year: int, on: date) -> None:
        self.loaded = loaded
        self.on = on
        self.start = date(year, 1, 1)
        self.end = date(year, 12, 31)
        self.margin = PlanParameters.model_validate(loaded.parameters).at_risk_margin

    def verdict(
        self,
        target: TargetFacts,
        value: Decimal | None,
        baseline: tuple[Decimal, date] | None = None,
    ) -> Verdict:
        base_value, base_on = baseline or (target.baseline or Decimal(0), self.start)
        return target_status(
            comparator=Comparator(target.comparator),
            figure=target.figure,
            value=value,
            baseline=base_value,
            baseline_on=base_on,
            on=self.on,
            start=self.start,
            end=self.end,
            points=target.points,
            margin=self.margin,
        )

    def baseline(self, target: TargetFacts, division: str) -> tuple[Decimal, date] | None:
        """The target's own baseline; for a share (or an average), the division's value in the
        year's first snapshot (coverage starts where it stood, not at zero); for a count of
        the year's cases, zero on 1 January."""
        if target.baseline is not None:
            return target.baseline, self.start
        indicator = catalogue.find(target.indicator)
        first = self.loaded.first
        if first is None or indicator is None or indicator.kind is catalogue.Kind.COUNT:
            return None
        value = self.loaded.values.get((first.id, division, target.indicator))
        if value is None or value.value is None:
            return None
        return value.value, max(first.as_of, self.start)


def _line(target: TargetFacts, **values: Any) -> DashboardTarget:
    fields: dict[str, Any] = {
        "code": target.code,
        "name": target.name,
        "indicator": target.indicator,
        "measurement": Measurement(target.measurement),
        "comparator": Comparator(target.comparator),
        "figure": target.figure,
        "unit": target.unit,
        "value": None,
        "expected": None,
        "trend": [],
        "worst_subdivisions": [],
    }
    return DashboardTarget(**(fields | values))


def _unavailable(target: TargetFacts, reason: str | None) -> DashboardTarget:
    return _line(target, status=TargetStatus.NOT_AVAILABLE, status_reason=reason)


def computed_line(
    judge: _Judge, target: TargetFacts, division: str, worst_count: int
) -> DashboardTarget:
    indicator = catalogue.find(target.indicator)
    if indicator is None or not indicator.available:
        reason = indicator.unavailable_reason if indicator else "not a known indicator"
        return _unavailable(target, reason)
    loaded = judge.loaded
    if not loaded.recent:
        return _unavailable(target, "no snapshot taken yet")
    latest = loaded.recent[0]
    missing = latest.unavailable.get(target.indicator)
    if missing is not None:
        return _unavailable(target, f"not in the snapshot of {latest.as_of}: {missing}")
    current = loaded.values.get((latest.id, division, target.indicator))
    if current is None:
        return _unavailable(target, indicator.no_value_reason)
    verdict = judge.verdict(target, current.value, judge.baseline(target, division))
    children = []
    for child in loaded.children.get(target.indicator, ()):
        value = loaded.values[(latest.id, child, target.indicator)].value
        status = judge.verdict(target, value, judge.baseline(target, child)).status
        children.append(SubdivisionValue(division_code=child, value=value, status=status))
    return _line(
        target,
        value=current.value,
        numerator=current.numerator,
        denominator=current.denominator,
        expected=verdict.expected,
        status=verdict.status,
        status_reason=verdict.reason,
        trend=[
            TrendPoint(as_of=s.as_of, value=_value_at(loaded, s, division, target.indicator))
            for s in reversed(loaded.recent)
        ],
        worst_subdivisions=worst(
            children, Comparator(target.comparator), target.figure, worst_count
        ),
    )


def _value_at(loaded: Loaded, snapshot: SnapshotMark, division: str, indicator: str) -> Any:
    value = loaded.values.get((snapshot.id, division, indicator))
    return value.value if value else None


def reported_line(
    judge: _Judge,
    target: TargetFacts,
    facts: list[ReportFact],
    division: str,
    worst_count: int,
    points: int,
) -> DashboardTarget:
    on = judge.on
    value = reported_value(facts, division, on, additive=target.additive)
    if value is None:
        return _unavailable(target, "nothing reported yet")
    verdict = judge.verdict(target, value)
    children = []
    for child in sorted({c for f in facts if (c := child_code(division, f.division_code))}):
        child_value = reported_value(facts, child, on, additive=target.additive)
        if child_value is not None:
            status = judge.verdict(target, child_value).status
            children.append(SubdivisionValue(division_code=child, value=child_value, status=status))
    trend = reported_trend(facts, division, on, additive=target.additive, points=points)
    return _line(
        target,
        value=value,
        expected=verdict.expected,
        status=verdict.status,
        status_reason=verdict.reason,
        trend=[TrendPoint(as_of=d, value=v) for d, v in trend],
        worst_subdivisions=worst(
            children, Comparator(target.comparator), target.figure, worst_count
        ),
    )


def dashboard(
    loaded: Loaded,
    *,
    year: int,
    division: str,
    on: date,
    stale_after: timedelta,
    points: int = 6,
    worst_count: int = 3,
    now: datetime | None = None,
) -> Dashboard:
    judge = _Judge(loaded, year, on)
    lines = [
        computed_line(judge, t, division, worst_count)
        if t.measurement == Measurement.COMPUTED
        else reported_line(judge, t, loaded.reports.get(t.id, []), division, worst_count, points)
        for t in sorted(loaded.targets, key=lambda t: code_order(t.code))
    ]
    reasons = staleness(loaded.synced_at, loaded.failed_at, now or datetime.now(UTC), stale_after)
    latest = loaded.recent[0] if loaded.recent else None
    if latest is not None:
        reasons += missing_figures(latest.unavailable, {t.indicator for t in loaded.targets})
    return Dashboard(
        division_code=division,
        plan_id=loaded.plan_id,
        year=year,
        date=on,
        as_of=latest.as_of if latest else None,
        snapshot_id=latest.id if latest else None,
        snapshot_taken_at=latest.taken_at if latest else None,
        projection_synced_at=loaded.synced_at,
        stale=bool(reasons),
        stale_reasons=reasons,
        targets=lines,
    )
