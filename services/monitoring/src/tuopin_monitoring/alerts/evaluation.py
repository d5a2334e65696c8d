"""Evaluating the alert rules over the projection, set-based, in one statement.

Every rule's hits (one row per household and rule, with its evidence) are
upserted against the partial unique index of open alerts: a household already
alerted under a rule gets its evidence refreshed, never a second alert. An open
alert whose condition no longer holds is marked cleared (a cadre still closes
it). An alert closed for the same facts (its fingerprint) is not reopened; new
facts — a new income year, another member — open a new one.

An evaluation covers a division, or only the listed households of it (those a
sync changed): then only their alerts are refreshed or cleared. What changes
with the date alone (a child reaching school age, a new illness leaving the
window) is seen by the evaluation of the whole division, which the
``evaluate-alerts`` command and ``POST /v1/alerts/evaluate`` run.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_monitoring.alerts.models import OPEN_PREDICATE
from tuopin_monitoring.indicators.facts import Scope, facts_params, facts_query, holds_only
from tuopin_monitoring.plans.models import PlanRow
from tuopin_monitoring.plans.service import parameters_of
from tuopin_shared.contracts.divisions import division_prefix
from tuopin_shared.contracts.monitoring import AlertRule, PlanParameters
from tuopin_shared.kit import metrics
from tuopin_shared.kit.database import after_commit

ALERTS_RAISED = metrics.counter(
    "tuopin_alerts_raised_total", "Return-to-poverty alerts opened by evaluations."
)

_R = AlertRule

# One SELECT per rule over ``w`` (the watched households' facts); each yields
# household_id, division_code, rule, evidence and fingerprint. Amounts go into the
# evidence as strings, like money everywhere on the wire.
_HITS: dict[AlertRule, str] = {
    _R.INCOME_BELOW_LINE: """
    SELECT w.household_id, w.division_code, 'income_below_line' AS rule,
           jsonb_build_object('income_year', w.income_year,
                              'per_capita_net_income', w.per_capita::text,
                              'income_line', CAST(:income_line AS numeric)::text) AS evidence,
           concat_ws(':', w.income_year, w.per_capita) AS fingerprint
      FROM w WHERE w.per_capita < :income_line""",
    _R.INCOME_BELOW_MONITORING_LINE: """
    SELECT w.household_id, w.division_code, 'income_below_monitoring_line',
           jsonb_build_object('income_year', w.income_year,
                              'per_capita_net_income', w.per_capita::text,
                              'income_line', CAST(:income_line AS numeric)::text,
                              'monitoring_line', CAST(:monitoring_line AS numeric)::text),
           concat_ws(':', w.income_year, w.per_capita)
      FROM w WHERE w.per_capita >= :income_line AND w.per_capita < :monitoring_line""",
    _R.INCOME_DROP: """
    SELECT w.household_id, w.division_code, 'income_drop',
           jsonb_build_object('income_year', w.income_year,
                              'per_capita_net_income', w.per_capita::text,
                              'previous_year', w.prev_income_year,
                              'previous_per_capita_net_income', w.prev_per_capita::text,
                              'drop', round((w.prev_per_capita - w.per_capita)
                                            / w.prev_per_capita, 4)::text,
                              'threshold', CAST(:drop_ratio AS numeric)::text),
           concat_ws(':', w.prev_income_year, w.prev_per_capita, w.income_year, w.per_capita)
      FROM w
     WHERE w.prev_per_capita > 0
       AND w.per_capita <= w.prev_per_capita * (1 - CAST(:drop_ratio AS numeric))""",
    _R.NEW_DISABILITY_OR_ILLNESS: """
    SELECT w.household_id, w.division_code, 'new_disability_or_illness',
           jsonb_build_object('members', w.worsened_members,
                              'since', CAST(:worsened_since AS date)),
           md5(w.worsened_members::text)
      FROM w WHERE w.worsened_members IS NOT NULL""",
    _R.SCHOOL_DROPOUT: """
    SELECT w.household_id, w.division_code, 'school_dropout',
           jsonb_build_object('members', w.out_of_school,
                              'school_age_min', CAST(:school_age_min AS integer),
                              'school_age_max', CAST(:school_age_max AS integer)),
           md5(w.out_of_school::text)
      FROM w WHERE w.out_of_school IS NOT NULL""",
    _R.UNSAFE_HOUSING: """
    SELECT w.household_id, w.division_code, 'unsafe_housing',
           jsonb_build_object('assessed_on', w.assessed_on, 'housing_grade', w.housing_grade),
           concat_ws(':', w.assessed_on, w.housing_grade)
      FROM w
     WHERE w.housing_grade = ANY(:unsafe_grades) AND w.unmet ? 'housing'""",
    _R.NO_EMPLOYED_MEMBER: """
    SELECT w.household_id, w.division_code, 'no_employed_member',
           jsonb_build_object('members_able_to_work', w.labour_capable, 'members_working', 0),
           concat_ws(':', 'able', w.labour_capable)
      FROM w WHERE w.labour_capable > 0 AND w.working = 0""",
}

_SEVERITY = (
    "CASE h.rule "
    + " ".join(f"WHEN '{rule.value}' THEN CAST(:severity_{rule.value} AS text)" for rule in _HITS)
    + " END"
)


def _evaluate_sql(*, whole: bool, listed: bool) -> str:
    # Listed households: an alert of another household is not this evaluation's to clear.
    # Their open alerts are found from the list through the open alerts' index, rather
    # than every open alert of the district being compared with the list.
    listed_from = "FROM unnest(CAST(:households AS uuid[])) AS listed(household_id)"
    from_listed, only_listed = (
        (listed_from, "AND a.household_id = listed.household_id") if listed else ("", "")
    )
    return f"""
{facts_query(evidence=True, whole=whole, listed=listed)}
, w AS (SELECT * FROM f WHERE f.status = ANY(:watched))
, hits AS (
    {" UNION ALL ".join(_HITS.values())}
)
, upserted AS (
    INSERT INTO monitoring.alert AS a (
        household_id, division_code, plan_id, rule, severity, status, evidence, fingerprint)
    SELECT h.household_id, h.division_code, CAST(:plan_id AS uuid), h.rule, {_SEVERITY}, 'open',
           h.evidence, h.fingerprint
      FROM hits h
     WHERE NOT EXISTS (
           SELECT 1 FROM monitoring.alert c
            WHERE c.household_id = h.household_id AND c.rule = h.rule
              AND c.fingerprint = h.fingerprint AND c.status IN ('resolved', 'dismissed'))
    ON CONFLICT (household_id, rule) WHERE {OPEN_PREDICATE}
    DO UPDATE SET evidence = EXCLUDED.evidence, fingerprint = EXCLUDED.fingerprint,
                  severity = EXCLUDED.severity, division_code = EXCLUDED.division_code,
                  last_seen_at = now(), cleared_at = NULL
    RETURNING (xmax = 0) AS inserted
)
, cleared AS (
    UPDATE monitoring.alert a SET cleared_at = now() {from_listed}
     WHERE a.{OPEN_PREDICATE} AND a.cleared_at IS NULL
       AND a.division_code BETWEEN :div_low AND :div_high {only_listed}
       AND NOT EXISTS (SELECT 1 FROM hits h WHERE h.household_id = a.household_id
                                              AND h.rule = a.rule)
    RETURNING 1
)
SELECT (SELECT count(*) FILTER (WHERE inserted) FROM upserted) AS opened,
       (SELECT count(*) FILTER (WHERE NOT inserted) FROM upserted) AS refreshed,
       (SELECT count(*) FROM cleared) AS cleared
