"""The benefits service."""

from __future__ import annotations

from fastapi import FastAPI

from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.kit.app import create_service_app
from tuopin_shared.kit.service import ServiceSpec, migrations_root

SERVICE = ServiceSpec(
    name="benefits",
    title="Tuopin benefits",
    schema="benefits",
    default_port=8002,
    app="tuopin_benefits.main:create_app",
    migrations=migrations_root(__file__) / "benefits",
    settings=BenefitsSettings,
)

DESCRIPTION = """
Policy parameter sets, yearly pension contributions, quarterly disability
subsidies, the payment ledger and one-stop medical settlement.
"""


def create_app(**overrides: object) -> FastAPI:
    return create_service_app(SERVICE, [], description=DESCRIPTION, **overrides)  # type: ignore[arg-type]
