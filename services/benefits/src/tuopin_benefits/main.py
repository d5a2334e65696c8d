"""The benefits service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tuopin_benefits.commands import seed_policies, sync_registry
from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.kit.app import create_service_app
from tuopin_shared.kit.service import ServiceSpec, migrations_root
from tuopin_shared.kit.settings import CommonSettings

SERVICE = ServiceSpec(
    name="benefits",
    title="Tuopin benefits",
    schema="benefits",
    default_port=8002,
    app="tuopin_benefits.main:create_app",
    migrations=migrations_root(__file__) / "benefits",
    settings=BenefitsSettings,
    commands={"sync-registry": sync_registry, "seed-policies": seed_policies},
)

DESCRIPTION = """
Policy parameter sets, yearly pension contributions, quarterly disability
subsidies, the payment ledger and one-stop medical settlement.

People and households come from a local projection of the registry's change
feed, kept current in the background, so runs keep working while the registry
is down.
"""


def create_app(
    common: CommonSettings | None = None, settings: BenefitsSettings | None = None
) -> FastAPI:
    from tuopin_benefits.policies.endpoints import router as policies
    from tuopin_benefits.runs.endpoints import router as runs
    from tuopin_benefits.settlement.endpoints import router as settlements
    from tuopin_benefits.settlement.endpoints import stats_router as medical_stats

    common = common or CommonSettings()
    settings = settings or BenefitsSettings()
    app = create_service_app(
        SERVICE,
        [policies, runs, settlements, medical_stats],
        description=DESCRIPTION,
        common=common,
        settings=settings,
    )
    kit_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with kit_lifespan(app):
            task = None
            if settings.sync_interval_seconds > 0:
                from tuopin_benefits.projection.feed import client_factory, feed_token
                from tuopin_benefits.projection.sync import sync_forever

                # Resolved now: in production a missing token stops the start
                # instead of the background sync dying unseen.
                feed_token(common, settings)

                task = asyncio.create_task(
                    sync_forever(
                        app.state.engine,
                        lambda: client_factory(common, settings),
                        settings.sync_interval_seconds,
                        settings.sync_page_size,
                    )
                )
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.router.lifespan_context = lifespan
    return app
