"""Importing a ledger through the registry, against a raw COPY of the rows it writes.

    python bench/registry_import.py [--persons 1000000] [--seed 2020]

Writes the demo district's ledger as CSV (one row per living member, Chinese
words, household columns repeated: as a town office fills it in), then takes
the path a user takes with a large file: ``POST /v1/imports`` to a registry
server, first to validate and then to commit, polling ``GET /v1/imports/{id}``
until the job ends. The wall time runs from the first byte uploaded to the job
seen finished; the stages (reading, checking, writing) are timed from the polls.

The baseline is a raw COPY of the same rows into the same tables in the same
run: once the commit is in, the rows it wrote are dumped, the tables emptied,
and the rows COPYed back (binary format, one COPY per table, one transaction,
foreign keys and indexes in place, as the import has them). It includes every
row the commit writes: households, members, their first status and the
change-feed events, because the feed is written in the import's own
transaction and a load without it would be a different, smaller write. The
COPY of households and members alone is shown too. The baseline does no
reading, parsing, checking or merging: it is what the database needs to take
those rows at all.

Targets: commit at least 50,000 persons/s, and within 3x of the raw COPY.
Peak RSS is the registry server's during each import (it reads and parses the
file); PostgreSQL's own memory is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import (
    ROOT,
    child_pid,
    dsn,
    free_port,
    reset_peak_rss,
    rss_mb,
    save,
    scratch_database,
    server,
    service_command,
    service_env,
)
from tuopin_registry.demo.generator import generate
from tuopin_registry.imports.synthetic import write_demo_ledger
from tuopin_registry.main import SERVICE as REGISTRY
from tuopin_shared.contracts.auth import Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.migrations import upgrade
from tuopin_shared.kit.settings import CommonSettings

TARGET_RATE = 50_000
TARGET_RATIO = 3.0
# What a commit writes, parents first (each COPY is checked against the foreign keys).
WRITTEN = ("household", "member", "status_change", "change_event")


# ---------------------------------------------------------------- the database


async def checkpoint(url: str) -> None:
    """Flush what earlier phases wrote, so no phase pays for the one before it."""
    connection = await asyncpg.connect(dsn(url))
    try:
        await connection.execute("CHECKPOINT")
    except asyncpg.InsufficientPrivilegeError:
        pass  # PostgreSQL 15+ grants it to pg_checkpoint; without it, phases may overlap
    finally:
        await connection.close()


async def add_divisions(url: str, seed: int) -> None:
    connection = await asyncpg.connect(dsn(url))
    try:
        await connection.executemany(
            "INSERT INTO registry.division (code, name, level, parent_code, synthetic)"
            " VALUES ($1, $2, $3, $4, $5)",
            [d.record() for d in generate(1, seed).divisions],
        )
    finally:
        await connection.close()


async def raw_copy(url: str, folder: Path) -> dict[str, Any]:
    """Dump what the commit wrote, empty the tables, COPY the same rows back: seconds."""
    connection = await asyncpg.connect(dsn(url), server_settings={"statement_timeout": "0"})
    try:
        rows = {}
        for table in WRITTEN:
            status = await connection.copy_from_table(
                table, schema_name="registry", output=folder / table, format="binary"
            )
            rows[table] = int(status.split()[-1])
        await connection.execute(
            "TRUNCATE " + ", ".join(f"registry.{t}" for t in WRITTEN) + " RESTART IDENTITY CASCADE"
        )
    finally:
        await connection.close()
    await checkpoint(url)
    connection = await asyncpg.connect(dsn(url), server_settings={"statement_timeout": "0"})
    seconds: dict[str, float] = {}
    try:
        started = time.perf_counter()
        async with connection.transaction():
            for table in WRITTEN:
                begun = time.perf_counter()
                await connection.copy_to_table(
                    table, schema_name="registry", source=folder / table, format="binary"
                )
                seconds[table] = time.perf_counter() - begun
        total = time.perf_counter() - started  # the commit included
    finally:
        await connection.close()
    return {"rows": rows, "seconds": seconds, "total_seconds": total}


# ---------------------------------------------------------------- the import


def run_import(
    client: httpx.Client, ledger: Path, mode: str, pid: int, poll: float
) -> dict[str, Any]:
    """Upload ``ledger`` for ``mode`` and poll its job to the end; times and the job."""
    reset_peak_rss(pid)
    started = time.perf_counter()
    with ledger.open("rb") as file:
        response = client.post(
            "/v1/imports",
            files={"file": (ledger.name, file, "text/csv")},
            data={"mode": mode},
            timeout=None,
        )
    if response.status_code != 202:
        sys.exit(f"{mode}: expected a job (202), got {response.status_code}: {response.text}")
    accepted = time.perf_counter()
    stages: dict[str, float] = {}
    location = response.headers["Location"]
    while True:
        job = client.get(location).json()
        now = time.perf_counter()
        if job["status"] not in ("queued", "running"):
            break
        stages.setdefault(job["stage"] or job["status"], now)
        time.sleep(poll)
    finished = now
    marks = [*sorted(stages.items(), key=lambda item: item[1]), ("done", finished)]
    stage_seconds = {
        name: round(marks[i + 1][1] - at, 2) for i, (name, at) in enumerate(marks[:-1])
    }
    return {
        "job": job,
        "seconds": finished - started,
        "upload_seconds": accepted - started,
        "stage_seconds": stage_seconds,
        "peak_rss_mb": round(rss_mb(pid, peak=True), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between job polls")
    args = parser.parse_args()

    work = ROOT / ".data" / f"bench-import-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        ledger = work / "ledger.csv"
        print(f"writing the ledger of a district of {args.persons:,} persons …", flush=True)
        begun = time.perf_counter()
        rows = write_demo_ledger(ledger, args.persons, args.seed)
        print(
            f"  {rows:,} rows (living members), {ledger.stat().st_size / 2**20:,.0f} MB"
            f" in {time.perf_counter() - begun:.1f} s",
            flush=True,
        )
        with scratch_database() as url:
            upgrade(REGISTRY, url)
            asyncio.run(add_divisions(url, args.seed))
            token = mint_token(
                CommonSettings(database_url=url),
                subject="bench",
                roles=[Role.district_officer],
                division="510303",
            )
            port = free_port()
            env = service_env(url)
            command = service_command("registry", port)
            runs: dict[str, dict[str, Any]] = {}
            with (
                server(command, port, env) as base,
                httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
                ) as client,
            ):
                pid = child_pid(port)
                for mode in ("validate", "commit"):
                    asyncio.run(checkpoint(url))
                    print(f"{mode} …", flush=True)
                    runs[mode] = run_import(client, ledger, mode, pid, args.poll)
                    job = runs[mode]["job"]
                    if job["status"] != "succeeded":
                        sys.exit(f"{mode} did not succeed: {job}")
                    print(f"  {runs[mode]['seconds']:.1f} s", flush=True)
            print("raw COPY of the same rows …", flush=True)
            floor = asyncio.run(raw_copy(url, work))
            print(f"  {floor['total_seconds']:.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    members = runs["commit"]["job"]["members_created"]
    households = runs["commit"]["job"]["households_created"]
    if floor["rows"]["member"] != members or floor["rows"]["household"] != households:
        sys.exit(f"the raw COPY did not write what the commit wrote: {floor['rows']}")
    tables_only = floor["seconds"]["household"] + floor["seconds"]["member"]
    lines = [
        ("validate", runs["validate"]["seconds"], runs["validate"]["peak_rss_mb"]),
        ("commit", runs["commit"]["seconds"], runs["commit"]["peak_rss_mb"]),
        ("raw COPY, all rows", floor["total_seconds"], None),
        ("raw COPY, household+member", tables_only, None),
    ]
    print()
    print(
        f"ledger import, {members:,} persons in {households:,} households"
        f" ({floor['rows']['change_event']:,} feed events, {floor['rows']['status_change']:,}"
        " status rows)"
    )
    print(f"{'':<28} {'wall s':>8} {'persons/s':>10} {'× COPY':>7} {'peak RSS MB':>12}")
    for name, seconds, rss in lines:
        ratio = seconds / floor["total_seconds"]
        memory = f"{rss:>12,.0f}" if rss is not None else f"{'':>12}"
        print(f"{name:<28} {seconds:>8.1f} {members / seconds:>10,.0f} {ratio:>7.2f} {memory}")
    for mode in ("validate", "commit"):
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in runs[mode]["stage_seconds"].items())
        print(f"  {mode}: upload {runs[mode]['upload_seconds']:.1f} s; {stages}")
    copies = ", ".join(f"{t} {s:.1f} s" for t, s in floor["seconds"].items())
    print(f"  raw COPY: {copies}")
    rate = members / runs["commit"]["seconds"]
    ratio = runs["commit"]["seconds"] / floor["total_seconds"]
    print(
        f"commit: {rate:,.0f} persons/s ({'meets' if rate >= TARGET_RATE else 'MISSES'} the"
        f" {TARGET_RATE:,}/s target), {ratio:.2f}× the raw COPY"
        f" ({'meets' if ratio <= TARGET_RATIO else 'MISSES'} the {TARGET_RATIO:g}× target)"
    )
    path = save(
        "registry_import",
        {
            "persons": args.persons,
            "rows": members,
            "households": households,
            "load_average": list(os.getloadavg()),
            "validate": {k: v for k, v in runs["validate"].items() if k != "job"},
            "commit": {k: v for k, v in runs["commit"].items() if k != "job"},
            "commit_report_seconds": runs["commit"]["job"]["report"]["elapsed_seconds"],
            "raw_copy": floor,
            "commit_persons_per_second": round(rate),
            "commit_to_raw_copy": round(ratio, 2),
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
