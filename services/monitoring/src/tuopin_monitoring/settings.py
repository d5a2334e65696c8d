"""Monitoring settings: ``MONITORING_*`` on top of the shared ``TUOPIN_*`` ones."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from tuopin_shared.kit.settings import ServiceSettings


class MonitoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MONITORING_", extra="ignore")

    port: int = 8003
    registry_url: str = "http://127.0.0.1:8001"
    registry_public_url: str | None = Field(
        default=None,
        description="The registry's address as clients reach it, for links to households;"
        " default registry_url.",
    )
    registry_token: SecretStr | None = Field(
        default=None,
        description="Bearer token (role service) for the registry's change feed;"
        " in development one is minted with the development secret.",
    )
    registry_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Bound on each read of the feed (connect: 3 s)."
    )
    benefits_url: str = "http://127.0.0.1:8002"
    benefits_token: SecretStr | None = Field(
        default=None,
        description="Bearer token (role service, a division covering the districts) for the"
        " benefits service's statistics; in development one is minted with the development"
        " secret.",
    )
    benefits_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Bound on each statistics call (connect: 3 s)."
    )
    benefits_deadline_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Bound on all the benefits figures of one snapshot, retries included;"
        " past it the snapshot is taken without them, saying why.",
    )
    sync_interval_seconds: float = Field(
        default=5.0, ge=0, description="Pause between feed polls; 0 turns the background sync off."
    )
    sync_page_size: int = Field(default=5000, ge=1, le=5000)
    stale_after_seconds: float = Field(
        default=900.0,
        gt=0,
        description="The dashboard says it is stale when the last successful sync is older.",
    )
    snapshot_attempts: int = Field(
        default=4, ge=1, le=20, description="Tries of a snapshot on transient database errors."
    )
    evaluate_after_sync: bool = Field(
        default=True, description="Evaluate the alert rules after each sync that applied changes."
    )
    evaluate_daily: bool = Field(
        default=True,
        description="Evaluate the alert rules for every household once a day, at 00:05 in China"
        " (rules that change with the date alone).",
    )
    dev_division: str = Field(
        default="510303", description="Division of the development feed token (the demo's)."
    )

    @property
    def registry_link_base(self) -> str:
        return (self.registry_public_url or self.registry_url).rstrip("/")
