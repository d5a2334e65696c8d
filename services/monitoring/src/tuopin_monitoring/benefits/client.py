"""How the monitoring service reaches the benefits service's statistics.

One client per process (created in the lifespan, or by a command), with the
service token. Each call is a GET, retried on transport errors and 5xx answers;
whatever still fails becomes ``StatisticsUnavailable`` with a reason a person can
read, which the snapshot records and the dashboard shows.
"""

from __future__ import annotations

from typing import Any

import httpx
import stamina
from pydantic import TypeAdapter, ValidationError

from tuopin_monitoring.settings import MonitoringSettings
from tuopin_shared.contracts.medical import MedicalStats
from tuopin_shared.contracts.runs import EntitlementStat, TotalsLevel
from tuopin_shared.kit.auth import service_token
from tuopin_shared.kit.peers import peer_client
from tuopin_shared.kit.settings import CommonSettings


class StatisticsUnavailable(Exception):
    """The benefits service's statistics could not be had; the message says why."""


def statistics_token(common: CommonSettings, settings: MonitoringSettings) -> str:
    """The configured service token; in development, one minted with the development secret.

    No ``pii`` permission: statistics are counts and sums, never people.
    """
    return service_token(
        common,
        settings.benefits_token,
        setting="MONITORING_BENEFITS_TOKEN",
        subject="monitoring-statistics",
        division=settings.dev_division,
    )


def benefits_client(
    common: CommonSettings,
    settings: MonitoringSettings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    return peer_client(
        settings.benefits_url,
        timeout=settings.benefits_timeout_seconds,
        max_connections=4,
        headers={"Authorization": f"Bearer {statistics_token(common, settings)}"},
        transport=transport,
    )


class _ServerError(Exception):
    """A 5xx answer: the next try may well succeed."""


async def _get(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> Any:
    @stamina.retry(on=(httpx.TransportError, _ServerError), attempts=3, timeout=20)
    async def attempt() -> httpx.Response:
        response = await client.get(path, params=params)
        if response.status_code >= 500:
            raise _ServerError(f"{response.status_code} {response.reason_phrase}")
        return response

    try:
        response = await attempt()
    except httpx.TransportError as exc:
        raise StatisticsUnavailable(
            f"the benefits service could not be reached ({type(exc).__name__})"
        ) from exc
    except _ServerError as exc:
        raise StatisticsUnavailable(f"the benefits service failed on {path}: {exc}") from exc
    if response.status_code != 200:
        # 4xx does not get better by retrying: a wrong token or scope is a setup error.
        raise StatisticsUnavailable(
            f"the benefits service refused {path}: {response.status_code} {_detail(response)}"
        )
    try:
        return response.json()
    except ValueError as exc:
        # A proxy's error page with a 200, a truncated body: unavailable, not a 500.
        raise StatisticsUnavailable(f"the benefits service answered {path} with no JSON") from exc


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    return str(body.get("detail") or body.get("title") or "") if isinstance(body, dict) else ""


_ENTITLEMENT_STATS = TypeAdapter(list[EntitlementStat])


async def medical_stats(client: httpx.AsyncClient, division: str, year: int) -> MedicalStats:
    """Settlements of the division's children by discharge month, for the year."""
    body = await _get(client, "/v1/stats/medical", {"division": division, "year": year})
    try:
        return MedicalStats.model_validate(body)
    except ValidationError as exc:
        raise StatisticsUnavailable(_unexpected("/v1/stats/medical", exc)) from exc


async def entitlement_stats(
    client: httpx.AsyncClient, division: str, period: str, level: TotalsLevel
) -> list[EntitlementStat]:
    """Eligible and paid persons and amounts by program, at ``level`` under the division."""
    body = await _get(
        client,
        "/v1/stats/entitlements",
        {"division": division, "period": period, "level": level.value},
    )
    try:
        return _ENTITLEMENT_STATS.validate_python(body)
    except ValidationError as exc:
        raise StatisticsUnavailable(_unexpected("/v1/stats/entitlements", exc)) from exc


def _unexpected(path: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"the benefits service answered {path} in an unexpected shape ({where}: {first['msg']})"
