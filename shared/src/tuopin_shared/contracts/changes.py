"""Wire models of the registry's change feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ChangeEvent(BaseModel):
    """One write to the register, as the feed serves it."""

    position: str = Field(description="Opaque; pass the last one seen back as `after`.")
    seq: int = Field(description="Order of appending (not of committing).")
    entity: str = Field(examples=["household", "member", "household_income"])
    entity_id: uuid.UUID
    version: int = Field(description="The entity's version after the write (year for incomes).")
    kind: str = Field(examples=["created", "updated", "status_changed", "moved", "deceased"])
    division_code: str
    occurred_at: datetime
    payload: dict[str, Any] = Field(description="The fields consumers need; masked unless pii.")


class ChangePage(BaseModel):
    """A page of the feed, in commit-safe order."""

    items: list[ChangeEvent]
    next_after: str = Field(description="Position to ask for the next page from.")
    has_more: bool = Field(description="More events are ready now; ask again at once.")
