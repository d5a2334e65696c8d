"""Exporting every person of a district through the registry: NDJSON, CSV and XLSX.

    python bench/registry_export.py [--persons 1000000] [--formats ndjson,csv,xlsx] [--masked]

Loads a synthetic district, then downloads ``GET /v1/exports/persons?format=…``
from a registry server, one format after another, as a district officer with
the pii permission (unmasked, as another government system would; ``--masked``
without it). The client reads the body as it comes and counts it; the time runs
from the request to the last byte. Persons/s is the register's persons (the
deceased included, as the export has them) over that time.

Target: NDJSON at least 100,000 persons/s, streamed, with the server's memory
flat: its resident memory before each export and its peak during it are shown
(a streamed export holds a few megabytes, whatever its size). XLSX is written
whole before it is sent (a zip's directory comes last), so its time to the
first byte is most of its time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import (
    child_pid,
    dsn,
    free_port,
    load_registry,
    reset_peak_rss,
    rss_mb,
    save,
    scratch_database,
    server,
    service_command,
    service_env,
)
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings

TARGET_NDJSON = 100_000
FORMATS = ("ndjson", "csv", "xlsx")
DEFAULT_FORMATS = FORMATS


async def count_persons(url: str) -> int:
    connection = await asyncpg.connect(dsn(url))
    try:
        return int(await connection.fetchval("SELECT count(*) FROM registry.member"))
    finally:
        await connection.close()


async def download(base: str, token: str, format_: str, pid: int) -> dict[str, Any]:
    """One export, read to its end: seconds, bytes, lines and the server's memory."""
    reset_peak_rss(pid)
    before = rss_mb(pid)
    size = lines = 0
    first_byte: float | None = None
    # No read timeout: a workbook's first byte comes once all of it has been written.
    timeout = httpx.Timeout(60.0, read=None)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    ) as client:
        started = time.perf_counter()
        async with client.stream(
            "GET", "/v1/exports/persons", params={"format": format_}
        ) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                size += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "first_byte_seconds": round(first_byte or seconds, 2),
        "megabytes": round(size / 2**20, 1),
        "lines": lines,
        "server_rss_before_mb": round(before, 1),
        "server_peak_rss_mb": round(rss_mb(pid, peak=True), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument(
        "--formats",
        default=",".join(DEFAULT_FORMATS),
        help="comma-separated: ndjson, csv, xlsx (default: all three)",
    )
    parser.add_argument("--masked", action="store_true", help="export without the pii permission")
    args = parser.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if unknown := set(formats) - set(FORMATS):
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")

    results: dict[str, dict[str, Any]] = {}
    with scratch_database() as url:
        print(f"loading a synthetic district of {args.persons:,} persons …", flush=True)
        print(f"  loaded in {load_registry(url, args.persons):.1f} s", flush=True)
        persons = asyncio.run(count_persons(url))
        token = mint_token(
            CommonSettings(database_url=url),
            subject="bench",
            roles=[Role.district_officer],
            division="510303",
            permissions=[] if args.masked else [Permission.pii],
        )
        port = free_port()
        env = service_env(url)
        command = service_command("registry", port)
        with server(command, port, env) as base:
            pid = child_pid(port)
            for format_ in formats:
                print(f"{format_} …", flush=True)
                results[format_] = asyncio.run(download(base, token, format_, pid))
                print(f"  {results[format_]['seconds']:.1f} s", flush=True)

    print()
    print(
        f"GET /v1/exports/persons, {persons:,} persons, {'masked' if args.masked else 'unmasked'}"
    )
    header = f"{'':<8} {'wall s':>8} {'persons/s':>10} {'1st byte s':>10} {'MB':>8}"
    print(f"{header} {'server RSS MB before → peak':>28}")
    for format_, run in results.items():
        rate = persons / run["seconds"]
        run["persons_per_second"] = round(rate)
        memory = f"{run['server_rss_before_mb']:,.0f} → {run['server_peak_rss_mb']:,.0f}"
        print(
            f"{format_:<8} {run['seconds']:>8.1f} {rate:>10,.0f}"
            f" {run['first_byte_seconds']:>10.1f} {run['megabytes']:>8,.0f} {memory:>28}"
        )
    if "ndjson" in results:
        lines = results["ndjson"]["lines"]
        if lines != persons:
            print(f"NDJSON had {lines:,} lines for {persons:,} persons: INVALID RUN")
        rate = results["ndjson"]["persons_per_second"]
        verdict = "meets" if rate >= TARGET_NDJSON else "MISSES"
        print(f"NDJSON: {rate:,} persons/s ({verdict} the {TARGET_NDJSON:,}/s target)")
    path = save(
        "registry_export",
        {
            "persons": persons,
            "masked": args.masked,
            "load_average": list(os.getloadavg()),
            "formats": results,
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
