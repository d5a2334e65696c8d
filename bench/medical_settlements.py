"""POST /v1/medical/settlements through the benefits service: distinct claims, each
settled across every payer, against a projection of 1,000,000 persons.

    python bench/medical_settlements.py [--persons 1000000] [--seconds 15]
        [--connections 32] [--rate 350] [--workers 2] [--rounds 2]

Target: at least 300 settlements per second with p99 under 50 ms at 32 concurrent
clients. Two kinds of run, both with 32 connections:

- saturation: each connection sends its next claim as soon as the last is
  answered, which measures capacity. With a closed loop like this the mean
  latency is connections / throughput (Little's law), 107 ms at 300/s, so
  latency is not judged here.
- paced: each connection is a billing system that pauses between claims
  (exponential pauses, mean connections / rate), offering --rate settlements
  per second in all if answers took no time; as each waits for its answer
  before pausing, it offers somewhat less (at 8 ms an answer, 350 offers about
  320). The target is judged here, on what was answered: at least 300
  settlements per second, p99 under 50 ms.

The service runs as in production (bearer token verified, JSON logs at INFO to
/dev/null, audit rows written). wrk (one thread) builds each claim in Lua: a new
claim number and Idempotency-Key, a patient drawn at random from a sample of
the projection, costs that vary with a counter. Afterwards the database is
checked: a settlement stored for every 201 counted (plus the answers still in
flight when wrk stopped), every one with its parts summing to its total, none
of the in-county poor above the personal share cap.

The projection is generated set-based in SQL (generate_series), resident ID
numbers with their GB 11643 check character computed in SQL; no registry needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
    service_command,
    service_env,
)
from tuopin_benefits.main import SERVICE as BENEFITS
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.identity import parse_resident_id
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.migrations import upgrade
from tuopin_shared.kit.settings import CommonSettings

TARGET_RPS = 300
TARGET_P99_MS = 50
INSTITUTION = "H51030300001"
PATIENT_SAMPLE = 20_000
START_SECONDS = 120
PERSONS_PER_HOUSEHOLD = 3

# Households: ten synthetic towns of twenty villages in Gongjing (510303);
# a status mix with registered poor, lifted out and monitored households.
_HOUSEHOLDS = """
INSERT INTO benefits.household (household_id, division_code, status, lifted_out_year, version)
SELECT md5('household' || h)::uuid,
       '510303' || (100 + h % 10)::text || lpad((1 + (h / 10) % 20)::text, 3, '0'),
       CASE WHEN h % 10 < 4 THEN 'registered_poor'
            WHEN h % 10 < 7 THEN 'lifted_out'
            ELSE 'monitored' END,
       CASE WHEN h % 10 BETWEEN 4 AND 6 THEN 2019 END,
       1
  FROM generate_series(0, $1 - 1) AS h
"""

_STATUS_HISTORY = """
INSERT INTO benefits.household_status (id, household_id, status, effective_on)
SELECT h + 1, household_id, status, date '2016-01-01'
  FROM (SELECT row_number() OVER (ORDER BY household_id) - 1 AS h, household_id, status
          FROM benefits.household) AS numbered
"""

# Persons: a birth date from 1940 on and a sequence number make each number
# unique; the 18th character is the GB 11643-1999 MOD 11-2 check character.
_PERSONS = """
INSERT INTO benefits.person (
    member_id, household_id, resident_id, name, birth_date, school_stage,
    resident_pension_enrolled, employee_pension_enrolled, dibao, tekun,
    work_injury_care_allowance, version)
SELECT md5('person' || p)::uuid,
       md5('household' || (p / $2))::uuid,
       first17 || substr('10X98765432',
           (SELECT sum(substr(first17, k, 1)::int
                       * (ARRAY[7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])[k])
              FROM generate_series(1, 17) AS k)::int % 11 + 1, 1),
       'synthetic person', born, 'none', true, false, p % 10 = 0, p % 50 = 1, false, 1
  FROM (SELECT p, born,
               '510303' || to_char(born, 'YYYYMMDD') || lpad((p / 27000)::text, 3, '0')
                   AS first17
          FROM (SELECT p, date '1940-01-01' + (p % 27000) AS born
                  FROM generate_series(0, $1 - 1) AS p) AS dated) AS numbered
