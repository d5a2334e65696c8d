"""Reading the registry's change feed from another service.

What every consumer shares: the client, fetching a page, and following the feed
page after page into a local projection under an advisory lock. What a page
means (which tables it updates) is each consumer's own ``Projection``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import stamina
from sqlalchemy.ext.asyncio import AsyncEngine

from tuopin_shared.kit.database import driver
from tuopin_shared.kit.peers import peer_client


class RegistryUnavailable(Exception):
    """The registry did not answer (or answered 5xx) within the retries."""


@dataclass(frozen=True)
class SyncResult:
    position: str
    events: int
    pages: int


def registry_client(base_url: str, token: str, timeout: float) -> httpx.AsyncClient:
    """A client of the registry for feed reads: bounded, traced, with the request id."""
    return peer_client(
        base_url,
        timeout=timeout,
        max_connections=4,
        headers={"Authorization": f"Bearer {token}"},
    )


async def fetch_page(client: httpx.AsyncClient, after: str, limit: int) -> dict[str, Any]:
    """One page of the feed; a GET, so retried on transport errors and 5xx answers."""

    @stamina.retry(on=(httpx.TransportError, httpx.HTTPStatusError), attempts=3, timeout=30)
    async def get() -> dict[str, Any]:
        response = await client.get("/v1/changes", params={"after": after, "limit": limit})
        if response.status_code >= 500:
            response.raise_for_status()
        if response.status_code != 200:
            # 4xx will not get better by retrying: a wrong token or scope is a setup error.
            raise RuntimeError(f"registry refused the feed: {response.status_code} {response.text}")
        # A page is thousands of events: orjson parses it several times faster
        # than the standard library, and catching up is mostly parsing.
        try:
            page: dict[str, Any] = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            # Not the registry speaking (a proxy's error page sent with 200): wait
            # and try again later, like any other outage.
            kind = response.headers.get("content-type", "no content type")
            raise RegistryUnavailable(f"the feed answered with no JSON ({kind})") from None
        return page

    try:
        return await get()
    except (httpx.TransportError, httpx.HTTPStatusError) as exc:
        raise RegistryUnavailable(str(exc) or type(exc).__name__) from exc


# ---------------------------------------------------------------- following the feed


def by_entity(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A page's payloads grouped by entity, in feed order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for event in items:
        grouped.setdefault(event["entity"], []).append(event["payload"])
    return grouped


@dataclass(frozen=True)
class Projection:
    """A consumer's local copy of what it needs from the feed.

    ``apply`` maps an entity to the statement that writes a page's payloads of it
    (``$1``: their JSON array), in the order the statements run. ``read_position``
    takes the feed's name (``$1``); ``move_position`` takes the feed's name, the
    new position and the number of events applied (``$1``–``$3``).
    """

    lock: int  # advisory lock: one follower at a time, however many replicas
    read_position: str
    move_position: str
    apply: Mapping[str, str]
    group: Callable[[list[dict[str, Any]]], dict[str, list[dict[str, Any]]]] = by_entity
    feed: str = "registry"


# What a consumer does inside a page's transaction before the page is applied
# (it sees the projection as it was); what it returns is handed to ``committed``
# once the page is committed, never for a page rolled back.
BeforeApply = Callable[[Any, dict[str, list[dict[str, Any]]]], Awaitable[Any]]


async def follow(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    projection: Projection,
    *,
    page_size: int = 5000,
    progress: Callable[[int], None] | None = None,
    before_apply: BeforeApply | None = None,
    committed: Callable[[Any], None] | None = None,
) -> SyncResult:
    """Apply the feed until it has nothing more ready; returns where it stopped.

    Each page is applied set-based (one statement per entity) in one transaction
    together with the new position, so a crash between pages loses nothing and
    repeats nothing. When another follower holds the lock this one stops at once.
    """
    events = pages = 0
    while True:
        async with engine.begin() as connection:
            raw = await driver(connection)
            if not await raw.fetchval("SELECT pg_try_advisory_xact_lock($1)", projection.lock):
                return SyncResult(await position(engine, projection), events, pages)
            after = await raw.fetchval(projection.read_position, projection.feed) or "0"
            page = await fetch_page(client, after, page_size)
            grouped = projection.group(page["items"])
            noted = await before_apply(raw, grouped) if before_apply is not None else None
            for entity, statement in projection.apply.items():
                if grouped.get(entity):
                    await raw.execute(statement, json.dumps(grouped[entity]))
            await raw.execute(
                projection.move_position, projection.feed, page["next_after"], len(page["items"])
            )
        if committed is not None:
            committed(noted)
        events += len(page["items"])
        pages += 1
        if progress is not None:
            progress(events)
        if not page["has_more"]:
            return SyncResult(page["next_after"], events, pages)


async def position(engine: AsyncEngine, projection: Projection) -> str:
    """The position the projection has applied up to ("0": nothing yet)."""
    async with engine.connect() as connection:
        raw = await driver(connection)
        value = await raw.fetchval(projection.read_position, projection.feed)
    return str(value or "0")


async def follow_forever(
    sync: Callable[[], Awaitable[SyncResult]],
    interval: float,
    log: Any,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """A service's background loop: ``sync`` every ``interval`` seconds, backing off
    (doubling, up to five minutes) while the registry is down or a sync fails."""
    backoff = interval
    while True:
        try:
            result = await sync()
            if result.events:
                log.info("projection synced", events=result.events, position=result.position)
            backoff = interval
        except RegistryUnavailable as exc:
            backoff = min(max(backoff * 2, 1.0), 300.0)
            log.warning("registry unavailable; retrying", error=str(exc), retry_in=backoff)
        except Exception:
            backoff = min(max(backoff * 2, 1.0), 300.0)
            log.exception("projection sync failed", retry_in=backoff)
        await sleep(backoff)
