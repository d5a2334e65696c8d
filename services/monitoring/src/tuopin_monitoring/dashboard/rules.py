"""The dashboard's judgements that need no database: how fresh the data is, and which
sub-divisions do worst. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from tuopin_shared.contracts.monitoring import Comparator, SubdivisionValue, TargetStatus

_BADNESS = {
    TargetStatus.OFF_TRACK: 0,
    TargetStatus.AT_RISK: 1,
    TargetStatus.ON_TRACK: 2,
    TargetStatus.ACHIEVED: 3,
    TargetStatus.NOT_AVAILABLE: 4,
}


def staleness(
    synced_at: datetime | None, failed_at: datetime | None, now: datetime, threshold: timedelta
) -> list[str]:
    """Why the projection behind the figures may be out of date; empty when it is current."""
    reasons = []
    if synced_at is None:
        reasons.append("the projection has never synced with the registry")
    elif now - synced_at > threshold:
        minutes = int((now - synced_at).total_seconds() // 60)
        reasons.append(f"the last successful sync with the registry was {minutes} minutes ago")
    if failed_at is not None and (synced_at is None or failed_at > synced_at):
        reasons.append("the registry could not be reached at the last attempt")
    return reasons


def missing_figures(unavailable: Mapping[str, str], indicators: Iterable[str]) -> list[str]:
    """Why some of the plan's indicators are missing from the last snapshot, one line per
    reason (the benefits service's figures go missing together)."""
    named = set(indicators)
    reasons = sorted({why for key, why in unavailable.items() if key in named})
    return [f"the last snapshot has no value for some indicators: {why}" for why in reasons]


def _gap(comparator: Comparator, value: Decimal | None, figure: Decimal | None) -> Decimal:
    """How far short of the figure, larger is worse (unknown values sort last)."""
    if value is None or figure is None:
        return Decimal("-Infinity")
    if comparator is Comparator.AT_LEAST:
        return figure - value
    if comparator is Comparator.AT_MOST:
        return value - figure
    return abs(value - figure)


def worst(
    candidates: Sequence[SubdivisionValue],
    comparator: Comparator,
    figure: Decimal | None,
    count: int,
) -> list[SubdivisionValue]:
    """The ``count`` sub-divisions doing worst: by status, then by distance from the figure."""
    ranked = sorted(
        candidates,
        key=lambda c: (_BADNESS[c.status], -_gap(comparator, c.value, figure), c.division_code),
    )
    return [c for c in ranked if c.status is not TargetStatus.NOT_AVAILABLE][:count]