"""  # noqa: S608


_EVALUATE = {
    (whole, listed): _evaluate_sql(whole=whole, listed=listed)
    for whole, listed in ((False, False), (True, False), (False, True))
}


@dataclass(frozen=True)
class Outcome:
    opened: int
    refreshed: int
    cleared: int


def rule_params(parameters: PlanParameters) -> dict[str, Any]:
    severities = {
        **PlanParameters().alert_severities,
        **parameters.alert_severities,
    }
    return {
        "monitoring_line": parameters.monitoring_line,
        "drop_ratio": parameters.income_drop_ratio,
        "school_age_min": parameters.school_age_min,
        "school_age_max": parameters.school_age_max,
        "unsafe_grades": [g.value for g in parameters.unsafe_housing_grades],
        "watched": [s.value for s in parameters.alert_statuses],
        **{f"severity_{rule.value}": severities[rule].value for rule in _HITS},
    }


async def evaluate(
    session: AsyncSession,
    plan: PlanRow,
    division: str,
    as_of: date,
    households: Collection[uuid.UUID] | None = None,
) -> Outcome:
    """Evaluate every available rule for the households in ``division`` at ``as_of``; with
    ``households``, for those of them only."""
    if households is not None and not households:
        return Outcome(0, 0, 0)
    # One evaluation of a district at a time: the background loop and a cadre's
    # request would otherwise race to clear what the other just refreshed.
    key = zlib.crc32(f"alerts:{plan.district_code}".encode())
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    # Planned for its values every time: a generic plan does not know how many households
    # are listed (it guesses 100) and can pick joins that are ruinous for 10,000.
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    parameters = parameters_of(plan)
    params = {
        **facts_params(parameters, as_of, Scope(division_prefix(division))),
        **rule_params(parameters),
        "plan_id": str(plan.id),
    }
    if households is not None:
        params["households"] = list(households)
        statement = _EVALUATE[(False, True)]
    else:
        statement = _EVALUATE[(await holds_only(session, division_prefix(division)), False)]
    row = (await session.execute(text(statement), params)).one()
    opened = int(row.opened)
    after_commit(session, lambda: ALERTS_RAISED.inc(opened))
    return Outcome(int(row.opened), int(row.refreshed), int(row.cleared))
