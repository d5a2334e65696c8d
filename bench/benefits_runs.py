"""Entitlement runs over a district-sized projection: the service's compute function
against one hand-written INSERT … SELECT doing the same computation, in the same run.

    python bench/benefits_runs.py [--persons 1000000] [--rounds 2]

The projection (benefits.person, household, household_status) is filled by COPY from
the demo generator; a quarter earlier (2020-Q2) is computed and kept for each subsidy,
so the quarterly runs settle arrears and recoveries against it. Then, alternating and
each inside a transaction that is rolled back (and vacuumed after):

- the yearly pension run (2020) and the quarterly nursing and living subsidy runs
  (2020-Q3) through ``tuopin_benefits.runs.service.compute``: locks, policy sets,
  the set-based statement, the run's totals;
- the same lines written by one hand-written statement with the figures inlined.

Targets: each run under 10 s, and within 2x of its hand-written statement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import dsn, save, scratch_database
from tuopin_benefits.main import SERVICE as BENEFITS
from tuopin_benefits.runs import service
from tuopin_benefits.runs.models import RunRow
from tuopin_benefits.settings import BenefitsSettings
from tuopin_registry.demo.generator import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS, generate
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.database import make_engine, make_sessionmaker
from tuopin_shared.kit.migrations import upgrade

DISTRICT = "510303000000"
TARGET_SECONDS = 10.0
TARGET_RATIO = 2.0
BENCH = Principal(subject="bench", roles=frozenset({Role.admin}), division=DISTRICT)

_PERSON = (
    "member_id",
    "household_id",
    "resident_id",
    "name",
    "birth_date",
    "deceased_on",
    "disability_grade",
    "disability_certified_on",
    "school_stage",
    "resident_pension_enrolled",
    "employee_pension_enrolled",
    "dibao",
    "tekun",
    "work_injury_care_allowance",
    "version",
)
_FROM_MEMBER = [MEMBER_COLUMNS.index("id" if c == "member_id" else c) for c in _PERSON]
_FROM_HOUSEHOLD = [HOUSEHOLD_COLUMNS.index(c) for c in ("id", "division_code", "status", "version")]

# The hand-written statements: the rules of POLICY.md for Gongjing 2020 with the default
# policy set's figures inlined, written the way one would by hand.
HAND_PENSION = """
WITH periods AS (
    SELECT household_id, status::text AS status, effective_on AS starts_on,
           lead(effective_on) OVER (PARTITION BY household_id ORDER BY effective_on, id) AS ends_on
    FROM benefits.household_status
),
held AS (
    SELECT household_id, array_agg(DISTINCT status ORDER BY status) AS statuses
    FROM periods
    WHERE (ends_on IS NULL OR ends_on > starts_on)
      AND starts_on <= DATE '2020-12-31' AND (ends_on IS NULL OR ends_on > DATE '2020-01-01')
    GROUP BY household_id
)
INSERT INTO benefits.entitlement (run_id, program, period, kind, year, member_id, household_id,
    division_code, amount, rule, policy_set_id, policy_version, inputs)
SELECT $1, 'pension', '2020', 'due', 2020, p.member_id, p.household_id, h.division_code,
       100.00, 'pension_contribution.v1', $2, 1,
       jsonb_build_object('person_version', p.version, 'birth_date', p.birth_date,
           'deceased_on', p.deceased_on, 'school_stage', p.school_stage,
           'resident_pension_enrolled', p.resident_pension_enrolled,
           'employee_pension_enrolled', p.employee_pension_enrolled, 'dibao', p.dibao,
           'tekun', p.tekun, 'disability_grade', p.disability_grade,
           'disability_certified_on', p.disability_certified_on,
           'household_statuses_in_year', coalesce(y.statuses, '{}'))
FROM benefits.person p
JOIN benefits.household h ON h.household_id = p.household_id
LEFT JOIN held y ON y.household_id = p.household_id
WHERE h.division_code LIKE '510303%'
  AND p.birth_date <= DATE '2004-12-31' AND p.birth_date > DATE '1960-01-01'
  AND (p.deceased_on IS NULL OR p.deceased_on >= DATE '2020-01-01')
  AND p.school_stage NOT IN ('senior_secondary', 'secondary_vocational', 'higher_vocational',
                             'undergraduate', 'graduate')
  AND NOT p.employee_pension_enrolled AND p.resident_pension_enrolled
  AND (y.statuses && '{registered_poor,returned_to_poverty,newly_impoverished,lifted_out}'
       OR p.dibao OR p.tekun
       OR (p.disability_grade IN (1, 2) AND p.disability_certified_on <= DATE '2020-12-31'))
