"""One row of facts per household at a date, from the projection, in one statement.

Indicators (snapshots), drill-down lists and alert rules all read these facts,
so a household counts the same way in each. The query is a chain of CTEs, each
one pass over a projection table restricted to the households in scope:
status as of the date (from the status history), moves during the year,
latest income not after the date's year and the year before it, latest
assessment not after the date, and the living members' counts.

Member facts are the member's current ones (the feed keeps no history of
them), with the dates the sync notes as changes go by (health worsened, newly
employed: the latest such change only); status, incomes and assessments are
dated, so a snapshot of a past date uses the status and figures that held then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_shared.contracts.monitoring import PlanParameters

# Registered poor now or once, and the newly impoverished: the programme's
# "poor households". Watched households count when they were registered once.
POOR_STATUSES = ["registered_poor", "lifted_out", "returned_to_poverty", "newly_impoverished"]
NOT_ENROLLED = ("not_in_school", "dropped_out")


def years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier; 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


FIRST_ID = "00000000-0000-0000-0000-000000000000"
LAST_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"


@dataclass(frozen=True)
class Scope:
    """Which households: those whose division starts with ``prefix``; for drill-down
    pages, only those with ids in (``after``, ``upto``]."""

    prefix: str
    after: str | None = None
    upto: str | None = None


def facts_params(parameters: PlanParameters, as_of: date, scope: Scope) -> dict[str, Any]:
    params: dict[str, Any] = {
        "as_of": as_of,
        "year": as_of.year,
        "year_start": date(as_of.year, 1, 1),
        "div_low": scope.prefix.ljust(12, "0"),
        "div_high": scope.prefix.ljust(12, "9"),
        "income_line": parameters.income_line,
        "poor_statuses": POOR_STATUSES,
        "labour": [c.value for c in parameters.labour_capacities],
        "min_months": parameters.stable_employment_min_months,
        # Aged school_age_min to school_age_max on the date, birthdays counted as age_on does.
        "born_after": years_before(as_of, parameters.school_age_max + 1),
        "born_by": years_before(as_of, parameters.school_age_min),
        "worsened_since": date.fromordinal(as_of.toordinal() - parameters.new_condition_days),
    }
    if scope.after is not None or scope.upto is not None:
        params["after"] = scope.after or FIRST_ID
        params["upto"] = scope.upto or LAST_ID
    return params


_SCHOOL_AGE = "p.birth_date > :born_after AND p.birth_date <= :born_by AND NOT p.school_exempt"

# Moved from unemployed into work during the date's year, up to the date, and still
# in work (the sync dates the change; a member registered already working has no
# date; one who lost the work again is not counted).
_NEWLY_EMPLOYED = (
    "p.employed_on BETWEEN :year_start AND :as_of AND p.employment_status <> 'unemployed'"
)

_EVIDENCE_COLUMNS = f"""
        , jsonb_agg(jsonb_build_object(
              'member_id', p.member_id, 'health_status', p.health_status,
              'disability_grade', p.disability_grade, 'on', p.health_worsened_on)
              ORDER BY p.member_id)
            FILTER (WHERE p.health_worsened_on >= :worsened_since) AS worsened_members
        , jsonb_agg(jsonb_build_object(
              'member_id', p.member_id, 'birth_date', p.birth_date,
              'school_stage', p.school_stage) ORDER BY p.member_id)
            FILTER (WHERE {_SCHOOL_AGE} AND p.school_stage IN {NOT_ENROLLED}) AS out_of_school
        , jsonb_agg(jsonb_build_object(
              'member_id', p.member_id, 'employment_status', p.employment_status,
              'on', p.employed_on) ORDER BY p.member_id)
            FILTER (WHERE {_NEWLY_EMPLOYED}) AS newly_employed_members
"""


_OUTSIDE = """
SELECT EXISTS (SELECT 1 FROM monitoring.household WHERE division_code < :div_low)
    OR EXISTS (SELECT 1 FROM monitoring.household WHERE division_code > :div_high)
"""


async def holds_only(session: AsyncSession, prefix: str) -> bool:
    """Whether every household of the projection is inside ``prefix`` (the usual case: one
    district per deployment), so the facts need not restrict each table to the scope."""
    low, high = prefix.ljust(12, "0"), prefix.ljust(12, "9")
    outside = await session.scalar(text(_OUTSIDE), {"div_low": low, "div_high": high})
    return not outside


def facts_query(
    *, chunked: bool = False, evidence: bool = False, whole: bool = False, listed: bool = False
) -> str:
    """The facts as a CTE chain ending in ``f``; append a SELECT over ``f``.

    ``whole``: every household is in scope, so each table is read whole and joined to
    the households once at the end, which lets PostgreSQL read incomes and statuses in
    index order instead of hashing every table against the scope first.
    ``listed``: only the households whose ids are bound as ``:households`` (those a sync
    changed), each table read through its household index.
    """
    assert not (whole and listed), "a list of households is not the whole projection"
    scoped = "" if whole else "JOIN hh USING (household_id)"
    keyset = (
        "AND h.household_id > CAST(:after AS uuid) AND h.household_id <= CAST(:upto AS uuid)"
        if chunked
        else ""
    )
    # Joined, not filtered with = ANY: a filter compares every row with the whole list.
    listed_only = (
        "JOIN unnest(CAST(:households AS uuid[])) AS listed(household_id) USING (household_id)"
        if listed
        else ""
    )
    evidence_columns = _EVIDENCE_COLUMNS if evidence else ""
    evidence_facts = (
        ", mem.worsened_members, mem.out_of_school, mem.newly_employed_members,"
        " prev.year AS prev_income_year,"
        " prev.per_capita_net_income AS prev_per_capita, asm.unmet, asm.assessed_on"
        if evidence
        else ""
    )
    previous = (
        """
        LEFT JOIN monitoring.household_income prev
               ON prev.household_id = inc.household_id AND prev.year = inc.year - 1"""
        if evidence
        else ""
    )
    return f"""
