"""Exports of persons and households: every format, filters, scoping, masking, audit,
the SQL masks against the Python ones, and a large export streamed in constant memory."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tracemalloc
import zipfile
from collections.abc import Callable, MutableMapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import openpyxl
import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tests.registry.conftest import (
    AIYE,
    AIYE_V1,
    AIYE_V2,
    OTHER_TOWN_V1,
    member_body,
    new_resident_id,
)
from tuopin_registry.db import audit_log
from tuopin_registry.demo.generator import generate
from tuopin_registry.demo.loader import load
from tuopin_registry.exports import endpoints, queries, streaming, workbook
from tuopin_registry.exports.queries import (
    HOUSEHOLD_COLUMNS,
    LEDGER_COLUMNS,
    PERSON_COLUMNS,
    Kind,
)
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.imports.parsing import COLUMNS as IMPORT_COLUMNS
from tuopin_registry.members.models import MemberRow
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.identity import mask_resident_id
from tuopin_shared.contracts.masking import mask_certificate_number, mask_phone
from tuopin_shared.contracts.registry import Household, HouseholdSummary, Member
from tuopin_shared.kit.database import driver

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def begun(connection: AsyncConnection) -> None:
    """Make the test's transaction real before its driver connection is used directly.

    SQLAlchemy begins it at the first statement; until then asyncpg would open,
    and commit, a transaction of its own.
    """
    await connection.exec_driver_sql("SELECT 1")


@pytest.fixture
async def exports(client: AsyncClient) -> AsyncClient:
    """The client; the registry's test fixtures route exports to the test's connection."""
    return client


async def export(
    client: AsyncClient, what: str, headers: dict[str, str], **params: str
) -> Response:
    response = await client.get(f"/v1/exports/{what}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


def ndjson(response: Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"] == "application/x-ndjson"
    text = response.text
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def as_csv_field(value: object) -> str:
    """What the CSV holds for a JSON value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def xlsx_records(content: bytes, columns: tuple[queries.Column, ...]) -> list[dict[str, Any]]:
    """The sheet's rows in the JSON form: dates back to ISO text, blanks to None."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = list(next(rows))
    assert header == [c.name for c in columns]
    kinds = {c.name: c.kind for c in columns}
    records = []
    for row in rows:
        record = {}
        for name, value in zip(header, row, strict=True):
            if kinds[name] is Kind.DATE and isinstance(value, datetime):
                value = value.date().isoformat()
            record[name] = value
        records.append(record)
    book.close()
    return records


async def two_households(create_household: Callable[..., Any]) -> list[dict[str, Any]]:
    number = new_resident_id(date(1975, 2, 3))
    first = await create_household(
        division=AIYE_V1,
        phone="13812345678",
        address='Group 3, "Old" house, 2nd floor\nby the well',
        members=[
            member_body(
                resident_id=number,
                name="王,小二",
                disability_category="physical",
                disability_grade=2,
                health_status="disabled",
                disability_certificate_no=number + "12",
                disability_certified_on="2015-06-01",
                employment_place='=HYPERLINK("http://example.com")',
            ),
            member_body(
                relation_to_head="daughter",
                name="王丽",
                school_stage="primary",
                dibao=True,
            ),
        ],
    )
    second = await create_household(division=AIYE_V2, status="monitored", members=1)
    return [first, second]


# ---------------------------------------------------------------- persons, every format


async def test_persons_ndjson_equal_the_members_the_household_read_returns(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    created = await two_households(create_household)
    records = ndjson(await export(exports, "persons", admin))
    assert len(records) == 3
    by_id = {r["id"]: r for r in records}
    for household in created:
        read = (await exports.get(f"/v1/households/{household['id']}", headers=admin)).json()
        for member in read["members"]:
            record = by_id[member["id"]]
            assert set(record) == set(member) | {"household_status", "division_code"}
            assert {k: record[k] for k in member} == member
            assert record["household_status"] == read["status"]
            assert record["division_code"] == read["division_code"]


async def test_person_records_have_the_contract_fields_in_a_stable_order(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    await create_household()
    (record,) = ndjson(await export(exports, "persons", admin))
    expected = set(Member.model_fields) | {"household_status", "division_code"}
    assert list(record) == [c.name for c in PERSON_COLUMNS]
    assert set(record) == expected


async def test_persons_without_pii_are_masked_like_the_json_api(
    exports: AsyncClient, token: Any, create_household: Any
) -> None:
    created = await two_households(create_household)
    masked_headers = token(Role.district_officer)
    records = ndjson(await export(exports, "persons", masked_headers))
    read = (await exports.get(f"/v1/households/{created[0]['id']}", headers=masked_headers)).json()
    by_id = {r["id"]: r for r in records}
    for member in read["members"]:
        assert {k: by_id[member["id"]][k] for k in member} == member
    disabled = next(r for r in records if r["disability_certificate_no"])
    full = created[0]["members"][0]
    assert disabled["resident_id"] == mask_resident_id(full["resident_id"])
    assert disabled["disability_certificate_no"] == mask_certificate_number(
        full["disability_certificate_no"]
    )
    assert full["resident_id"] not in json.dumps(records)


async def test_persons_with_pii_are_unmasked(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    created = await two_households(create_household)
    records = ndjson(await export(exports, "persons", admin))
    numbers = {r["resident_id"] for r in records}
    assert numbers == {m["resident_id"] for h in created for m in h["members"]}
    assert all("*" not in n for n in numbers)


async def test_each_export_is_audited_with_filters_format_and_masking(
    exports: AsyncClient, admin: dict[str, str], token: Any, create_household: Any, db: AsyncSession
) -> None:
    await create_household()
    await export(exports, "persons", admin, division=AIYE, format="csv")
    await export(exports, "households", token(Role.auditor), status="monitored")
    rows = (
        await db.execute(
            select(
                audit_log.c.action, audit_log.c.entity, audit_log.c.entity_id, audit_log.c.details
            )
            .where(audit_log.c.action == "export")
            .order_by(audit_log.c.id)
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        (
            "export",
            "persons",
            AIYE,
            {
                "filters": {"division": AIYE, "status": None},
                "scope": "510303000000",
                "format": "csv",
                "unmasked": True,
            },
        ),
        (
            "export",
            "households",
            "510303000000",
            {
                "filters": {"division": None, "status": "monitored"},
                "scope": "510303000000",
                "format": "ndjson",
                "unmasked": False,
            },
        ),
    ]


async def test_persons_csv_round_trips_to_the_same_records(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    await two_households(create_household)
    records = ndjson(await export(exports, "persons", admin))
    response = await export(exports, "persons", admin, format="csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="persons-510303000000-')
    assert disposition.endswith('.csv"')
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert list(rows[0]) == [c.name for c in PERSON_COLUMNS]
    assert sorted(rows, key=lambda r: r["id"]) == sorted(
        ({k: as_csv_field(v) for k, v in r.items()} for r in records), key=lambda r: r["id"]
    )


async def test_persons_xlsx_opens_with_the_same_records(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    await two_households(create_household)
    records = ndjson(await export(exports, "persons", admin))
    response = await export(exports, "persons", admin, format="xlsx")
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"].endswith('.xlsx"')
    assert int(response.headers["content-length"]) == len(response.content)
    sheet = xlsx_records(response.content, PERSON_COLUMNS)
    assert sorted(sheet, key=lambda r: r["id"]) == sorted(records, key=lambda r: r["id"])
    # A value that looks like a formula stays text.
    assert any(r["employment_place"] == '=HYPERLINK("http://example.com")' for r in sheet)


async def test_a_deceased_member_is_exported_with_the_date(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    household = await create_household(members=2)
    son = household["members"][1]
    died = await exports.post(
        f"/v1/members/{son['id']}/death",
        json={"deceased_on": "2020-05-01"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert died.status_code == 200, died.text
    records = {r["id"]: r for r in ndjson(await export(exports, "persons", admin))}
    assert records[son["id"]]["deceased_on"] == "2020-05-01"
    assert records[household["members"][0]["id"]]["deceased_on"] is None


# ---------------------------------------------------------------- the ledger


def test_the_ledger_has_the_import_templates_columns_in_its_order() -> None:
    assert [c.name for c in LEDGER_COLUMNS] == [c.name for c in IMPORT_COLUMNS]


async def test_the_ledger_has_the_living_a_row_each_with_their_household_repeated(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    first, second = await two_households(create_household)
    daughter = first["members"][1]
    died = await exports.post(
        f"/v1/members/{daughter['id']}/death",
        json={"deceased_on": "2021-01-09"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert died.status_code == 200, died.text
    response = await export(exports, "ledger", admin)
    rows = {r["resident_id"]: r for r in ndjson(response)}
    head = first["members"][0]
    assert set(rows) == {head["resident_id"], second["members"][0]["resident_id"]}
    row = rows[head["resident_id"]]
    assert row == {
        "household_number": first["id"],
        "division_code": AIYE_V1,
        "address": first["address"],
        "phone": "13812345678",
        "household_status": first["status"],
        "registered_year": first["registered_year"],
        "main_poverty_cause": first["main_poverty_cause"],
        "water_short_area": first["water_short_area"],
        **{name: head[name] for name in [c.name for c in LEDGER_COLUMNS][8:]},
    }
    as_csv = await export(exports, "ledger", admin, format="csv")
    assert as_csv.headers["content-disposition"].startswith('attachment; filename="ledger-')


async def test_the_ledger_without_pii_is_masked(
    exports: AsyncClient, token: Any, admin: dict[str, str], create_household: Any
) -> None:
    first, _ = await two_households(create_household)
    head = first["members"][0]
    masked = ndjson(await export(exports, "ledger", token(Role.town_officer, AIYE)))
    row = next(r for r in masked if r["household_number"] == first["id"])
    assert row["resident_id"] == mask_resident_id(head["resident_id"])
    assert row["phone"] == mask_phone("13812345678")
    assert row["disability_certificate_no"] == mask_certificate_number(
        head["disability_certificate_no"]
    )


# ---------------------------------------------------------------- households, every format


async def test_households_in_every_format_equal_the_json_api(
    exports: AsyncClient, token: Any, create_household: Any
) -> None:
    created = await two_households(create_household)
    officer = token(Role.district_officer)
    records = ndjson(await export(exports, "households", officer))
    assert [list(r) for r in records[:1]] == [[c.name for c in HOUSEHOLD_COLUMNS]]
    listed = (await exports.get("/v1/households", headers=officer)).json()["items"]
    summaries = {s["id"]: s for s in listed}
    by_id = {r["id"]: r for r in records}
    assert set(by_id) == {h["id"] for h in created}
    shared = set(Household.model_fields) - {"members"}
    for household in created:
        read = (await exports.get(f"/v1/households/{household['id']}", headers=officer)).json()
        record = by_id[household["id"]]
        assert set(record) == shared | {"head_name", "size"}
        assert {k: record[k] for k in shared} == {k: read[k] for k in shared}
        summary = summaries[household["id"]]
        assert (record["head_name"], record["size"]) == (summary["head_name"], summary["size"])
        assert set(HouseholdSummary.model_fields) <= set(record) | {"status"}
    assert by_id[created[0]["id"]]["phone"] == mask_phone("13812345678")

    text = (await export(exports, "households", officer, format="csv")).content
    rows = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"), newline="")))
    assert sorted(rows, key=lambda r: r["id"]) == sorted(
        ({k: as_csv_field(v) for k, v in r.items()} for r in records), key=lambda r: r["id"]
    )

    sheet = xlsx_records(
        (await export(exports, "households", officer, format="xlsx")).content, HOUSEHOLD_COLUMNS
    )
    assert sorted(sheet, key=lambda r: r["id"]) == sorted(records, key=lambda r: r["id"])


# ---------------------------------------------------------------- filters and scope


async def test_filters_by_division_and_status(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    v1 = await create_household(division=AIYE_V1)
    v2 = await create_household(division=AIYE_V2, status="monitored", members=2)
    other = await create_household(division=OTHER_TOWN_V1, status="monitored")

    async def households(**params: str) -> set[str]:
        return {
            r["household_id"] for r in ndjson(await export(exports, "persons", admin, **params))
        }

    assert await households() == {v1["id"], v2["id"], other["id"]}
    assert await households(division=AIYE) == {v1["id"], v2["id"]}
    assert await households(division=AIYE_V2) == {v2["id"]}
    assert await households(status="monitored") == {v2["id"], other["id"]}
    assert await households(division=AIYE, status="monitored") == {v2["id"]}
    assert await households(division=AIYE_V1, status="monitored") == set()
    # A 9-digit town code is padded like everywhere else.
    assert await households(division=AIYE[:9]) == {v1["id"], v2["id"]}
    households_only = ndjson(await export(exports, "households", admin, status="monitored"))
    assert {r["id"] for r in households_only} == {v2["id"], other["id"]}


async def test_a_village_cadre_exports_their_village_and_a_town_officer_their_town(
    exports: AsyncClient, token: Any, create_household: Any
) -> None:
    v1 = await create_household(division=AIYE_V1)
    v2 = await create_household(division=AIYE_V2)
    other = await create_household(division=OTHER_TOWN_V1)
    cadre = token(Role.village_cadre, AIYE_V1)
    officer = token(Role.town_officer, AIYE)
    assert {r["id"] for r in ndjson(await export(exports, "households", cadre))} == {v1["id"]}
    assert {r["household_id"] for r in ndjson(await export(exports, "persons", cadre))} == {
        v1["id"]
    }
    # A filter outside the caller's scope narrows to nothing; it never widens.
    assert ndjson(await export(exports, "persons", cadre, division=AIYE_V2)) == []
    assert ndjson(await export(exports, "persons", cadre, division=AIYE)) != []
    town = {r["id"] for r in ndjson(await export(exports, "households", officer))}
    assert town == {v1["id"], v2["id"]}
    assert other["id"] not in town
    csv_text = (await export(exports, "persons", officer, format="csv")).content.decode()
    assert other["members"][0]["id"] not in csv_text


async def test_read_roles_may_export_and_medical_institutions_may_not(
    exports: AsyncClient, token: Any, create_household: Any
) -> None:
    await create_household()
    for role in (Role.auditor, Role.service, Role.benefits_officer, Role.village_cadre):
        response = await exports.get("/v1/exports/persons", headers=token(role))
        assert response.status_code == 200, role
    denied = await exports.get("/v1/exports/persons", headers=token(Role.medical_institution))
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert (await exports.get("/v1/exports/households")).status_code == 401


# ---------------------------------------------------------------- formats and errors


async def test_format_comes_from_the_query_or_the_accept_header(
    exports: AsyncClient, admin: dict[str, str], create_household: Any
) -> None:
    await create_household()

    async def media_type(accept: str | None = None, **params: str) -> str:
        headers = {**admin, "Accept": accept} if accept is not None else admin
        response = await exports.get("/v1/exports/persons", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.headers["content-type"].split(";")[0]

    assert await media_type() == "application/x-ndjson"
    assert await media_type("*/*") == "application/x-ndjson"
    assert await media_type("text/csv") == "text/csv"
    assert await media_type("text/*") == "text/csv"
    assert await media_type(XLSX) == XLSX
    assert await media_type(f"text/csv;q=0.5, {XLSX};q=0.9") == XLSX
    assert await media_type("application/x-ndjson;q=0.1, */*;q=0.5") == "text/csv"
    assert await media_type("text/html,application/xhtml+xml,*/*;q=0.8") == "application/x-ndjson"
    # An explicit format wins over the header.
    assert await media_type("text/csv", format="ndjson") == "application/x-ndjson"


async def test_unknown_format_is_422_and_an_unacceptable_accept_is_406(
    exports: AsyncClient, admin: dict[str, str], district: None
) -> None:
    bad = await exports.get("/v1/exports/persons", params={"format": "pdf"}, headers=admin)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert [(e["location"], e["field"]) for e in bad.json()["errors"]] == [("query", "format")]
    refused = await exports.get(
        "/v1/exports/households", headers={**admin, "Accept": "application/pdf"}
    )
    assert refused.status_code == 406
    assert refused.headers["content-type"] == "application/problem+json"
    assert "format=" in refused.json()["detail"]
    zero = await exports.get("/v1/exports/persons", headers={**admin, "Accept": "text/csv;q=0"})
    assert zero.status_code == 406


async def test_bad_division_and_status_are_422_naming_the_field(
    exports: AsyncClient, admin: dict[str, str], district: None
) -> None:
    for params, field in (
        ({"division": "12345"}, "division"),
        ({"division": "５１０３０３"}, "division"),
        ({"status": "rich"}, "status"),
    ):
        response = await exports.get("/v1/exports/persons", params=params, headers=admin)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] == field


async def test_xlsx_over_the_sheet_limit_is_422_advising_a_filter_or_csv(
    exports: AsyncClient, admin: dict[str, str], create_household: Any, monkeypatch: Any
) -> None:
    await create_household(members=3)
    monkeypatch.setattr(endpoints, "XLSX_MAX_ROWS", 2)
    response = await exports.get("/v1/exports/persons", params={"format": "xlsx"}, headers=admin)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "3 rows" in detail and "format=csv" in detail and "division" in detail
    # CSV has no such limit.
    assert (await export(exports, "persons", admin, format="csv")).status_code == 200
    # Rows added after the count are caught by the snapshot itself.
    monkeypatch.setattr(endpoints, "XLSX_MAX_ROWS", 10)
    monkeypatch.setattr(streaming, "XLSX_MAX_ROWS", 2)
    late = await exports.get("/v1/exports/persons", params={"format": "xlsx"}, headers=admin)
    assert late.status_code == 422
    assert "format=csv" in late.json()["detail"]


async def test_an_empty_export_is_an_empty_body_or_a_bare_header(
    exports: AsyncClient, admin: dict[str, str], district: None
) -> None:
    assert (await export(exports, "persons", admin)).content == b""
    header = (await export(exports, "households", admin, format="csv")).content
    assert header.decode("utf-8-sig").strip() == ",".join(c.name for c in HOUSEHOLD_COLUMNS)
    assert (
        xlsx_records(
            (await export(exports, "persons", admin, format="xlsx")).content, PERSON_COLUMNS
        )
        == []
    )


async def test_openapi_documents_the_three_media_types(exports: AsyncClient) -> None:
    document = (await exports.get("/openapi.json")).json()
    for path in ("/v1/exports/persons", "/v1/exports/households"):
        operation = document["paths"][path]["get"]
        assert set(operation["responses"]["200"]["content"]) == {
            "application/x-ndjson",
            "text/csv",
            XLSX,
        }
        assert {"401", "403", "406", "422"} <= set(operation["responses"])
        assert operation["summary"]
        assert {p["name"] for p in operation["parameters"]} == {"division", "status", "format"}


# ---------------------------------------------------------------- the SQL masks

_ID_CHARACTERS = st.sampled_from("0123456789Xx *-")
_WHITESPACE = st.sampled_from([" ", "\t", "\n", "\u3000", "\u00a0", "\u2028", "\x1c", "\x85"])
_ANY_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=24,
)
_ID_LIKE = st.builds(
    lambda before, body, after: before + body + after,
    st.text(_WHITESPACE, max_size=2),
    st.text(_ID_CHARACTERS, min_size=14, max_size=22),
    st.text(_WHITESPACE, max_size=2),
)
_STORED_IDS = st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    values=st.lists(st.one_of(_ANY_TEXT, _ID_LIKE), min_size=1, max_size=40),
    stored=st.lists(_STORED_IDS, min_size=1, max_size=10),
)
async def test_the_sql_masks_equal_the_python_masks(
    connection: AsyncConnection, values: list[str], stored: list[str]
) -> None:
    raw = await driver(connection)
    masks = ", ".join(
        mask("v")
        for mask in (
            queries.mask_resident_id_sql,
            queries.mask_certificate_number_sql,
            queries.mask_phone_sql,
        )
    )
    sql = f"SELECT {masks} FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n"  # noqa: S608
    rows = await raw.fetch(sql, values)  # type: ignore[union-attr]
    for value, row in zip(values, rows, strict=True):
        assert tuple(row) == (
            mask_resident_id(value),
            mask_certificate_number(value),
            mask_phone(value),
        ), repr(value)
    fast = queries._stored_resident_id_mask("v")
    shaped = await raw.fetch(  # type: ignore[union-attr]
        f"SELECT {fast}, {queries.mask_resident_id_sql('v')}"  # noqa: S608
        " FROM unnest($1::char(18)[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
        stored,
    )
    for value, row in zip(stored, shaped, strict=True):
        assert row[0] == row[1] == mask_resident_id(value)


async def test_the_sql_masks_keep_null_and_the_edge_lengths(connection: AsyncConnection) -> None:
    raw = await driver(connection)
    values: list[str | None] = [None, "", "x", "1234567", "12345678", "5" * 17, "5" * 18]
    values += ["5" * 17 + "x", " " + "5" * 17 + "x ", "5" * 19, "5" * 18 + "42", "\u3000" * 20]
    rows = await raw.fetch(  # type: ignore[union-attr]
        f"SELECT {queries.mask_certificate_number_sql('v')}, {queries.mask_phone_sql('v')}"  # noqa: S608
        " FROM unnest($1::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
        values,
    )
    for value, row in zip(values, rows, strict=True):
        assert tuple(row) == (mask_certificate_number(value), mask_phone(value)), repr(value)
    for value in values[1:]:
        assert value is not None
        sql_mask = await raw.fetchval(f"SELECT {queries.mask_resident_id_sql('$1::text')}", value)  # type: ignore[union-attr]
        assert sql_mask == mask_resident_id(value), repr(value)


def test_declared_nullability_matches_the_tables() -> None:
    # The JSON of a column declared NOT NULL skips the NULL test: a wrong
    # declaration would turn a NULL into an empty string or false.
    tables = {"m": MemberRow.__table__, "h": HouseholdRow.__table__}
    for column in (*PERSON_COLUMNS, *HOUSEHOLD_COLUMNS, *LEDGER_COLUMNS):
        alias, _, name = column.sql.partition(".")
        if alias in tables and name in tables[alias].c:
            assert column.nullable == tables[alias].c[name].nullable, column.name


# ---------------------------------------------------------------- a large export


async def _stream(
    app: FastAPI, path: str, headers: dict[str, str], disconnect_after: int | None = None
) -> tuple[int, list[int], bytes, bytes]:
    """Call the app as a server would, keeping no body: the status, each chunk's size,
    and the first and last 4 KB."""
    target, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": target,
        "raw_path": target.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    gone = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    status = 0
    sizes: list[int] = []
    head = tail = b""

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, head, tail
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if body:
                sizes.append(len(body))
                if len(head) < 4096:
                    head += body[:4096]
                tail = (tail + body)[-4096:]
            if disconnect_after is not None and len(sizes) >= disconnect_after:
                gone.set()
            if not message.get("more_body", False):
                gone.set()

    await app(scope, receive, send)
    return status, sizes, head, tail


async def load_demo(connection: AsyncConnection, persons: int) -> int:
    """A demo district loaded on the test's connection; returns how many persons it has."""
    await begun(connection)
    raw = await driver(connection)
    summary = await load(raw, generate(persons, seed=11))
    return summary.members


