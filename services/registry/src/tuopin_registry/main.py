"""The registry service: the system of record for households and people."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tuopin_registry.demo.command import seed_demo
from tuopin_registry.imports.command import import_ledger
from tuopin_registry.settings import RegistrySettings
from tuopin_shared.kit.app import create_service_app
from tuopin_shared.kit.service import ServiceSpec, migrations_root

SERVICE = ServiceSpec(
    name="registry",
    title="Tuopin registry",
    schema="registry",
    default_port=8001,
    app="tuopin_registry.main:create_app",
    migrations=migrations_root(__file__) / "registry",
    settings=RegistrySettings,
    commands={"seed-demo": seed_demo, "import": import_ledger},
)

DESCRIPTION = """
The register of poor households: divisions, households and their members,
annual incomes, guarantee assessments and poverty status with its history.

Every response error is an RFC 9457 problem document. Resident ID numbers are
masked unless the token carries the `pii` permission. Updates need `If-Match`.
"""


def create_app(**overrides: object) -> FastAPI:
    from tuopin_registry.assessments.endpoints import router as assessments
    from tuopin_registry.changes.endpoints import router as changes
    from tuopin_registry.divisions.endpoints import router as divisions
    from tuopin_registry.exports.endpoints import router as exports
    from tuopin_registry.households.endpoints import router as households
    from tuopin_registry.imports.endpoints import router as imports
    from tuopin_registry.imports.jobs import jobs_of, recover_interrupted
    from tuopin_registry.incomes.endpoints import router as incomes
    from tuopin_registry.members.endpoints import router as members
    from tuopin_registry.status.endpoints import router as status

    app = create_service_app(
        SERVICE,
        [households, members, divisions, incomes, assessments, status, changes, exports, imports],
        description=DESCRIPTION,
        **overrides,  # type: ignore[arg-type]
    )
    kit_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with kit_lifespan(app):
            # Import jobs whose process has gone are marked interrupted, not left running.
            await recover_interrupted(app)
            try:
                yield
            finally:
                await jobs_of(app).cancel()

    app.router.lifespan_context = lifespan
    return app
