"""Idempotency-Key on the writes that must never happen twice.

A retry with the same key and the same request gets the first answer again
(same status, same body); the same key with another request is refused (422).
What is shared here is the wire side: the header, what a request hashes to, and
the refusal. Where a key is kept is each write's own business: it is stored in
the same transaction (or the same statement) as what the write does, so a key
is never remembered for work that was not done.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel

from tuopin_shared.kit.errors import Unprocessable, field_error

HEADER = "Idempotency-Key"

IdempotencyKey = Annotated[
    str,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A key of the caller's choosing (a UUID will do), new for each distinct "
        "request: a retry with the same key and body gets the first answer again; the same "
        "key with another body is refused.",
    ),
]


def request_hash(operation: str, body: BaseModel | dict[str, Any], target: str = "") -> str:
    """A digest of the request as validated, so equivalent spellings ("100" and
    "100.00", "510303" and "510303000000") are the same request."""
    fields = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    canonical = json.dumps(
        {"operation": operation, "target": target, "body": fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_reused() -> Unprocessable:
    return Unprocessable(
        "this Idempotency-Key was used with another request; use a new key for a new request",
        errors=[
            field_error(
                HEADER, "already used with another request", "idempotency_key_reused", "header"
            )
        ],
    )
