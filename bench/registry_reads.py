"""GET /v1/households/{id} through the registry against a minimal FastAPI + asyncpg
endpoint reading the same rows from the same database, in the same run.

    python bench/registry_reads.py [--persons 100000] [--seconds 10] [--connections 32]

Target: the registry reaches at least 50% of the floor's requests per second.
Both servers run one uvicorn worker; wrk (one thread) drives them in turn on the
same machine. The registry runs as in production: bearer token verified, scope
checked, resident IDs masked, JSON logs at INFO (to /dev/null).
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
    wrk,
)
from tuopin_shared.contracts.auth import Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings

TARGET_RATIO = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per server")
    args = parser.parse_args()

    with scratch_database() as url:
        print(f"loading a synthetic district of {args.persons:,} persons …", flush=True)
        seconds = load_registry(url, args.persons)
        print(f"  loaded in {seconds:.1f} s", flush=True)

        async def sample() -> list[str]:
            connection = await asyncpg.connect(dsn(url))
            try:
                rows = await connection.fetch(
                    "SELECT id FROM registry.household ORDER BY random() LIMIT 2000"
                )
            finally:
                await connection.close()
            return [str(r["id"]) for r in rows]

        paths = [f"/v1/households/{i}" for i in asyncio.run(sample())]
        common = CommonSettings(database_url=url)
        token = mint_token(
            common, subject="bench", roles=[Role.district_officer], division="510303"
        )
        registry_port, floor_port = free_port(), free_port()
        env = service_env(url, FLOOR_DSN=dsn(url))
        registry_cmd = service_command("registry", registry_port)
        floor_cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.floor_app:app",
            "--port",
            str(floor_port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        results: dict[str, list[dict[str, float]]] = {"registry": [], "floor": []}
        with (
            server(registry_cmd, registry_port, env) as registry,
            server(floor_cmd, floor_port, env) as floor,
        ):
            headers = {"Authorization": f"Bearer {token}"}
            # Warm both (connection pools, caches), then alternate so neither gets the quieter slot.
            wrk(registry, paths, headers, 2, args.connections)
            wrk(floor, paths, {}, 2, args.connections)
            for _ in range(args.rounds):
                results["registry"].append(
                    wrk(registry, paths, headers, args.seconds, args.connections)
                )
                results["floor"].append(wrk(floor, paths, {}, args.seconds, args.connections))
                time.sleep(1)

    best = {
        name: max(runs, key=lambda r: r["requests_per_second"]) for name, runs in results.items()
    }
    failures = {name: run for name, run in best.items() if run["errors"] or run["non_2xx"]}
    ratio = best["registry"]["requests_per_second"] / best["floor"]["requests_per_second"]
    print()
    print(
        f"GET /v1/households/{{id}}, {args.persons:,} persons, {args.connections} connections,"
        f" best of {args.rounds} × {args.seconds} s"
    )
    print(f"{'':<10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, run in best.items():
        rps, p50, p99 = run["requests_per_second"], run["p50_ms"], run["p99_ms"]
        print(f"{name:<10} {rps:>10,.0f} {p50:>8.1f} {p99:>8.1f}")
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    for name, run in failures.items():
        print(f"{name}: {run['errors']} socket errors, {run['non_2xx']} non-2xx answers")
    if failures:
        verdict = "INVALID RUN; " + verdict
    print(f"ratio registry / floor: {ratio:.2f} ({verdict} the {TARGET_RATIO:.0%} target)")
    path = save(
        "registry_reads",
        {
            "persons": args.persons,
            "connections": args.connections,
            "runs": results,
            "ratio": round(ratio, 3),
        },
    )
    print(f"saved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