@pytest.fixture
async def demo_people(connection: AsyncConnection) -> int:
    return await load_demo(connection, 30_000)


async def test_a_large_export_streams_in_chunks_in_constant_memory(
    exports: AsyncClient,
    registry_app: FastAPI,
    token: Any,
    demo_people: int,
) -> None:
    headers = token(Role.admin)
    tracemalloc.start()
    try:
        status, sizes, head, tail = await _stream(registry_app, "/v1/exports/persons", headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200
    total = sum(sizes)
    assert total > 10_000_000  # about 800 bytes a person
    assert len(sizes) > 20
    assert max(sizes) <= streaming.COALESCE_BYTES + 512 * 1024
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    first = json.loads(head.split(b"\n", 1)[0])
    last = json.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    assert first["resident_id"].count("*") == 8 and last["resident_id"].count("*") == 8

    # And every person is in it, once: the CSV of the same snapshot, counted.
    response = await export(exports, "persons", headers, format="csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == demo_people + 1
    assert len({line.split(",", 1)[0] for line in lines[1:]}) == demo_people


async def test_a_client_that_leaves_cancels_the_copy_and_frees_the_connection(
    exports: AsyncClient,
    registry_app: FastAPI,
    token: Any,
    connection: AsyncConnection,
) -> None:
    people = await load_demo(connection, 10_000)
    status, sizes, _, _ = await _stream(
        registry_app, "/v1/exports/persons", token(Role.admin), disconnect_after=2
    )
    assert status == 200
    # Only the chunks already on their way were sent after the client left.
    assert 2 <= len(sizes) <= 2 + streaming.QUEUE_CHUNKS
    assert sum(sizes) < 30 * 1024 * 1024
    raw = await driver(connection)
    assert await raw.fetchval("SELECT count(*) FROM registry.member") == people  # type: ignore[union-attr]
    copies = await raw.fetchval(  # type: ignore[union-attr]
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE query LIKE 'COPY%' AND state = 'active' AND pid <> pg_backend_pid()"
        " AND datname = current_database()"
    )
    assert copies == 0
    # The app keeps serving.
    again = await export(exports, "households", token(Role.admin), division=AIYE, format="csv")
    assert again.content.startswith(b"\xef\xbb\xbf")


async def test_query_parameters_reach_the_stream(
    registry_app: FastAPI, exports: AsyncClient, token: Any, create_household: Any
) -> None:
    await create_household(division=AIYE_V2)
    await create_household(division=OTHER_TOWN_V1)
    query = urlencode({"division": AIYE, "format": "csv"})
    status, sizes, head, _ = await _stream(
        registry_app, f"/v1/exports/households?{query}", token(Role.admin, pii=True)
    )
    assert status == 200 and sizes
    header, first = head.decode("utf-8-sig", errors="ignore").splitlines()[:2]
    assert header.split(",")[:3] == ["id", "division_code", "status"]
    assert first.split(",")[1].startswith(AIYE[:9])


# ---------------------------------------------------------------- the workbook writer


def test_the_workbook_holds_each_value_as_a_spreadsheet_shows_it() -> None:
    written = workbook.Workbook("persons", ["text", "number", "yes", "day", "blank"])
    try:
        written.append(
            [
                ['a & b <c> "d"', 42, True, date(2020, 3, 5), None],
                ["  spaced\r\nlines\tand a bell\x07", -1, False, date(1950, 1, 1), "=1+1"],
                ["\uffff and _x0041_", 0, False, date(1900, 1, 1), ""],
            ]
        )
        size = written.finish()
        content = written.file.read()
    finally:
        written.close()
    assert size == len(content)
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    assert (sheet.title, sheet.freeze_panes, sheet.max_row) == ("persons", "A2", 4)
    assert sheet["A1"].value == "text" and sheet["A1"].font.b
    assert [cell.value for cell in sheet[2]] == [
        'a & b <c> "d"',
        42,
        True,
        datetime(2020, 3, 5),
        None,
    ]
    assert sheet["D2"].number_format == "yyyy-mm-dd"
    # A control character goes as Excel writes it; a formula stays text.
    assert sheet["A3"].value == "  spaced\r\nlines\tand a bell_x0007_"
    assert (sheet["E3"].value, sheet["E3"].data_type) == ("=1+1", "s")
    # A character XML cannot carry, and text that reads as an escape, are escaped too
    # (Excel decodes both; this reader decodes neither).
    assert sheet["A4"].value == "_xFFFF_ and _x005F_x0041_"
    # Excel's day count before March 1900 is one more (its 29 February 1900).
    assert sheet["D4"].value == datetime(1900, 1, 1)
    assert sheet["E4"].value is None  # an empty string is a blank cell
    # The cells in use, from the sheet's own dimension, as a reader sizes it.
    assert book.worksheets[0].calculate_dimension() == "A1:E4"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:E4"/>' in sheet_xml


def test_column_letters_run_as_a_spreadsheet_names_them() -> None:
    assert [workbook.column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702, 16383)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
        "XFD",
    ]
