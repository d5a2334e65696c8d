"""Reading the registry's change feed from another service.

The feed client side that every consumer shares; what a page means (which
tables it updates) is each consumer's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import stamina

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
        page: dict[str, Any] = response.json()
        return page

    try:
        return await get()
    except (httpx.TransportError, httpx.HTTPStatusError) as exc:
        raise RegistryUnavailable(str(exc) or type(exc).__name__) from exc
