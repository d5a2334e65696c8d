"""Structured logs with the request id on every line, and the middleware that sets it.

Every line carries the service name, and inside a request the request id and, once
the token is verified, the user and division (kit.auth binds them). No line carries
personal data: the access log has the path but never the query string or a body,
tracebacks never show local variables, and `redact_personal_data` removes whatever
still looks like a resident ID number, a name or echoed input.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO, cast

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.tracebacks import ExceptionDictTransformer

REQUEST_ID_HEADER = "x-request-id"
# A caller's request id is echoed only if it is short and plain, so logs stay clean.
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Polled every few seconds by orchestrators and scrapers: kept out of INFO.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
REDACTED = "[redacted]"
_HANDLER_NAME = "tuopin"

# 18-character resident ID numbers (17 digits and a check digit or X) and the
# 15-digit numbers issued before 1999. Bounded by non-alphanumerics, so that hex
# request ids and trace ids, which may hold long runs of digits, are left alone.
_RESIDENT_ID = r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])"
# Log messages are written in ASCII English; text in any other script is data:
# names of people (Han, Yi, Tibetan, Uyghur or accented Latin), addresses, input.
# General punctuation (U+2000-U+206F: dashes, ellipsis, quotes) is kept.
_NON_ASCII = r"[^\x00-\x7f\u2000-\u206f]+"
_RESIDENT_ID_RE = re.compile(_RESIDENT_ID)
_DIGIT_RUN = re.compile(r"[0-9]{15}")
_PERSONAL = re.compile(f"{_RESIDENT_ID}|{_NON_ASCII}")
# Places where libraries copy input values into exception messages: SQLAlchemy's
# statement parameters, PostgreSQL's DETAIL line ("Failing row contains (...)",
# "Key (...)=(...) already exists") and pydantic's echo of the invalid input.
_ECHOED_INPUT = re.compile(
    r"\[parameters: .*?\](?=\s*(?:\(Background on this error|\Z))"
    r"|(?<=DETAIL:)[^\n]*"
    r"|(?<=input_value=).*?(?=, input_type=)",
    re.DOTALL,
)
# Shortest string that can hold a resident ID (the legacy 15-digit form).
_SHORTEST_ID = 15
# Values the kit itself writes (not input), not worth scanning on every line.
_TRUSTED_KEYS = frozenset({"request_id", "route", "service", "status", "ms", "trace_id", "span_id"})


def redact_text(text: str) -> str:
    """``text`` without resident ID numbers, non-ASCII text and echoed input."""
    if "[parameters: " in text or "DETAIL:" in text or "input_value=" in text:
        text = _ECHOED_INPUT.sub(REDACTED, text)
    if text.isascii():
        # Most lines: a plain scan for a long run of digits is cheaper than the
        # full pattern, and rules out an ID number.
        if _DIGIT_RUN.search(text) is None:
            return text
        return _RESIDENT_ID_RE.sub(REDACTED, text)
    return _PERSONAL.sub(REDACTED, text)


def contains_resident_id(text: str) -> bool:
    return len(text) >= _SHORTEST_ID and _RESIDENT_ID_RE.search(text) is not None


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        # A resident ID number logged as a number.
        return REDACTED if abs(value) >= 10**14 else value
    if isinstance(value, dict):
        return {_redact(key): _redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(item) for item in value]
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    # Anything else would be rendered with its repr, which shows its contents.
    return redact_text(str(value))


def redact_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: the last line of defence against personal data in logs.

    Scans every value of the event (nested ones too, e.g. structured tracebacks).
    It runs after exceptions are rendered to text and before the line is. It runs
    on every line, the access log's too, hence the shortcuts.
    """
    for key, value in event_dict.items():
        if key in _TRUSTED_KEYS or value is None:
            continue
        if type(value) is str:
            if len(value) >= _SHORTEST_ID or not value.isascii():
                event_dict[key] = redact_text(value)
        elif type(value) is not float:
            event_dict[key] = _redact(value)
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing.

    structlog caches each logger on first use, with the file it was configured
    with; looking the stream up per line keeps redirection (a test's capture, a
    supervisor's reopened stream) working for loggers cached earlier.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _service_name(service: str) -> Callable[[Any, str, MutableMapping[str, Any]], Any]:
    # Lines outside any request (startup, background jobs) name the service too;
    # inside a request the middleware binds the app's own name, which wins.
    def add(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
        event_dict.setdefault("service", service)
        return event_dict

    return add


def _trace_ids() -> Callable[[Any, str, MutableMapping[str, Any]], Any]:
    # Imported only when tracing is on.
    from opentelemetry.trace import get_current_span

    def add(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Any:
        context = get_current_span().get_span_context()
        if context.is_valid:
            event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
            event_dict.setdefault("span_id", format(context.span_id, "016x"))
        return event_dict

    return add


def configure_logging(
    service: str,
    level: str = "INFO",
    fmt: str = "console",
    *,
    trace_ids: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog for the process: one line per event, to stderr.

    ``trace_ids`` adds the current trace and span ids (when tracing is on), so a
    line can be found from its trace and back. ``stream`` replaces stderr.
    """
    renderer: Any
    exceptions: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        # Local variables hold request bodies and rows: never in a log line.
        exceptions = structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False)
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        # Rendered to text here, before redaction, rather than by the renderer after it.
        exceptions = structlog.processors.format_exc_info
    before: list[Any] = [structlog.contextvars.merge_contextvars, _service_name(service)]
    if trace_ids:
        before.append(_trace_ids())
    after: list[Any] = [
        exceptions,
        redact_personal_data,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    output = stream or cast(TextIO, _CurrentStderr())
    structlog.configure(
        processors=[*before, *after, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=output),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(level, output, before, after, renderer)


def _route_standard_logging(
    level: str, output: TextIO, before: list[Any], after: list[Any], renderer: Any
) -> None:
    """Lines of libraries that use the standard ``logging`` take the same way.

    uvicorn logs an unhandled error with its traceback, whose message may quote
    input; through here it is rendered and redacted like every other line.
    """
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *before],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *after,
                renderer,
            ],
        )
    )
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn gives its loggers handlers of their own: send them to ours instead.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # These log every request or call with its query string, where search terms
    # (names, ID numbers) travel: the kit's access log replaces uvicorn's, and peer
    # calls are in the caller's own lines and spans.
    for name in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


class RequestContextMiddleware:
    """Gives every request an id (the caller's ``X-Request-ID`` or a new one), binds it
    to the log context, returns it in the response, and logs one line per request.

    The line has the route template and the path, never the query string: query
    parameters are where callers put search terms such as names and ID numbers.
    """

    def __init__(self, app: ASGIApp, service: str = "") -> None:
        self.app = app
        self.service = service
        self.log = structlog.get_logger("tuopin.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                # An id that is someone's resident ID number would be on every line.
                if _ACCEPTABLE_REQUEST_ID.match(candidate) and not contains_resident_id(candidate):
                    request_id = candidate
                break
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # kit.auth binds the user and division once it knows them; a request that
        # failed earlier in this context may have left its own (see below).
        structlog.contextvars.unbind_contextvars("user", "division")
        structlog.contextvars.bind_contextvars(request_id=request_id, service=self.service)
        started = time.perf_counter()
        status = 500
        failed = False

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            failed = True
            raise
        finally:
            principal = scope["state"].get("principal")
            route = scope.get("route")
            emit = self.log.debug if scope["path"] in QUIET_PATHS else self.log.info
            emit(
                "request",
                method=scope["method"],
                route=getattr(route, "path", None),
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
                user=getattr(principal, "subject", None),
                division=getattr(principal, "division", None),
            )
            # An unhandled error is logged by the error handler, which Starlette runs
            # outside every middleware, after this one: the context stays bound for
            # it. A server runs each request in a context of its own, which ends
            # with it; an in-process caller keeps it until its next request.
            if not failed:
                structlog.contextvars.unbind_contextvars(
                    "request_id", "service", "user", "division"
                )