WITH hh AS MATERIALIZED (
    SELECT h.household_id, h.division_code, h.registered_year, h.lifted_out_year
      FROM monitoring.household h {listed_only}
     WHERE h.division_code BETWEEN :div_low AND :div_high {keyset}
),
st AS (
    SELECT DISTINCT ON (s.household_id) s.household_id, s.to_status
      FROM monitoring.household_status s {scoped}
     WHERE s.effective_on <= :as_of
     ORDER BY s.household_id, s.effective_on DESC, s.id DESC
),
moves AS (
    SELECT s.household_id,
           bool_or(s.to_status = 'newly_impoverished') AS became_newly_impoverished,
           bool_or(s.to_status = 'returned_to_poverty') AS returned_to_poverty
      FROM monitoring.household_status s {scoped}
     WHERE s.effective_on BETWEEN :year_start AND :as_of
     GROUP BY s.household_id
),
inc AS (
    SELECT DISTINCT ON (i.household_id) i.household_id, i.year, i.per_capita_net_income
      FROM monitoring.household_income i {scoped}
     WHERE i.year <= :year
     ORDER BY i.household_id, i.year DESC
),
asm AS (
    SELECT DISTINCT ON (a.household_id)
           a.household_id, a.assessed_on, a.all_met, a.unmet, a.housing_grade
      FROM monitoring.assessment a {scoped}
     WHERE a.assessed_on <= :as_of
     ORDER BY a.household_id, a.assessed_on DESC, a.recorded_at DESC
),
mem AS (
    SELECT p.household_id,
           count(*) AS living,
           count(*) FILTER (WHERE p.labour_capacity = ANY(:labour)) AS labour_capable,
           count(*) FILTER (WHERE p.labour_capacity = ANY(:labour)
                              AND p.employment_status <> 'unemployed'
                              AND p.months_worked >= :min_months) AS employed,
           count(*) FILTER (WHERE p.employment_status <> 'unemployed') AS working,
           count(*) FILTER (WHERE {_NEWLY_EMPLOYED}) AS newly_employed,
           count(*) FILTER (WHERE {_SCHOOL_AGE}) AS school_age,
           count(*) FILTER (WHERE {_SCHOOL_AGE}
                              AND p.school_stage NOT IN {NOT_ENROLLED}) AS enrolled,
           count(*) FILTER (WHERE p.basic_medical_insured
                              AND p.critical_illness_insured) AS insured
           {evidence_columns}
      FROM monitoring.person p {scoped}
     WHERE p.birth_date <= :as_of AND (p.deceased_on IS NULL OR p.deceased_on > :as_of)
     GROUP BY p.household_id
),
f AS (
    SELECT hh.household_id, hh.division_code, st.to_status AS status,
           (st.to_status = ANY(:poor_statuses)
            OR (st.to_status = 'monitored' AND hh.registered_year IS NOT NULL)) AS poor,
           (st.to_status = 'lifted_out'
            OR (st.to_status = 'monitored' AND hh.lifted_out_year IS NOT NULL)) AS lifted_out,
           (st.to_status = 'lifted_out' AND inc.per_capita_net_income >= :income_line
            AND coalesce(asm.all_met, false)) AS consolidated,
           inc.year AS income_year, inc.per_capita_net_income AS per_capita,
           asm.all_met, asm.housing_grade,
           (asm.household_id IS NOT NULL AND NOT asm.unmet ? 'housing') AS housing_safe,
           coalesce(mem.living, 0) AS living,
           coalesce(mem.labour_capable, 0) AS labour_capable,
           coalesce(mem.employed, 0) AS employed,
           coalesce(mem.working, 0) AS working,
           coalesce(mem.newly_employed, 0) AS newly_employed,
           coalesce(mem.school_age, 0) AS school_age,
           coalesce(mem.enrolled, 0) AS enrolled,
           coalesce(mem.insured, 0) AS insured,
           coalesce(moves.became_newly_impoverished, false) AS became_newly_impoverished,
           coalesce(moves.returned_to_poverty, false) AS returned_to_poverty
           {evidence_facts}
      FROM hh
      -- A household whose first status is after the date was not in the programme yet.
      JOIN st USING (household_id)
      LEFT JOIN moves USING (household_id)
      LEFT JOIN inc USING (household_id)
      LEFT JOIN asm USING (household_id)
      LEFT JOIN mem USING (household_id){previous}
)
"""  # noqa: S608 - built from this module's constants; values are bind parameters
