"""The rules of ``rules`` as set-based SQL: one INSERT … SELECT per run over the projection.

Each statement mirrors its pure function clause for clause (the same order, the
same dates), and a test runs both over a generated district and compares them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_benefits.runs.rules import (
    FULL_TIME_STUDENT,
    NURSING_GRADES,
    REGISTERED_POOR,
    RULES,
    Period,
    poor_statuses,
)
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.enums import PovertyStatus
from tuopin_shared.contracts.runs import Program


@dataclass(frozen=True)
class Totals:
    lines: int
    persons: int
    payable: Decimal
    recovery: Decimal


@dataclass(frozen=True)
class PolicyInForce:
    """The version of a district's policy set a run applies for one year."""

    id: uuid.UUID
    version: int
    year: int
    parameters: PolicyParameters


# Status periods: a change holds from its date up to the next change (ordered as the
# registry recorded them); a change superseded on its own day held no day. A household
# without history holds its current status throughout (the LEFT JOIN's NULL bounds).
PENSION = """
WITH periods AS (
    SELECT h.household_id, CAST(coalesce(c.status, h.status) AS text) AS status,
           c.effective_on AS starts_on,
           lead(c.effective_on) OVER (
               PARTITION BY h.household_id ORDER BY c.effective_on, c.id) AS ends_on
    FROM benefits.household h
    LEFT JOIN benefits.household_status c ON c.household_id = h.household_id
    WHERE h.division_code BETWEEN CAST(:lo AS char(12)) AND CAST(:hi AS char(12))
),
held_in_year AS (
    SELECT household_id, array_agg(status ORDER BY starts_on NULLS FIRST) AS statuses
    FROM periods
    WHERE (ends_on IS NULL OR ends_on > starts_on)
      AND (starts_on IS NULL OR starts_on <= make_date(CAST(:year AS int), 12, 31))
      AND (ends_on IS NULL OR ends_on > make_date(CAST(:year AS int), 1, 1))
    GROUP BY household_id
),
inserted AS (
INSERT INTO benefits.entitlement (
    run_id, program, period, kind, year, member_id, household_id, division_code,
    amount, rule, policy_set_id, policy_version, inputs)
SELECT CAST(:run_id AS uuid), 'pension', CAST(:period AS text), 'due', CAST(:year AS int),
       p.member_id, p.household_id, h.division_code,
       round(CAST(:amount AS numeric), 2), CAST(:rule AS text),
       CAST(:policy_set_id AS uuid), CAST(:policy_version AS int),
       jsonb_build_object(
           'person_version', p.version,
           'birth_date', p.birth_date,
           'deceased_on', p.deceased_on,
           'school_stage', p.school_stage,
           'resident_pension_enrolled', p.resident_pension_enrolled,
           'employee_pension_enrolled', p.employee_pension_enrolled,
           'dibao', p.dibao,
           'tekun', p.tekun,
           'disability_grade', p.disability_grade,
           'disability_certified_on', p.disability_certified_on,
           'household_statuses_in_year', coalesce(y.statuses, ARRAY[]::text[]))
FROM benefits.person p
JOIN benefits.household h ON h.household_id = p.household_id
LEFT JOIN held_in_year y ON y.household_id = p.household_id
WHERE h.division_code BETWEEN CAST(:lo AS char(12)) AND CAST(:hi AS char(12))
  AND p.birth_date <= make_date(CAST(:year AS int) - CAST(:age_min AS int), 12, 31)
  AND p.birth_date > make_date(CAST(:year AS int) - CAST(:age_max AS int) - 1, 1, 1)
  AND (p.deceased_on IS NULL OR p.deceased_on >= make_date(CAST(:year AS int), 1, 1))
  AND NOT (p.school_stage = ANY(CAST(:students AS text[])))
  AND NOT p.employee_pension_enrolled
  AND p.resident_pension_enrolled
  AND (y.statuses && CAST(:poor AS text[])
       OR p.dibao
       OR p.tekun
       OR (p.disability_grade = ANY(CAST(:grades AS int[]))
           AND p.disability_certified_on <= make_date(CAST(:year AS int), 12, 31)))
-- In the unique index's order: its pages are written once each, not at random.
ORDER BY p.member_id
-- Someone paid for the year by another district's run (they moved) is skipped: once is
-- enough. The unique index decides, row by row: an anti-join here could be planned
-- against a table the statement itself is filling.
ON CONFLICT (member_id, program, period, kind, year) DO NOTHING
RETURNING member_id, amount
)
-- The run's figures, without reading its lines again.
SELECT count(*) AS lines, count(DISTINCT member_id) AS persons,
       coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS payable,
       coalesce(sum(amount) FILTER (WHERE amount < 0), 0) AS recovery
FROM inserted
"""

