"""The monitoring service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from tuopin_monitoring.commands import evaluate_alerts, seed_plan, sync_registry, take_snapshot
from tuopin_monitoring.settings import MonitoringSettings
from tuopin_shared.kit.app import create_service_app
from tuopin_shared.kit.service import ServiceSpec, migrations_root
from tuopin_shared.kit.settings import CommonSettings

SERVICE = ServiceSpec(
    name="monitoring",
    title="Tuopin monitoring",
    schema="monitoring",
    default_port=8003,
    app="tuopin_monitoring.main:create_app",
    migrations=migrations_root(__file__) / "monitoring",
    settings=MonitoringSettings,
    commands={
        "seed-plan": seed_plan,
        "monitoring-sync": sync_registry,
        "take-snapshot": take_snapshot,
        "evaluate-alerts": evaluate_alerts,
    },
)

DESCRIPTION = """
Plan targets, indicators, dashboards and return-to-poverty alerts.

Computed indicators and alerts read a local projection of the registry's change
feed, kept current in the background; the social-security indicators come from the
benefits service's statistics, asked when a snapshot is taken. Dashboards answer
from the last snapshot, so they keep answering while the registry or benefits is
down and say how old their data is, or which figures are missing and why.
Reported indicators come from the divisions' progress reports.
"""

TAGS = [
    {"name": "plans", "description": "A plan per district and year, and its targets."},
    {"name": "progress reports", "description": "Reported indicators, by division and date."},
    {"name": "snapshots", "description": "Computed indicators at a date, stored whole."},
    {"name": "dashboard", "description": "Is the plan on track, here, now?"},
    {"name": "indicators", "description": "The catalogue, and the households behind it."},
    {"name": "alerts", "description": "Households at risk of returning to poverty."},
]


def create_app(
    common: CommonSettings | None = None, settings: MonitoringSettings | None = None
) -> FastAPI:
    from tuopin_monitoring.alerts.endpoints import router as alerts
    from tuopin_monitoring.dashboard.endpoints import router as dashboard
    from tuopin_monitoring.indicators.endpoints import router as indicators
    from tuopin_monitoring.plans.endpoints import router as plans
    from tuopin_monitoring.reports.endpoints import router as reports
    from tuopin_monitoring.snapshots.endpoints import router as snapshots

    common = common or CommonSettings()
    settings = settings or MonitoringSettings()
    app = create_service_app(
        SERVICE,
        [plans, reports, snapshots, dashboard, indicators, alerts],
        description=DESCRIPTION,
        common=common,
        settings=settings,
        openapi_tags=TAGS,
    )
    kit_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from tuopin_monitoring.benefits.client import benefits_client
        from tuopin_monitoring.projection.feed import client_factory, feed_token

        async with kit_lifespan(app):
            # Both tokens are resolved now: in production a missing one stops the start
            # instead of the first sync or snapshot failing later.
            app.state.benefits = benefits_client(common, settings)
            task = daily = None
            try:
                if settings.evaluate_daily:
                    from tuopin_monitoring.jobs import evaluate_daily

                    daily = asyncio.create_task(evaluate_daily(app.state.engine))
                if settings.sync_interval_seconds > 0:
                    from tuopin_monitoring.jobs import evaluate_changed
                    from tuopin_monitoring.projection.sync import sync_forever

                    feed_token(common, settings)
                    engine = app.state.engine
                    task = asyncio.create_task(
                        sync_forever(
                            engine,
                            lambda: client_factory(common, settings),
                            settings.sync_interval_seconds,
                            settings.sync_page_size,
                            partial(evaluate_changed, engine)
                            if settings.evaluate_after_sync
                            else None,
                        )
                    )
                yield
            finally:
                for background in (task, daily):
                    if background is not None:
                        background.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await background
                await app.state.benefits.aclose()

    app.router.lifespan_context = lifespan
    return app
