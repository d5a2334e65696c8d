"""Metrics, logs and traces of a service on the kit, on a real database.

The app here is the kit with a small router of its own, so that each test can
make exactly the requests it needs: ones that log their input, fail with it, or
run SQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI, Request
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field
from sqlalchemy import text

from tuopin_registry.main import SERVICE
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.identity import make_resident_id
from tuopin_shared.kit import errors, metrics, tracing
from tuopin_shared.kit.app import create_service_app
from tuopin_shared.kit.auth import CurrentPrincipal, mint_token
from tuopin_shared.kit.peers import peer_client
from tuopin_shared.kit.settings import CommonSettings

RESIDENT_ID = make_resident_id("510303", date(1980, 3, 15), 123)
LEGACY_ID = "510303800315123"  # the 15-digit form issued before 1999
NAME = "张三丰"
SECRETS = (RESIDENT_ID, RESIDENT_ID[:17], LEGACY_ID, NAME)
W3C_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
W3C_PARENT_ID = "b7ad6b7169203331"

things = APIRouter(prefix="/v1/things", tags=["things"])


class Thing(BaseModel):
    name: str = Field(max_length=4)
    resident_id: str


@things.get("/{thing_id}")
async def read_thing(
    thing_id: str, principal: CurrentPrincipal, q: str | None = None
) -> dict[str, Any]:
    """Logs its input, as careless code would; reports whether a span is current."""
    structlog.get_logger("tests.things").info("thing read", thing=thing_id, query=q)
    return {"traced": trace.get_current_span().get_span_context().is_valid}


@things.post("")
async def file_thing(body: Thing, principal: CurrentPrincipal) -> dict[str, Any]:
    """Fails with its input in the message, as a bug would."""
    raise RuntimeError(f"cannot file {body.name} ({body.resident_id})")


@things.get("/{thing_id}/number")
async def thing_number(thing_id: str, request: Request, principal: CurrentPrincipal) -> Any:
    """Runs SQL with the path's value: a driver error echoes it."""
    async with request.app.state.engine.connect() as connection:
        number = await connection.scalar(
            text("SELECT CAST(CAST(:value AS text) AS integer)"), {"value": thing_id}
        )
    return {"number": number}


@things.get("/{thing_id}/pool")
async def pool_while_held(thing_id: str, request: Request, principal: CurrentPrincipal) -> Any:
    """The pool's metrics as scraped while this request holds a connection."""
    async with request.app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        scraped = metric_values(generate_latest(request.app.state.metrics_registry).decode())
    return {"checked_out": value(scraped, "tuopin_db_pool_checked_out")}


def things_app(common: CommonSettings, **overrides: Any) -> FastAPI:
    return create_service_app(SERVICE, [things], description="Tests.", common=common, **overrides)


def client_of(app: FastAPI) -> httpx.AsyncClient:
    # Unhandled errors are answered with a 500 here, as a server would, not raised.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def bearer(common: CommonSettings) -> dict[str, str]:
    token = mint_token(common, subject="officer-7", roles=[Role.admin], division="510303")
    return {"Authorization": f"Bearer {token}"}