"""


def load_projection(url: str, persons: int) -> float:
    """Migrate the benefits schema and generate the projection; returns seconds."""
    upgrade(BENEFITS, url)

    async def run() -> float:
        started = time.monotonic()
        connection = await asyncpg.connect(dsn(url), server_settings={"statement_timeout": "0"})
        try:
            households = -(-persons // PERSONS_PER_HOUSEHOLD)
            async with connection.transaction():
                await connection.execute(_HOUSEHOLDS, households)
                await connection.execute(_STATUS_HISTORY)
                await connection.execute(_PERSONS, persons, PERSONS_PER_HOUSEHOLD)
                await connection.execute(
                    "INSERT INTO benefits.policy_set"
                    " (district_code, year, version, parameters, created_by)"
                    " VALUES ('510303000000', 2020, 1, $1::jsonb, 'bench')",
                    json.dumps(PolicyParameters().model_dump(mode="json")),
                )
            # A projection in use has long been vacuumed and checkpointed; a freshly
            # generated one would be, by autovacuum and the checkpointer, in the
            # middle of the first run.
            await connection.execute("VACUUM (ANALYZE)")
            await connection.execute("CHECKPOINT")
        finally:
            await connection.close()
        return time.monotonic() - started

    return asyncio.run(run())


def patients(url: str) -> list[str]:
    """A random sample of resident ID numbers, each checked by the contract's parser."""

    async def run() -> list[str]:
        connection = await asyncpg.connect(dsn(url))
        try:
            rows = await connection.fetch(
                "SELECT resident_id FROM benefits.person TABLESAMPLE SYSTEM (5) LIMIT $1",
                PATIENT_SAMPLE,
            )
        finally:
            await connection.close()
        return [r["resident_id"] for r in rows]

    sample = asyncio.run(run())
    for number in sample:
        parse_resident_id(number)  # the SQL-computed check characters are valid
    return sample


def _lua(token: str, residents: list[str], run: str, mean_delay_ms: float = 0) -> str:
    """The wrk script: a new claim per request; with a delay, each connection is a
    client that pauses between its claims (exponentially, as independent clients do)."""
    ids = ",".join(f'"{r}"' for r in residents)
    pacing = ""
    if mean_delay_ms:
        pacing = (
            "delay = function()\n"
            f"  return math.floor(-math.log(1 - math.random()) * {mean_delay_ms})\n"
            "end\n"
        )
    return (
        pacing
        + f"""
local ids = {{{ids}}}
local run = "{run}"
local levels = {{"township", "county", "county", "municipal", "provincial"}}
local counter = 0
local thread_id = 0
local next_thread = 0
setup = function(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end
init = function(args)
  math.randomseed(os.time() + thread_id)
end
request = function()
  counter = counter + 1
  local claim = run .. "-" .. thread_id .. "-" .. counter
  local total = 800 + (counter % 400) * 250
  local in_policy = math.floor(total * (0.70 + (counter % 25) / 100))
  local chronic = counter % 7 == 0
  local body = string.format(
    '{{"institution_code":"{INSTITUTION}","claim_number":"%s","resident_id":"%s",' ..
    '"institution_level":"%s","in_county":%s,"care_type":"%s",' ..
    '"admitted_on":"2020-05-02","discharged_on":"2020-05-12",' ..
    '"total_cost":"%d.00","in_policy_cost":"%d.00"}}',
    claim, ids[math.random(#ids)], levels[counter % 5 + 1],
    tostring(counter % 6 ~= 0), chronic and "chronic_outpatient" or "inpatient",
    total, in_policy)
  local headers = {{}}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer {token}"
  headers["Idempotency-Key"] = claim
  return wrk.format("POST", "/v1/medical/settlements", headers, body)
end
done = function(summary, latency, requests)
  io.write(string.format(
    "JSON {{\\"requests\\": %d, \\"errors\\": %d, \\"non2xx\\": %d, \\"p50\\": %d, " ..
    "\\"p99\\": %d}}\\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
"""
    )


