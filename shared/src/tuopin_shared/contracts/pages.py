"""The list envelope: cursor pagination."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``?cursor=`` for the next."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Opaque; null on the last page.")
