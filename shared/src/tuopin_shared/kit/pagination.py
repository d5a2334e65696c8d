"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from tuopin_shared.contracts.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from tuopin_shared.kit.errors import Unprocessable, field_error


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(value, dict):
        raise _bad_cursor()
    return value


def _bad_cursor() -> Unprocessable:
    return Unprocessable(
        "the cursor is not one this service issued",
        errors=[field_error("cursor", "not a valid cursor", "cursor_invalid", "query")],
    )


Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, at most {MAX_PAGE_SIZE}.")
]
DEFAULT_LIMIT = DEFAULT_PAGE_SIZE
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
