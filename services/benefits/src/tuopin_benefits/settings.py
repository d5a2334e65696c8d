"""Benefits settings: ``BENEFITS_*`` on top of the shared ``TUOPIN_*`` ones."""

from pydantic_settings import SettingsConfigDict

from tuopin_shared.kit.settings import ServiceSettings


class BenefitsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BENEFITS_", extra="ignore")

    port: int = 8002
    registry_url: str = "http://127.0.0.1:8001"
