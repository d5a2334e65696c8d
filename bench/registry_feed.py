"""A consumer catching up on the registry's change feed from zero.

    python bench/registry_feed.py [--persons 1000000] [--limit 5000]

Loads a synthetic district (every write appends to the feed), then reads the
whole feed through the registry's HTTP API, page after page, with the client and
page reader benefits and monitoring use (``tuopin_shared.kit.feed``), parsing
every page. Target: at least 50,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import (
    dsn,
    free_port,
    load_registry,
    save,
    scratch_database,
    server,
    service_command,
    service_env,
)
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.feed import fetch_page, registry_client
from tuopin_shared.kit.settings import CommonSettings

TARGET = 50_000


async def consume(base: str, token: str, limit: int) -> tuple[int, int, float]:
    """Read the whole feed with the consumers' own client and page reader."""
    events = pages = 0
    after = "0"
    started = time.perf_counter()
    async with registry_client(base, token, timeout=60) as client:
        while True:
            page = await fetch_page(client, after, limit)
            events += len(page["items"])
            pages += 1
            after = page["next_after"]
            if not page["has_more"]:
                break
    return events, pages, time.perf_counter() - started


async def vacuum(url: str) -> None:
    connection = await asyncpg.connect(dsn(url), server_settings={"statement_timeout": "0"})
    try:
        await connection.execute("VACUUM (ANALYZE)")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=5000)
    args = parser.parse_args()
    with scratch_database() as url:
        print(f"loading a synthetic district of {args.persons:,} persons …", flush=True)
        print(f"  loaded in {load_registry(url, args.persons):.1f} s", flush=True)
        # A register in use has long been vacuumed; one loaded a moment ago would
        # be, by autovacuum, while the consumer reads.
        asyncio.run(vacuum(url))
        common = CommonSettings(database_url=url)
        token = mint_token(
            common,
            subject="bench",
            roles=[Role.service],
            division="510303",
            permissions=[Permission.pii],
        )
        port = free_port()
        with server(service_command("registry", port), port, service_env(url)) as base:
            events, pages, seconds = asyncio.run(consume(base, token, args.limit))
    rate = events / seconds
    verdict = "meets" if rate >= TARGET else "MISSES"
    print()
    print(f"change feed from zero: {events:,} events in {pages:,} pages of {args.limit}")
    print(f"{seconds:.1f} s, {rate:,.0f} events/s ({verdict} the {TARGET:,} events/s target)")
    path = save(
        "registry_feed",
        {
            "persons": args.persons,
            "events": events,
            "pages": pages,
            "seconds": round(seconds, 2),
            "events_per_second": round(rate),
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
