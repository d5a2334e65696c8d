"""Settings shared by every service (``TUOPIN_*``) and the base of each service's own."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Works only in development: a process that is told it runs in production refuses it.
DEVELOPMENT_JWT_SECRET = "tuopin-development-secret-do-not-use-in-production"  # noqa: S105


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class CommonSettings(BaseSettings):
    """Settings every service reads, prefixed ``TUOPIN_``."""

    model_config = SettingsConfigDict(env_prefix="TUOPIN_", extra="ignore")

    environment: Environment = Environment.development
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Empty: an embedded PostgreSQL is started in data_dir.",
    )
    data_dir: Path = Field(
        default=Path(".data/pg"), description="Data folder of the embedded PostgreSQL."
    )
    jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    jwt_public_key: str | None = Field(
        default=None, description="PEM public key that verifies RS256/ES256 tokens."
    )
    jwks_url: str | None = Field(default=None, description="JWKS address of the identity provider.")
    jwt_issuer: str = "tuopin"
    jwt_audience: str = "tuopin"
    log_level: str = "INFO"
    log_format: str = Field(default="console", pattern="^(console|json)$")

    @model_validator(mode="after")
    def _production_needs_a_database(self) -> CommonSettings:
        if self.environment is Environment.production and self.database_url is None:
            raise ValueError("TUOPIN_DATABASE_URL is required in production")
        return self

    def check_token_settings(self) -> None:
        """Refuse the development secret outside development and test.

        Checked when a service starts, not when settings load, so that commands
        that verify no tokens (``tuopin migrate``) need only the database URL.
        """
        if (
            self.environment is Environment.production
            and self.jwt_public_key is None
            and self.jwks_url is None
            and self.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
        ):
            raise ValueError(
                "TUOPIN_JWT_SECRET is the development default; in production set "
                "TUOPIN_JWT_PUBLIC_KEY or TUOPIN_JWKS_URL (or a secret of your own)"
            )
        shared_secret = self.jwt_public_key is None and self.jwks_url is None
        if shared_secret and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("TUOPIN_JWT_SECRET must be at least 32 characters")


class ServiceSettings(BaseSettings):
    """Base of one service's settings; each subclass sets its own env prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = Field(
        default=None, description="Overrides TUOPIN_DATABASE_URL for this service alone."
    )
    pool_size: int = Field(default=10, ge=1, le=200)
    # No overflow: an overflow connection is opened and closed again under sustained
    # load, and a connect costs more than waiting for a pooled connection.
    max_overflow: int = Field(default=0, ge=0, le=200)
    statement_timeout_ms: int = Field(default=30_000, ge=0)