"""

# Months January to September: a month is owed from the month after the certificate,
# through the month of death, amounts by grade; months before the certificate keep what
# was paid; the difference with what earlier runs recorded is due, arrears or recovery.
HAND_NURSING = """
WITH months AS (
    SELECT m::date AS month
    FROM generate_series(DATE '2020-01-01', DATE '2020-09-01', interval '1 month') m
),
paid AS (
    SELECT e.member_id, m.month, sum(m.amount) AS amount
    FROM benefits.entitlement e, unnest(e.months, e.month_amounts) AS m(month, amount)
    WHERE e.program = 'nursing_subsidy' AND e.year = 2020
    GROUP BY 1, 2
),
people AS (
    SELECT p.*, h.division_code, h.status AS household_status,
           (date_trunc('month', p.disability_certified_on) + interval '1 month')::date
               AS counts_from
    FROM benefits.person p JOIN benefits.household h ON h.household_id = p.household_id
    WHERE h.division_code LIKE '510303%'
      AND (p.disability_grade IN (1, 2) OR p.member_id IN (SELECT member_id FROM paid))
),
owed AS (
    SELECT c.member_id, m.month,
        CASE WHEN c.deceased_on < m.month OR c.tekun OR c.work_injury_care_allowance
                  OR c.disability_certified_on IS NULL OR c.disability_grade IS NULL
                  OR c.disability_grade NOT IN (1, 2) THEN 0
             WHEN m.month < c.counts_from THEN NULL
             WHEN c.disability_grade = 1 THEN 100.00
             ELSE 80.00
        END AS owed,
        coalesce(pd.amount, 0) AS paid
    FROM people c CROSS JOIN months m
    LEFT JOIN paid pd ON pd.member_id = c.member_id AND pd.month = m.month
),
lines AS (
    SELECT member_id,
           CASE WHEN coalesce(owed, paid) - paid < 0 THEN 'recovery'
                WHEN month >= DATE '2020-07-01' THEN 'due' ELSE 'arrears' END AS kind,
           array_agg(month ORDER BY month) AS months,
           array_agg(coalesce(owed, paid) - paid ORDER BY month) AS amounts,
           sum(coalesce(owed, paid) - paid) AS amount
    FROM owed WHERE coalesce(owed, paid) - paid <> 0
    GROUP BY 1, 2
)
INSERT INTO benefits.entitlement (run_id, program, period, kind, year, member_id, household_id,
    division_code, months, month_amounts, amount, rule, policy_set_id, policy_version, inputs)
SELECT $1, 'nursing_subsidy', '2020-Q3', l.kind, 2020, c.member_id, c.household_id,
       c.division_code, l.months, l.amounts, l.amount, 'nursing_subsidy.v1', $2, 1,
       jsonb_build_object('person_version', c.version, 'deceased_on', c.deceased_on,
           'disability_grade', c.disability_grade,
           'disability_certified_on', c.disability_certified_on, 'dibao', c.dibao,
           'tekun', c.tekun, 'work_injury_care_allowance', c.work_injury_care_allowance,
           'household_status', c.household_status)
