"""Ledger imports through the HTTP API and the job runner, on a real database.

Requests share the test's connection (rolled back at the end). A background
job opens a connection of its own, which cannot see that transaction: its body
(``run_job``) is run here on the test's connection instead, and one end-to-end
test runs the real thing on a database of its own that it drops afterwards.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tracemalloc
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tests.conftest import _dsn, client_for, counted, insert_divisions, isolate
from tests.registry.conftest import (
    AIYE,
    AIYE_V1,
    AIYE_V2,
    DISTRICT,
    OTHER_TOWN,
    OTHER_TOWN_V1,
    household_body,
    isolate_exports,
    member_body,
)
from tuopin_registry.db import audit_log, change_event
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.households.service import household_payload
from tuopin_registry.imports import endpoints, jobs, service
from tuopin_registry.imports.models import ImportJobRow
from tuopin_registry.imports.parsing import COLUMNS
from tuopin_registry.imports.sources import LedgerFile, detect_format, open_ledger
from tuopin_registry.main import SERVICE, create_app
from tuopin_registry.members.models import MemberRow
from tuopin_registry.members.service import member_payload
from tuopin_registry.settings import RegistrySettings
from tuopin_registry.status.events import status_event_payload
from tuopin_registry.status.models import StatusChangeRow
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.identity import make_resident_id
from tuopin_shared.contracts.imports import ImportMode, LedgerFormat
from tuopin_shared.kit.database import driver
from tuopin_shared.kit.migrations import upgrade
from tuopin_shared.kit.settings import CommonSettings, Environment

PROBLEM = "application/problem+json"
ENGLISH = [c.name for c in COLUMNS]
CHINESE = {c.name: c.chinese for c in COLUMNS}

# People made up for these tests, under an area code no other test uses.
_AREA = "510311"
_people = iter(range(10**7))


def resident_id() -> str:
    """A valid resident ID never used before in this test run."""
    n = next(_people)
    born = date(1940, 1, 1) + timedelta(days=n // 499)
    return make_resident_id(_AREA, born, 1 + 2 * (n % 499))


def household(
    number: str, division: str = AIYE_V1, members: int = 3, **overrides: str
) -> list[dict[str, str]]:
    """A valid household's rows: a head, a spouse, then children."""
    rows = [
        {
            "household_number": number,
            "division_code": division,
            "address": f"组 {number}",
            "main_poverty_cause": "因病",
            "resident_id": resident_id(),
            "name": f"户主{number}",
            "relation_to_head": "户主",
            "labour_capacity": "普通劳动力",
            "basic_medical_insured": "是",
        }
    ]
    for index in range(1, members):
        rows.append(
            {
                "household_number": number,
                "resident_id": resident_id(),
                "name": f"成员{number}-{index}",
                "relation_to_head": "配偶" if index == 1 else "之子",
                "months_worked": str(index % 13),
                "basic_medical_insured": "Y",
            }
        )
    rows[0].update(overrides)
    return rows


