"""Household income rules (national definitions), pure."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tuopin_shared.contracts.money import round_fen


@dataclass(frozen=True)
class IncomeParts:
    wage_income: Decimal
    business_income: Decimal
    property_income: Decimal
    transfer_income: Decimal
    business_costs: Decimal


@dataclass(frozen=True)
class IncomeFigures:
    net_income: Decimal
    per_capita_net_income: Decimal
    needs_review: bool
    review_reasons: tuple[str, ...]


def compute_income(
    parts: IncomeParts, household_size: int, review_ceiling: Decimal
) -> IncomeFigures:
    """Net income = the four kinds of income - business costs; per capita = net / size,
    rounded half-up to the fen once. Implausible figures are flagged, never refused."""
    if household_size <= 0:
        raise ValueError("a household's income needs at least one member in the year")
    net = (
        parts.wage_income
        + parts.business_income
        + parts.property_income
        + parts.transfer_income
        - parts.business_costs
    )
    per_capita = round_fen(net / household_size)
    reasons = []
    if per_capita <= 0:
        reasons.append("per-capita net income is zero or negative")
    if per_capita > review_ceiling:
        reasons.append(f"per-capita net income is above {review_ceiling}")
    return IncomeFigures(net, per_capita, bool(reasons), tuple(reasons))
