"""``/healthz`` (the process answers) and ``/readyz`` (database reachable, schema at head)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tuopin_shared.kit.errors import PROBLEM_JSON, problem_response
from tuopin_shared.kit.migrations import current_revisions

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz(request: Request) -> dict[str, str]:
    """The process is alive; never touches the database or peers."""
    return {"status": "ok", "service": request.app.state.spec.name}


@router.get(
    "/readyz",
    summary="Ready to serve: database reachable and migrations at head",
    responses={503: {"description": "Not ready", "content": {PROBLEM_JSON: {}}}},
)
async def readyz(request: Request) -> Any:
    """Ready to serve: the database answers and the service's schema is at the head revision."""
    spec = request.app.state.spec
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await current_revisions(connection, spec.schema)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return problem_response(
            request,
            status=503,
            title="Not ready",
            detail=f"database unreachable: {type(exc).__name__}",
        )
    problem = request.app.state.revisions.readiness(current)
    if problem is not None:
        return problem_response(request, status=503, title="Not ready", detail=problem)
    return JSONResponse({"status": "ready", "service": spec.name, "revision": sorted(current)})