def csv_bytes(rows: list[dict[str, str]], chinese: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([CHINESE[name] for name in ENGLISH] if chinese else ENGLISH)
    for row in rows:
        writer.writerow([row.get(name, "") for name in ENGLISH])
    return out.getvalue().encode("utf-8-sig")


def ndjson_bytes(rows: list[dict[str, str]]) -> bytes:
    """A line per row, every column on every line, null where the cell is blank."""
    return "".join(
        json.dumps({name: row.get(name) or None for name in ENGLISH}, ensure_ascii=False) + "\n"
        for row in rows
    ).encode()


def xlsx_bytes(rows: list[dict[str, str]], chinese: bool = False) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("台账")
    sheet.append([CHINESE[name] for name in ENGLISH] if chinese else ENGLISH)
    for row in rows:
        cells: list[Any] = []
        for name in ENGLISH:
            value: Any = row.get(name) or None
            # As a spreadsheet holds them: numbers as numbers, dates as dates.
            if value and name in ("months_worked", "registered_year", "division_code"):
                value = float(value) if name == "division_code" else int(value)
            elif value and name == "disability_certified_on":
                value = date.fromisoformat(value)
            cells.append(value)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class Launches:
    """Stands in for the job runner: records what would have been started."""

    def __init__(self) -> None:
        self.started: list[tuple[uuid.UUID, Path]] = []

    async def launch(self, job_id: uuid.UUID, path: Path) -> None:
        self.started.append((job_id, path))

    async def cancel(self) -> None:
        """Nothing was started, so nothing to stop at shutdown."""


@pytest.fixture(scope="module")
async def imports_app(common_settings: CommonSettings) -> AsyncIterator[FastAPI]:
    app = create_app(common=common_settings, settings=RegistrySettings())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(imports_app: FastAPI, connection: AsyncConnection) -> AsyncIterator[AsyncClient]:
    isolate(imports_app, connection)
    imports_app.state.import_jobs = Launches()
    async with client_for(imports_app) as client:
        yield client
    imports_app.dependency_overrides.clear()


async def upload(
    api: AsyncClient,
    headers: dict[str, str],
    content: bytes,
    mode: str = "commit",
    name: str = "ledger.csv",
) -> Any:
    return await api.post(
        "/v1/imports", headers=headers, files={"file": (name, content)}, data={"mode": mode}
    )


async def counts(db: AsyncSession) -> dict[str, int]:
    tables = {
        "households": HouseholdRow,
        "members": MemberRow,
        "status_changes": StatusChangeRow,
        "change_events": change_event,
        "audit": audit_log,
    }
    return {
        name: await db.scalar(select(func.count()).select_from(table))  # type: ignore[misc]
        for name, table in tables.items()
    }


def stamps_read(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        key: datetime.fromisoformat(value) if key.endswith("_at") else value
        for key, value in payload.items()
    }


# ---------------------------------------------------------------- good files


async def test_committing_a_good_csv_writes_households_members_history_feed_and_audit(
    api: AsyncClient, admin: dict[str, str], district: None, db: AsyncSession
) -> None:
    rows = household("H1", members=3) + household("H2", AIYE_V2, members=2)
    rows[3]["household_status"] = "监测户"  # the second household's own status
    before = await counts(db)
    response = await upload(api, admin, csv_bytes(rows))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["valid"], report["committed"], report["errors"]) == (True, True, [])
    assert (report["rows"], report["households"]) == (5, 2)
    assert (report["households_created"], report["members_created"]) == (2, 5)
    after = await counts(db)
    assert {k: after[k] - before[k] for k in after} == {
        "households": 2,
        "members": 5,
        "status_changes": 2,
        "change_events": 9,  # each household's creation and first status, each member's
        "audit": 1,
    }

    head = await db.scalar(select(MemberRow).where(MemberRow.resident_id == rows[0]["resident_id"]))
    assert head is not None
    household_row = await db.get(HouseholdRow, head.household_id)
    assert household_row is not None
    assert (household_row.division_code, household_row.status) == (AIYE_V1, "registered_poor")
    assert household_row.main_poverty_cause == "illness"
    assert household_row.registered_year == date.today().year  # the default for registered poor
    assert (head.relation_to_head, head.labour_capacity, head.basic_medical_insured) == (
        "head",
        "ordinary",
        True,
    )
    assert head.birth_date == date.fromisoformat(
        f"{rows[0]['resident_id'][6:10]}-{rows[0]['resident_id'][10:12]}-"
        f"{rows[0]['resident_id'][12:14]}"
    )
    shown = await api.get(f"/v1/households/{household_row.id}", headers=admin)
    assert shown.json()["members"][0]["name"] == "户主H1"
    monitored = await db.scalar(
        select(HouseholdRow.status)
        .join(MemberRow, MemberRow.household_id == HouseholdRow.id)
        .where(MemberRow.resident_id == rows[3]["resident_id"])
    )
    assert monitored == "monitored"

    history = (
        await db.execute(
            select(StatusChangeRow.to_status, StatusChangeRow.actor, StatusChangeRow.reason).where(
                StatusChangeRow.household_id == household_row.id
            )
        )
    ).one()
    assert history[:2] == ("registered_poor", "tester")
    assert report["import_id"] in history.reason
    # The feed carries what the API appends for the same writes, value for value.
    members = (
        await db.scalars(
            select(MemberRow).where(MemberRow.resident_id.in_([r["resident_id"] for r in rows]))
        )
    ).all()
    households = (
        await db.scalars(
            select(HouseholdRow).where(HouseholdRow.id.in_({m.household_id for m in members}))
        )
    ).all()
    statuses = (
        await db.scalars(
            select(StatusChangeRow).where(
                StatusChangeRow.household_id.in_([h.id for h in households])
            )
        )
    ).all()
    events = (
        await db.execute(
            select(change_event).where(
                change_event.c.entity_id.in_([m.id for m in members] + [h.id for h in households])
            )
        )
    ).all()
    assert sorted((e.entity, e.kind, e.version, e.division_code) for e in events) == sorted(
        [("household", "created", 1, h.division_code) for h in households]
        + [("household_status", "recorded", 1, h.division_code) for h in households]
        + [
            ("member", "created", 1, AIYE_V1 if m.household_id == head.household_id else AIYE_V2)
            for m in members
        ]
    )
    payloads = {(e.entity, e.entity_id): e.payload for e in events}
    assert {payloads["member", m.id]["resident_id"] for m in members} == {
        r["resident_id"] for r in rows
    }
    for member in members:
        # Timestamps as instants: PostgreSQL drops trailing zeros of the microseconds.
        assert stamps_read(payloads["member", member.id]) == stamps_read(member_payload(member))
    for written in households:
        assert payloads["household", written.id] == household_payload(written)
    for status in statuses:
        assert payloads["household_status", status.household_id] == status_event_payload(status)
    audit = (
        await db.execute(
            select(audit_log.c.action, audit_log.c.details).where(
                audit_log.c.entity_id == report["import_id"]
            )
        )
    ).one()
    assert audit.action == "import"
    assert audit.details["members"] == 5


