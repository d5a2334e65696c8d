"""Builds a service's FastAPI application on the kit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from tuopin_shared.kit import tracing
from tuopin_shared.kit.auth import BEARER_SCHEME, TokenVerifier
from tuopin_shared.kit.database import database_url, make_engine, make_sessionmaker
from tuopin_shared.kit.errors import install_error_handlers
from tuopin_shared.kit.health import router as health_router
from tuopin_shared.kit.logging import RequestContextMiddleware, configure_logging
from tuopin_shared.kit.metrics import install_metrics
from tuopin_shared.kit.migrations import revisions
from tuopin_shared.kit.service import ServiceSpec
from tuopin_shared.kit.settings import CommonSettings, ServiceSettings

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

Hook = Callable[[FastAPI], Any]


def _operation_id(route: APIRoute) -> str:
    # Readable operationIds for generated clients: the endpoint function's name.
    return route.name


# Routes anyone may call without a token: the probes and the metrics scrape.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _openapi_with_bearer_auth(app: FastAPI) -> dict[str, Any]:
    """The generated document, with the bearer scheme required on every non-public route."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = (
            BEARER_SCHEME
        )
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                operation["security"] = [] if path in PUBLIC_PATHS else [{"bearer": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def create_service_app(
    spec: ServiceSpec,
    routers: Sequence[APIRouter],
    *,
    description: str,
    common: CommonSettings | None = None,
    settings: ServiceSettings | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The service's app on the kit.

    ``tracer_provider`` traces this app with the given provider; by default it is
    traced only when the OTEL_ environment variables ask for it (kit.tracing).
    """
    common = common or CommonSettings()
    common.check_token_settings()
    settings = settings or spec.settings()
    provider = tracer_provider or tracing.provider_from_environment(spec.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            spec.name, common.log_level, common.log_format, trace_ids=provider is not None
        )
        url = database_url(common, settings)
        engine = make_engine(url, settings, application_name=f"tuopin-{spec.name}")
        if provider is not None:
            tracing.instrument_engine(engine, provider)
        app.state.engine = engine
        # The same pool; its connections run statements outside a transaction.
        app.state.read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.revisions = revisions(spec)
        try:
            yield
        finally:
            if provider is not None:
                tracing.uninstrument_app(app)
            await engine.dispose()

    app = FastAPI(
        title=spec.title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_tags=openapi_tags,
        # FastAPI's own OpenTelemetry support stays off: kit.tracing makes the
        # spans and kit.metrics the metrics, and the per-request check that
        # FastAPI would otherwise make costs the hottest read time for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.spec = spec
    app.state.common = common
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(common)
    app.openapi = lambda: _openapi_with_bearer_auth(app)  # type: ignore[method-assign]
    app.state.tracer_provider = provider
    install_error_handlers(app)
    app.include_router(health_router)
    install_metrics(app)
    # Added last, so it runs first: the request id is bound before the rest runs.
    app.add_middleware(RequestContextMiddleware, service=spec.name)
    if provider is not None:
        tracing.instrument_app(app, provider)
    for router in routers:
        app.include_router(router)
    return app
