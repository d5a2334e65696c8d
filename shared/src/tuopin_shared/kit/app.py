"""Builds a service's FastAPI application on the kit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from tuopin_shared.kit.auth import TokenVerifier
from tuopin_shared.kit.database import database_url, make_engine, make_sessionmaker
from tuopin_shared.kit.errors import install_error_handlers
from tuopin_shared.kit.health import router as health_router
from tuopin_shared.kit.logging import RequestContextMiddleware, configure_logging
from tuopin_shared.kit.migrations import revisions
from tuopin_shared.kit.service import ServiceSpec
from tuopin_shared.kit.settings import CommonSettings, ServiceSettings

Hook = Callable[[FastAPI], Any]


def _operation_id(route: APIRoute) -> str:
    # Readable operationIds for generated clients: the endpoint function's name.
    return route.name


def create_service_app(
    spec: ServiceSpec,
    routers: Sequence[APIRouter],
    *,
    description: str,
    common: CommonSettings | None = None,
    settings: ServiceSettings | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
) -> FastAPI:
    common = common or CommonSettings()
    common.check_token_settings()
    settings = settings or spec.settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, common.log_level, common.log_format)
        url = database_url(common, settings)
        engine = make_engine(url, settings, application_name=f"tuopin-{spec.name}")
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.revisions = revisions(spec)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title=spec.title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_tags=openapi_tags,
    )
    app.state.spec = spec
    app.state.common = common
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(common)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    return app
