"""Registry settings: ``REGISTRY_*`` on top of the shared ``TUOPIN_*`` ones."""

from pydantic_settings import SettingsConfigDict

from tuopin_shared.kit.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    port: int = 8001
