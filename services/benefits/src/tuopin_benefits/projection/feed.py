"""How the benefits service reaches the registry's feed."""

from __future__ import annotations

import httpx

from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.auth import Permission
from tuopin_shared.kit.auth import service_token
from tuopin_shared.kit.feed import registry_client
from tuopin_shared.kit.settings import CommonSettings


def feed_token(common: CommonSettings, settings: BenefitsSettings) -> str:
    """The configured service token; in development, one minted with the development secret."""
    return service_token(
        common,
        settings.registry_token,
        setting="BENEFITS_REGISTRY_TOKEN",
        subject="benefits-sync",
        division=settings.dev_division,
        permissions=[Permission.pii],
    )


def client_factory(common: CommonSettings, settings: BenefitsSettings) -> httpx.AsyncClient:
    return registry_client(
        settings.registry_url, feed_token(common, settings), settings.registry_timeout_seconds
    )
