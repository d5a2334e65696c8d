"""Idempotency keys of the writes that create runs and batches.

A key is claimed in the request's own transaction: a retry that arrives while the
first request is still running waits on the key's row and then reads the first
response, so one key never does the work twice. Keys belong to the caller: one
user's key never replays another user's response. The header, the request
digest and the refusal are the kit's (``tuopin_shared.kit.idempotency``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_shared.kit.errors import Conflict
from tuopin_shared.kit.idempotency import IdempotencyKey, key_reused, request_hash

__all__ = ["IdempotencyKey", "Replay", "claim", "remember", "request_hash"]


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


async def claim(
    session: AsyncSession, actor: str, operation: str, key: str, digest: str
) -> Replay | None:
    """None when the key is new (now held by this request); else the first response."""
    claimed = await session.scalar(
        text(
            "INSERT INTO benefits.idempotency_key (actor, operation, key, request_hash)"
            " VALUES (:actor, :operation, :key, :digest)"
            " ON CONFLICT DO NOTHING RETURNING true"
        ),
        {"actor": actor, "operation": operation, "key": key, "digest": digest},
    )
    if claimed:
        return None
    row = (
        await session.execute(
            text(
                "SELECT request_hash, status_code, response FROM benefits.idempotency_key"
                " WHERE actor = :actor AND operation = :operation AND key = :key"
            ),
            {"actor": actor, "operation": operation, "key": key},
        )
    ).one()
    if row.request_hash != digest:
        raise key_reused()
    if row.status_code is None:  # only within the first request's own transaction
        raise Conflict("the request with this Idempotency-Key is still being processed")
    return Replay(row.status_code, row.response)


async def remember(
    session: AsyncSession,
    actor: str,
    operation: str,
    key: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    await session.execute(
        text(
            "UPDATE benefits.idempotency_key SET status_code = :status_code,"
            " response = CAST(:body AS jsonb)"
            " WHERE actor = :actor AND operation = :operation AND key = :key"
        ),
        {
            "actor": actor,
            "operation": operation,
            "key": key,
            "status_code": status_code,
            "body": json.dumps(body),
        },
    )
