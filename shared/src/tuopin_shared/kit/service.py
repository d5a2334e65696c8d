"""What a service tells the ``tuopin`` command about itself (entry point ``tuopin.services``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    schema: str
    default_port: int
    app: str  # import string for uvicorn, "package.module:app"
    migrations: Path
    settings: Callable[[], Any]
    # Extra commands the service adds to the ``tuopin`` CLI: name -> typer callback.
    commands: dict[str, Callable[..., Any]] = field(default_factory=dict)


def migrations_root(anchor: str) -> Path:
    """The ``migrations/`` folder: ``TUOPIN_MIGRATIONS_DIR``, or the one in the checkout the
    package was installed from (editable install), found by walking up from ``anchor``."""
    configured = os.environ.get("TUOPIN_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    for parent in Path(anchor).resolve().parents:
        if (parent / "migrations").is_dir() and (parent / "services").is_dir():
            return parent / "migrations"
    # Installed without a checkout (an image): the folder is next to the working directory.
    return Path("migrations").resolve()


def installed_services() -> dict[str, ServiceSpec]:
    found: dict[str, ServiceSpec] = {}
    for ep in entry_points(group="tuopin.services"):
        spec = ep.load()
        found[spec.name] = spec
    order = {"registry": 0, "benefits": 1, "monitoring": 2}
    return dict(sorted(found.items(), key=lambda item: order.get(item[0], 99)))
