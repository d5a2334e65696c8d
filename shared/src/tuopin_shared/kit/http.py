"""HTTP helpers the services share: the unit-of-work dependency, ETags and If-Match."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_shared.kit.database import Reads, get_reads, get_session
from tuopin_shared.kit.errors import PreconditionFailed, PreconditionRequired

# scope="function": the commit happens before the response is sent, so a client
# never sees success for a write that then failed to commit.
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]

# For endpoints that only read (and at most append an audit row): autocommit.
ReadDatabase = Annotated[Reads, Depends(get_reads)]

# For writes that are one statement each, atomic on their own (and that open a
# transaction themselves where they need one): the same autocommit connection,
# under a name that does not say "read".
Autocommit = Annotated[Reads, Depends(get_reads)]

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag last read; the update is refused if the resource changed since.",
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, current_version: int) -> None:
    """412 when the client's copy is stale, 428 when it sent no If-Match at all."""
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match with the ETag from your last read,"
            " so that a concurrent change is not overwritten"
        )
    tags = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if "*" in tags or etag(current_version) in tags:
        return
    raise PreconditionFailed(
        f"the resource changed since it was read (current ETag {etag(current_version)});"
        " read it again",
        headers={"ETag": etag(current_version)},
    )