FROM lines l JOIN people c ON c.member_id = l.member_id
"""

# The same months for any grade with a certificate, in a dibao household or one whose
# registered-poor status (lifted out included: the transition) covers the month.
HAND_LIVING = """
WITH months AS (
    SELECT m::date AS month
    FROM generate_series(DATE '2020-01-01', DATE '2020-09-01', interval '1 month') m
),
paid AS (
    SELECT e.member_id, m.month, sum(m.amount) AS amount
    FROM benefits.entitlement e, unnest(e.months, e.month_amounts) AS m(month, amount)
    WHERE e.program = 'living_subsidy' AND e.year = 2020
    GROUP BY 1, 2
),
people AS (
    SELECT p.*, h.division_code, h.status AS household_status,
           (date_trunc('month', p.disability_certified_on) + interval '1 month')::date
               AS counts_from
    FROM benefits.person p JOIN benefits.household h ON h.household_id = p.household_id
    WHERE h.division_code LIKE '510303%'
      AND (p.disability_grade IS NOT NULL OR p.member_id IN (SELECT member_id FROM paid))
),
periods AS (
    SELECT s.household_id, s.status, s.effective_on AS starts_on,
           lead(s.effective_on) OVER (
               PARTITION BY s.household_id ORDER BY s.effective_on, s.id) AS ends_on
    FROM benefits.household_status s
    WHERE s.household_id IN (SELECT household_id FROM people)
),
poor_months AS (
    SELECT DISTINCT s.household_id, m.month
    FROM periods s
    JOIN months m
      ON (date_trunc('month', s.starts_on) + interval '1 month')::date <= m.month
     AND (s.ends_on IS NULL OR m.month <= date_trunc('month', s.ends_on)::date)
    WHERE (s.ends_on IS NULL OR s.ends_on > s.starts_on)
      AND s.status IN ('registered_poor', 'returned_to_poverty', 'newly_impoverished',
                       'lifted_out')
),
owed AS (
    SELECT c.member_id, m.month,
        CASE WHEN c.deceased_on < m.month OR c.tekun
                  OR c.disability_certified_on IS NULL OR c.disability_grade IS NULL THEN 0
             WHEN m.month < c.counts_from THEN NULL
             WHEN c.dibao OR pm.household_id IS NOT NULL THEN 100.00
             ELSE 0
        END AS owed,
        coalesce(pd.amount, 0) AS paid
    FROM people c CROSS JOIN months m
    LEFT JOIN paid pd ON pd.member_id = c.member_id AND pd.month = m.month
    LEFT JOIN poor_months pm ON pm.household_id = c.household_id AND pm.month = m.month
),
lines AS (
    SELECT member_id,
           CASE WHEN coalesce(owed, paid) - paid < 0 THEN 'recovery'
                WHEN month >= DATE '2020-07-01' THEN 'due' ELSE 'arrears' END AS kind,
           array_agg(month ORDER BY month) AS months,
           array_agg(coalesce(owed, paid) - paid ORDER BY month) AS amounts,
           sum(coalesce(owed, paid) - paid) AS amount
    FROM owed WHERE coalesce(owed, paid) - paid <> 0
    GROUP BY 1, 2
)
INSERT INTO benefits.entitlement (run_id, program, period, kind, year, member_id, household_id,
    division_code, months, month_amounts, amount, rule, policy_set_id, policy_version, inputs)
SELECT $1, 'living_subsidy', '2020-Q3', l.kind, 2020, c.member_id, c.household_id,
       c.division_code, l.months, l.amounts, l.amount, 'living_subsidy.v1', $2, 1,
       jsonb_build_object('person_version', c.version, 'deceased_on', c.deceased_on,
           'disability_grade', c.disability_grade,
           'disability_certified_on', c.disability_certified_on, 'dibao', c.dibao,
           'tekun', c.tekun, 'work_injury_care_allowance', c.work_injury_care_allowance,
           'household_status', c.household_status)
       || jsonb_build_object('household_status_history', (
           SELECT coalesce(jsonb_agg(jsonb_build_object('status', s.status,
                  'effective_on', s.effective_on) ORDER BY s.effective_on, s.id), '[]')
           FROM benefits.household_status s WHERE s.household_id = c.household_id))
FROM lines l JOIN people c ON c.member_id = l.member_id
"""

RUNS = (
    ("pension", "2020", HAND_PENSION),
    ("nursing_subsidy", "2020-Q3", HAND_NURSING),
    ("living_subsidy", "2020-Q3", HAND_LIVING),
)


async def load_projection(url: str, persons: int) -> dict[str, int]:
    """The demo district's people, households and status histories, by COPY."""
    connection = await asyncpg.connect(dsn(url), server_settings={"statement_timeout": "0"})
    counts = {"persons": 0, "households": 0, "status_changes": 0}
    try:
        loop = asyncio.get_running_loop()
        batches = generate(persons, seed=7).batches(20_000)
        pending = loop.run_in_executor(None, next, batches, None)
        while (batch := await pending) is not None:
            pending = loop.run_in_executor(None, next, batches, None)
            await connection.copy_records_to_table(
                "household",
                schema_name="benefits",
                columns=["household_id", "division_code", "status", "version"],
                records=[tuple(h[i] for i in _FROM_HOUSEHOLD) for h in batch.households],
            )
            await connection.copy_records_to_table(
                "person",
                schema_name="benefits",
                columns=list(_PERSON),
                records=[tuple(m[i] for i in _FROM_MEMBER) for m in batch.members],
            )
            first = counts["status_changes"] + 1
            await connection.copy_records_to_table(
                "household_status",
                schema_name="benefits",
                columns=["id", "household_id", "status", "effective_on"],
                records=[(first + n, s[0], s[2], s[3]) for n, s in enumerate(batch.status_changes)],
            )
            counts["persons"] += len(batch.members)
            counts["households"] += len(batch.households)
            counts["status_changes"] += len(batch.status_changes)
            print(f"  {counts['persons']:,} persons …", end="\r", flush=True)
        await connection.execute(
            "INSERT INTO benefits.policy_set (district_code, year, version, parameters,"
            " created_by) VALUES ($1, 2020, 1, $2::jsonb, 'bench')",
            DISTRICT,
            json.dumps(PolicyParameters().model_dump(mode="json")),
        )
        await connection.execute(
            "INSERT INTO benefits.feed_position (feed, position) VALUES ('registry', 'bench')"
        )
        await connection.execute("VACUUM ANALYZE benefits.person")
        await connection.execute("VACUUM ANALYZE benefits.household")
        await connection.execute("VACUUM ANALYZE benefits.household_status")
    finally:
        await connection.close()
    return counts


