"""The poverty-status lifecycle, pure: which moves are allowed and when lifting out is."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tuopin_shared.contracts.enums import PovertyStatus as S

# registered_poor -> lifted_out -> monitored / returned_to_poverty; a household
# never registered can become monitored (an edge household) or newly impoverished.
ALLOWED: dict[S, frozenset[S]] = {
    S.REGISTERED_POOR: frozenset({S.LIFTED_OUT}),
    S.LIFTED_OUT: frozenset({S.MONITORED, S.RETURNED_TO_POVERTY}),
    S.MONITORED: frozenset({S.LIFTED_OUT, S.RETURNED_TO_POVERTY, S.NEWLY_IMPOVERISHED}),
    S.RETURNED_TO_POVERTY: frozenset({S.LIFTED_OUT}),
    S.NEWLY_IMPOVERISHED: frozenset({S.LIFTED_OUT}),
}

# The statuses a new household may be registered with.
INITIAL = frozenset({S.REGISTERED_POOR, S.MONITORED, S.NEWLY_IMPOVERISHED})


def transition_refusal(current: S, target: S) -> str | None:
    if target in ALLOWED[current]:
        return None
    allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "none"
    return f"a {current.value} household cannot become {target.value} (allowed: {allowed})"


@dataclass(frozen=True)
class LiftOutEvidence:
    income_year: int | None
    per_capita_net_income: Decimal | None
    income_line: Decimal | None
    guarantees_assessed: bool
    unmet_guarantees: tuple[str, ...]


def lift_out_refusals(evidence: LiftOutEvidence) -> list[str]:
    """Why the household may not be lifted out; empty when it may."""
    reasons = []
    if evidence.income_year is None or evidence.per_capita_net_income is None:
        reasons.append("no annual income is recorded")
    elif evidence.income_line is None:
        reasons.append(f"no income line is configured for {evidence.income_year}")
    elif evidence.per_capita_net_income < evidence.income_line:
        reasons.append(
            f"per-capita net income {evidence.per_capita_net_income} in {evidence.income_year}"
            f" is below the income line {evidence.income_line}"
        )
    if not evidence.guarantees_assessed:
        reasons.append("no guarantee assessment is recorded")
    for guarantee in evidence.unmet_guarantees:
        reasons.append(f"guarantee not met in the latest assessment: {guarantee}")
    return reasons
