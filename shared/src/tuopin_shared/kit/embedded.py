"""Embedded PostgreSQL (the ``pgserver`` package) for development and tests.

The same engine as production, with nothing to install. Several processes may
share one data folder: initialisation is serialised with a file lock because two
processes initialising the same empty folder at once race ("File exists").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from filelock import FileLock

_servers: dict[Path, Any] = {}


def embedded_server(data_dir: Path) -> Any:
    """Start (or join) the embedded server for ``data_dir`` and return its handle.

    The handle is kept for the life of the process; with ``cleanup_mode="stop"``
    the server stops when the last process using it exits.
    """
    data_dir = data_dir.resolve()
    if data_dir in _servers:
        return _servers[data_dir]
    # pgserver falls back to a runtime folder for its socket; say which, quietly.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime_dir()))
    try:
        import pgserver  # imported late: only development and tests need it
    except ImportError as exc:
        raise RuntimeError(
            "no database URL is configured (TUOPIN_DATABASE_URL) and the embedded PostgreSQL"
            " is not installed: install tuopin-shared[embedded] (CPython 3.11 or 3.12)"
        ) from exc

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir.parent / f".{data_dir.name}.lock"), timeout=120):
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
    _servers[data_dir] = server
    return server


def embedded_database_url(data_dir: Path, database: str = "tuopin") -> str:
    """SQLAlchemy asyncpg URL of ``database`` on the embedded server, created if missing."""
    server = embedded_server(data_dir)
    if not database.replace("_", "").isalnum():
        raise ValueError(f"unexpected database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    # pgserver hands out "postgresql://postgres:@/postgres?host=<socket dir>".
    uri: str = server.get_uri(database)
    return uri.replace("postgresql://", "postgresql+asyncpg://", 1)


def _runtime_dir() -> Path:
    path = Path("/tmp") / f"tuopin-runtime-{os.getuid()}"  # noqa: S108 - a socket folder
    # platformdirs insists on a private runtime folder, as XDG asks.
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path
