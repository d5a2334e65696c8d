"""Bearer JWT authentication, roles and division scoping.

Development tokens are signed with a shared secret (``tuopin token``); production
verifies tokens from the identity provider with its public key or JWKS.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
import jwt
import structlog
from fastapi import Depends, Request
from pydantic import SecretStr

from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.contracts.divisions import division_contains, normalise_division_code
from tuopin_shared.kit.errors import Forbidden, Unauthorized
from tuopin_shared.kit.settings import CommonSettings, Environment

# The header is read by hand (a sub-dependency per request costs FastAPI time); the
# scheme is declared in each service's OpenAPI document instead (kit.app).
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "JWT issued by the identity provider (development: `tuopin token`).",
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    subject: str
    roles: frozenset[Role]
    division: str
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    institution: str | None = None

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def can_see_pii(self) -> bool:
        return Permission.pii in self.permissions

    def covers(self, division_code: str) -> bool:
        """Whether a record filed under ``division_code`` is inside the caller's scope."""
        return division_contains(self.division, division_code)


def mint_token(
    settings: CommonSettings,
    *,
    subject: str,
    roles: Iterable[Role],
    division: str,
    permissions: Iterable[Permission] = (),
    institution: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A development token signed with the shared secret."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": sorted(Role(r).value for r in roles),
        "division": normalise_division_code(division),
        "perms": sorted(Permission(p).value for p in permissions),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if institution:
        claims["institution"] = institution
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


# A development token a service mints to call a peer lasts this long.
SERVICE_TOKEN_TTL_SECONDS = 30 * 24 * 3600


def service_token(
    settings: CommonSettings,
    configured: SecretStr | None,
    *,
    setting: str,
    subject: str,
    division: str,
    permissions: Iterable[Permission] = (),
) -> str:
    """The token a service calls a peer with: the one configured (``setting`` names
    the environment variable), or, outside production, one minted with the
    development secret for role ``service``."""
    if configured is not None:
        return configured.get_secret_value()
    if settings.environment is Environment.production:
        raise RuntimeError(f"{setting} is required in production")
    return mint_token(
        settings,
        subject=subject,
        roles=[Role.service],
        division=division,
        permissions=permissions,
        ttl_seconds=SERVICE_TOKEN_TTL_SECONDS,
    )


class TokenVerifier:
    """Checks signature, issuer, audience and expiry, then reads the claims."""

    # Verified tokens are remembered until they expire: a client sends the same
    # token with every request, and checking a signature costs more than the read.
    CACHE_SIZE = 10_000

    def __init__(self, settings: CommonSettings) -> None:
        self._settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def _key(self, token: str) -> tuple[Any, list[str]]:
        if self._jwks is not None:
            # PyJWKClient fetches over blocking I/O (and caches): keep it off the event loop.
            signing_key = await anyio.to_thread.run_sync(self._jwks.get_signing_key_from_jwt, token)
            return signing_key.key, ["RS256", "ES256", "EdDSA"]
        if self._settings.jwt_public_key:
            return self._settings.jwt_public_key, ["RS256", "ES256", "EdDSA"]
        return self._settings.jwt_secret.get_secret_value(), ["HS256"]

    async def verify(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires = cached
            if time.time() < expires:
                return principal
            del self._verified[token]
        principal, expires = await self._verify(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            key, algorithms = await self._key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(
                f"invalid token: {exc}", headers=_challenge("invalid_token")
            ) from exc
        try:
            principal = Principal(
                subject=str(claims["sub"]),
                roles=frozenset(Role(r) for r in claims.get("roles", [])),
                division=normalise_division_code(str(claims["division"])),
                permissions=frozenset(
                    Permission(p) for p in claims.get("perms", []) if p in Permission.__members__
                ),
                institution=claims.get("institution"),
            )
        except (KeyError, ValueError) as exc:
            raise Unauthorized(
                f"token claims are incomplete: {exc}", headers=_challenge("invalid_token")
            ) from exc
        return principal, float(claims["exp"])


def _challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="tuopin"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


async def _authenticate(request: Request) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required", headers=_challenge())
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(token.strip())
    request.state.principal = principal
    # Every line the request logs from here on names who asked and for which
    # division; kit.logging's middleware unbinds them when the request ends.
    structlog.contextvars.bind_contextvars(user=principal.subject, division=principal.division)
    return principal


async def current_principal(request: Request) -> Principal:
    return await _authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[..., Any]:
    """Dependency that lets through only callers holding one of ``roles``.

    It authenticates by itself rather than depending on ``current_principal``:
    every level of dependency costs FastAPI time on every request.
    """
    allowed = ", ".join(sorted(r.value for r in roles))

    async def dependency(request: Request) -> Principal:
        principal = await _authenticate(request)
        if not principal.has_role(*roles):
            raise Forbidden(f"this needs one of the roles: {allowed}")
        return principal

    return dependency