async def test_imports_are_counted_by_mode_and_outcome_once_they_have_committed(
    api: AsyncClient, admin: dict[str, str], district: None
) -> None:
    before = await counted(api, "tuopin_imports_total", "mode", "outcome")
    assert (await upload(api, admin, csv_bytes(household("C1")), "validate")).status_code == 200
    assert (await upload(api, admin, csv_bytes(household("C1")))).status_code == 200
    bad = household("C2", months_worked="13")
    assert (await upload(api, admin, csv_bytes(bad))).status_code == 422
    after = await counted(api, "tuopin_imports_total", "mode", "outcome")
    assert after - before == Counter(
        {("validate", "valid"): 1, ("commit", "committed"): 1, ("commit", "refused"): 1}
    )


async def test_xlsx_with_chinese_headers_imports_like_csv(
    api: AsyncClient, admin: dict[str, str], district: None, db: AsyncSession
) -> None:
    rows = household("X1", members=2) + household("X2", OTHER_TOWN_V1, members=1)
    rows[1].update(
        disability_category="肢体残疾",
        disability_grade="二级",
        disability_certified_on="2016-05-20",
    )
    response = await upload(api, admin, xlsx_bytes(rows, chinese=True), name="台账.xlsx")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["format"], report["committed"], report["members_created"]) == ("xlsx", True, 3)
    spouse = await db.scalar(
        select(MemberRow).where(MemberRow.resident_id == rows[1]["resident_id"])
    )
    assert spouse is not None
    assert (spouse.disability_category, spouse.disability_grade) == ("physical", 2)
    assert spouse.disability_certified_on == date(2016, 5, 20)
    assert spouse.months_worked == 1


async def test_chinese_csv_headers_and_gb18030_encoding_are_read(
    api: AsyncClient, admin: dict[str, str], district: None
) -> None:
    rows = household("G1", members=2)
    content = csv_bytes(rows, chinese=True).decode("utf-8-sig").encode("gb18030")
    response = await upload(api, admin, content, mode="validate")
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True


async def test_validate_writes_nothing_even_for_a_good_file(
    api: AsyncClient, admin: dict[str, str], district: None, db: AsyncSession
) -> None:
    before = await counts(db)
    response = await upload(api, admin, csv_bytes(household("V1") + household("V2")), "validate")
    assert response.status_code == 200
    report = response.json()
    assert (report["valid"], report["committed"], report["members_created"]) == (True, False, 0)
    assert await counts(db) == before


async def test_the_shipped_example_is_a_valid_ledger(
    api: AsyncClient, admin: dict[str, str], district: None
) -> None:
    example = Path(endpoints.__file__).parent / "templates" / "ledger-example.csv"
    response = await upload(api, admin, example.read_bytes(), "validate", example.name)
    assert response.status_code == 200
    assert response.json()["errors"] == []
    assert response.json()["households"] == 3


async def test_a_long_bad_value_is_repeated_in_the_report_only_in_part(
    api: AsyncClient, admin: dict[str, str], district: None
) -> None:
    rows = household("L1", address="地" * 5_000)
    response = await upload(api, admin, csv_bytes(rows), "validate")
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert (error["column"], error["code"]) == ("address", "too_long")
    assert error["value"] == "地" * 200 + "…"


# ---------------------------------------------------------------- round trips


def exported_cells(content: bytes, format_: str, tmp_path: Path) -> list[dict[str, str]]:
    """An exported ledger's rows as the import reads them: a text cell per column."""
    path = tmp_path / f"exported.{format_}"
    path.write_bytes(content)
    assert detect_format(path, path.name) is LedgerFormat(format_)
    reader = open_ledger(LedgerFile(path, path.name, LedgerFormat(format_)))
    try:
        assert [column.name for _, column in reader.layout.positions] == ENGLISH
        return [dict(zip(ENGLISH, cells, strict=True)) for _, cells in reader.rows()]
    finally:
        reader.close()


def by_person(rows: list[dict[str, str]]) -> tuple[dict[str, dict[str, str]], set[frozenset[str]]]:
    """Each person's cells but the household number, and who shares a household."""
    people = {
        r["resident_id"]: {k: v for k, v in r.items() if k != "household_number"} for r in rows
    }
    households: dict[str, set[str]] = {}
    for row in rows:
        households.setdefault(row["household_number"], set()).add(row["resident_id"])
    return people, {frozenset(members) for members in households.values()}