MONTHLY = """
WITH rates AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rates AS jsonb)) AS r(
        year int, policy_set_id uuid, policy_version int, grade_1 numeric, grade_2 numeric,
        living numeric, living_for_registered_poor boolean, lifted_out_keep_policy boolean)
),
months AS (
    SELECT CAST(m AS date) AS month, CAST(extract(year FROM m) AS int) AS year
    FROM generate_series(
        CAST(:first_month AS date), CAST(:last_month AS date), interval '1 month') AS m
),
paid AS (
    SELECT e.member_id, m.month, sum(m.amount) AS amount
    FROM benefits.entitlement e
    CROSS JOIN LATERAL unnest(e.months, e.month_amounts) AS m(month, amount)
    WHERE e.program = CAST(:program AS text)
      AND e.run_id <> CAST(:run_id AS uuid)
      AND e.year BETWEEN CAST(extract(year FROM CAST(:first_month AS date)) AS int)
                     AND CAST(extract(year FROM CAST(:last_month AS date)) AS int)
      AND m.month BETWEEN CAST(:first_month AS date) AND CAST(:last_month AS date)
    GROUP BY e.member_id, m.month
),
-- Who may be owed (a grade the program takes) or asked back (paid for a month in the window).
candidates AS (
    SELECT p.member_id, p.household_id, h.division_code, h.status AS household_status,
           p.version, p.deceased_on, p.disability_grade, p.disability_certified_on,
           p.dibao, p.tekun, p.work_injury_care_allowance,
           CAST(date_trunc('month', p.disability_certified_on) + interval '1 month' AS date)
               AS counts_from
    FROM benefits.person p
    JOIN benefits.household h ON h.household_id = p.household_id
    WHERE h.division_code BETWEEN CAST(:lo AS char(12)) AND CAST(:hi AS char(12))
      AND ((p.disability_grade IS NOT NULL
            AND (CAST(:program AS text) = 'living_subsidy'
                 OR p.disability_grade = ANY(CAST(:nursing_grades AS int[]))))
           OR p.member_id IN (SELECT member_id FROM paid))
),
-- Status periods as in PENSION, for the living subsidy's households; a status counts
-- from the month after it starts through the month it ends.
periods AS (
    SELECT household_id, id, status, starts_on, ends_on,
           CAST(date_trunc('month', starts_on) + interval '1 month' AS date) AS from_month,
           CAST(date_trunc('month', ends_on) AS date) AS to_month
    FROM (
        SELECT h.household_id, c.id, CAST(coalesce(c.status, h.status) AS text) AS status,
               c.effective_on AS starts_on,
               lead(c.effective_on) OVER (
                   PARTITION BY h.household_id ORDER BY c.effective_on, c.id) AS ends_on
        FROM benefits.household h
        LEFT JOIN benefits.household_status c ON c.household_id = h.household_id
        WHERE CAST(:program AS text) = 'living_subsidy'
          AND h.household_id IN (SELECT household_id FROM candidates)
    ) changes
),
-- Per household, the months it counts as registered poor, and those it counts as lifted
-- out (which count while the transition parameter is on), as sets of month ranges.
household_months AS (
    SELECT household_id,
           range_agg(daterange(from_month, to_month, '[]')) FILTER (
               WHERE status = ANY(CAST(:registered_poor AS text[])) AND counts)
               AS registered_poor,
           range_agg(daterange(from_month, to_month, '[]')) FILTER (
               WHERE status = CAST(:lifted_out AS text) AND counts) AS lifted_out,
           jsonb_agg(jsonb_build_object('status', status, 'effective_on', starts_on)
                     ORDER BY starts_on, id) FILTER (WHERE starts_on IS NOT NULL) AS history
    FROM (
        SELECT *, (ends_on IS NULL OR ends_on > starts_on)
                  AND (from_month IS NULL OR to_month IS NULL OR from_month <= to_month)
                  AS counts
        FROM periods
    ) p
    GROUP BY household_id
),
deltas AS (
    SELECT c.member_id, m.month, m.year, coalesce(owed, paid) - paid AS delta
    FROM candidates c
    CROSS JOIN months m
    JOIN rates r ON r.year = m.year
    LEFT JOIN paid pd ON pd.member_id = c.member_id AND pd.month = m.month
    LEFT JOIN household_months hm ON hm.household_id = c.household_id
    CROSS JOIN LATERAL (SELECT coalesce(pd.amount, 0) AS paid) p
    CROSS JOIN LATERAL (
        SELECT CASE
            WHEN c.deceased_on < m.month THEN 0
            WHEN c.tekun THEN 0
            WHEN CAST(:program AS text) = 'nursing_subsidy' AND c.work_injury_care_allowance
                THEN 0
            WHEN c.disability_grade IS NULL OR c.disability_certified_on IS NULL THEN 0
            WHEN CAST(:program AS text) = 'nursing_subsidy'
                 AND NOT (c.disability_grade = ANY(CAST(:nursing_grades AS int[]))) THEN 0
            -- Before the current certificate counts the facts cannot tell: NULL keeps
            -- what was paid, no arrears, no recovery.
            WHEN m.month < c.counts_from THEN NULL
            WHEN CAST(:program AS text) = 'nursing_subsidy'
                THEN round(CASE c.disability_grade WHEN 1 THEN r.grade_1 ELSE r.grade_2 END, 2)
            WHEN c.dibao
                 OR (r.living_for_registered_poor
                     AND (hm.registered_poor @> m.month
                          OR (r.lifted_out_keep_policy AND hm.lifted_out @> m.month)))
                THEN round(r.living, 2)
            ELSE 0
        END AS owed
    ) o
),
lines AS (
    SELECT member_id, year,
           CASE WHEN delta < 0 THEN 'recovery'
                WHEN month >= CAST(:quarter_start AS date) THEN 'due'
                ELSE 'arrears' END AS kind,
           array_agg(month ORDER BY month) AS months,
           array_agg(delta ORDER BY month) AS month_amounts,
           sum(delta) AS amount
    FROM deltas
    WHERE delta <> 0
    GROUP BY 1, 2, 3
),
inserted AS (
INSERT INTO benefits.entitlement (
    run_id, program, period, kind, year, member_id, household_id, division_code,
    months, month_amounts, amount, rule, policy_set_id, policy_version, inputs)
SELECT CAST(:run_id AS uuid), CAST(:program AS text), CAST(:period AS text), l.kind, l.year,
       c.member_id, c.household_id, c.division_code,
       l.months, l.month_amounts, l.amount, CAST(:rule AS text),
       r.policy_set_id, r.policy_version,
       jsonb_build_object(
           'person_version', c.version,
           'deceased_on', c.deceased_on,
           'disability_grade', c.disability_grade,
           'disability_certified_on', c.disability_certified_on,
           'dibao', c.dibao,
           'tekun', c.tekun,
           'work_injury_care_allowance', c.work_injury_care_allowance,
           'household_status', c.household_status)
       || CASE WHEN CAST(:program AS text) = 'living_subsidy' THEN jsonb_build_object(
              'household_status_history', coalesce(hm.history, '[]'::jsonb))
          ELSE '{}'::jsonb END
FROM lines l
JOIN candidates c ON c.member_id = l.member_id
JOIN rates r ON r.year = l.year
LEFT JOIN household_months hm ON hm.household_id = c.household_id
-- In the unique index's order: its pages are written once each, not at random.
ORDER BY l.member_id, l.kind, l.year
RETURNING member_id, amount
)
-- The run's figures, without reading its lines again.
SELECT count(*) AS lines, count(DISTINCT member_id) AS persons,
       coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS payable,
       coalesce(sum(amount) FILTER (WHERE amount < 0), 0) AS recovery
FROM inserted
"""


