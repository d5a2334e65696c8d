"""Collecting the benefits figures of a snapshot, before its transaction opens.

Each statistic (medical, entitlements) is asked whole or not at all: when one
fails, the indicators made from it are recorded as unavailable with the reason,
and the others, and every indicator of the projection, are still taken. The
whole collection runs under one deadline, so a benefits service that hangs
delays a snapshot by that much at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

import httpx
import structlog

from tuopin_monitoring.benefits import client as api
from tuopin_monitoring.benefits.figures import (
    Figure,
    entitlement_figures,
    medical_figures,
    quarters_through,
)
from tuopin_monitoring.indicators.catalogue import FROM_BENEFITS, Source
from tuopin_shared.contracts.divisions import division_level
from tuopin_shared.contracts.enums import DivisionLevel
from tuopin_shared.contracts.runs import TotalsLevel
from tuopin_shared.kit import metrics

log = structlog.get_logger("tuopin.monitoring.benefits")

SNAPSHOTS_WITHOUT = metrics.counter(
    "tuopin_snapshot_benefits_unavailable_total",
    "Snapshots taken without some of the benefits service's figures.",
)


@dataclass(frozen=True)
class BenefitsFigures:
    """What a snapshot stores from the benefits service: the figures, and for each benefits
    indicator it could not have, why."""

    figures: tuple[Figure, ...] = ()
    unavailable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def none(cls, reason: str) -> BenefitsFigures:
        return cls((), {i.key: reason for i in FROM_BENEFITS})


def _keys(source: Source) -> list[str]:
    return [i.key for i in FROM_BENEFITS if i.source is source]


async def _medical(client: httpx.AsyncClient, district: str, as_of: date) -> list[Figure]:
    whole = await api.medical_stats(client, district, as_of.year)
    towns = sorted(
        {
            r.division_code
            for r in whole.rows
            if division_level(r.division_code) is DivisionLevel.TOWN
        }
    )
    # One call per town for its villages: the statistics go one level down at a time.
    by_town = [await api.medical_stats(client, town, as_of.year) for town in towns]
    return medical_figures(whole, by_town, as_of)


async def _entitlements(client: httpx.AsyncClient, district: str, as_of: date) -> list[Figure]:
    quarters = quarters_through(as_of)
    by_level = {}
    for level in TotalsLevel:
        # Each level asked on its own: distinct people do not add up across divisions.
        rows = []
        for period in [str(as_of.year), *quarters]:
            rows.extend(await api.entitlement_stats(client, district, period, level))
        by_level[level] = rows
    return entitlement_figures(by_level, as_of.year, quarters)


_COLLECTORS: dict[Source, Callable[[httpx.AsyncClient, str, date], Awaitable[list[Figure]]]] = {
    Source.MEDICAL_STATISTICS: _medical,
    Source.ENTITLEMENT_STATISTICS: _entitlements,
}


async def collect(
    client: httpx.AsyncClient, district: str, as_of: date, deadline_seconds: float
) -> BenefitsFigures:
    """Every benefits figure of the district at ``as_of``, and what could not be had.

    The calls go one after another: they are few (a handful per level and a call per
    town), and the benefits service is spared a burst at every snapshot.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    figures: list[Figure] = []
    unavailable: dict[str, str] = {}
    for source, gather in _COLLECTORS.items():
        try:
            async with asyncio.timeout_at(deadline):
                figures.extend(await gather(client, district, as_of))
        except api.StatisticsUnavailable as exc:
            unavailable.update(dict.fromkeys(_keys(source), str(exc)))
        except TimeoutError:
            reason = f"the benefits service did not answer within {deadline_seconds:g} s"
            unavailable.update(dict.fromkeys(_keys(source), reason))
    if unavailable:
        SNAPSHOTS_WITHOUT.inc()
        log.warning(
            "snapshot without benefits figures",
            district=district,
            indicators=sorted(unavailable),
            reason=sorted(set(unavailable.values())),
        )
    return BenefitsFigures(tuple(figures), unavailable)