@pytest.mark.parametrize("format_", ["csv", "xlsx", "ndjson"])
async def test_an_exported_ledger_imports_into_an_empty_register_cell_for_cell(
    imports_app: FastAPI,
    api: AsyncClient,
    admin: dict[str, str],
    district: None,
    connection: AsyncConnection,
    format_: str,
    tmp_path: Path,
) -> None:
    isolate_exports(imports_app, connection)
    rows = household("R1", members=3, phone="0813-1234567", registered_year="2015")
    rows += household("R2", AIYE_V2, members=2, household_status="监测户", water_short_area="是")
    rows[1].update(
        health_status="disabled",
        disability_category="肢体残疾",
        disability_grade="二级",
        disability_certificate_no=rows[1]["resident_id"] + "42",
        disability_certified_on="2016-05-20",
        resident_pension_enrolled="是",
    )
    rows[2].update(
        school_stage="junior_secondary",
        employment_status="migrant",
        months_worked="7",
        employment_place='Chengdu, "Site 3"\nnorth gate',
        dibao="true",
    )
    assert (await upload(api, admin, csv_bytes(rows))).status_code == 200

    async def export_ledger() -> bytes:
        response = await api.get(
            "/v1/exports/ledger", params={"format": format_, "division": AIYE}, headers=admin
        )
        assert response.status_code == 200, response.text
        return response.content

    exported = await export_ledger()
    before = exported_cells(exported, format_, tmp_path)
    people, households = by_person(before)
    assert set(people) == {row["resident_id"] for row in rows}
    assert people[rows[2]["resident_id"]]["employment_place"] == 'Chengdu, "Site 3"\nnorth gate'
    assert people[rows[1]["resident_id"]]["disability_category"] == "physical"
    assert people[rows[3]["resident_id"]]["household_status"] == "monitored"
    assert people[rows[0]["resident_id"]]["registered_year"] == "2015"
    assert people[rows[0]["resident_id"]]["phone"] == "0813-1234567"

    # The same people, gone from the register (the test's transaction is rolled back).
    raw = await driver(connection)
    ids = [uuid.UUID(number) for number in {row["household_number"] for row in before}]
    for table, column in (("status_change", "household_id"), ("member", "household_id")):
        await raw.execute(f"DELETE FROM registry.{table} WHERE {column} = ANY($1)", ids)  # noqa: S608
    await raw.execute("DELETE FROM registry.household WHERE id = ANY($1)", ids)

    response = await upload(api, admin, exported, name=f"ledger.{format_}")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["format"], report["households_created"], report["members_created"]) == (
        format_,
        2,
        5,
    )
    after = exported_cells(await export_ledger(), format_, tmp_path)
    assert by_person(after) == (people, households)
    assert not {row["household_number"] for row in after} & {str(i) for i in ids}


# ---------------------------------------------------------------- bad rows


def _bad_cases() -> Iterator[Any]:
    def case(name: str, make: Callable[[], list[dict[str, str]]], *expected: tuple[int, str, str]):
        return pytest.param(make, expected, id=name)

    def edit(**cells: str) -> Callable[[], list[dict[str, str]]]:
        def make() -> list[dict[str, str]]:
            rows = household("B1", members=3)
            rows[1].update(cells)
            return rows

        return make

    good = resident_id()
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    yield case(
        "bad check character",
        edit(resident_id=wrong_check),
        (3, "resident_id", "invalid_resident_id"),
    )
    yield case(
        "15-digit resident ID",
        edit(resident_id="510303800315123"),
        (3, "resident_id", "invalid_resident_id"),
    )

    def duplicated() -> list[dict[str, str]]:
        rows = household("B1", members=3)
        rows[2]["resident_id"] = rows[1]["resident_id"]
        return rows

    yield case("duplicate in file", duplicated, (4, "resident_id", "duplicate_in_file"))
    yield case(
        "unknown division",
        lambda: household("B1", division="510303100099"),
        (2, "division_code", "unknown_division"),
    )
    yield case(
        "a town, not a village",
        lambda: household("B1", division=AIYE),
        (2, "division_code", "not_a_village"),
    )
    yield case("bad enum", edit(labour_capacity="大力士"), (3, "labour_capacity", "invalid_value"))
    yield case(
        "bad date",
        edit(
            disability_category="视力残疾",
            disability_grade="1",
            disability_certified_on="2019-02-30",
        ),
        (3, "disability_certified_on", "invalid_date"),
    )
    yield case("months worked 13", edit(months_worked="13"), (3, "months_worked", "out_of_range"))
    yield case("two heads", edit(relation_to_head="户主"), (3, "relation_to_head", "several_heads"))

    def headless() -> list[dict[str, str]]:
        rows = household("B1", members=2)
        rows[0]["relation_to_head"] = "之父"
        return rows

    yield case("no head", headless, (2, "relation_to_head", "no_head"))
    yield case(
        "household columns disagree",
        edit(division_code=AIYE_V2, address="另一个地址"),
        (3, "division_code", "household_disagrees"),
        (3, "address", "household_disagrees"),
    )
    yield case(
        "initial status not allowed",
        edit(household_status="已脱贫"),
        (3, "household_status", "invalid_initial_status"),
    )


