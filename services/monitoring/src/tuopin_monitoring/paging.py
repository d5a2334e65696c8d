"""Reading the keys back out of this service's cursors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from tuopin_shared.kit.errors import Unprocessable, field_error
from tuopin_shared.kit.pagination import decode_cursor

T = TypeVar("T")


def cursor_key(cursor: str, name: str, parse: Callable[[Any], T]) -> T:
    """The ``name`` key of a cursor, parsed; a cursor this service did not issue is 422."""
    try:
        return parse(decode_cursor(cursor)[name])
    except (KeyError, TypeError, ValueError):
        raise Unprocessable(
            "the cursor is not one this service issued",
            errors=[field_error("cursor", "not a valid cursor", "cursor_invalid", "query")],
        ) from None


def as_uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))
