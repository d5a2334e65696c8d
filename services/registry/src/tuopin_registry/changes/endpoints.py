"""The change feed: every write to the register, in an order consumers can follow."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from tuopin_registry.access import Reader, record
from tuopin_registry.changes import repository
from tuopin_shared.contracts.changes import ChangePage
from tuopin_shared.kit.errors import Unprocessable, field_error, problem_responses
from tuopin_shared.kit.http import ReadDatabase

router = APIRouter(prefix="/v1/changes", tags=["changes"])

MAX_LIMIT = 5000


@router.get("", response_model=ChangePage, responses=problem_responses())
async def list_changes(
    request: Request,
    database: ReadDatabase,
    principal: Reader,
    after: Annotated[
        str,
        Query(description="`next_after` of the previous page; `0` to start from the beginning."),
    ] = "0",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
) -> Response:
    """Events after a position, oldest first; follow `next_after` until `has_more` is false.

    While there is more, a `Link` header (RFC 8288, `rel="next"`) gives the next
    page's address, so a client can follow the feed without parsing the body.
    """
    try:
        position = repository.parse_position(after)
    except ValueError as exc:
        raise Unprocessable(
            errors=[field_error("after", str(exc), "position_invalid", "query")]
        ) from None
    async with database.connection() as connection:
        page = await repository.read_page(
            connection, position, limit, principal.division, unmasked=principal.can_see_pii
        )
        if principal.can_see_pii and page.count:
            await record(
                connection,
                request,
                principal,
                "read_pii",
                "change_feed",
                repository.format_position(position),
            )
    next_after = repository.format_position(page.last) if page.last else after
    # The events are JSON bytes already; only the envelope is put around them.
    body = b"".join(
        (
            b'{"items":[',
            page.items,
            b'],"next_after":',
            json.dumps(next_after).encode(),
            b',"has_more":',
            json.dumps(page.has_more).encode(),
            b"}",
        )
    )
    headers = {}
    if page.has_more:
        # Behind a proxy that mounts the API under a prefix, the prefix is kept.
        prefix = request.scope.get("root_path", "")
        query = urlencode({"after": next_after, "limit": limit})
        headers["Link"] = f'<{prefix}/v1/changes?{query}>; rel="next"'
    return Response(body, media_type="application/json", headers=headers)
