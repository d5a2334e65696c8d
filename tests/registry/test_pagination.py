"""Cursor pagination: every household exactly once, even while rows are inserted."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient


async def test_pages_return_every_household_exactly_once_while_rows_are_inserted(
    client: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    existing = {(await create_household())["id"] for _ in range(23)}
    seen: list[str] = []
    inserted: set[str] = set()
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/households", params=params, headers=admin)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 5
        seen.extend(h["id"] for h in page["items"])
        pages += 1
        # Another official registers households between our pages.
        inserted.add((await create_household())["id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a household was returned twice"
    assert existing <= set(seen), "a household that existed throughout was skipped"
    assert set(seen) <= existing | inserted
    assert pages >= 5


async def test_limit_bounds_and_bad_cursor(
    client: AsyncClient, admin: dict[str, str], district: None
) -> None:
    for limit in (0, 501):
        response = await client.get("/v1/households", params={"limit": limit}, headers=admin)
        assert response.status_code == 422
        assert response.json()["errors"][0] == {
            "location": "query",
            "field": "limit",
            "message": response.json()["errors"][0]["message"],
            "code": response.json()["errors"][0]["code"],
        }
    assert (
        await client.get("/v1/households", params={"limit": 500}, headers=admin)
    ).status_code == 200
    for cursor in ("not-base64!", "eyJpZCI6ICJ4In0", "WzFd"):
        response = await client.get("/v1/households", params={"cursor": cursor}, headers=admin)
        assert response.status_code == 422, cursor
        assert response.json()["errors"][0]["field"] == "cursor"
