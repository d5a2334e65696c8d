"""The append-only audit log each service keeps in its own schema.

Every write and every read of unmasked personal data is recorded: who, what,
when, and the request id that ties it to the logs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, String, Table, func, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tuopin_shared.kit.auth import Principal

# Updates and deletes of the table are refused by a trigger each service's first
# migration installs: append-only by the database, not by convention.


def audit_table(metadata: MetaData) -> Table:
    return Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("actor", String(200), nullable=False),
        Column("roles", String(200), nullable=False),
        Column("action", String(40), nullable=False),
        Column("entity", String(40), nullable=False),
        Column("entity_id", String(64), nullable=False),
        Column("request_id", String(64)),
        Column("details", JSONB),
    )


async def record(
    session: AsyncSession | AsyncConnection,
    table: Table,
    principal: Principal,
    action: str,
    entity: str,
    entity_id: Any,
    request_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(table).values(
            actor=principal.subject,
            roles=",".join(sorted(principal.roles)),
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            request_id=request_id,
            details=details,
        )
    )
