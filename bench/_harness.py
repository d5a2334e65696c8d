"""What the benchmarks share: a scratch database, a loaded district, servers, wrk."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from tuopin_registry.demo.generator import generate
from tuopin_registry.demo.loader import load
from tuopin_registry.main import SERVICE as REGISTRY
from tuopin_shared.kit.database import asyncpg_url
from tuopin_shared.kit.embedded import embedded_database_url
from tuopin_shared.kit.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh database (on TUOPIN_BENCH_DATABASE_URL's server, or an embedded one)."""
    configured = os.environ.get("TUOPIN_BENCH_DATABASE_URL")
    server = (
        asyncpg_url(configured)
        if configured
        else embedded_database_url(ROOT / ".data" / "bench-pg", database="postgres")
    )
    name = f"tuopin_bench_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(dsn(server))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def load_registry(url: str, persons: int, seed: int = 7) -> float:
    """Migrate the registry schema and load a synthetic district; returns seconds."""
    upgrade(REGISTRY, url)

    async def run() -> float:
        connection = await asyncpg.connect(dsn(url), server_settings={"statement_timeout": "0"})
        try:
            summary = await load(connection, generate(persons, seed))
        finally:
            await connection.close()
        return summary.elapsed_seconds

    return asyncio.run(run())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_command(service: str, port: int, *options: str) -> list[str]:
    """``tuopin serve SERVICE`` on ``port``, as the benchmarks start a service."""
    return [
        sys.executable,
        *("-m", "tuopin_shared.cli", "serve", service, "--port", str(port), *options),
    ]


def service_env(url: str, **settings: str) -> dict[str, str]:
    """A service's environment as in production (JSON logs at INFO) on ``url``."""
    return {
        "TUOPIN_DATABASE_URL": url,
        "TUOPIN_LOG_FORMAT": "json",
        "TUOPIN_ENVIRONMENT": "test",
        **settings,
    }


@contextmanager
def server(command: list[str], port: int, env: dict[str, str]) -> Iterator[str]:
    """Start an HTTP server process and wait until it answers."""
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {' '.join(command)}")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start: {' '.join(command)}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def child_pid(port: int) -> int:
    """The server this process started on ``port``: its child whose command line names it."""
    me = os.getpid()
    for pid in Path(f"/proc/{me}/task/{me}/children").read_text().split():
        if str(port).encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
            return int(pid)
    raise RuntimeError(f"no child process serving port {port}")


def reset_peak_rss(pid: int) -> None:
    """Start a process's high-water mark of resident memory again from now (Linux 4.0+)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def rss_mb(pid: int, peak: bool = False) -> float:
    """A process's resident memory now, or its high-water mark, in MiB."""
    field = "VmHWM:" if peak else "VmRSS:"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def wrk(
    base: str, paths: list[str], headers: dict[str, str], seconds: int, connections: int
) -> dict[str, Any]:
    """Drive ``base`` with wrk over ``paths`` (picked at random); requests/s and latency."""
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
        + "}\n"
        + "request = function()\n"
        + '  return wrk.format("GET", paths[math.random(#paths)])\nend\n'
        + "done = function(summary, latency, requests)\n"
        + '  io.write(string.format("JSON {\\"requests\\": %d, \\"errors\\": %d, '
        + '\\"non2xx\\": %d, \\"p50\\": %d, \\"p99\\": %d}\\n", summary.requests, '
        + "summary.errors.connect + summary.errors.read + summary.errors.write + "
        + "summary.errors.timeout, summary.errors.status, latency:percentile(50), "
        + "latency:percentile(99)))\nend\n"
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
        "requests_per_second": round(rps, 1),
        "p50_ms": figures["p50"] / 1000,
        "p99_ms": figures["p99"] / 1000,
        "requests": figures["requests"],
        "errors": figures["errors"],
        "non_2xx": figures["non2xx"],
    }


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    return path
