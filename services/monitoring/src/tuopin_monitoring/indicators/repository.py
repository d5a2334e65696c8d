"""The households failing an indicator, a page at a time.

A page is found by walking the division's households in id order a chunk at a
time and keeping those that fail, so a page costs a few chunks of facts however
large the district, and a household is never listed twice while others change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_monitoring.indicators.catalogue import Indicator
from tuopin_monitoring.indicators.facts import FIRST_ID, Scope, facts_params, facts_query
from tuopin_shared.contracts.monitoring import PlanParameters

CHUNK = 5000

_BOUNDARY = """
SELECT h.household_id::text FROM monitoring.household h
 WHERE h.division_code BETWEEN :div_low AND :div_high AND h.household_id > CAST(:after AS uuid)
 ORDER BY h.household_id
 OFFSET :skip LIMIT 1
"""


@dataclass(frozen=True)
class Failing:
    household_id: str
    division_code: str
    status: str | None
    evidence: dict[str, Any]


def _plain(value: Any) -> Any:
    # Amounts stay exact on the wire: strings, as money is everywhere.
    return str(value) if isinstance(value, Decimal) else value


async def failing_households(
    session: AsyncSession,
    indicator: Indicator,
    parameters: PlanParameters,
    prefix: str,
    on: date,
    *,
    after: str | None,
    limit: int,
) -> tuple[list[Failing], bool]:
    """Up to ``limit`` failing households after ``after``, and whether there are more."""
    assert indicator.failing is not None
    # The predicate is a constant of the catalogue, never input.
    select_failing = f"SELECT f.* FROM f WHERE {indicator.failing} ORDER BY f.household_id"  # noqa: S608
    query = text(facts_query(chunked=True, evidence=True) + select_failing)
    found: list[Failing] = []
    cursor = after or FIRST_ID
    while len(found) <= limit:
        upto = await session.scalar(
            text(_BOUNDARY),
            {
                "div_low": prefix.ljust(12, "0"),
                "div_high": prefix.ljust(12, "9"),
                "after": cursor,
                "skip": CHUNK - 1,
            },
        )
        params = facts_params(parameters, on, Scope(prefix, after=cursor, upto=upto))
        for row in (await session.execute(query, params)).mappings():
            evidence = {name: _plain(row[name]) for name in indicator.evidence}
            if "per_capita" in indicator.evidence:
                evidence["income_line"] = str(parameters.income_line)
            found.append(
                Failing(str(row["household_id"]), row["division_code"], row["status"], evidence)
            )
        if upto is None:
            break
        cursor = upto
    return found[:limit], len(found) > limit
