"""Benefits settings: ``BENEFITS_*`` on top of the shared ``TUOPIN_*`` ones."""

import re
from datetime import timedelta

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from tuopin_shared.kit.settings import ServiceSettings

_WORK_MEM = re.compile(r"([1-9][0-9]{0,9})(kB|MB|GB)")
_KB = {"kB": 1, "MB": 1024, "GB": 1024 * 1024}
# PostgreSQL's own bounds for work_mem.
_WORK_MEM_MIN_KB, _WORK_MEM_MAX_KB = 64, 2_147_483_647


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
    run_stale_after_seconds: int = Field(
        default=900,
        gt=0,
        description="A run computed from a projection that has not heard from the registry"
        " for longer than this says its inputs are stale (it is still computed: the"
        " registry may be down).",
    )
    run_work_mem: str = Field(
        default="64MB",
        description="PostgreSQL work_mem for a run's computation, in its transaction only:"
        " a district's sorts and hashes then stay in memory instead of temporary files.",
        examples=["64MB"],
    )

    @field_validator("run_work_mem")
    @classmethod
    def _work_mem(cls, value: str) -> str:
        # Checked here so that a typo stops the service at start, not every run.
        match = _WORK_MEM.fullmatch(value)
        if match is None:
            raise ValueError("a whole number followed by kB, MB or GB, such as 64MB")
        kb = int(match[1]) * _KB[match[2]]
        if not _WORK_MEM_MIN_KB <= kb <= _WORK_MEM_MAX_KB:
            raise ValueError(
                f"PostgreSQL takes between {_WORK_MEM_MIN_KB}kB and {_WORK_MEM_MAX_KB}kB"
            )
        return value

    @property
    def run_stale_after(self) -> timedelta:
        return timedelta(seconds=self.run_stale_after_seconds)
