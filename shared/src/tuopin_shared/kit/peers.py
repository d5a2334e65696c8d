"""HTTP clients for calling another Tuopin service.

One client per peer, created in the lifespan and closed with it. Each call carries
the current request id (``X-Request-ID``), so the peer's log lines for it can be
found from ours, and, when tracing is on, the W3C ``traceparent`` of the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx
import structlog

from tuopin_shared.kit import tracing
from tuopin_shared.kit.logging import REQUEST_ID_HEADER

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider


async def _send_request_id(request: httpx.Request) -> None:
    if REQUEST_ID_HEADER in request.headers:
        return
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        request.headers[REQUEST_ID_HEADER] = request_id


def peer_client(
    base_url: str,
    *,
    timeout: float = 10.0,
    connect_timeout: float = 3.0,
    max_connections: int = 20,
    max_keepalive_connections: int = 10,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    tracer_provider: TracerProvider | None = None,
) -> httpx.AsyncClient:
    """A client for the peer service at ``base_url``.

    ``timeout`` bounds each read, write and wait for a pooled connection, and
    ``connect_timeout`` the connect: a peer that hangs fails the call instead of
    holding a request (or a job) forever. A deadline for a whole operation, and
    retries of idempotent calls, are the caller's (``anyio.fail_after``, stamina).
    The connection limits keep one slow peer from taking every socket.

    ``tracer_provider`` defaults to the process's when tracing is on.
    """
    client = httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
        ),
        headers=headers,
        transport=transport,
        event_hooks={"request": [_send_request_id]},
    )
    provider = tracer_provider or tracing.active_provider()
    if provider is not None:
        tracing.instrument_client(client, provider)
    return client
