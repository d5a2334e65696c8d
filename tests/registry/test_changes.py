"""The change feed: a consumer following it from 0 ends with the register's state,
and a transaction that commits late is never skipped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from tests.conftest import _dsn, client_for, insert_divisions
from tests.registry.conftest import (
    AIYE,
    AIYE_V1,
    AIYE_V2,
    DISTRICT,
    OTHER_TOWN,
    OTHER_TOWN_V1,
    household_body,
    member_body,
)
from tuopin_registry.main import create_app
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.contracts.changes import ChangeEvent
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings, Environment


@pytest.fixture(scope="module")
async def live(committing_database_url: str) -> AsyncIterator[tuple[FastAPI, CommonSettings]]:
    """The registry on a database where writes commit, with the demo division tree."""
    common = CommonSettings(database_url=committing_database_url, environment=Environment.test)
    await insert_divisions(
        committing_database_url,
        [
            (DISTRICT, "Gongjing District", "county", None),
            (AIYE, "Aiye Town", "town", DISTRICT),
            (OTHER_TOWN, "Demo Town (synthetic)", "town", DISTRICT),
            (AIYE_V1, "Demo Village 1 (synthetic)", "village", AIYE),
            (AIYE_V2, "Demo Village 2 (synthetic)", "village", AIYE),
            (OTHER_TOWN_V1, "Demo Village 3 (synthetic)", "village", OTHER_TOWN),
        ],
        synthetic={OTHER_TOWN, AIYE_V1, AIYE_V2, OTHER_TOWN_V1},
    )
    app = create_app(common=common)
    async with app.router.lifespan_context(app):
        yield app, common


def headers(
    common: CommonSettings, role: Role = Role.service, division: str = DISTRICT, pii: bool = True
) -> dict[str, str]:
    token = mint_token(
        common,
        subject="feed-consumer",
        roles=[role],
        division=division,
        permissions=[Permission.pii] if pii else [],
    )
    return {"Authorization": f"Bearer {token}"}


async def follow(
    client: AsyncClient, auth: dict[str, str], after: str = "0", limit: int = 7
) -> tuple[list[dict[str, Any]], str]:
    """Read the feed to its end, a page at a time."""
    events: list[dict[str, Any]] = []
    while True:
        response = await client.get(
            "/v1/changes", params={"after": after, "limit": limit}, headers=auth
        )
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["items"])
        # The next page's address is in a Link header too, readable before the body.
        next_link = response.links.get("next")
        if page["has_more"]:
            assert next_link is not None
            assert next_link["url"] == (f"/v1/changes?after={page['next_after']}&limit={limit}"), (
                next_link
            )
        else:
            assert next_link is None
        after = page["next_after"]
        if not page["has_more"]:
            return events, after


async def test_a_consumer_from_zero_ends_with_the_register_state(
    live: tuple[FastAPI, CommonSettings],
) -> None:
    app, common = live
    admin = headers(common, Role.admin)
    async with client_for(app) as client:
        created = []
        for division in (AIYE_V1, AIYE_V2, OTHER_TOWN_V1):
            response = await client.post(
                "/v1/households", json=household_body(division=division, members=3), headers=admin
            )
            assert response.status_code == 201, response.text
            created.append(response.json())
        first, second, third = created
        await client.patch(
            f"/v1/households/{first['id']}",
            json={"address": "Group 9"},
            headers={**admin, "If-Match": '"1"'},
        )
        son = first["members"][1]
        await client.patch(
            f"/v1/members/{son['id']}", json={"dibao": True}, headers={**admin, "If-Match": '"1"'}
        )
        await client.post(
            f"/v1/members/{son['id']}/move",
            json={"household_id": second["id"], "relation_to_head": "son_in_law"},
            headers={**admin, "If-Match": '"2"'},
        )
        await client.post(
            f"/v1/members/{third['members'][2]['id']}/death",
            json={"deceased_on": "2020-03-01"},
            headers={**admin, "If-Match": '"1"'},
        )
        await client.put(
            f"/v1/households/{third['id']}/incomes/2020",
            json={"wage_income": "9000.00"},
            headers=admin,
        )
        added = await client.post(
            f"/v1/households/{second['id']}/members",
            json=member_body(relation_to_head="daughter"),
            headers=admin,
        )
        assert added.status_code == 201

        events, _ = await follow(client, headers(common))
        positions = [e["position"] for e in events]
        assert len(positions) == len(set(positions))
        # Each event is its stored row, in the contract's shape.
        connection = await asyncpg.connect(_dsn(common.database_url))
        try:
            stored = {
                f"{row['txid']}.{row['seq']}": row
                for row in await connection.fetch("SELECT * FROM registry.change_event")
            }
        finally:
            await connection.close()
        for event in events:
            row, served = stored[event["position"]], ChangeEvent.model_validate(event)
            assert served.model_dump(exclude={"position"}) == {
                "seq": row["seq"],
                "entity": row["entity"],
                "entity_id": row["entity_id"],
                "version": row["version"],
                "kind": row["kind"],
                "division_code": row["division_code"],
                "occurred_at": row["occurred_at"],
                "payload": json.loads(row["payload"]),
            }
        # Apply the feed in order: the last version of every entity wins.
        households: dict[str, dict[str, Any]] = {}
        members: dict[str, dict[str, Any]] = {}
        for event in events:
            target = {"household": households, "member": members}.get(event["entity"])
            if target is not None:
                assert event["version"] == event["payload"]["version"]
                target[event["entity_id"]] = event["payload"]
        # The projection equals the register, read back through the API.
        for household in created:
            current = (await client.get(f"/v1/households/{household['id']}", headers=admin)).json()
            projected = households[household["id"]]
            for key in (
                "division_code",
                "status",
                "version",
                "main_poverty_cause",
                "registered_year",
            ):
                assert projected[key] == current[key], key
            projected_members = {
                m["id"]: m for m in members.values() if m["household_id"] == household["id"]
            }
            assert set(projected_members) == {m["id"] for m in current["members"]}
            for member in current["members"]:
                mine = projected_members[member["id"]]
                for key in (
                    "resident_id",
                    "name",
                    "relation_to_head",
                    "dibao",
                    "deceased_on",
                    "version",
                ):
                    assert mine[key] == member[key], key


async def test_a_transaction_that_commits_late_is_not_skipped(
    live: tuple[FastAPI, CommonSettings], committing_database_url: str
) -> None:
    app, common = live
    auth = headers(common)
    dsn = _dsn(committing_database_url)
    insert = (
        "INSERT INTO registry.change_event"
        " (division_code, entity, entity_id, version, kind, payload)"
        " VALUES ($1, 'probe', gen_random_uuid(), 1, $2, '{}') RETURNING seq"
    )
    async with client_for(app) as client:
        _, start = await follow(client, auth)
        early, late = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        try:
            early_tx, late_tx = early.transaction(), late.transaction()
            await early_tx.start()
            await late_tx.start()
            # The early writer takes the lower sequence number but commits last.
            early_seq = await early.fetchval(insert, AIYE_V1, "early")
            late_seq = await late.fetchval(insert, AIYE_V1, "late")
            assert early_seq < late_seq
            await late_tx.commit()
            # While the early writer is open, the committed later event is held back:
            # serving it would move consumers past the early one.
            held, after_held = await follow(client, auth, start)
            assert [e["kind"] for e in held] == []
            assert after_held == start
            await early_tx.commit()
        finally:
            await early.close()
            await late.close()
        for _ in range(50):  # another transaction on the server may hold the horizon briefly
            seen, _ = await follow(client, auth, start)
            if len(seen) == 2:
                break
            await asyncio.sleep(0.1)
        assert [e["kind"] for e in seen] == ["early", "late"]


async def test_a_writer_with_the_older_transaction_is_served_first(
    live: tuple[FastAPI, CommonSettings], committing_database_url: str
) -> None:
    app, common = live
    auth = headers(common)
    dsn = _dsn(committing_database_url)
    insert = (
        "INSERT INTO registry.change_event"
        " (division_code, entity, entity_id, version, kind, payload)"
        " VALUES ($1, 'probe', gen_random_uuid(), 1, $2, '{}')"
    )
    async with client_for(app) as client:
        _, start = await follow(client, auth)
        older, newer = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        try:
            older_tx, newer_tx = older.transaction(), newer.transaction()
            await older_tx.start()
            await newer_tx.start()
            await older.fetchval("SELECT pg_current_xact_id()")  # takes the older transaction id
            await newer.execute(insert, AIYE_V1, "newer")  # appends first, with the lower seq
            await older.execute(insert, AIYE_V1, "older")
            await older_tx.commit()
            first, position = [], start
            for _ in range(50):
                first, position = await follow(client, auth, start)
                if first:
                    break
                await asyncio.sleep(0.1)
            # The older transaction is final and sorts first; the newer one is still open.
            assert [e["kind"] for e in first] == ["older"]
            await newer_tx.commit()
        finally:
            await older.close()
            await newer.close()
        rest: list[dict[str, Any]] = []
        for _ in range(50):
            rest, _ = await follow(client, auth, position)
            if rest:
                break
            await asyncio.sleep(0.1)
        assert [e["kind"] for e in rest] == ["newer"]
        # Read again from before both, one event a page: the same order, nothing lost
        # at a page boundary.
        again, _ = await follow(client, auth, start, limit=1)
        assert [e["kind"] for e in again] == ["older", "newer"]


async def test_feed_is_scoped_and_masked(live: tuple[FastAPI, CommonSettings]) -> None:
    app, common = live
    async with client_for(app) as client:
        body = household_body(division=OTHER_TOWN_V1)
        number = body["members"][0]["resident_id"]
        created = await client.post(
            "/v1/households", json=body, headers=headers(common, Role.admin)
        )
        assert created.status_code == 201
        everything, _ = await follow(client, headers(common, pii=True))
        member_events = [
            e
            for e in everything
            if e["entity"] == "member" and e["payload"]["resident_id"] == number
        ]
        assert len(member_events) == 1
        masked, _ = await follow(client, headers(common, Role.auditor, pii=False))
        # The same events, in the contract's shape, but for the member identifiers.
        assert [ChangeEvent.model_validate(e) for e in masked]
        unmasked = {e["position"]: e for e in everything}
        for event in masked:
            hidden = (
                {"resident_id", "disability_certificate_no"}
                if event["entity"] == "member"
                else set()
            )
            assert {k: v for k, v in event["payload"].items() if k not in hidden} == {
                k: v for k, v in unmasked[event["position"]]["payload"].items() if k not in hidden
            }
            assert {k: v for k, v in event.items() if k != "payload"} == {
                k: v for k, v in unmasked[event["position"]].items() if k != "payload"
            }
        masked_ids = {e["payload"]["resident_id"] for e in masked if e["entity"] == "member"}
        assert number not in masked_ids
        assert number[:6] + "********" + number[-4:] in masked_ids
        town, _ = await follow(client, headers(common, Role.town_officer, AIYE, pii=True))
        assert town and all(e["division_code"].startswith("510303100") for e in town)
        assert number not in {e["payload"].get("resident_id") for e in town}


async def test_bad_positions_are_refused(live: tuple[FastAPI, CommonSettings]) -> None:
    app, common = live
    async with client_for(app) as client:
        for after in ("abc", "1.", ".5", "-1.2", "1" * 30 + ".1"):
            response = await client.get(
                "/v1/changes", params={"after": after}, headers=headers(common)
            )
            assert response.status_code == 422, after
            assert response.json()["errors"][0]["field"] == "after"
        over = await client.get("/v1/changes", params={"limit": 5001}, headers=headers(common))
        assert over.status_code == 422
