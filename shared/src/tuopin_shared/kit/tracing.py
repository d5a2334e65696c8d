"""OpenTelemetry traces of requests, SQL statements and calls to peer services.

Off unless the standard variables ask for it, so that a service without a collector
pays nothing and installs no tracer provider:

- ``OTEL_SDK_DISABLED=true`` keeps it off whatever else is set;
- ``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, or both comma-separated; ``none``
  is off) turns it on, and so does an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``
  or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) on its own;
- the OTLP exporter speaks HTTP/protobuf; the SDK reads the rest of the standard
  variables itself (headers, sampler, batch sizes, ``OTEL_SERVICE_NAME``,
  ``OTEL_RESOURCE_ATTRIBUTES``).

Spans carry route templates, SQL statements without their parameters, and URLs
without query strings; what they hold of errors (messages, stack traces) is
redacted before export like a log line (kit.logging).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tuopin_shared.kit.logging import REDACTED, redact_text

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

SUPPORTED_EXPORTERS = frozenset({"otlp", "console"})
# The probes and the scrape are polled all day and say nothing about a request.
_UNTRACED_URLS = r"^https?://[^/]+/(?:healthz|readyz|metrics)$"
# Attributes of server and client spans that may hold a path or a query string.
_URL_ATTRIBUTES = ("http.url", "url.full", "http.target", "url.path")
_QUERY_ATTRIBUTES = ("url.query",)

# One provider per process: the environment it comes from is the process's.
_process_provider: TracerProvider | None = None


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters the environment asks for; empty when tracing stays off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    configured = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if configured:
        names = [name.strip() for name in configured.split(",") if name.strip()]
        return [] if names == ["none"] else names
    if environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    ):
        return ["otlp"]
    return []


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    return bool(_exporter_names(os.environ if environ is None else environ))


def _check(names: list[str], environ: Mapping[str, str]) -> None:
    # A collector that never receives a span is found out late: refuse to start.
    unknown = sorted(set(names) - SUPPORTED_EXPORTERS)
    if unknown:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER: {', '.join(unknown)} is not available;"
            f" use {', '.join(sorted(SUPPORTED_EXPORTERS))} or none"
        )
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if "otlp" in names and protocol.strip() != "http/protobuf":
        raise ValueError(f"OTLP over {protocol} is not available; use http/protobuf")


def provider_from_environment(
    service: str, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """The process's tracer provider when the environment asks for traces, else None.

    Created once and installed as the global provider, so that spans a service
    starts itself (``opentelemetry.trace.get_tracer``) join the same traces.
    """
    global _process_provider
    environ = os.environ if environ is None else environ
    names = _exporter_names(environ)
    if not names:
        return None
    if _process_provider is None:
        _check(names, environ)
        from opentelemetry import trace
        from opentelemetry.sdk.resources import (
            SERVICE_NAME,
            SERVICE_NAMESPACE,
            OTELResourceDetector,
            Resource,
        )
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

        # The operator's OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win over ours.
        resource = Resource.create(
            {SERVICE_NAME: f"tuopin-{service}", SERVICE_NAMESPACE: "tuopin"}
        ).merge(OTELResourceDetector().detect())
        provider = TracerProvider(resource=resource)
        for name in names:
            if name == "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                exporter: SpanExporter = OTLPSpanExporter()
            else:
                exporter = ConsoleSpanExporter()
            provider.add_span_processor(BatchSpanProcessor(redacting(exporter)))
        trace.set_tracer_provider(provider)
        _process_provider = provider
    return _process_provider


def active_provider() -> TracerProvider | None:
    """The provider set up from the environment, if tracing is on in this process."""
    return _process_provider


def redacting(exporter: SpanExporter) -> SpanExporter:
    """``exporter``, sent only copies of the spans without personal data.

    Errors are recorded on spans with their message and stack trace, and a message
    may quote input; attributes, events and status are redacted as log lines are
    (kit.logging). This runs in the exporting thread, off the request's path.
    """
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import Status

    def clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        return {
            key: redact_text(value)
            if isinstance(value, str)
            else tuple(redact_text(v) if isinstance(v, str) else v for v in value)
            if isinstance(value, tuple | list)
            else value
            for key, value in (attributes or {}).items()
        }

    def redacted(span: ReadableSpan) -> ReadableSpan:
        status = span.status
        if status.description:
            status = Status(status.status_code, redact_text(status.description))
        return ReadableSpan(
            name=redact_text(span.name),
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=clean(span.attributes),
            events=[Event(e.name, clean(e.attributes), e.timestamp) for e in span.events],
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    class RedactingExporter(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return exporter.export([redacted(span) for span in spans])

        def shutdown(self) -> None:
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return exporter.force_flush(timeout_millis)

    return RedactingExporter()


def _redact_urls(span: Span) -> None:
    attributes: Mapping[str, Any] = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, redact_text(value.partition("?")[0]))
    for key in _QUERY_ATTRIBUTES:
        if attributes.get(key):
            span.set_attribute(key, REDACTED)


def _server_request_hook(span: Span, _scope: dict[str, Any]) -> None:
    if span.is_recording():
        _redact_urls(span)


async def _client_request_hook(span: Span, _request: Any) -> None:
    # A coroutine: the instrumentation calls only coroutine hooks for async clients.
    if span.is_recording():
        _redact_urls(span)


def _no_meter() -> Any:
    # Metrics are Prometheus's (kit.metrics); the instrumentations record none.
    from opentelemetry.metrics import NoOpMeterProvider

    return NoOpMeterProvider()


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """A server span per request, named by method and route template; the caller's
    W3C ``traceparent`` makes it a child of the caller's span."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=_no_meter(),
        excluded_urls=_UNTRACED_URLS,
        # A span per ASGI message would outnumber the useful ones.
        exclude_spans=["receive", "send"],
        server_request_hook=_server_request_hook,
    )


def uninstrument_app(app: FastAPI) -> None:
    """Undo `instrument_app` when the app stops.

    The instrumentation also wraps Starlette's ``BackgroundTask`` for the whole
    process, with this app's tracer; that must not outlive the app (a process can
    run several apps in turn: the tests do).
    """
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.uninstrument_app(app)


def instrument_engine(engine: AsyncEngine, provider: TracerProvider) -> None:
    """A client span per SQL statement (the statement, never its parameters).

    Uses the instrumentation's per-engine tracer rather than its instrumentor,
    which also patches ``create_engine`` for the whole process and can be applied
    only once per process: each app instruments its own engine, and only it.
    The listeners go with the engine when it is disposed.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__

    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__)
    connections = (
        _no_meter()
        .get_meter("opentelemetry.instrumentation.sqlalchemy")
        .create_up_down_counter("db.client.connections.usage")
    )
    EngineTracer(tracer, engine.sync_engine, connections)


def instrument_client(client: httpx.AsyncClient, provider: TracerProvider) -> None:
    """A client span per call, and the W3C ``traceparent`` header on it."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(
        client,
        tracer_provider=provider,
        meter_provider=_no_meter(),
        request_hook=_client_request_hook,
    )
