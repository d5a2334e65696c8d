"""Appends to the change feed in the writer's own transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry.db import change_event


async def append(
    session: AsyncSession,
    division_code: str,
    entity: str,
    entity_id: uuid.UUID,
    version: int,
    kind: str,
    payload: dict[str, Any],
) -> None:
    await session.execute(
        insert(change_event).values(
            division_code=division_code,
            entity=entity,
            entity_id=entity_id,
            version=version,
            kind=kind,
            payload=payload,
        )
    )
