"""Monitoring settings: ``MONITORING_*`` on top of the shared ``TUOPIN_*`` ones."""

from pydantic_settings import SettingsConfigDict

from tuopin_shared.kit.settings import ServiceSettings


class MonitoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MONITORING_", extra="ignore")

    port: int = 8003
    registry_url: str = "http://127.0.0.1:8001"