@pytest.mark.parametrize(("make", "expected"), list(_bad_cases()))
async def test_a_bad_row_is_reported_by_row_column_and_message_and_nothing_is_written(
    api: AsyncClient,
    admin: dict[str, str],
    district: None,
    db: AsyncSession,
    make: Callable[[], list[dict[str, str]]],
    expected: tuple[tuple[int, str, str], ...],
) -> None:
    rows = make() + household("OK", AIYE_V2)  # a good household changes nothing
    before = await counts(db)
    response = await upload(api, admin, csv_bytes(rows))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    report = problem["report"]
    found = [(e["row"], e["column"], e["code"]) for e in report["errors"]]
    assert found == list(expected)
    assert all(e["message"] for e in report["errors"])
    assert report["committed"] is False
    assert report["error_count"] == len(expected)
    assert problem["errors"][0]["field"] == f"rows.{expected[0][0]}.{expected[0][1]}"
    assert await counts(db) == before

    validated = await upload(api, admin, csv_bytes(rows), "validate")
    assert validated.status_code == 200
    assert [(e["row"], e["column"], e["code"]) for e in validated.json()["errors"]] == found


async def test_an_id_already_registered_names_its_household_and_nothing_is_written(
    api: AsyncClient, admin: dict[str, str], district: None, db: AsyncSession
) -> None:
    existing = household_body(members=[member_body(resident_id=resident_id())])
    created = (await api.post("/v1/households", json=existing, headers=admin)).json()
    taken = existing["members"][0]["resident_id"]
    rows = household("R1", members=2)
    rows[1]["resident_id"] = taken
    before = await counts(db)
    response = await upload(api, admin, csv_bytes(rows))
    assert response.status_code == 422
    [error] = response.json()["report"]["errors"]
    assert (error["row"], error["column"], error["code"]) == (
        3,
        "resident_id",
        "already_registered",
    )
    assert error["message"] == f"already registered in household {created['id']}"
    assert error["value"] == taken  # the admin holds pii
    assert await counts(db) == before


async def test_a_village_cadre_is_refused_row_by_row_for_another_village(
    api: AsyncClient, token: Any, admin: dict[str, str], district: None, db: AsyncSession
) -> None:
    elsewhere = household_body(division=AIYE_V2, members=[member_body(resident_id=resident_id())])
    assert (await api.post("/v1/households", json=elsewhere, headers=admin)).status_code == 201
    rows = household("C1", AIYE_V1) + household("C2", AIYE_V2, members=2)
    rows[1]["resident_id"] = elsewhere["members"][0]["resident_id"]
    cadre = token(Role.village_cadre, AIYE_V1)
    before = await counts(db)
    response = await upload(api, cadre, csv_bytes(rows))
    assert response.status_code == 422
    errors = response.json()["report"]["errors"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (3, "resident_id", "already_registered"),
        (5, "division_code", "out_of_scope"),
    ]
    # Registered outside the cadre's village: the household is not named.
    assert errors[0]["message"] == "already registered in a household outside your division"
    assert await counts(db) == before


async def test_resident_ids_in_the_report_are_masked_without_pii(
    api: AsyncClient, token: Any, district: None
) -> None:
    rows = household("M1", members=2)
    rows[1]["resident_id"] = rows[1]["resident_id"][:17] + (
        "0" if rows[1]["resident_id"][17] != "0" else "1"
    )
    rows[0]["phone"] = "not a phone"
    masked = await upload(api, token(Role.town_officer, AIYE), csv_bytes(rows), "validate")
    errors = {e["column"]: e["value"] for e in masked.json()["errors"]}
    assert (
        errors["resident_id"]
        == rows[1]["resident_id"][:6] + "********" + rows[1]["resident_id"][14:]
    )
    assert "*" in errors["phone"]
    full = await upload(api, token(Role.town_officer, AIYE, pii=True), csv_bytes(rows), "validate")
    assert {e["column"]: e["value"] for e in full.json()["errors"]}["resident_id"] == rows[1][
        "resident_id"
    ]


