"""Prometheus metrics: requests by route template, the database pool, domain counters.

Each app has its own registry (a process can hold several apps: the tests do), served
at ``/metrics`` in the Prometheus text format. Domain counters (imports, runs,
settlements, alerts) count events of the process, whichever app caused them; each
app's ``/metrics`` includes them.

    from tuopin_shared.kit import metrics

    IMPORTS = metrics.counter(
        "tuopin_imports_total", "Household imports, by mode and outcome.", ["mode", "outcome"]
    )
    IMPORTS.labels(mode="copy", outcome="ok").inc()
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tuopin_shared.kit.logging import QUIET_PATHS

# Requests that matched no route (404s, and 405s of unknown paths) share one label
# value: the raw path is unbounded and may hold personal data.
UNMATCHED = "unmatched"
# Seconds. The hottest reads take about a millisecond; imports and runs take minutes
# but run as jobs, not requests.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Names the kit's own metrics use; domain counters stay out of them.
_KIT_PREFIXES = ("tuopin_http_", "tuopin_db_pool_")
_COUNTER_NAME = re.compile(r"^tuopin_[a-z0-9_]+_total$")


class HttpMetrics:
    """Request count, latency and server errors, by method, route template and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "tuopin_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "tuopin_http_request_duration_seconds",
            "Time from receiving a request to the end of its response, by route template.",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "tuopin_http_server_errors_total",
            "Requests answered with a 5xx status (an unhandled error counts as 500).",
            ["method", "route", "status"],
            registry=registry,
        )
        # The labelled children, looked up once per combination: ``labels()`` checks
        # and locks on every call, which would be most of the cost per request.
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        # The method is the caller's to choose: unknown ones share a label (and a key).
        if method not in _METHODS:
            method = "other"
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            status_label = str(status)
            children = (
                self.requests.labels(method, route, status_label),
                self.duration.labels(method, route),
                self.errors.labels(method, route, status_label) if status >= 500 else None,
            )
            self._children[key] = children
        requests, duration, errors = children
        requests.inc()
        duration.observe(seconds)
        if errors is not None:
            errors.inc()


class MetricsMiddleware:
    """Pure ASGI: times each request and records it under its route template.

    The template is read from ``scope["route"]``, which the router sets when it
    matches; it is there once the app has run, so no second matching is needed.
    """

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in QUIET_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            self.metrics.observe(
                scope["method"],
                getattr(route, "path", UNMATCHED),
                status,
                time.perf_counter() - started,
            )


class PoolCollector(Collector):
    """The SQLAlchemy pool of ``app.state.engine``, read when scraped."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterable[Metric]:
        engine = getattr(self._app.state, "engine", None)
        pool = engine.sync_engine.pool if engine is not None else None
        if not isinstance(pool, QueuePool):
            return
        max_overflow = self._app.state.settings.max_overflow
        for name, documentation, value in (
            ("tuopin_db_pool_size", "Connections the pool keeps open (pool_size).", pool.size()),
            (
                "tuopin_db_pool_max_overflow",
                "Connections the pool may open beyond its size (max_overflow).",
                max_overflow,
            ),
            (
                "tuopin_db_pool_checked_out",
                "Connections in use by requests and jobs.",
                pool.checkedout(),
            ),
            ("tuopin_db_pool_checked_in", "Open connections idle in the pool.", pool.checkedin()),
            (
                # SQLAlchemy counts from -pool_size while the pool fills; only
                # connections beyond the pool's size are overflow.
                "tuopin_db_pool_overflow",
                "Connections open beyond the pool's size.",
                max(pool.overflow(), 0),
            ),
        ):
            yield GaugeMetricFamily(name, documentation, value=value)


# Domain counters belong to the process: a module declares them once at import.
_DOMAIN = CollectorRegistry()
_declared: dict[str, tuple[Counter, tuple[str, ...]]] = {}


def counter(name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
    """Declare a domain counter, or get the one already declared with this name.

    Names are ``tuopin_<what>_total``. Label values must come from a small fixed
    set (a mode, an outcome, a programme): never ids, names or free text.
    """
    if not _COUNTER_NAME.match(name) or name.startswith(_KIT_PREFIXES):
        raise ValueError(f"a domain counter is named tuopin_<what>_total, not {name!r}")
    labels = tuple(labelnames)
    if name in _declared:
        existing, existing_labels = _declared[name]
        if existing_labels != labels:
            raise ValueError(f"{name} is already declared with the labels {existing_labels}")
        return existing
    created = Counter(name, documentation, labels, registry=_DOMAIN)
    _declared[name] = (created, labels)
    return created


class _DomainCounters(Collector):
    def collect(self) -> Iterable[Metric]:
        return _DOMAIN.collect()


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Metrics in the Prometheus text format",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}, "description": "The metrics"}},
)
async def metrics(request: Request) -> Response:
    """Metrics of this process in the Prometheus text format; no token needed."""
    # The scraper's Accept header picks the format (Prometheus text or OpenMetrics).
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(request.app.state.metrics_registry), media_type=content_type)


def install_metrics(app: FastAPI) -> HttpMetrics:
    """Give ``app`` its registry, the middleware that fills it, and ``/metrics``."""
    # Counters' *_created series double the series count and are read by nothing here.
    disable_created_metrics()
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    registry.register(PoolCollector(app))
    registry.register(_DomainCounters())
    http = HttpMetrics(registry)
    app.state.metrics_registry = registry
    app.add_middleware(MetricsMiddleware, metrics=http)
    app.include_router(router)
    return http
