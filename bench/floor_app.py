"""The floor the registry's read path is measured against: a minimal FastAPI +
asyncpg endpoint that reads the same household and members rows, with no auth,
no ORM, no validation beyond the UUID, and no audit."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=4, max_size=10)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/v1/households/{household_id}")
async def get_household(household_id: uuid.UUID) -> dict[str, Any]:
    async with app.state.pool.acquire() as connection:
        household = await connection.fetchrow(
            "SELECT * FROM registry.household WHERE id = $1", household_id
        )
        if household is None:
            raise HTTPException(404)
        members = await connection.fetch(
            "SELECT * FROM registry.member WHERE household_id = $1", household_id
        )
    return {**dict(household), "members": [dict(m) for m in members]}
