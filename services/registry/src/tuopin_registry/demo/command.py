"""``tuopin seed-demo``: load the demo district into the registry's database."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated

import typer

from tuopin_registry.demo.generator import DEFAULT_PERSONS

if TYPE_CHECKING:
    from tuopin_registry.demo.generator import DemoDistrict
    from tuopin_registry.demo.loader import LoadSummary, Progress

__all__ = ["seed_demo"]

# Bulk statements run longer than any request may; the operator's own timeout
# for the service does not apply to this one-off load.
_SERVER_SETTINGS = {
    "application_name": "tuopin-seed-demo",
    "statement_timeout": "0",
    "timezone": "UTC",
}


def seed_demo(
    persons: Annotated[
        int,
        typer.Option(
            min=1,
            help="People in the demo district; the default is Gongjing's lifted-out "
            "population named in the 2020 plan.",
        ),
    ] = DEFAULT_PERSONS,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed always gives the same district.")
    ] = 2020,
    if_empty: Annotated[
        bool,
        typer.Option("--if-empty", help="Load nothing if the register already has households."),
    ] = False,
) -> None:
    """Load a synthetic, realistic demo district (Gongjing 2020) into the registry."""
    # Imported here so that the rest of the ``tuopin`` command starts without them.
    import asyncpg

    from tuopin_registry.demo.generator import generate
    from tuopin_registry.settings import RegistrySettings
    from tuopin_shared.kit.database import database_url
    from tuopin_shared.kit.settings import CommonSettings

    url = database_url(CommonSettings(), RegistrySettings())
    # asyncpg takes the plain libpq form of the URL SQLAlchemy is given.
    dsn = url.replace("+asyncpg", "", 1)
    district = generate(persons, seed)
    typer.echo(f"generating and loading {persons:,} persons (seed {seed}, year {district.year}) …")
    try:
        summary = asyncio.run(_seed(dsn, district, if_empty, _Printer()))
    except asyncpg.UniqueViolationError as error:
        typer.echo(
            # The constraint's name, not the error's detail: that quotes a resident ID.
            f"nothing loaded: {error.constraint_name} refused a row; the register already "
            "holds what the demo would add. Load it into an empty register, or pass --if-empty.",
            err=True,
        )
        raise typer.Exit(1) from None
    except (OSError, asyncpg.PostgresError) as error:
        typer.echo(f"nothing loaded: {error}", err=True)
        raise typer.Exit(1) from None

    if summary is None:
        typer.echo(
            "the registry's tables do not exist: run `tuopin migrate registry` first", err=True
        )
        raise typer.Exit(2)
    if not summary.loaded:
        typer.echo(f"nothing loaded: {summary.skipped_because} (--if-empty)")
        return
    typer.echo(
        f"loaded {summary.households:,} households, {summary.members:,} members, "
        f"{summary.incomes:,} incomes, {summary.assessments:,} assessments and "
        f"{summary.status_changes:,} status changes ({summary.change_events:,} change events, "
        f"{summary.divisions:,} new divisions) in {summary.elapsed_seconds:.1f} s"
    )


async def _seed(
    dsn: str, district: DemoDistrict, if_empty: bool, progress: Progress
) -> LoadSummary | None:
    """The load's summary, or None when the registry has not been migrated."""
    import asyncpg

    from tuopin_registry.demo.loader import load, registry_migrated

    connection = await asyncpg.connect(dsn, server_settings=_SERVER_SETTINGS)
    try:
        if not await registry_migrated(connection):
            return None
        return await load(connection, district, if_empty=if_empty, progress=progress)
    finally:
        await connection.close()


class _Printer:
    """Prints the loader's progress, at most about once a second for the persons."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, stage: str, count: int) -> None:
        if stage == "persons":
            now = time.monotonic()
            if now - self._last < 1.0:
                return
            self._last = now
            typer.echo(f"  {count:,} persons …")
        elif stage == "divisions":
            typer.echo(f"  {count:,} new divisions")
        elif stage == "change_events":
            typer.echo(f"  {count:,} change events appended")
