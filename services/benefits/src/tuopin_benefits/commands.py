"""The benefits service's commands for operators (``tuopin sync-registry``, ``seed-policies``)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer


def sync_registry() -> None:
    """Bring the benefits projection up to date with the registry's change feed, once."""
    from tuopin_benefits.projection.feed import client_factory
    from tuopin_benefits.projection.sync import RegistryUnavailable, sync_once
    from tuopin_benefits.settings import BenefitsSettings
    from tuopin_shared.kit.database import database_url, make_engine
    from tuopin_shared.kit.settings import CommonSettings

    common, settings = CommonSettings(), BenefitsSettings()

    async def run() -> None:
        engine = make_engine(database_url(common, settings), settings, "tuopin-benefits-sync")
        try:
            async with client_factory(common, settings) as client:
                result = await sync_once(
                    engine,
                    client,
                    page_size=settings.sync_page_size,
                    progress=lambda n: typer.echo(f"  {n:,} events applied …"),
                )
        finally:
            await engine.dispose()
        typer.echo(
            f"projection at {result.position}: {result.events:,} events in {result.pages} pages"
        )

    try:
        asyncio.run(run())
    except RegistryUnavailable as exc:
        typer.echo(f"the registry at {settings.registry_url} did not answer: {exc}", err=True)
        raise typer.Exit(1) from None


def seed_policies(
    district: Annotated[str, typer.Option(help="District code.")] = "510303",
    year: Annotated[int, typer.Option(help="Year.")] = 2020,
) -> None:
    """Save the default policy set (POLICY.md) for a district and year, unless one exists."""
    from tuopin_benefits.policies import service
    from tuopin_benefits.policies.defaults import SOURCES, default_parameters
    from tuopin_benefits.settings import BenefitsSettings
    from tuopin_shared.contracts.benefits import PolicySetInput
    from tuopin_shared.kit.database import database_url, make_engine, make_sessionmaker
    from tuopin_shared.kit.settings import CommonSettings

    common, settings = CommonSettings(), BenefitsSettings()
    body = PolicySetInput(
        district_code=district, year=year, parameters=default_parameters(), sources=SOURCES
    )

    async def run() -> str:
        engine = make_engine(database_url(common, settings), settings, "tuopin-seed-policies")
        try:
            async with make_sessionmaker(engine)() as session:
                existing = await service.in_force(session, body.district_code, year)
                if existing is not None:
                    return f"a policy set for {district} {year} exists (version {existing.version})"
                row = await service.create(session, body, "seed-policies")
                await session.commit()
                return f"saved the default policy set for {district} {year} (version {row.version})"
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()))
