"""The append-only audit log each service keeps in its own schema.

Every write and every read of unmasked personal data is recorded: who, what,
when, and the request id that ties it to the logs.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request
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


class Recorder(Protocol):
    async def __call__(
        self,
        session: AsyncSession | AsyncConnection,
        request: Request,
        principal: Principal,
        action: str,
        entity: str,
        entity_id: Any,
        details: dict[str, Any] | None = None,
    ) -> None: ...


def recorder(table: Table) -> Recorder:
    """``record`` for a service's own audit table, taking the request id from the request."""

    async def record_for_request(
        session: AsyncSession | AsyncConnection,
        request: Request,
        principal: Principal,
        action: str,
        entity: str,
        entity_id: Any,
        details: dict[str, Any] | None = None,
    ) -> None:
        await record(
            session,
            table,
            principal,
            action,
            entity,
            entity_id,
            getattr(request.state, "request_id", None),
            details,
        )

    return record_for_request
