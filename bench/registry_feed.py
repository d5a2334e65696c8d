"""A consumer catching up on the registry's change feed from zero.

    python bench/registry_feed.py [--persons 1000000] [--limit 5000]

Loads a synthetic district (every write appends to the feed), then reads the
whole feed through the registry's HTTP API, page after page, the way benefits
and monitoring do. Target: at least 50,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import free_port, load_registry, save, scratch_database, server
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings

TARGET = 50_000


async def consume(base: str, token: str, limit: int) -> tuple[int, int, float]:
    events = pages = 0
    after = "0"
    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        while True:
            response = await client.get("/v1/changes", params={"after": after, "limit": limit})
            response.raise_for_status()
            page = response.json()
            events += len(page["items"])
            pages += 1
            after = page["next_after"]
            if not page["has_more"]:
                break
    return events, pages, time.perf_counter() - started


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
        common = CommonSettings(database_url=url)
        token = mint_token(
            common,
            subject="bench",
            roles=[Role.service],
            division="510303",
            permissions=[Permission.pii],
        )
        port = free_port()
        env = {
            "TUOPIN_DATABASE_URL": url,
            "TUOPIN_LOG_FORMAT": "json",
            "TUOPIN_ENVIRONMENT": "test",
        }
        command = [
            sys.executable,
            "-m",
            "tuopin_shared.cli",
            "serve",
            "registry",
            "--port",
            str(port),
        ]
        with server(command, port, env) as base:
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
