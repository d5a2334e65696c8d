"""The monitoring service."""

from __future__ import annotations

from fastapi import FastAPI

from tuopin_monitoring.settings import MonitoringSettings
from tuopin_shared.kit.app import create_service_app
from tuopin_shared.kit.service import ServiceSpec, migrations_root

SERVICE = ServiceSpec(
    name="monitoring",
    title="Tuopin monitoring",
    schema="monitoring",
    default_port=8003,
    app="tuopin_monitoring.main:create_app",
    migrations=migrations_root(__file__) / "monitoring",
    settings=MonitoringSettings,
)

DESCRIPTION = """
Plan targets, indicators, dashboards and return-to-poverty alerts.
"""


def create_app(**overrides: object) -> FastAPI:
    return create_service_app(SERVICE, [], description=DESCRIPTION, **overrides)  # type: ignore[arg-type]