def division_range(prefix: str) -> tuple[str, str]:
    """Codes under a division prefix, as a range a plain b-tree index serves."""
    return prefix.ljust(12, "0"), prefix.ljust(12, "9")


async def insert_pension_lines(
    session: AsyncSession,
    run_id: uuid.UUID,
    district_prefix: str,
    period: Period,
    policy: PolicyInForce,
) -> Totals:
    pension = policy.parameters.pension
    lo, hi = division_range(district_prefix)
    return await _totals(
        session,
        text(PENSION),
        {
            "run_id": run_id,
            "period": str(period),
            "year": period.year,
            "lo": lo,
            "hi": hi,
            "amount": pension.amount,
            "age_min": pension.age_min,
            "age_max": pension.age_max,
            "students": sorted(FULL_TIME_STUDENT),
            "poor": sorted(poor_statuses(policy.parameters)),
            "grades": list(pension.disability_grades),
            "rule": RULES[Program.PENSION],
            "policy_set_id": policy.id,
            "policy_version": policy.version,
        },
    )


async def insert_monthly_lines(
    session: AsyncSession,
    run_id: uuid.UUID,
    program: Program,
    district_prefix: str,
    period: Period,
    first_month: date,
    policies: dict[int, PolicyInForce],
) -> Totals:
    rates = [
        {
            "year": p.year,
            "policy_set_id": str(p.id),
            "policy_version": p.version,
            "grade_1": str(p.parameters.disability.nursing_monthly_grade_1),
            "grade_2": str(p.parameters.disability.nursing_monthly_grade_2),
            "living": str(p.parameters.disability.living_monthly),
            "living_for_registered_poor": p.parameters.disability.living_for_registered_poor,
            "lifted_out_keep_policy": p.parameters.pension.lifted_out_keep_policy,
        }
        for p in policies.values()
    ]
    lo, hi = division_range(district_prefix)
    return await _totals(
        session,
        text(MONTHLY),
        {
            "run_id": run_id,
            "program": program.value,
            "period": str(period),
            "lo": lo,
            "hi": hi,
            "rates": json.dumps(rates),
            "first_month": first_month,
            "last_month": period.last_month,
            "quarter_start": period.first_month,
            "nursing_grades": list(NURSING_GRADES),
            "registered_poor": sorted(REGISTERED_POOR),
            "lifted_out": PovertyStatus.LIFTED_OUT.value,
            "rule": RULES[program],
        },
    )


async def _totals(session: AsyncSession, statement: TextClause, values: dict[str, Any]) -> Totals:
    row = (await session.execute(statement, values)).one()
    return Totals(row.lines, row.persons, row.payable, row.recovery)
