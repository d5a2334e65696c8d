"""How the benefits service reaches the registry's feed."""

from __future__ import annotations

import httpx

from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.feed import registry_client
from tuopin_shared.kit.settings import CommonSettings, Environment


def feed_token(common: CommonSettings, settings: BenefitsSettings) -> str:
    """The configured service token; in development, one minted with the development secret."""
    if settings.registry_token is not None:
        return settings.registry_token.get_secret_value()
    if common.environment is Environment.production:
        raise RuntimeError("BENEFITS_REGISTRY_TOKEN is required in production")
    return mint_token(
        common,
        subject="benefits-sync",
        roles=[Role.service],
        division=settings.dev_division,
        permissions=[Permission.pii],
        ttl_seconds=30 * 24 * 3600,
    )


def client_factory(common: CommonSettings, settings: BenefitsSettings) -> httpx.AsyncClient:
    return registry_client(
        settings.registry_url, feed_token(common, settings), settings.registry_timeout_seconds
    )
