"""How the monitoring service reaches the registry's feed."""

from __future__ import annotations

import httpx

from tuopin_monitoring.settings import MonitoringSettings
from tuopin_shared.contracts.auth import Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.feed import registry_client
from tuopin_shared.kit.settings import CommonSettings, Environment


def feed_token(common: CommonSettings, settings: MonitoringSettings) -> str:
    """The configured service token; in development, one minted with the development secret.

    No ``pii`` permission: the projection keeps no identities, so the feed may mask them.
    """
    if settings.registry_token is not None:
        return settings.registry_token.get_secret_value()
    if common.environment is Environment.production:
        raise RuntimeError("MONITORING_REGISTRY_TOKEN is required in production")
    return mint_token(
        common,
        subject="monitoring-sync",
        roles=[Role.service],
        division=settings.dev_division,
        ttl_seconds=30 * 24 * 3600,
    )


def client_factory(common: CommonSettings, settings: MonitoringSettings) -> httpx.AsyncClient:
    return registry_client(
        settings.registry_url, feed_token(common, settings), settings.registry_timeout_seconds
    )
