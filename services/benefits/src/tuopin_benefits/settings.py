"""Benefits settings: ``BENEFITS_*`` on top of the shared ``TUOPIN_*`` ones."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from tuopin_shared.kit.settings import ServiceSettings


class BenefitsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BENEFITS_", extra="ignore")

    port: int = 8002
    registry_url: str = "http://127.0.0.1:8001"
    registry_token: SecretStr | None = Field(
        default=None,
        description="Bearer token (role service, pii) for the registry's change feed;"
        " in development one is minted with the development secret.",
    )
    registry_timeout_seconds: float = Field(default=10.0, gt=0)
    sync_interval_seconds: float = Field(
        default=5.0, ge=0, description="Pause between feed polls; 0 turns the background sync off."
    )
    sync_page_size: int = Field(default=5000, ge=1, le=5000)
    dev_division: str = Field(
        default="510303", description="Division of the development feed token (the demo's)."
    )