def metric_values(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def decoded(data: Any) -> str:
    """``data`` as JSON text with non-ASCII characters as themselves, for searching."""
    return json.dumps(data, ensure_ascii=False, default=str)


@pytest.fixture
def json_settings(database_url: str) -> CommonSettings:
    return CommonSettings(database_url=database_url, environment="test", log_format="json")


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture
def fresh_error_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    # structlog caches a logger with the configuration of its first use; the error
    # handler's may have been used by an earlier test with the console format.
    monkeypatch.setattr(errors, "log", structlog.get_logger("tuopin.errors"))


# Metrics


async def test_metrics_count_requests_by_route_template_and_status(
    common_settings: CommonSettings,
) -> None:
    app = things_app(common_settings)
    auth = bearer(common_settings)
    async with app.router.lifespan_context(app), client_of(app) as client:
        for thing in ("a", "b"):
            assert (await client.get(f"/v1/things/{thing}", headers=auth)).status_code == 200
        assert (await client.get("/v1/things/a")).status_code == 401
        assert (await client.get(f"/v1/no/such/{RESIDENT_ID}")).status_code == 404
        failed = await client.post(
            "/v1/things", json={"name": "x", "resident_id": "y"}, headers=auth
        )
        assert failed.status_code == 500
        for probe in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(probe)).status_code == 200
        # No token needed, like the probes.
        scraped = await client.get("/metrics")

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    samples = metric_values(scraped.text)
    requests = "tuopin_http_requests_total"
    route = "/v1/things/{thing_id}"
    assert value(samples, requests, method="GET", route=route, status="200") == 2
    assert value(samples, requests, method="GET", route=route, status="401") == 1
    assert value(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert value(samples, requests, method="POST", route="/v1/things", status="500") == 1
    errors_total = "tuopin_http_server_errors_total"
    assert value(samples, errors_total, method="POST", route="/v1/things", status="500") == 1
    assert value(samples, errors_total, method="GET", route=route, status="200") is None
    duration = "tuopin_http_request_duration_seconds"
    assert value(samples, f"{duration}_count", method="GET", route=route) == 3
    assert value(samples, f"{duration}_bucket", method="GET", route=route, le="+Inf") == 3
    # Probes and scrapes are not requests worth counting; raw paths never become labels.
    routes = {dict(labels).get("route") for _, labels in samples}
    assert routes <= {None, route, "/v1/things", "unmatched"}
    assert RESIDENT_ID not in scraped.text
    assert "/v1/things/a" not in scraped.text


async def test_metrics_show_the_database_pool(common_settings: CommonSettings) -> None:
    app = things_app(common_settings)
    async with app.router.lifespan_context(app), client_of(app) as client:
        held = await client.get("/v1/things/x/pool", headers=bearer(common_settings))
        after = metric_values((await client.get("/metrics")).text)

    assert held.json() == {"checked_out": 1}
    assert value(after, "tuopin_db_pool_size") == app.state.settings.pool_size
    assert value(after, "tuopin_db_pool_max_overflow") == app.state.settings.max_overflow
    assert value(after, "tuopin_db_pool_checked_out") == 0
    assert (value(after, "tuopin_db_pool_checked_in") or 0) >= 1
    assert value(after, "tuopin_db_pool_overflow") == 0


async def test_each_app_has_its_own_registry(common_settings: CommonSettings) -> None:
    first, second = things_app(common_settings), things_app(common_settings)
    async with first.router.lifespan_context(first), client_of(first) as client:
        await client.get("/v1/things/a", headers=bearer(common_settings))
    async with second.router.lifespan_context(second), client_of(second) as client:
        samples = metric_values((await client.get("/metrics")).text)
    assert not [key for key in samples if key[0] == "tuopin_http_requests_total"]


async def test_domain_counters(common_settings: CommonSettings) -> None:
    events = metrics.counter("tuopin_test_events_total", "Events of the test.", ["outcome"])
    # Declared again (a module imported twice, a second app): the same counter.
    assert metrics.counter("tuopin_test_events_total", "Events.", ["outcome"]) is events
    with pytest.raises(ValueError, match="already declared with the labels"):
        metrics.counter("tuopin_test_events_total", "Events.", ["mode"])
    for wrong in ("imports", "tuopin_imports", "tuopin_http_imports_total"):
        with pytest.raises(ValueError, match="tuopin_<what>_total"):
            metrics.counter(wrong, "Wrong.")
    app = things_app(common_settings)
    async with app.router.lifespan_context(app), client_of(app) as client:
        before = value(
            metric_values((await client.get("/metrics")).text),
            "tuopin_test_events_total",
            outcome="ok",
        )
        events.labels(outcome="ok").inc()
        events.labels(outcome="ok").inc()
        samples = metric_values((await client.get("/metrics")).text)
    assert value(samples, "tuopin_test_events_total", outcome="ok") == (before or 0) + 2


def test_metrics_are_public_in_the_openapi_document(common_settings: CommonSettings) -> None:
    document = things_app(common_settings).openapi()
    assert document["paths"]["/metrics"]["get"]["security"] == []
    assert document["paths"]["/v1/things/{thing_id}"]["get"]["security"] == [{"bearer": []}]


# Logs


@pytest.mark.usefixtures("fresh_error_logger")
async def test_logs_name_the_request_and_never_a_resident_or_an_id_number(
    json_settings: CommonSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = things_app(json_settings)
    auth = bearer(json_settings)
    query = {"q": NAME, "resident_id": RESIDENT_ID, "legacy": LEGACY_ID}
    async with app.router.lifespan_context(app), client_of(app) as client:
        capsys.readouterr()
        responses = [
            # In the path, the query string and the headers; logged by the route itself.
            await client.get(
                f"/v1/things/{RESIDENT_ID}",
                params=query,
                headers=[
                    *((key.encode(), value.encode()) for key, value in auth.items()),
                    (b"X-Request-ID", RESIDENT_ID.encode()),
                    (b"X-Name", NAME.encode()),
                ],
            ),
            await client.get(f"/v1/things/{NAME}", params={"q": LEGACY_ID}, headers=auth),
            await client.get(f"/v1/things/{LEGACY_ID}", params=query),  # no token: 401
            # In the body; the bug's message and the validation error echo it.
            await client.post(
                "/v1/things", json={"name": NAME, "resident_id": RESIDENT_ID}, headers=auth
            ),
            await client.post(
                "/v1/things", json={"name": NAME * 3, "resident_id": RESIDENT_ID}, headers=auth
            ),
            # The driver's error quotes the statement's parameters.
            await client.get(f"/v1/things/{RESIDENT_ID}/number", headers=auth),
            await client.get(f"/v1/things/{NAME}/number", headers=auth),
        ]
        output = capsys.readouterr().err
        # A request that succeeds leaves nothing of itself in the caller's log context.
        assert (await client.get("/healthz")).status_code == 200
        assert not {"request_id", "user", "division"} & set(structlog.contextvars.get_contextvars())

    assert [r.status_code for r in responses] == [200, 200, 401, 500, 422, 500, 500]
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    # JSON escapes non-ASCII text: look in the decoded lines as well as the raw ones.
    for secret in SECRETS:
        assert secret not in output
        assert secret not in decoded(lines)
    # A caller's request id that is an ID number is replaced, not echoed.
    assert responses[0].headers["x-request-id"] != RESIDENT_ID

    assert all(line["service"] == "registry" for line in lines)
    assert all(line.get("request_id") for line in lines)
    access = [line for line in lines if line["event"] == "request"]
    assert len(access) == len(responses)
    for line, response in zip(access, responses, strict=True):
        # A 500 is sent by Starlette's outermost layer, without the header: the
        # problem document has the id.
        assert line["request_id"] == (
            response.headers.get("x-request-id") or response.json()["request_id"]
        )
        assert line["status"] == response.status_code
        assert "?" not in line["path"]
        if line["status"] != 401:
            assert (line["user"], line["division"]) == ("officer-7", "510303000000")
    assert {line["route"] for line in access} == {
        "/v1/things/{thing_id}",
        "/v1/things",
        "/v1/things/{thing_id}/number",
    }
    # Lines logged during a request carry its user and division too.
    read = [line for line in lines if line["event"] == "thing read"]
    assert len(read) == 2
    assert all((line["user"], line["division"]) == ("officer-7", "510303000000") for line in read)
    assert [line["request_id"] for line in read] == [
        r.headers["x-request-id"] for r in responses[:2]
    ]
    # The failures are logged, with their tracebacks, and their input removed.
    failures = [line for line in lines if line["event"] == "unhandled error"]
    assert len(failures) == 3
    assert all(line["exception"] and line["user"] == "officer-7" for line in failures)
    assert "[redacted]" in json.dumps(failures)


async def test_standard_library_log_lines_are_rendered_and_redacted_too(
    json_settings: CommonSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = things_app(json_settings)
    async with app.router.lifespan_context(app):
        capsys.readouterr()
        try:
            raise ValueError(f"no household for {NAME} {RESIDENT_ID}")
        except ValueError:
            # What uvicorn logs when an error escapes the app.
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        logging.getLogger("uvicorn.access").info('"GET /v1/x?name=a HTTP/1.1" 200')
        output = capsys.readouterr().err
    [line] = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert line["logger"] == "uvicorn.error"
    assert line["service"] == "registry"
    assert line["level"] == "error"
    assert "ValueError" in decoded(line["exception"])
    for secret in SECRETS:
        assert secret not in output
        assert secret not in decoded(line)


def test_redaction() -> None:
    from tuopin_shared.kit.logging import redact_personal_data

    event = {
        "event": f"holder {NAME} of {RESIDENT_ID.lower()}",
        "legacy": int(LEGACY_ID),
        "nested": {"rows": [(RESIDENT_ID, "ok")]},
        "sql": "[SQL: INSERT x]\n[parameters: ('Zhang San', 42)]\n(Background on this error at: z)",
        "pydantic": "too long [type=string_too_long, input_value='Zhang San', input_type=str]",
        "postgres": "violates check\nDETAIL:  Failing row contains (Zhang San, 42).",
        "request_id": "0af7651916cd43dd8448eb211c80319c",
        "hex": "ab510303198003151230cd",
        "count": 3,
    }
    redacted = redact_personal_data(None, "info", dict(event))
    assert redacted["event"] == "holder [redacted] of [redacted]"
    assert redacted["legacy"] == "[redacted]"
    assert redacted["nested"] == {"rows": [["[redacted]", "ok"]]}
    for key in ("sql", "pydantic", "postgres"):
        assert "Zhang San" not in redacted[key]
        assert "[redacted]" in redacted[key]
    # Hex ids hold long runs of digits: they are not ID numbers and stay whole.
    for key in ("request_id", "hex", "count"):
        assert redacted[key] == event[key]


# Traces


def _stack_types(app: FastAPI) -> list[str]:
    names = []
    layer: Any = app.middleware_stack
    while layer is not None:
        names.append(type(layer).__name__)
        layer = getattr(layer, "app", None)
    return names


async def test_tracing_is_off_by_default(
    common_settings: CommonSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    app = things_app(common_settings)
    async with app.router.lifespan_context(app), client_of(app) as client:
        response = await client.get("/v1/things/a", headers=bearer(common_settings))
    assert response.json() == {"traced": False}
    assert app.state.tracer_provider is None
    assert tracing.active_provider() is None
    # No tracer provider installed: the API's placeholder is still the global one.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert "OpenTelemetryMiddleware" not in _stack_types(app)


def test_tracing_follows_the_standard_environment_variables() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert not tracing.tracing_requested({})
    assert tracing.tracing_requested(endpoint)
    assert tracing.tracing_requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/v1/traces"})
    assert tracing.tracing_requested({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing.tracing_requested({**endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not tracing.tracing_requested({**endpoint, "OTEL_TRACES_EXPORTER": "none"})
    assert tracing.provider_from_environment("registry", {}) is None
    with pytest.raises(ValueError, match="zipkin"):
        tracing.provider_from_environment("registry", {"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(ValueError, match="grpc"):
        tracing.provider_from_environment(
            "registry", {**endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        )


async def test_a_request_makes_a_server_span_and_a_database_span(
    json_settings: CommonSettings,
    spans: tuple[TracerProvider, InMemorySpanExporter],
    capsys: pytest.CaptureFixture[str],
) -> None:
    provider, exporter = spans
    app = things_app(json_settings, tracer_provider=provider)
    auth = bearer(json_settings)
    traceparent = f"00-{W3C_TRACE_ID}-{W3C_PARENT_ID}-01"
    async with app.router.lifespan_context(app), client_of(app) as client:
        capsys.readouterr()
        response = await client.get(
            "/v1/things/42/number", headers={**auth, "traceparent": traceparent}
        )
        assert (await client.get("/healthz")).status_code == 200
        logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        finished = _finished(exporter)
        exporter.clear()
        private = await client.get(
            f"/v1/things/{RESIDENT_ID}", params={"resident_id": RESIDENT_ID}, headers=auth
        )
    assert response.json() == {"number": 42}
    assert private.json() == {"traced": True}

    in_trace = [s for s in finished if s.context and s.context.trace_id == int(W3C_TRACE_ID, 16)]
    [server] = [s for s in in_trace if s.kind is SpanKind.SERVER]
    assert server.name == "GET /v1/things/{thing_id}/number"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/v1/things/{thing_id}/number"
    # A child of the caller's span: the trace context came in with traceparent.
    assert server.parent is not None and server.parent.span_id == int(W3C_PARENT_ID, 16)
    database = [s for s in in_trace if s.kind is SpanKind.CLIENT]
    assert len(database) == 1
    attributes = dict(database[0].attributes or {})
    assert "SELECT CAST" in str(attributes.get("db.statement", attributes.get("db.query.text")))
    assert _descends_from(database[0], server, in_trace)
    # The probe is not traced; the request's log line names its trace.
    assert all("healthz" not in s.name for s in finished)
    [access] = [line for line in logged if line.get("route") == "/v1/things/{thing_id}/number"]
    assert access["trace_id"] == W3C_TRACE_ID
    # URLs in spans lose their query strings and ID numbers.
    traced = decoded([dict(s.attributes or {}) for s in exporter.get_finished_spans()])
    assert RESIDENT_ID not in traced
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


async def test_exported_spans_hold_no_personal_data(json_settings: CommonSettings) -> None:
    raw, redacted = InMemorySpanExporter(), InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(raw))
    provider.add_span_processor(SimpleSpanProcessor(tracing.redacting(redacted)))
    app = things_app(json_settings, tracer_provider=provider)
    body = {"name": NAME, "resident_id": RESIDENT_ID}
    async with app.router.lifespan_context(app), client_of(app) as client:
        failed = await client.post("/v1/things", json=body, headers=bearer(json_settings))
    provider.shutdown()
    assert failed.status_code == 500

    def everything(spans: Any) -> str:
        return decoded(
            [
                [s.name, dict(s.attributes or {}), s.status.description]
                + [[e.name, dict(e.attributes or {})] for e in s.events]
                for s in spans
            ]
        )

    # The error is on the server span with its message, which quotes the input ...
    assert NAME in everything(raw.get_finished_spans())
    # ... and leaves the process without it, still saying what failed.
    sent = everything(redacted.get_finished_spans())
    for secret in SECRETS:
        assert secret not in sent
    assert "RuntimeError" in sent
    [server] = [s for s in redacted.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.status.status_code.name == "ERROR"
    assert server.context == next(
        s.context for s in raw.get_finished_spans() if s.kind is SpanKind.SERVER
    )


def _finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def _descends_from(span: ReadableSpan, ancestor: ReadableSpan, trace: list[ReadableSpan]) -> bool:
    by_id = {s.context.span_id: s for s in trace if s.context is not None}
    current: ReadableSpan | None = span
    while current is not None and current.parent is not None:
        if ancestor.context is not None and current.parent.span_id == ancestor.context.span_id:
            return True
        current = by_id.get(current.parent.span_id)
    return False


# Calls to peers


async def test_peer_calls_carry_the_request_id_and_the_trace(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    sent: list[httpx.Request] = []

    def peer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    tokens = structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        async with peer_client(
            "http://registry:8001", transport=httpx.MockTransport(peer), tracer_provider=provider
        ) as client:
            assert client.timeout.connect == 3.0
            with provider.get_tracer("tests").start_as_current_span("caller") as caller:
                await client.get("/v1/persons", params={"resident_id": RESIDENT_ID})
            await client.get("/v1/persons", headers={"X-Request-ID": "the-callers-own"})
        untraced_transport = httpx.MockTransport(peer)
        async with peer_client("http://registry:8001", transport=untraced_transport) as untraced:
            await untraced.get("/v1/persons")
    finally:
        structlog.contextvars.reset_contextvars(**tokens)

    assert [r.headers.get("x-request-id") for r in sent] == ["req-42", "the-callers-own", "req-42"]
    caller_trace = format(caller.get_span_context().trace_id, "032x")
    assert sent[0].headers["traceparent"].split("-")[1] == caller_trace
    assert "traceparent" not in sent[2].headers
    [call, _] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert RESIDENT_ID not in decoded(dict(call.attributes or {}))