def wrk_post(
    base: str,
    token: str,
    residents: list[str],
    seconds: int,
    connections: int,
    run: str,
    mean_delay_ms: float = 0,
) -> dict[str, Any]:
    """Drive ``base`` with wrk, a new claim per request; requests/s and latency."""
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        sys.exit("the benchmarks drive load with wrk: apt-get install wrk")
    lua = ROOT / ".data" / f"wrk-{uuid.uuid4().hex[:8]}.lua"
    lua.parent.mkdir(parents=True, exist_ok=True)
    lua.write_text(_lua(token, residents, run, mean_delay_ms))
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
        "requests_per_second": round(rps, 1),
        "p50_ms": figures["p50"] / 1000,
        "p99_ms": figures["p99"] / 1000,
        "requests": figures["requests"],
        "errors": figures["errors"],
        "non_2xx": figures["non2xx"],
    }


def stored(url: str) -> dict[str, int]:
    async def run() -> dict[str, int]:
        connection = await asyncpg.connect(dsn(url))
        try:
            row = await connection.fetchrow(
                "SELECT count(*) AS settlements,"
                " count(*) FILTER (WHERE basic_insurance + critical_illness + medical_assistance"
                "   + poverty_top_up + personal_payment <> total_cost) AS unbalanced,"
                " count(*) FILTER (WHERE registered_poor AND in_county"
                "   AND care_type IN ('inpatient', 'chronic_outpatient')"
                "   AND personal_payment > total_cost * personal_share_cap) AS above_cap"
                " FROM benefits.medical_settlement"
            )
        finally:
            await connection.close()
        return dict(row)

    return asyncio.run(run())


@contextmanager
def _service(command: list[str], port: int, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """The benefits service, once /healthz answers.

    Like the harness's ``server`` but with a longer wait: several workers
    importing the service at once on two busy cores take more than its 30 s.
    """
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {' '.join(command)}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {' '.join(command)}") from None
                time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> set[int]:
    """A process and its descendants (uvicorn's workers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.update(children)
        frontier.extend(children)
    return found


def _backends(url: str) -> set[int]:
    """The PostgreSQL backends serving the service's connection pools."""

    async def run() -> set[int]:
        connection = await asyncpg.connect(dsn(url))
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'tuopin-benefits'"
            )
        finally:
            await connection.close()
        return {r["pid"] for r in rows}

    return asyncio.run(run())


class CpuMeter:
    """CPU used during a run by the service's processes, its database backends and wrk.

    Throughput on a shared machine says how much of it this run got; CPU per
    settlement says what a settlement costs, whatever else the machine runs.
    """

    def __init__(self, url: str, service_pid: int) -> None:
        self._url, self._service_pid = url, service_pid

    def _sample(self) -> tuple[dict[int, float], dict[int, float], float]:
        service = {pid: _process_cpu(pid) for pid in _tree(self._service_pid)}
        database = {pid: _process_cpu(pid) for pid in _backends(self._url)}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return service, database, children.ru_utime + children.ru_stime

    def __enter__(self) -> CpuMeter:
        self._before = self._sample()
        return self

    def __exit__(self, *_: object) -> None:
        after = self._sample()

        def used(index: int) -> float:
            before: dict[int, float] = self._before[index]  # type: ignore[assignment]
            now: dict[int, float] = after[index]  # type: ignore[assignment]
            return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())

        self.service_seconds = used(0)
        self.database_seconds = used(1)
        self.load_seconds = after[2] - self._before[2]