async def measure(url: str, rounds: int) -> list[dict[str, Any]]:
    settings = BenefitsSettings(statement_timeout_ms=600_000, pool_size=2)
    engine = make_engine(url, settings, "bench-benefits-runs")
    sessions = make_sessionmaker(engine)
    raw = await asyncpg.connect(dsn(url), server_settings={"statement_timeout": "0"})
    try:
        # The quarter before, computed and kept: the quarterly runs settle against it.
        for program in ("nursing_subsidy", "living_subsidy"):
            async with sessions() as session:
                run = RunRow(
                    program=program, period="2020-Q2", district_code=DISTRICT, created_by="bench"
                )
                session.add(run)
                await session.flush()
                await service.compute(session, BENCH, run.id, settings)
                await session.commit()
        policy_id = await raw.fetchval("SELECT id FROM benefits.policy_set")
        results = []
        for program, period, hand in RUNS:
            async with sessions() as session:
                run = RunRow(
                    program=program, period=period, district_code=DISTRICT, created_by="bench"
                )
                session.add(run)
                await session.commit()
                run_id = run.id
            best = {"service": float("inf"), "hand": float("inf")}
            lines = {"service": 0, "hand": 0}
            for _ in range(rounds):
                # Each statement inside a transaction rolled back, then vacuumed away.
                transaction = raw.transaction()
                await transaction.start()
                try:
                    # The same memory for sorts and hashes as the service's runs take.
                    await raw.execute(
                        "SELECT set_config('work_mem', $1, true)", settings.run_work_mem
                    )
                    started = time.perf_counter()
                    status = await raw.execute(hand, run_id, policy_id)
                    best["hand"] = min(best["hand"], time.perf_counter() - started)
                    lines["hand"] = int(status.rsplit(" ", 1)[-1])
                finally:
                    await transaction.rollback()
                await raw.execute("VACUUM ANALYZE benefits.entitlement")
                async with sessions() as session:
                    started = time.perf_counter()
                    computed = await service.compute(session, BENCH, run_id, settings)
                    best["service"] = min(best["service"], time.perf_counter() - started)
                    lines["service"] = computed.lines
                    await session.rollback()
                await raw.execute("VACUUM ANALYZE benefits.entitlement")
            results.append(
                {
                    "run": f"{program} {period}",
                    "service_seconds": round(best["service"], 3),
                    "hand_written_seconds": round(best["hand"], 3),
                    "ratio": round(best["service"] / best["hand"], 2),
                    "lines": lines["service"],
                    "same_lines": lines["service"] == lines["hand"],
                }
            )
    finally:
        await raw.close()
        await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds; the best counts")
    args = parser.parse_args()

    with scratch_database() as url:
        upgrade(BENEFITS, url)
        print(f"loading a projection of {args.persons:,} persons …", flush=True)
        started = time.perf_counter()
        counts = asyncio.run(load_projection(url, args.persons))
        print(
            f"  {counts['persons']:,} persons, {counts['households']:,} households,"
            f" {counts['status_changes']:,} status changes in {time.perf_counter() - started:.0f} s"
        )
        results = asyncio.run(measure(url, args.rounds))

    print()
    print(f"{'run':<26}{'service s':>11}{'hand s':>9}{'ratio':>8}{'lines':>10}  same")
    for r in results:
        print(
            f"{r['run']:<26}{r['service_seconds']:>11.2f}{r['hand_written_seconds']:>9.2f}"
            f"{r['ratio']:>8.2f}{r['lines']:>10,}  {'yes' if r['same_lines'] else 'NO'}"
        )
    met = all(
        r["service_seconds"] < TARGET_SECONDS and r["ratio"] <= TARGET_RATIO and r["same_lines"]
        for r in results
    )
    print(
        f"\ntargets (< {TARGET_SECONDS:.0f} s, within {TARGET_RATIO:.0f}x, same lines):"
        f" {'met' if met else 'NOT met'}"
    )
    path = save("benefits_runs", {"persons": counts["persons"], "results": results})
    print(f"saved {path.relative_to(Path(__file__).resolve().parents[1])}")


if __name__ == "__main__":
    main()
