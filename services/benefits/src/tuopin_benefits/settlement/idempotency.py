"""Idempotency of settlement writes: who owns a key, what a request hashes to.

A retry with the same Idempotency-Key gets the first answer again (same status,
same body); the same key with another request is refused (422). Only answers
that were carried out are kept: a refused request leaves nothing behind, so
retrying it runs it again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Header

from tuopin_shared.contracts.auth import Role
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Unprocessable, field_error

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A key of the caller's choosing, new for each distinct request: a retry "
        "with the same key gets the first answer again.",
    ),
]


def owner(principal: Principal) -> str:
    """Whose key namespace a request is in.

    An institution's systems share one: a retry sent by another of its
    front-ends (another token subject) is still the same request.
    """
    if principal.has_role(Role.medical_institution) and principal.institution:
        return f"institution:{principal.institution}"
    return f"subject:{principal.subject}"


def request_hash(operation: str, body: dict[str, Any], target: str = "") -> str:
    """A digest of the request as validated, so "100" and "100.00" are the same request."""
    canonical = json.dumps(
        {"operation": operation, "target": target, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_reused() -> Unprocessable:
    return Unprocessable(
        "this Idempotency-Key was used with another request; use a new key for a new request",
        errors=[
            field_error(
                "Idempotency-Key",
                "already used with another request",
                "idempotency_key_reused",
                "header",
            )
        ],
    )
