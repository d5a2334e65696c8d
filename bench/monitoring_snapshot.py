"""A full snapshot of every computed indicator for a district of a million persons, and
the dashboard's latency on top of the snapshots.

    python bench/monitoring_snapshot.py [--persons 1000000] [--snapshots 6] [--seconds 10]

Targets: a snapshot (district, towns and villages, every computed indicator) in under
30 s; the dashboard under 100 ms at the 95th percentile. The projection is loaded
set-based (generate_series), as the change feed would leave it: about one household
for three persons in 200 villages of 10 towns, status histories, two years of incomes,
an assessment each. The dashboard is served by the monitoring service (one uvicorn
worker, JSON logs at INFO to /dev/null), driven by wrk over the district, its towns
and villages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import (
    ROOT,
    dsn,
    free_port,
    save,
    scratch_database,
    server,
    service_command,
    service_env,
)
from tuopin_monitoring.main import SERVICE as MONITORING
from tuopin_monitoring.plans import service as plans
from tuopin_monitoring.plans.defaults import PARAMETER_SOURCES, seed_targets
from tuopin_monitoring.settings import MonitoringSettings
from tuopin_monitoring.snapshots.service import take
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.monitoring import PlanInput
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.database import make_engine, make_sessionmaker
from tuopin_shared.kit.migrations import upgrade
from tuopin_shared.kit.settings import CommonSettings

SNAPSHOT_TARGET_S = 30.0
DASHBOARD_TARGET_MS = 100.0
DISTRICT = "510303000000"
TOWNS, VILLAGES_PER_TOWN = 10, 20
SNAPSHOT_DATES = [date(2020, m, 28) for m in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)]

# The projection, set-based. Random but repeatable (setseed); village v of town t is
# 510303 1tt 0vv. Household h lives in village h % 200; person p in household p % H.
_LOAD = """
SELECT setseed(0.42);

INSERT INTO monitoring.household (household_id, division_code, status, registered_year,
                                  lifted_out_year, version)
SELECT md5('h' || h)::uuid,
       '510303' || (100 + (h % {villages}) / {per_town})::text
                || lpad((1 + (h % {villages}) % {per_town})::text, 3, '0'),
       s.status,
       CASE WHEN s.status = 'monitored' AND rr.r < 0.92 THEN NULL ELSE 2014 + (h % 6) END,
       CASE WHEN s.status IN ('lifted_out', 'returned_to_poverty') THEN 2017 + (h % 3) END,
       1
  FROM generate_series(0, {households} - 1) AS h,
       -- Each lateral names its row, so PostgreSQL draws anew for every row.
       LATERAL (SELECT random() + 0 * h AS r) rr,
       LATERAL (SELECT CASE WHEN rr.r < 0.70 THEN 'lifted_out'
                            WHEN rr.r < 0.85 THEN 'registered_poor'
                            WHEN rr.r < 0.93 THEN 'monitored'
                            WHEN rr.r < 0.97 THEN 'returned_to_poverty'
                            ELSE 'newly_impoverished' END AS status) s;

INSERT INTO monitoring.household_status (id, household_id, to_status, effective_on)
SELECT row_number() OVER (), e.household_id, e.status, e.effective_on
  FROM (
    SELECT household_id, 'registered_poor' AS status,
           make_date(registered_year, 1, 1) AS effective_on
      FROM monitoring.household
     WHERE registered_year IS NOT NULL AND status <> 'newly_impoverished'
    UNION ALL
    SELECT household_id, 'lifted_out', make_date(lifted_out_year, 12, 1)
      FROM monitoring.household WHERE lifted_out_year IS NOT NULL
    UNION ALL
    SELECT household_id, status, date '2020-01-01' + (random() * 300)::int
      FROM monitoring.household WHERE status IN ('returned_to_poverty', 'newly_impoverished')
    UNION ALL
    SELECT household_id, 'monitored', date '2019-03-01'
      FROM monitoring.household WHERE status = 'monitored'
  ) e;

INSERT INTO monitoring.household_income (household_id, year, net_income, household_size,
                                         per_capita_net_income)
SELECT h.household_id, y.year, round(pc * 3, 2), 3, pc
  FROM monitoring.household h
 CROSS JOIN (VALUES (2019), (2020)) AS y(year),
       LATERAL (SELECT round((2500 + random() * 12000 + 0 * y.year)::numeric, 2) AS pc
                 WHERE h.household_id IS NOT NULL) p;

INSERT INTO monitoring.assessment (id, household_id, assessed_on, all_met, unmet, housing_grade,
                                   recorded_at)
SELECT md5('a' || h.household_id)::uuid, h.household_id, date '2020-03-01', a.r >= 0.1,
       CASE WHEN a.r < 0.03 THEN '["housing"]'::jsonb WHEN a.r < 0.1 THEN '["water"]'::jsonb
            ELSE '[]'::jsonb END,
       CASE WHEN a.r < 0.03 THEN 'C' WHEN a.r < 0.5 THEN 'B' ELSE 'A' END,
       now()
  FROM monitoring.household h,
       LATERAL (SELECT random() AS r WHERE h.household_id IS NOT NULL) a;

