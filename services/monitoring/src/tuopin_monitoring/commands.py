"""The monitoring service's commands for operators (``tuopin seed-plan`` …)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tuopin_monitoring.settings import MonitoringSettings
    from tuopin_shared.kit.settings import CommonSettings

District = Annotated[str, typer.Option(help="District code.")]
Year = Annotated[int, typer.Option(help="Year.")]


def _engine(name: str) -> tuple[CommonSettings, MonitoringSettings, AsyncEngine]:
    from tuopin_monitoring.settings import MonitoringSettings
    from tuopin_shared.kit.database import database_url, make_engine
    from tuopin_shared.kit.settings import CommonSettings

    common, settings = CommonSettings(), MonitoringSettings()
    # Population-wide statements run as long as they need; requests keep their timeout.
    settings = settings.model_copy(update={"statement_timeout_ms": 0})
    return common, settings, make_engine(database_url(common, settings), settings, name)


def seed_plan(district: District = "510303", year: Year = 2020) -> None:
    """Save the seed plan (every target of seed/FACTS.md) for a district and year, unless
    the district has a plan for that year."""
    from tuopin_monitoring.plans import service
    from tuopin_monitoring.plans.defaults import PARAMETER_SOURCES, seed_parameters, seed_targets
    from tuopin_shared.contracts.divisions import normalise_division_code
    from tuopin_shared.contracts.monitoring import PlanInput
    from tuopin_shared.kit.database import make_sessionmaker

    _, _, engine = _engine("tuopin-seed-plan")
    code = normalise_division_code(district)
    body = PlanInput(
        district_code=code,
        year=year,
        name=f"Poverty-alleviation work plan {year}",
        parameters=seed_parameters(),
        sources=PARAMETER_SOURCES,
    )

    async def run() -> str:
        try:
            async with make_sessionmaker(engine)() as session:
                if await service.plan_for(session, code, year) is not None:
                    return f"district {code} has a plan for {year} already"
                plan = await service.create_plan(session, body, "seed-plan")
                targets = seed_targets(year)
                for target in targets:
                    await service.add_target(session, plan, target, "seed-plan")
                await session.commit()
                computed = sum(t.measurement == "computed" for t in targets)
                return (
                    f"saved the seed plan for {code} {year}: {len(targets)} targets,"
                    f" {computed} computed, {len(targets) - computed} reported (plan {plan.id})"
                )
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()))


def sync_registry() -> None:
    """Bring the monitoring projection up to date with the registry's change feed, once,
    then evaluate the alert rules of the current year's plans for the households it
    changed (`evaluate-alerts` evaluates every household)."""
    from tuopin_monitoring.jobs import evaluate_current_plans
    from tuopin_monitoring.projection.feed import client_factory
    from tuopin_monitoring.projection.sync import RegistryUnavailable, sync_once

    common, settings, engine = _engine("tuopin-monitoring-sync")

    async def run() -> None:
        try:
            async with client_factory(common, settings) as client:
                result = await sync_once(
                    engine,
                    client,
                    page_size=settings.sync_page_size,
                    progress=lambda n: typer.echo(f"  {n:,} events applied …"),
                )
            typer.echo(
                f"projection at {result.position}: {result.events:,} events in {result.pages} pages"
            )
            if result.households is None or result.households:
                opened = await evaluate_current_plans(engine, households=result.households)
                scope = "every" if result.households is None else f"{len(result.households):,}"
                typer.echo(f"{opened:,} alerts opened ({scope} changed households evaluated)")
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except RegistryUnavailable as exc:
        typer.echo(f"the registry at {settings.registry_url} did not answer: {exc}", err=True)
        raise typer.Exit(1) from None


def take_snapshot(
    district: District = "510303",
    on: Annotated[
        str | None, typer.Option("--date", help="Date of the snapshot (default today).")
    ] = None,
) -> None:
    """Take a snapshot of every computed indicator for a district's plan (for a scheduler),
    with the benefits service's figures when it answers."""
    from tuopin_monitoring.benefits.client import benefits_client
    from tuopin_monitoring.benefits.service import collect
    from tuopin_monitoring.plans.service import plan_for
    from tuopin_monitoring.snapshots.service import take
    from tuopin_shared.contracts.clock import today
    from tuopin_shared.contracts.divisions import normalise_division_code
    from tuopin_shared.kit.database import make_sessionmaker

    common, settings, engine = _engine("tuopin-snapshot")
    as_of = date.fromisoformat(on) if on else today()

    async def run() -> str:
        try:
            async with make_sessionmaker(engine)() as session:
                plan = await plan_for(session, normalise_division_code(district), as_of.year)
            if plan is None:
                return f"no plan for {district} in {as_of.year}"
            async with benefits_client(common, settings) as client:
                benefits = await collect(
                    client, plan.district_code, as_of, settings.benefits_deadline_seconds
                )
            row = await take(
                engine, plan.id, as_of, "take-snapshot", settings.snapshot_attempts, benefits
            )
            missing = "".join(
                f"\n  without {key}: {reason}" for key, reason in sorted(row.unavailable.items())
            )
            return (
                f"snapshot {row.id} at {as_of}: {row.values_count:,} values in"
                f" {row.duration_ms} ms{missing}"
            )
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()))


def evaluate_alerts(
    on: Annotated[str | None, typer.Option("--date", help="Default today.")] = None,
) -> None:
    """Evaluate the alert rules of every plan of the year now."""
    from tuopin_monitoring.jobs import evaluate_current_plans

    _, _, engine = _engine("tuopin-evaluate-alerts")
    as_of = datetime.fromisoformat(on).date() if on else None

    async def run() -> int:
        try:
            return await evaluate_current_plans(engine, as_of)
        finally:
            await engine.dispose()

    typer.echo(f"{asyncio.run(run()):,} alerts opened")
