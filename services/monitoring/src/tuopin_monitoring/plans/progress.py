"""Where a target stands at a date: achieved, on track, at risk or off track. Pure.

A target moves from its baseline to its figure over the plan's year along an
expected-progress curve (a straight line unless the target gives points). At a
date the curve says where the value should be; a value behind it by no more
than the margin (a share of the whole distance) is at risk, further behind is
off track. When the baseline was taken during the year (the year's first
snapshot), the rest of the curve is stretched over the rest of the distance, so
a target is never behind on the day its baseline was taken.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal

from tuopin_shared.contracts.monitoring import Comparator, TargetStatus

_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP)
_ZERO, _ONE = Decimal(0), Decimal(1)


@dataclass(frozen=True)
class Verdict:
    status: TargetStatus
    expected: Decimal | None
    reason: str | None = None


def curve_share(
    on: date, start: date, end: date, points: Sequence[tuple[date, Decimal]] = ()
) -> Decimal:
    """Share of the year's way expected by ``on``: 0 at ``start``, 1 at ``end``, linear
    between the given points."""
    if on <= start:
        return _ZERO
    if on >= end:
        return _ONE
    curve = [(start, _ZERO), *((d, s) for d, s in points if start < d < end), (end, _ONE)]
    for (d0, s0), (d1, s1) in itertools.pairwise(curve):
        if d0 <= on <= d1:
            elapsed = Decimal((on - d0).days) / Decimal((d1 - d0).days)
            return _CONTEXT.add(s0, _CONTEXT.multiply(s1 - s0, elapsed))
    return _ONE  # not reached: the curve covers start to end


def expected_value(
    *,
    figure: Decimal,
    baseline: Decimal,
    baseline_on: date,
    on: date,
    start: date,
    end: date,
    points: Sequence[tuple[date, Decimal]] = (),
) -> Decimal:
    """The value the curve expects at ``on``, going from the baseline to the figure."""
    at_baseline = curve_share(baseline_on, start, end, points)
    if at_baseline >= _ONE:
        return figure
    share = (curve_share(on, start, end, points) - at_baseline) / (_ONE - at_baseline)
    share = min(max(share, _ZERO), _ONE)
    return _CONTEXT.add(baseline, _CONTEXT.multiply(figure - baseline, share))


def achieved(comparator: Comparator, value: Decimal, figure: Decimal) -> bool:
    if comparator is Comparator.AT_LEAST:
        return value >= figure
    if comparator is Comparator.AT_MOST:
        return value <= figure
    return value == figure


def target_status(
    *,
    comparator: Comparator,
    figure: Decimal | None,
    value: Decimal | None,
    baseline: Decimal,
    baseline_on: date,
    on: date,
    start: date,
    end: date,
    points: Sequence[tuple[date, Decimal]] = (),
    margin: Decimal = Decimal("0.10"),
) -> Verdict:
    if figure is None:
        return Verdict(TargetStatus.NOT_AVAILABLE, None, "the target gives no figure")
    if value is None:
        return Verdict(TargetStatus.NOT_AVAILABLE, None, "no value yet")
    expected = expected_value(
        figure=figure,
        baseline=baseline,
        baseline_on=baseline_on,
        on=on,
        start=start,
        end=end,
        points=points,
    )
    shown = expected.quantize(Decimal("0.01"), context=_CONTEXT)
    if achieved(comparator, value, figure):
        return Verdict(TargetStatus.ACHIEVED, shown)
    rising = comparator is Comparator.AT_LEAST or (
        comparator is Comparator.EQUAL and baseline < figure
    )
    if comparator is Comparator.EQUAL and (
        baseline == figure or (value > figure if rising else value < figure)
    ):
        # An exact figure held at the start, or overshot: no progress line leads back.
        return Verdict(TargetStatus.OFF_TRACK, shown, f"must be exactly {figure}")
    shortfall = expected - value if rising else value - expected
    tolerance = margin * abs(figure - baseline)
    if shortfall <= 0:
        return Verdict(TargetStatus.ON_TRACK, shown)
    if shortfall <= tolerance:
        return Verdict(TargetStatus.AT_RISK, shown)
    return Verdict(TargetStatus.OFF_TRACK, shown)