INSERT INTO monitoring.person (member_id, household_id, birth_date, deceased_on,
    labour_capacity, employment_status, months_worked, health_status, disability_grade,
    school_stage, school_exempt, basic_medical_insured, critical_illness_insured,
    health_worsened_on, changed_on, version)
SELECT md5('p' || p)::uuid,
       md5('h' || (p % {households}))::uuid,
       b.born,
       CASE WHEN r1 < 0.01 THEN date '2020-02-01' END,
       CASE WHEN age BETWEEN 16 AND 64 THEN
            CASE WHEN r2 < 0.5 THEN 'ordinary' WHEN r2 < 0.6 THEN 'skilled'
                 WHEN r2 < 0.9 THEN 'weak' ELSE 'lost' END
            ELSE 'none' END,
       CASE WHEN age BETWEEN 16 AND 64 AND r3 < 0.6 THEN
            CASE WHEN r3 < 0.3 THEN 'migrant' WHEN r3 < 0.5 THEN 'local' ELSE 'self_employed' END
            ELSE 'unemployed' END,
       CASE WHEN age BETWEEN 16 AND 64 AND r3 < 0.6 THEN 3 + (r4 * 9)::int ELSE 0 END,
       CASE WHEN r4 < 0.06 THEN 'disabled' WHEN r4 < 0.09 THEN 'serious_illness'
            WHEN r4 < 0.2 THEN 'chronic_illness' ELSE 'healthy' END,
       CASE WHEN r4 < 0.06 THEN 1 + (r4 * 60)::int % 4 END,
       CASE WHEN age BETWEEN 6 AND 11 THEN CASE WHEN r5 < 0.01 THEN 'dropped_out' ELSE 'primary' END
            WHEN age BETWEEN 12 AND 15 THEN
                 CASE WHEN r5 < 0.02 THEN 'dropped_out' ELSE 'junior_secondary' END
            WHEN age BETWEEN 3 AND 5 THEN 'preschool'
            ELSE 'not_in_school' END,
       r5 > 0.998,
       r1 < 0.98,
       r1 < 0.96,
       CASE WHEN r4 < 0.09 AND r2 < 0.05 THEN date '2020-01-01' + (r3 * 400)::int END,
       date '2020-01-01',
       1
  FROM generate_series(0, {persons} - 1) AS p,
       LATERAL (SELECT random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                       random() AS r5, date '1935-01-01' + (random() * 31000 + 0 * p)::int AS born
                 WHERE p IS NOT NULL) b,
       LATERAL (SELECT extract(year FROM age(date '2020-06-30', b.born))::int AS age) a;

ANALYZE monitoring.household;
ANALYZE monitoring.household_status;
ANALYZE monitoring.household_income;
ANALYZE monitoring.assessment;
ANALYZE monitoring.person;

