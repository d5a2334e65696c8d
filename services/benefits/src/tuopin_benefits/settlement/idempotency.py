"""Whose Idempotency-Key namespace a settlement or reversal is in.

The header, the request digest and the refusal are the kit's
(``tuopin_shared.kit.idempotency``). A settlement's key is stored by the same
statement that stores the settlement, so only answers that were carried out are
kept: a refused request leaves nothing behind, and retrying it runs it again.
"""

from __future__ import annotations

from tuopin_shared.contracts.auth import Role
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.idempotency import IdempotencyKey, key_reused, request_hash

__all__ = ["IdempotencyKey", "key_reused", "owner", "request_hash"]


def owner(principal: Principal) -> str:
    """Whose key namespace a request is in.

    An institution's systems share one: a retry sent by another of its
    front-ends (another token subject) is still the same request.
    """
    if principal.has_role(Role.medical_institution) and principal.institution:
        return f"institution:{principal.institution}"
    return f"subject:{principal.subject}"