async def test_a_late_registration_is_caught_by_the_constraint_and_nothing_is_written(
    api: AsyncClient,
    admin: dict[str, str],
    district: None,
    db: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tuopin_registry.imports import staging

    rows = household("L1", members=2)
    late = rows[1]["resident_id"]
    check = staging.Staging.check

    async def check_then_someone_registers(self: staging.Staging, *args: Any) -> Any:
        checked = await check(self, *args)
        body = household_body(members=[member_body(resident_id=late)])
        assert (await api.post("/v1/households", json=body, headers=admin)).status_code == 201
        return checked

    monkeypatch.setattr(staging.Staging, "check", check_then_someone_registers)
    response = await upload(api, admin, csv_bytes(rows))
    assert response.status_code == 422, response.text
    [error] = response.json()["report"]["errors"]
    assert (error["row"], error["code"]) == (3, "already_registered")
    assert error["message"].startswith("already registered in household ")
    head = select(func.count()).where(MemberRow.resident_id == rows[0]["resident_id"])
    assert await db.scalar(head) == 0


# ---------------------------------------------------------------- bad files

# An NDJSON ledger's first line: its keys are the header.
_FIRST_LINE = (
    b'{"household_number": "1", "division_code": "510303100001", "resident_id": null,'
    b' "name": "x", "relation_to_head": "head"}\n'
)


@pytest.mark.parametrize(
    ("content", "name", "needle"),
    [
        (b"", "empty.csv", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xls"),
        (b"%PDF-1.4\x00\x01\x02", "scan.pdf", "neither CSV, XLSX nor NDJSON"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", "not an XLSX"),
        (",".join(ENGLISH).encode(), "header-only.csv", "no data rows"),
        (_FIRST_LINE + b'{"name": \n', "cut.ndjson", "line 2 is not a JSON object"),
        (_FIRST_LINE + b"\n[1, 2]\n", "list.ndjson", "line 3 is not a JSON object"),
        (
            _FIRST_LINE + b'{"name": "y", "phone": "1234567"}\n',
            "ragged.ndjson",
            "line 2 has fields the first line has not: phone",
        ),
        (
            _FIRST_LINE + b'{"name": {"given": "x"}}\n',
            "nested.ndjson",
            "line 2, field name: a ledger's values are",
        ),
        (_FIRST_LINE + b'{"name": "\xff"}\n', "latin1.ndjson", "line 2 is not valid UTF-8"),
        (
            _FIRST_LINE + b'{"name": "a\\u0000b"}\n',
            "nul.ndjson",
            "line 2, field name: holds a NUL character",
        ),
        (
            _FIRST_LINE + b'{"name": "' + b"x" * (1 << 20) + b'"}\n',
            "long.ndjson",
            "line 2 is longer than 1,024 KB",
        ),
        (
            _FIRST_LINE + b'{"household_number": 123456789012345678901234567890}\n',
            "big.ndjson",
            "line 2, field household_number: the number 1.23456789012346e+29 is too large",
        ),
        (
            ",".join(ENGLISH).encode() + b"\n" + b"H1,510303100001\n" * 400 + b"H1,\x00\n",
            "nul.csv",
            "line 402 holds a NUL character",
        ),
    ],
)
async def test_a_file_that_is_no_ledger_is_refused_with_422(
    api: AsyncClient, admin: dict[str, str], district: None, content: bytes, name: str, needle: str
) -> None:
    response = await upload(api, admin, content, name=name)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert needle in response.json()["detail"]


async def test_unknown_and_missing_headers_are_named(
    api: AsyncClient, admin: dict[str, str], district: None
) -> None:
    content = "户编号,姓名,身份证号,favourite_colour\n1,张三,x,red\n".encode()
    response = await upload(api, admin, content)
    assert response.status_code == 422
    problem = response.json()
    assert problem["unknown_columns"] == ["favourite_colour"]
    assert problem["missing_columns"] == [
        "division_code (行政区划代码)",
        "relation_to_head (与户主关系)",
    ]
    assert {e["code"] for e in problem["errors"]} == {"unknown_column", "missing_column"}


async def test_read_only_roles_may_not_import(api: AsyncClient, token: Any, district: None) -> None:
    response = await upload(api, token(Role.auditor), csv_bytes(household("A1")))
    assert response.status_code == 403


async def test_templates_are_served(api: AsyncClient, admin: dict[str, str]) -> None:
    english = await api.get("/v1/imports/template.csv", headers=admin)
    assert english.status_code == 200
    assert english.content.decode("utf-8-sig").splitlines()[0].split(",") == ENGLISH
    chinese = await api.get("/v1/imports/template.csv?language=zh", headers=admin)
    assert chinese.content.decode("utf-8-sig").splitlines()[0].startswith("户编号,行政区划代码")
    workbook = await api.get("/v1/imports/template.xlsx", headers=admin)
    assert workbook.status_code == 200
    assert workbook.content.startswith(b"PK")


# ---------------------------------------------------------------- jobs


def big_ledger(households: int, division: str = AIYE_V1, prefix: str = "J") -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for number in range(households):
        rows += household(f"{prefix}{number}", division, members=4)
    return rows


@pytest.mark.parametrize("format_", ["csv", "ndjson"])
async def test_a_large_file_is_read_in_batches_in_bounded_memory(
    district: None, connection: AsyncConnection, tmp_path: Path, format_: str
) -> None:
    # 40,000 rows: held in one batch they peak at about 33 MB; read a thousand at a
    # time, at about 4 MB whatever the file's size.
    path = tmp_path / f"big.{format_}"
    encode = csv_bytes if format_ == "csv" else ndjson_bytes
    path.write_bytes(encode(big_ledger(10_000, prefix="M")))
    assert path.stat().st_size > 3_000_000
    ledger = LedgerFile(path, path.name, LedgerFormat(format_))
    options = service.ImportOptions(
        mode=ImportMode.VALIDATE, actor="tester", roles="admin", scope=None, can_see_pii=True
    )
    await connection.exec_driver_sql("SELECT 1")  # the test's transaction, begun
    tracemalloc.start()
    try:
        report = await service.run_import(
            await driver(connection), ledger, options, batch_rows=1_000
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (report.rows, report.households, report.errors) == (40_000, 10_000, [])
    assert peak < 12 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("format_", ["csv", "ndjson"])
async def test_a_large_file_becomes_a_job_whose_report_is_polled(
    api: AsyncClient,
    imports_app: FastAPI,
    admin: dict[str, str],
    district: None,
    db: AsyncSession,
    connection: AsyncConnection,
    format_: str,
) -> None:
    rows = big_ledger(5_000)  # 20,000 rows
    before = await counts(db)
    encode = csv_bytes if format_ == "csv" else ndjson_bytes
    response = await upload(api, admin, encode(rows), name=f"ledger.{format_}")
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == f"/v1/imports/{job['id']}"
    assert (job["status"], job["rows_total"], job["report"]) == ("queued", 20_000, None)
    assert job["format"] == format_
    [(job_id, path)] = imports_app.state.import_jobs.started
    assert str(job_id) == job["id"]

    raw = await driver(connection)
    try:
        await jobs.run_job(raw, job_id, path)
    finally:
        path.unlink()
    polled = (await api.get(response.headers["Location"], headers=admin)).json()
    assert polled["status"] == "succeeded", polled
    assert (polled["rows_done"], polled["members_created"], polled["households_created"]) == (
        20_000,
        20_000,
        5_000,
    )
    assert polled["report"]["committed"] is True
    after = await counts(db)
    assert after["members"] - before["members"] == 20_000
    assert after["change_events"] - before["change_events"] == 30_000


async def test_a_job_with_bad_rows_fails_with_its_report_and_writes_nothing(
    api: AsyncClient,
    imports_app: FastAPI,
    token: Any,
    district: None,
    db: AsyncSession,
    connection: AsyncConnection,
) -> None:
    rows = big_ledger(1_500, prefix="F") + household("F-X", AIYE_V2)
    rows[10]["months_worked"] = "13"
    before = await counts(db)
    cadre = token(Role.village_cadre, AIYE_V1)
    response = await upload(api, cadre, csv_bytes(rows))
    assert response.status_code == 202
    [(job_id, path)] = imports_app.state.import_jobs.started
    raw = await driver(connection)
    try:
        await jobs.run_job(raw, job_id, path)
    finally:
        path.unlink()
    polled = (await api.get(f"/v1/imports/{job_id}", headers=cadre)).json()
    assert polled["status"] == "failed"
    assert polled["error_count"] == 2
    assert [(e["row"], e["code"]) for e in polled["report"]["errors"]] == [
        (12, "out_of_range"),
        (6002, "out_of_scope"),
    ]
    assert await counts(db) == before
    # Another village's cadre does not see the job at all.
    other = await api.get(f"/v1/imports/{job_id}", headers=token(Role.village_cadre, AIYE_V2))
    assert other.status_code == 404


async def test_jobs_whose_process_has_gone_are_marked_interrupted(
    db: AsyncSession, connection: AsyncConnection, engine: Any
) -> None:
    def job(status: str) -> ImportJobRow:
        return ImportJobRow(
            created_by="tester",
            created_by_roles="admin",
            division_code=DISTRICT,
            can_see_pii=False,
            file_name="x.csv",
            format="csv",
            mode="commit",
            status=status,
        )

    gone, alive, fresh = job("running"), job("running"), job("queued")
    db.add_all([gone, alive, fresh])
    await db.flush()
    # A live job holds its lock on a connection of its own.
    async with engine.connect() as other:
        holder = await driver(other)
        await holder.execute(
            "SELECT pg_advisory_lock($1, hashtext($2))", jobs._LOCK_NAMESPACE, str(alive.id)
        )
        try:
            marked = await jobs.mark_interrupted(await driver(connection))
        finally:
            await holder.execute("SELECT pg_advisory_unlock_all()")
    assert marked == 1
    rows = (await db.execute(text("SELECT id, status FROM registry.import_job"))).all()
    statuses = {job_id: status for job_id, status in rows}
    assert statuses[gone.id] == "interrupted"
    assert statuses[alive.id] == "running"
    assert statuses[fresh.id] == "queued"  # given a minute to start


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def scratch_database(database_url: str) -> Iterator[str]:
    """A database of its own, registry migrated, with committed divisions; dropped after."""
    name = f"tuopin_import_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(_dsn(database_url))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(SERVICE, url)

        asyncio.run(
            insert_divisions(
                url,
                [
                    (DISTRICT, "Gongjing District", "county", None),
                    (AIYE, "Aiye Town", "town", DISTRICT),
                    (OTHER_TOWN, "Demo Town", "town", DISTRICT),
                    (AIYE_V1, "Village 1", "village", AIYE),
                    (AIYE_V2, "Village 2", "village", AIYE),
                    (OTHER_TOWN_V1, "Village 3", "village", OTHER_TOWN),
                ],
            )
        )
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_end_to_end_a_20000_row_file_is_accepted_polled_and_committed(
    scratch_database: str, admin: dict[str, str]
) -> None:
    settings = CommonSettings(database_url=scratch_database, environment=Environment.test)
    app = create_app(common=settings, settings=RegistrySettings())
    rows = big_ledger(5_000, AIYE_V2, prefix="E")
    async with app.router.lifespan_context(app), client_for(app) as client:
        response = await upload(client, admin, csv_bytes(rows))
        assert response.status_code == 202, response.text
        location = response.headers["Location"]
        seen = set()
        for _ in range(600):
            job = (await client.get(location, headers=admin)).json()
            seen.add(job["status"])
            if job["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.1)
        assert job["status"] == "succeeded", job
        assert job["members_created"] == 20_000
        assert job["report"]["households_created"] == 5_000
        assert job["started_at"] and job["finished_at"]
        await jobs.jobs_of(app).wait()
        connection = await asyncpg.connect(_dsn(scratch_database))
        try:
            assert await connection.fetchval("SELECT count(*) FROM registry.member") == 20_000
            assert await connection.fetchval("SELECT count(*) FROM registry.change_event") == 30_000
        finally:
            await connection.close()


def test_the_command_validates_commits_and_prints_the_errors_as_a_table(
    scratch_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    from typer.testing import CliRunner

    from tuopin_registry.imports.command import import_ledger

    command = typer.Typer()
    command.command()(import_ledger)
    monkeypatch.setenv("TUOPIN_DATABASE_URL", scratch_database)
    ledger = tmp_path / "村台账.csv"
    ledger.write_bytes(csv_bytes(big_ledger(3, OTHER_TOWN_V1, prefix="CLI")))
    runner = CliRunner()

    checked = runner.invoke(command, [str(ledger), "--validate"])
    assert checked.exit_code == 0, checked.output
    assert "valid" in checked.output and "nothing written" in checked.output
    imported = runner.invoke(command, [str(ledger)])
    assert imported.exit_code == 0, imported.output
    assert "3 households, 12 members" in imported.output
    again = runner.invoke(command, [str(ledger)])
    assert again.exit_code == 1
    assert "12 errors; nothing written" in again.output
    assert "already registered in household" in again.output
    assert "already_registered 12" in again.output.replace("\n", " ")

    async def registered() -> int:
        connection = await asyncpg.connect(_dsn(scratch_database))
        try:
            return int(
                await connection.fetchval(
                    "SELECT count(*) FROM registry.audit_log WHERE actor LIKE 'cli:%'"
                )
            )
        finally:
            await connection.close()

    assert asyncio.run(registered()) == 1

    # An NDJSON ledger, as a system sends it, through the same command.
    as_ndjson = tmp_path / "ledger.ndjson"
    as_ndjson.write_bytes(ndjson_bytes(big_ledger(2, OTHER_TOWN_V1, prefix="NDJ")))
    imported = runner.invoke(command, [str(as_ndjson)])
    assert imported.exit_code == 0, imported.output
    assert "2 households, 8 members" in imported.output
    assert asyncio.run(registered()) == 2


async def test_jobs_stopped_with_the_service_are_marked_interrupted_and_write_nothing(
    scratch_database: str, admin: dict[str, str]
) -> None:
    settings = CommonSettings(database_url=scratch_database, environment=Environment.test)
    app = create_app(common=settings, settings=RegistrySettings())
    async with app.router.lifespan_context(app), client_for(app) as client:
        response = await upload(client, admin, csv_bytes(big_ledger(2_000, AIYE_V1, "S")))
        assert response.status_code == 202
        await jobs.jobs_of(app).cancel()
        job = (await client.get(response.headers["Location"], headers=admin)).json()
    assert job["status"] == "interrupted", job
    assert job["detail"] == "the service stopped while the import ran; nothing was written"
    connection = await asyncpg.connect(_dsn(scratch_database))
    try:
        written = await connection.fetchval(
            "SELECT count(*) FROM registry.household h JOIN registry.member m"
            " ON m.household_id = h.id WHERE m.name LIKE '户主S%'"
        )
    finally:
        await connection.close()
    assert written == 0


async def test_recovery_at_start_up_survives_an_unreachable_database() -> None:
    unreachable = CommonSettings(database_url="postgresql://nobody@127.0.0.1:1/none")
    app = create_app(common=unreachable)
    async with app.router.lifespan_context(app):
        await jobs.recover_interrupted(app)  # logs, does not raise


async def test_the_import_routes_are_documented(api: AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    post = spec["paths"]["/v1/imports"]["post"]
    assert post["operationId"] == "import_ledger"
    assert post["summary"]
    assert {"200", "202", "401", "403", "422"} <= set(post["responses"])
    assert "multipart/form-data" in post["requestBody"]["content"]
    for path in (
        "/v1/imports/{import_id}",
        "/v1/imports/template.csv",
        "/v1/imports/template.xlsx",
    ):
        assert spec["paths"][path]["get"]["summary"], path
    assert "ImportReport" in spec["components"]["schemas"]