INSERT INTO monitoring.sync_state (feed, position, events_applied, synced_at, attempted_at)
VALUES ('registry', '1.1', 0, now(), now());
"""


def load_projection(url: str, persons: int) -> float:
    households = persons // 3
    sql = _LOAD.format(
        persons=persons,
        households=households,
        villages=TOWNS * VILLAGES_PER_TOWN,
        per_town=VILLAGES_PER_TOWN,
    )

    async def run() -> float:
        connection = await asyncpg.connect(dsn(url), server_settings={"statement_timeout": "0"})
        started = time.perf_counter()
        try:
            await connection.execute(sql)
        finally:
            await connection.close()
        return time.perf_counter() - started

    return asyncio.run(run())


def snapshots(url: str, count: int) -> tuple[uuid.UUID, list[float]]:
    """Seed the plan and take ``count`` snapshots a month apart; wall-clock seconds each."""
    settings = MonitoringSettings(statement_timeout_ms=0)

    async def run() -> tuple[uuid.UUID, list[float]]:
        engine = make_engine(url, settings, "bench-monitoring-snapshot")
        try:
            async with make_sessionmaker(engine)() as session:
                body = PlanInput(
                    district_code=DISTRICT, year=2020, name="bench", sources=PARAMETER_SOURCES
                )
                plan = await plans.create_plan(session, body, "bench")
                for target in seed_targets(2020):
                    await plans.add_target(session, plan, target, "bench")
                await session.commit()
            times = []
            for as_of in SNAPSHOT_DATES[-count:]:
                started = time.perf_counter()
                row = await take(engine, plan.id, as_of, "bench", attempts=1)
                times.append(time.perf_counter() - started)
                print(
                    f"  snapshot {as_of}: {row.values_count:,} values in {times[-1]:.1f} s",
                    flush=True,
                )
            return plan.id, times
        finally:
            await engine.dispose()

    return asyncio.run(run())


def dashboard_paths() -> list[str]:
    on = SNAPSHOT_DATES[-1].isoformat()
    towns = [f"510303{100 + t}000" for t in range(TOWNS)]
    villages = [
        f"510303{100 + t}{v:03d}" for t in range(TOWNS) for v in range(1, VILLAGES_PER_TOWN + 1)
    ]
    return [f"/v1/dashboard?division={d}&date={on}" for d in [DISTRICT, *towns, *villages]]


def wrk_percentiles(
    base: str, paths: list[str], headers: dict[str, str], seconds: int, connections: int
) -> dict[str, Any]:
    """Drive ``base`` with wrk over ``paths``; requests/s and latency percentiles in ms."""
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        sys.exit("the benchmarks drive load with wrk: apt-get install wrk")
    lua = ROOT / ".data" / f"wrk-{uuid.uuid4().hex[:8]}.lua"
    lua.parent.mkdir(parents=True, exist_ok=True)
    header_lines = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    lua.write_text(
        header_lines
        + "local paths = {"
        + ",".join(f'"{p}"' for p in paths)
        + "}\nrequest = function()\n"
        + '  return wrk.format("GET", paths[math.random(#paths)])\nend\n'
        + "done = function(summary, latency, requests)\n"
        + '  io.write(string.format("JSON {\\"requests\\": %d, \\"errors\\": %d, '
        + '\\"non2xx\\": %d, \\"p50\\": %d, \\"p95\\": %d, \\"p99\\": %d}\\n", '
        + "summary.requests, summary.errors.connect + summary.errors.read + "
        + "summary.errors.write + summary.errors.timeout, summary.errors.status, "
        + "latency:percentile(50), latency:percentile(95), latency:percentile(99)))\nend\n"
    )
    try:
        output = subprocess.run(
            [wrk_path, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(lua), base],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        lua.unlink(missing_ok=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    figures = json.loads(output.split("JSON ", 1)[1].splitlines()[0])
    return {
        "connections": connections,
        "requests_per_second": round(rps, 1),
        "p50_ms": figures["p50"] / 1000,
        "p95_ms": figures["p95"] / 1000,
        "p99_ms": figures["p99"] / 1000,
        "requests": figures["requests"],
        "errors": figures["errors"],
        "non_2xx": figures["non2xx"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--snapshots", type=int, default=6, help="snapshots to take (≤ 11)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()

    with scratch_database() as url:
        upgrade(MONITORING, url)
        print(f"loading a projection of {args.persons:,} persons …", flush=True)
        print(f"  loaded in {load_projection(url, args.persons):.1f} s", flush=True)
        print(f"taking {args.snapshots} snapshots …", flush=True)
        _, times = snapshots(url, min(args.snapshots, len(SNAPSHOT_DATES)))

        common = CommonSettings(database_url=url)
        token = mint_token(
            common, subject="bench", roles=[Role.district_officer], division="510303"
        )
        port = free_port()
        env = service_env(url, MONITORING_SYNC_INTERVAL_SECONDS="0")
        command = service_command("monitoring", port)
        paths = dashboard_paths()
        runs = []
        with server(command, port, env) as base:
            headers = {"Authorization": f"Bearer {token}"}
            wrk_percentiles(base, paths, headers, 2, 2)  # warm the pool and caches
            for connections in args.connections:
                runs.append(wrk_percentiles(base, paths, headers, args.seconds, connections))

    print()
    print(f"{args.persons:,} persons, {len(times)} snapshots")
    print(
        f"snapshot: median {statistics.median(times):.1f} s, worst {max(times):.1f} s"
        f" ({'meets' if max(times) < SNAPSHOT_TARGET_S else 'MISSES'}"
        f" the {SNAPSHOT_TARGET_S:.0f} s target)"
    )
    print(f"GET /v1/dashboard over {len(paths)} divisions, {args.seconds} s per run")
    print(f"{'connections':>11} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for run in runs:
        print(
            f"{run['connections']:>11} {run['requests_per_second']:>8,.0f} {run['p50_ms']:>8.1f}"
            f" {run['p95_ms']:>8.1f} {run['p99_ms']:>8.1f}"
            + (
                f"  ({run['errors']} errors, {run['non_2xx']} non-2xx)"
                if run["errors"] or run["non_2xx"]
                else ""
            )
        )
    worst_p95 = max(r["p95_ms"] for r in runs)
    print(
        f"dashboard p95 {worst_p95:.1f} ms"
        f" ({'meets' if worst_p95 < DASHBOARD_TARGET_MS else 'MISSES'}"
        f" the {DASHBOARD_TARGET_MS:.0f} ms target)"
    )
    path = save(
        "monitoring_snapshot",
        {
            "persons": args.persons,
            "snapshot_seconds": [round(t, 2) for t in times],
            "dashboard": runs,
        },
    )
    print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
