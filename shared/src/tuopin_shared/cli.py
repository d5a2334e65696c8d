"""The ``tuopin`` command for operators: migrate, serve, token, dev, and each service's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Annotated

import typer

from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.kit.service import ServiceSpec, installed_services
from tuopin_shared.kit.settings import CommonSettings

# The demo data's district (Gongjing); only the development commands default to it.
DEMO_DISTRICT = "510303"

app = typer.Typer(
    help="Tuopin: registry, benefits and monitoring for a poverty-alleviation programme.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _services(name: str) -> list[ServiceSpec]:
    services = installed_services()
    if name == "all":
        return list(services.values())
    if name not in services:
        known = ", ".join([*services, "all"])
        raise typer.BadParameter(f"unknown service {name!r}; choose from {known}")
    return [services[name]]


def _url(spec: ServiceSpec) -> str:
    from tuopin_shared.kit.database import database_url

    return database_url(CommonSettings(), spec.settings())


@app.command()
def migrate(
    service: Annotated[str, typer.Argument(help="registry, benefits, monitoring or all")] = "all",
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Bring the database schema of one service (or all) to the latest revision."""
    from tuopin_shared.kit.migrations import upgrade

    for spec in _services(service):
        typer.echo(f"migrating {spec.name} to {revision} …")
        upgrade(spec, _url(spec), revision)
    typer.echo("migrations done")


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="registry, benefits or monitoring")],
    host: Annotated[str | None, typer.Option(help="Default: the service's HOST setting.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: the service's PORT setting.")] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Serve one service with uvicorn."""
    import uvicorn

    [spec] = _services(service)
    settings = spec.settings()
    uvicorn.run(
        spec.app,
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
    )


@app.command()
def token(
    role: Annotated[list[Role], typer.Option(help="Role (repeatable).")] = [Role.admin],  # noqa: B006
    division: Annotated[
        str, typer.Option(help="Division code the token is scoped to.")
    ] = DEMO_DISTRICT,
    pii: Annotated[bool, typer.Option(help="Grant the pii permission.")] = False,
    subject: Annotated[str | None, typer.Option(help="User name; default dev-<role>.")] = None,
    institution: Annotated[str | None, typer.Option(help="Institution code (medical).")] = None,
    hours: Annotated[int, typer.Option(min=1, max=24 * 30)] = 12,
) -> None:
    """Print a development token (signed with TUOPIN_JWT_SECRET; refused in production)."""
    from tuopin_shared.kit.auth import mint_token
    from tuopin_shared.kit.settings import Environment

    settings = CommonSettings()
    if settings.environment is Environment.production:
        typer.echo("development tokens are not issued in production", err=True)
        raise typer.Exit(2)
    typer.echo(
        mint_token(
            settings,
            subject=subject or f"dev-{role[0].value}",
            roles=role,
            division=division,
            permissions=[Permission.pii] if pii else [],
            institution=institution,
            ttl_seconds=hours * 3600,
        )
    )


@app.command()
def dev(
    seed: Annotated[
        bool, typer.Option(help="Load the demo district if the register is empty.")
    ] = True,
    division: Annotated[
        str, typer.Option(help="Division of the printed admin token.")
    ] = DEMO_DISTRICT,
) -> None:
    """Run everything locally: embedded PostgreSQL, migrations, demo data, all services."""
    from tuopin_shared.kit.auth import mint_token
    from tuopin_shared.kit.embedded import embedded_database_url

    common = CommonSettings()
    # A SIGTERM (an IDE's stop button, `timeout`, systemd) shuts down like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    # Also when started from a script, where a background job inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    env = dict(os.environ)
    if common.database_url is None:
        typer.echo(f"starting embedded PostgreSQL in {common.data_dir} …")
        # This process holds the server; the services join it and it stops when we do.
        env["TUOPIN_DATABASE_URL"] = embedded_database_url(common.data_dir)
    services = installed_services()
    tuopin = [sys.executable, "-m", "tuopin_shared.cli"]
    subprocess.run([*tuopin, "migrate", "all"], env=env, check=True)
    if seed:
        subprocess.run([*tuopin, "seed-demo", "--if-empty"], env=env, check=True)
        if "benefits" in services:
            subprocess.run([*tuopin, "seed-policies"], env=env, check=True)
        if "monitoring" in services:
            subprocess.run([*tuopin, "seed-plan"], env=env, check=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for spec in services.values():
            processes.append(subprocess.Popen([*tuopin, "serve", spec.name], env=env))
        _wait_until_healthy(services, processes)
        admin = mint_token(
            common,
            subject="dev-admin",
            roles=[Role.admin],
            division=division,
            permissions=[Permission.pii],
        )
        typer.echo("")
        for spec in services.values():
            port = spec.settings().port
            typer.echo(
                f"  {spec.title:<20} http://127.0.0.1:{port}   docs: http://127.0.0.1:{port}/docs"
            )
        typer.echo(f"\n  admin token (pii, division {division}, 12 h):\n  {admin}\n")
        typer.echo("  Ctrl-C stops everything.")
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        typer.echo("a service stopped; shutting down", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _wait_until_healthy(
    services: dict[str, ServiceSpec], processes: list[subprocess.Popen[bytes]], timeout: float = 90
) -> None:
    """Poll each service's /healthz, so the URLs printed next already answer."""
    import httpx

    deadline = time.monotonic() + timeout
    for spec in services.values():
        url = f"http://127.0.0.1:{spec.settings().port}/healthz"
        while True:
            if any(p.poll() is not None for p in processes):
                raise typer.Exit(1)
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                typer.echo(f"{spec.name} did not answer on {url}", err=True)
                raise typer.Exit(1)
            time.sleep(0.3)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    for spec in installed_services().values():
        for name, command in spec.commands.items():
            app.command(name=name)(command)
    app()


if __name__ == "__main__":
    main()
