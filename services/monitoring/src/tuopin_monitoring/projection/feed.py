"""How the monitoring service reaches the registry's feed."""

from __future__ import annotations

import httpx

from tuopin_monitoring.settings import MonitoringSettings
from tuopin_shared.kit.auth import service_token
from tuopin_shared.kit.feed import registry_client
from tuopin_shared.kit.settings import CommonSettings


def feed_token(common: CommonSettings, settings: MonitoringSettings) -> str:
    """The configured service token; in development, one minted with the development secret.

    No ``pii`` permission: the projection keeps no identities, so the feed may mask them.
    """
    return service_token(
        common,
        settings.registry_token,
        setting="MONITORING_REGISTRY_TOKEN",
        subject="monitoring-sync",
        division=settings.dev_division,
    )


def client_factory(common: CommonSettings, settings: MonitoringSettings) -> httpx.AsyncClient:
    return registry_client(
        settings.registry_url, feed_token(common, settings), settings.registry_timeout_seconds
    )