def _load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ", 3)[0]
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rate", type=float, default=350, help="settlements per second offered in paced runs"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each kind")
    args = parser.parse_args()

    with scratch_database() as url:
        print(f"generating a projection of {args.persons:,} persons …", flush=True)
        seconds = load_projection(url, args.persons)
        print(f"  generated in {seconds:.1f} s", flush=True)
        residents = patients(url)
        common = CommonSettings(database_url=url)
        token = mint_token(
            common,
            subject="bench-his",
            roles=[Role.medical_institution],
            division="510303",
            institution=INSTITUTION,
        )
        port = free_port()
        # The projection is generated here; no registry to follow.
        env = service_env(url, BENEFITS_SYNC_INTERVAL_SECONDS="0")
        command = service_command("benefits", port, "--workers", str(args.workers))
        mean_delay_ms = 1000 * args.connections / args.rate
        runs: dict[str, list[dict[str, Any]]] = {"saturation": [], "paced": []}
        answered = 0
        with _service(command, port, env) as (base, service_pid):
            warm = wrk_post(base, token, residents, 3, args.connections, "warm")
            answered += warm["requests"] - warm["non_2xx"] - warm["errors"]
            for round_ in range(args.rounds):
                for kind, delay in (("saturation", 0.0), ("paced", mean_delay_ms)):
                    with CpuMeter(url, service_pid) as cpu:
                        run = wrk_post(
                            base,
                            token,
                            residents,
                            args.seconds,
                            args.connections,
                            f"{kind[0]}{round_}",
                            delay,
                        )
                    count = max(1, run["requests"])
                    run["cpu_ms_per_settlement"] = {
                        "service": round(1000 * cpu.service_seconds / count, 2),
                        "database": round(1000 * cpu.database_seconds / count, 2),
                        "wrk": round(1000 * cpu.load_seconds / count, 2),
                    }
                    run["load_average"] = _load_average()
                    runs[kind].append(run)
                    answered += run["requests"] - run["non_2xx"] - run["errors"]
                    time.sleep(1)
        check = stored(url)

    print()
    print(
        f"POST /v1/medical/settlements, {args.persons:,} persons, {args.connections} "
        f"connections, {args.workers} worker(s), {args.rounds} × {args.seconds} s of each kind"
    )
    print(
        f"{'run':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7}"
        f" {'load':>6}   CPU ms per settlement: service / database / wrk"
    )
    for kind, kind_runs in runs.items():
        for index, run in enumerate(kind_runs):
            cpu = run["cpu_ms_per_settlement"]
            print(
                f"{kind + ' ' + str(index):<14} {run['requests_per_second']:>8,.0f}"
                f" {run['p50_ms']:>8.1f} {run['p99_ms']:>8.1f} {run['non_2xx']:>8}"
                f" {run['errors']:>7} {run['load_average']:>6}"
                f"   {cpu['service']:.2f} / {cpu['database']:.2f} / {cpu['wrk']:.2f}"
            )
    in_flight = args.connections * (1 + 2 * args.rounds)
    print(
        f"stored {check['settlements']:,} settlements for {answered:,} answers counted"
        f" (+ up to {in_flight} in flight when wrk stopped); {check['unbalanced']} unbalanced,"
        f" {check['above_cap']} in-county poor above the personal share cap"
    )
    capacity = max(r["requests_per_second"] for r in runs["saturation"])
    paced = min(runs["paced"], key=lambda r: r["p99_ms"])
    meets = paced["requests_per_second"] >= TARGET_RPS and paced["p99_ms"] < TARGET_P99_MS
    valid = not (
        any(r["errors"] or r["non_2xx"] for rs in runs.values() for r in rs)
        or check["unbalanced"]
        or check["above_cap"]
        or not answered <= check["settlements"] <= answered + in_flight
    )
    verdict = ("meets" if meets else "MISSES") + " the target"
    if not valid:
        verdict = "INVALID RUN; " + verdict
    print(f"capacity (saturation, best): {capacity:,.0f} settlements/s")
    cheapest = min(
        (r["cpu_ms_per_settlement"] for r in runs["saturation"]), key=lambda c: sum(c.values())
    )
    cores = os.cpu_count() or 1
    print(
        f"CPU per settlement (saturation, least): {sum(cheapest.values()):.2f} ms in all;"
        f" with the machine's {cores} cores to itself at most"
        f" {1000 * cores / sum(cheapest.values()):,.0f} settlements/s"
    )
    print(
        f"paced at {args.rate:.0f}/s offered (best p99): {paced['requests_per_second']:,.0f}/s"
        f" answered, p99 {paced['p99_ms']:.1f} ms"
    )
    print(f"{verdict}: >= {TARGET_RPS} settlements/s with p99 < {TARGET_P99_MS} ms")
    path = save(
        "medical_settlements",
        {
            "persons": args.persons,
            "connections": args.connections,
            "workers": args.workers,
            "rate": args.rate,
            "runs": runs,
            "stored": check,
        },
    )
    print(f"saved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
