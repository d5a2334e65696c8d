"""``tuopin import FILE``: import a ledger from the command line, the service's own way.

An operator's command: it runs against the database directly (no HTTP), for
every division, as ``cli:<user>``; the same checks, the same all-or-nothing
commit and the same report as ``POST /v1/imports``.
"""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

    from tuopin_registry.imports.service import ImportOptions
    from tuopin_registry.imports.sources import LedgerFile
    from tuopin_shared.contracts.imports import ImportReport, ImportStage

__all__ = ["import_ledger"]


def import_ledger(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The ledger: CSV, XLSX or NDJSON."
        ),
    ],
    validate: Annotated[
        bool, typer.Option("--validate", help="Check every row and write nothing.")
    ] = False,
) -> None:
    """Import a household ledger into the registry: every row is checked, all or none written."""
    # Imported here so that the rest of the ``tuopin`` command starts without them.
    from rich.console import Console
    from rich.markup import escape

    from tuopin_registry.imports.service import ImportOptions
    from tuopin_registry.imports.sources import (
        LedgerFile,
        LedgerFileError,
        detect_format,
        estimate_rows,
    )
    from tuopin_shared.contracts.imports import ImportMode

    # Progress and trouble on stderr; the report on stdout, for a pipe or a file.
    console = Console(stderr=True)
    try:
        ledger = LedgerFile(file, file.name, detect_format(file, file.name))
        rows = estimate_rows(ledger)
    except LedgerFileError as error:
        console.print(f"[red]cannot import {escape(file.name)}:[/] {escape(error.message)}")
        raise typer.Exit(2) from None
    options = ImportOptions(
        mode=ImportMode.VALIDATE if validate else ImportMode.COMMIT,
        actor=f"cli:{getpass.getuser()}",
        roles="cli",
        scope=None,
        can_see_pii=True,  # the operator's own file, on the operator's own terminal
    )
    try:
        report = asyncio.run(_import(ledger, options, rows, console))
    except LedgerFileError as error:
        console.print(f"[red]cannot import {escape(file.name)}:[/] {escape(error.message)}")
        raise typer.Exit(2) from None
    if report is None:
        console.print("the registry's tables do not exist: run `tuopin migrate registry` first")
        raise typer.Exit(2)
    _print(report, Console())
    if report.error_count:
        raise typer.Exit(1)


async def _import(
    ledger: LedgerFile, options: ImportOptions, rows: int | None, console: Console
) -> ImportReport | None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from tuopin_registry.demo.loader import registry_migrated
    from tuopin_registry.imports.jobs import bulk_connection
    from tuopin_registry.imports.service import run_import
    from tuopin_registry.settings import RegistrySettings
    from tuopin_shared.kit.database import database_url
    from tuopin_shared.kit.settings import CommonSettings

    url = database_url(CommonSettings(), RegistrySettings())
    async with bulk_connection(url) as connection:
        if not await registry_migrated(connection):
            return None
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("reading", total=rows)

            async def progress(stage: ImportStage, done: int) -> None:
                _advance(bar, task, stage, done)

            return await run_import(connection, ledger, options, progress=progress)


def _advance(bar: Bar, task: TaskID, stage: ImportStage, done: int) -> None:
    from tuopin_shared.contracts.imports import ImportStage

    total = bar.tasks[0].total
    # The estimate counts line breaks; once reading is over the true count is known.
    if stage is not ImportStage.READING or (total is not None and done > total):
        total = done
    bar.update(task, completed=done, total=total, description=stage.value)


def _print(report: ImportReport, console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    name = escape(report.file_name)
    what = f"{report.rows:,} rows, {report.households:,} households"
    if report.committed:
        console.print(
            f"[green]imported[/] {name}: {report.households_created:,} households,"
            f" {report.members_created:,} members in {report.elapsed_seconds:.1f} s"
        )
        return
    if report.valid:
        console.print(
            f"[green]valid[/] {name}: {what}; nothing written (--validate)"
            f" in {report.elapsed_seconds:.1f} s"
        )
        return
    table = Table(title=f"{name}: {report.error_count:,} errors; nothing written")
    table.add_column("row", justify="right")
    table.add_column("column")
    table.add_column("value")
    table.add_column("message")
    for error in report.errors:
        # The file's own text: shown as written, never read as markup.
        table.add_row(
            str(error.row),
            escape(error.header or ""),
            escape(error.value or ""),
            escape(error.message),
        )
    console.print(table)
    if report.errors_truncated:
        console.print(f"… {report.error_count - len(report.errors):,} more not listed")
    counts = ", ".join(f"{code} {count:,}" for code, count in sorted(report.error_counts.items()))
    console.print(f"{what}; errors by kind: {counts}")
