"""The return-to-poverty alert rules and an alert's lifecycle. Pure.

Each rule reads the household facts (``indicators/facts.py``) of the households
the plan watches (by default lifted out and edge households) and is evaluated
set-based in ``evaluation.py``; its thresholds are the plan's parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tuopin_shared.contracts.monitoring import AlertRule, AlertStatus


@dataclass(frozen=True)
class RuleInfo:
    rule: AlertRule
    description: str
    unavailable_reason: str | None = None


RULES: tuple[RuleInfo, ...] = (
    RuleInfo(
        AlertRule.INCOME_BELOW_LINE,
        "latest per-capita net income below the plan's income line",
    ),
    RuleInfo(
        AlertRule.INCOME_BELOW_MONITORING_LINE,
        "latest per-capita net income at or above the income line but below the monitoring line"
        " (households below the income line have the stronger alert already)",
    ),
    RuleInfo(
        AlertRule.INCOME_DROP,
        "per-capita net income fell by the plan's ratio or more from the year before",
    ),
    RuleInfo(
        AlertRule.MEDICAL_SPENDING,
        "the year's personal medical spending above the plan's share of net income",
        unavailable_reason="personal medical spending is not in the registry's feed (the"
        " benefits service's settlements hold it); the rule is not evaluated",
    ),
    RuleInfo(
        AlertRule.NEW_DISABILITY_OR_ILLNESS,
        "a living member became disabled, more severely disabled or seriously ill within"
        " the plan's number of days",
    ),
    RuleInfo(
        AlertRule.SCHOOL_DROPOUT,
        "a living member of compulsory school age, not exempt, is not in school",
    ),
    RuleInfo(
        AlertRule.UNSAFE_HOUSING,
        "the latest assessment grades the house C or D and it was neither relocated nor reinforced",
    ),
    RuleInfo(
        AlertRule.NO_EMPLOYED_MEMBER,
        "members able to work, none of them working",
    ),
)


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    RESOLVE = "resolve"
    DISMISS = "dismiss"


_O, _K, _A = AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED, AlertStatus.ASSIGNED

# open → acknowledged → assigned (to a cadre) → resolved, or dismissed at any point
# before it is closed. Reassigning is assigning again. Resolving needs someone to
# have taken the alert in hand first; dismissing (a false alarm) does not.
TRANSITIONS: dict[Action, tuple[frozenset[AlertStatus], AlertStatus]] = {
    Action.ACKNOWLEDGE: (frozenset({_O}), AlertStatus.ACKNOWLEDGED),
    Action.ASSIGN: (frozenset({_O, _K, _A}), AlertStatus.ASSIGNED),
    Action.RESOLVE: (frozenset({_K, _A}), AlertStatus.RESOLVED),
    Action.DISMISS: (frozenset({_O, _K, _A}), AlertStatus.DISMISSED),
}


def transition(action: Action, current: AlertStatus) -> AlertStatus | str:
    """The status after ``action``, or why the action is refused."""
    allowed, after = TRANSITIONS[action]
    if current in allowed:
        return after
    if current in (AlertStatus.RESOLVED, AlertStatus.DISMISSED):
        return f"the alert is {current.value}; a new one opens if the condition comes back"
    return f"cannot {action.value} an alert that is {current.value}"
