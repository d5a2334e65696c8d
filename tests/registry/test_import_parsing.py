"""Reading ledgers, without a database: headers, cells, vocabulary, files and templates."""

from __future__ import annotations

import codecs
import csv
import io
import json
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tuopin_registry.imports import service, vocabulary
from tuopin_registry.imports.parsing import (
    COLUMNS,
    ENUMERATED,
    MEMBER_FIELDS,
    RECORD_FIELDS,
    HeaderError,
    RowParser,
    match_headers,
)
from tuopin_registry.imports.sources import (
    LedgerFile,
    LedgerFileError,
    detect_format,
    estimate_rows,
    open_ledger,
)
from tuopin_registry.imports.staging import STAGED_FIELDS, ordered_ids
from tuopin_registry.imports.templates import (
    TEMPLATES,
    example_rows,
    header,
    template_xlsx,
)
from tuopin_shared.contracts.identity import make_resident_id
from tuopin_shared.contracts.imports import LedgerFormat
from tuopin_shared.contracts.registry import MemberCreate

TODAY = date(2020, 6, 30)
ENGLISH = [c.name for c in COLUMNS]
HEAD = make_resident_id("510303", date(1970, 5, 6), 17)


def parse(cells: dict[str, str], headers: list[str] | None = None) -> tuple[dict[str, Any], Any]:
    headers = headers or ENGLISH
    layout = match_headers(headers)
    row = [cells.get(column.name, "") for _, column in layout.positions]
    record, errors = RowParser(layout, TODAY).parse(7, row)
    return dict(zip(RECORD_FIELDS, record, strict=True)), errors


def good(**cells: str) -> dict[str, str]:
    return {
        "household_number": "1",
        "division_code": "510303100001",
        "resident_id": HEAD,
        "name": "张三",
        "relation_to_head": "户主",
        **cells,
    }


# ---------------------------------------------------------------- columns


def test_the_member_columns_are_the_contracts_member_fields() -> None:
    # A new field in MemberCreate fails here until the ledger is taught to read it.
    ledger = [c.name for c in COLUMNS if not c.household]
    assert ledger == ["resident_id", *MEMBER_FIELDS]
    assert set(ledger) == set(MemberCreate.model_fields)
    assert len({c.chinese for c in COLUMNS}) == len(COLUMNS)


def test_every_enumerated_value_has_a_chinese_label_and_no_word_is_ambiguous() -> None:
    for column, enum in ENUMERATED.items():
        assert set(vocabulary.LABELS[enum]) == set(enum), column
        words: list[str] = [str(m.value).lower() for m in enum]
        for member in enum:
            words += vocabulary.LABELS[enum][member]
        assert len(words) == len(set(words)), column
        for member in enum:
            assert vocabulary.accepted_words(enum)[vocabulary.label(member)] is member


# ---------------------------------------------------------------- headers


def test_headers_are_matched_in_english_chinese_or_both() -> None:
    chinese = match_headers([c.chinese for c in COLUMNS])
    assert [c.name for _, c in chinese.positions] == ENGLISH
    assert chinese.header("resident_id") == "身份证号"
    mixed = match_headers(
        ["\ufeffHousehold Number", "行政区划代码*", "Resident-ID", "姓名", "relation_to_head", ""]
    )
    assert [c.name for _, c in mixed.positions] == [
        "household_number",
        "division_code",
        "resident_id",
        "name",
        "relation_to_head",
    ]


def test_unknown_missing_and_repeated_headers_are_all_named() -> None:
    with pytest.raises(HeaderError) as caught:
        match_headers(["户编号", "姓名", "name", "身份证号", "colour", "行政区划代码"])
    assert caught.value.unknown == ["colour"]
    assert caught.value.missing == ["relation_to_head (与户主关系)"]
    assert caught.value.duplicated == ["name"]
    assert "colour" in str(caught.value)


# ---------------------------------------------------------------- cells


def test_a_good_row_is_read_into_the_registrys_values() -> None:
    values, errors = parse(
        good(
            address=" 一组 ",
            phone="138 0000 1234",
            household_status="监测户",
            registered_year="2016",
            main_poverty_cause="缺技术",
            water_short_area="Y",
            labour_capacity="Skilled",
            employment_status="县外务工",
            months_worked="11",
            health_status="残疾",
            disability_category="视力残疾",
            disability_grade="一级",
            disability_certified_on="2016/5/2",
            school_stage="非在校生",
            school_exempt="否",
            basic_medical_insured="是",
            critical_illness_insured="TRUE",
            resident_pension_enrolled="1",
            employee_pension_enrolled="no",
            dibao="y",
        )
    )
    assert errors == []
    assert values["row_no"] == 7
    assert values["division_code"] == "510303100001"
    assert values["address"] == "一组"
    assert (values["household_status"], values["registered_year"]) == ("monitored", 2016)
    assert (values["main_poverty_cause"], values["water_short_area"]) == ("lack_of_skills", True)
    assert (values["resident_id"], values["sex"], values["birth_date"]) == (
        HEAD,
        "male",
        date(1970, 5, 6),
    )
    assert values["relation_to_head"] == "head"
    assert (values["labour_capacity"], values["employment_status"]) == ("skilled", "migrant")
    assert (values["months_worked"], values["health_status"]) == (11, "disabled")
    assert (values["disability_category"], values["disability_grade"]) == ("visual", 1)
    assert values["disability_certified_on"] == date(2016, 5, 2)
    assert [values[f] for f in ("school_exempt", "basic_medical_insured")] == [False, True]
    assert [values[f] for f in ("critical_illness_insured", "resident_pension_enrolled")] == [
        True,
        True,
    ]
    assert (values["employee_pension_enrolled"], values["dibao"], values["tekun"]) == (
        False,
        True,
        False,
    )


def test_blank_cells_take_the_contracts_defaults_and_household_cells_stay_blank() -> None:
    values, errors = parse(good(division_code=""))
    assert errors == []
    assert values["division_code"] is None  # given on another row of the household, or missing
    assert (values["household_status"], values["water_short_area"]) == (None, None)
    assert values["labour_capacity"] == "none"
    assert values["employment_status"] == "unemployed"
    assert (values["months_worked"], values["school_stage"]) == (0, "not_in_school")
    assert values["basic_medical_insured"] is False


@pytest.mark.parametrize(
    ("cells", "column", "code", "message"),
    [
        ({"resident_id": HEAD[:17] + "0"}, "resident_id", "invalid_resident_id", "check character"),
        ({"resident_id": "510303700506171"}, "resident_id", "invalid_resident_id", "15-digit"),
        ({"resident_id": "51030319700230171X"}, "resident_id", "invalid_resident_id", "real date"),
        ({"name": ""}, "name", "required", "blank"),
        ({"name": "张" * 101}, "name", "too_long", "at most 100"),
        ({"household_number": ""}, "household_number", "required", "blank"),
        ({"division_code": "5103031000"}, "division_code", "invalid_division_code", "6, 9 or 12"),
        ({"relation_to_head": "老板"}, "relation_to_head", "invalid_value", "head, spouse"),
        ({"labour_capacity": "大力士"}, "labour_capacity", "invalid_value", "skilled"),
        ({"household_status": "已脱贫"}, "household_status", "invalid_initial_status", "monitored"),
        ({"household_status": "富裕"}, "household_status", "invalid_value", "registered_poor"),
        ({"months_worked": "13"}, "months_worked", "out_of_range", "between 0 and 12"),
        ({"months_worked": "六"}, "months_worked", "invalid_number", "whole number"),
        ({"registered_year": "1999"}, "registered_year", "out_of_range", "2000 and 2100"),
        ({"dibao": "maybe"}, "dibao", "invalid_boolean", "是/否"),
        ({"disability_certified_on": "2019-02-30"}, "disability_certified_on", "invalid_date", ""),
        ({"disability_certified_on": "30/1/2019"}, "disability_certified_on", "invalid_date", ""),
        ({"phone": "call me"}, "phone", "invalid_format", ""),
        ({"disability_category": "视力残疾"}, "disability_grade", "inconsistent", "go together"),
        ({"disability_grade": "5"}, "disability_grade", "invalid_value", ""),
    ],
)
def test_a_bad_cell_is_reported_with_its_column_value_and_reason(
    cells: dict[str, str], column: str, code: str, message: str
) -> None:
    values, errors = parse(good(**cells))
    assert [(e.row, e.column, e.code) for e in errors] == [(7, column, code)]
    assert message in errors[0].message
    given = cells.get(column)
    assert errors[0].value == (given.strip() if given else None) or code == "inconsistent"
    if column in values and code != "inconsistent":
        assert values[column] is None or column == "disability_grade"


def test_an_unreadable_division_is_marked_so_the_household_is_not_also_missing_one() -> None:
    values, _ = parse(good(division_code="abc"))
    assert (values["division_code"], values["division_bad"]) == (None, True)


def test_short_rows_are_read_as_blank_cells() -> None:
    layout = match_headers(ENGLISH)
    record, errors = RowParser(layout, TODAY).parse(3, ["1", "510303100001"])
    assert {e.column for e in errors} == {"resident_id", "name", "relation_to_head"}
    assert record[RECORD_FIELDS.index("division_code")] == "510303100001"


def test_a_batch_reads_every_row_as_it_would_be_read_alone() -> None:
    # A batch is read a column at a time: no value, flag or error may land on another row.
    layout = match_headers(ENGLISH)
    people = [make_resident_id("510303", date(1980 + n, 1 + n, 1 + n), n) for n in range(8)]
    rows = [
        good(resident_id=people[0], months_worked="007", registered_year="2016"),
        good(resident_id=people[1], division_code="abc", dibao="maybe", name=""),
        good(resident_id=people[2][:17] + "0", relation_to_head="SPOUSE"),
        good(resident_id=people[3], disability_grade="二级"),
        good(resident_id=people[4], months_worked="13", phone="call me", household_number=""),
        good(resident_id=people[5], division_code=" 510303100002 ", labour_capacity="Weak"),
        good(resident_id=people[6], disability_category="视力残疾", disability_grade="5"),
        good(resident_id=people[7]),
    ]
    cells = [[row.get(column.name, "") for _, column in layout.positions] for row in rows]
    cells[7] = cells[7][:9]  # a short row, up to the resident ID: the rest blank
    numbered = [(10 + n, row) for n, row in enumerate(cells)]
    parser = RowParser(layout, TODAY)
    columns, errors = parser.parse_batch(numbered)
    records = list(zip(*columns, strict=True))
    alone = [RowParser(layout, TODAY).parse(number, row) for number, row in numbered]
    assert [list(record) for record in records] == [record for record, _ in alone]
    assert errors == [error for _, row_errors in alone for error in row_errors]
    # And what that is, for a few of them.
    values = [dict(zip(RECORD_FIELDS, record, strict=True)) for record in records]
    assert (values[0]["months_worked"], values[0]["registered_year"]) == (7, 2016)
    assert (values[1]["division_bad"], values[5]["division_bad"]) == (True, False)
    assert values[5]["division_code"] == "510303100002"
    assert (values[6]["sex"], values[6]["birth_date"]) == ("female", date(1986, 7, 7))
    assert [(e.row, e.column, e.code) for e in errors] == [
        (11, "division_code", "invalid_division_code"),
        (11, "name", "required"),
        (11, "dibao", "invalid_boolean"),
        (12, "resident_id", "invalid_resident_id"),
        (13, "disability_grade", "inconsistent"),
        (14, "household_number", "required"),
        (14, "phone", "invalid_format"),
        (14, "months_worked", "out_of_range"),
        (16, "disability_grade", "invalid_value"),
        (17, "name", "required"),
        (17, "relation_to_head", "required"),
    ]


def test_ids_are_distinct_ascending_version_7_uuids_stamped_with_the_time() -> None:
    before = time.time()
    first, second = ordered_ids(1000), ordered_ids(1000)
    after = time.time()
    parsed = [uuid.UUID(i) for i in first + second]
    assert len(set(parsed)) == 2000
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed[:1000]] == sorted(str(u) for u in parsed[:1000])
    # The first 48 bits are the Unix time in milliseconds.
    assert all(int(before * 1000) <= u.int >> 80 <= int(after * 1000) + 1 for u in parsed)
    # Neighbours differ in their random bits, not only by one.
    assert len({u.int & 0xFFFFFFFF for u in parsed}) > 1900
    assert STAGED_FIELDS[: len(RECORD_FIELDS)] == RECORD_FIELDS


# ---------------------------------------------------------------- files


def write(tmp_path: Path, name: str, content: bytes) -> LedgerFile:
    path = tmp_path / name
    path.write_bytes(content)
    return LedgerFile(path, name, detect_format(path, name))


def rows_of(ledger: LedgerFile) -> list[tuple[int, list[str]]]:
    reader = open_ledger(ledger)
    try:
        return list(reader.rows())
    finally:
        reader.close()


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def test_csv_rows_keep_spreadsheet_numbers_and_skip_blank_rows(tmp_path: Path) -> None:
    text = csv_text([ENGLISH, ["1"], [], ["", ""], ["2", 'a "quoted"\nline']])
    ledger = write(tmp_path, "l.csv", text.encode("utf-8-sig"))
    assert ledger.format is LedgerFormat.CSV
    assert [(n, cells[:2]) for n, cells in rows_of(ledger)] == [
        (2, ["1"]),
        (5, ["2", 'a "quoted"\nline']),
    ]
    # Counted by line breaks: an upper bound when a cell holds one.
    assert estimate_rows(ledger) == 5


def test_ndjson_lines_are_read_as_the_cells_a_csv_would_hold(tmp_path: Path) -> None:
    lines = [
        {
            "户编号": "H1",
            "division_code": 510303100001,
            "resident_id": None,
            "name": "张三",
            "relation_to_head": "head",
        },
        {},
        {"户编号": 7, "name": "李四", "resident_id": "x"},
        {"户编号": True, "division_code": 1.0, "name": 2.5, "relation_to_head": False},
    ]
    text = "\n".join("" if not line else json.dumps(line, ensure_ascii=False) for line in lines)
    ledger = write(tmp_path, "l.ndjson", codecs.BOM_UTF8 + text.encode() + b"\n\n")
    assert ledger.format is LedgerFormat.NDJSON
    reader = open_ledger(ledger)
    try:
        assert reader.layout.headers == {
            "household_number": "户编号",
            "division_code": "division_code",
            "resident_id": "resident_id",
            "name": "name",
            "relation_to_head": "relation_to_head",
        }
        assert list(reader.rows()) == [
            (1, ["H1", "510303100001", "", "张三", "head"]),
            (3, ["7", "", "x", "李四", ""]),
            (4, ["true", "1", "", "2.5", "false"]),
        ]
    finally:
        reader.close()
    # A row a line, no header: blank lines make it an upper bound.
    assert estimate_rows(ledger) == 5


def test_a_file_is_read_in_batches_that_add_up_to_reading_it_whole(tmp_path: Path) -> None:
    # Rows are parsed a few hundred at a time into larger batches for COPY; nothing
    # may be lost, repeated or moved at either boundary.
    people = [make_resident_id("510303", date(1950, 1, 1) + timedelta(n), 1) for n in range(1_234)]
    rows = [[good(resident_id=person).get(c, "") for c in ENGLISH] for person in people]
    for bad in (0, 499, 500, 999, 1_000, 1_233):
        rows[bad][ENGLISH.index("months_worked")] = "13"
    ledger = write(tmp_path, "l.csv", csv_text([ENGLISH, *rows]).encode())
    layout = match_headers(ENGLISH)
    reader = open_ledger(ledger)
    try:
        batches = list(service._batches(reader, RowParser(layout, TODAY), 1_000))
    finally:
        reader.close()
    whole, errors = RowParser(layout, TODAY).parse_batch(rows_of(ledger))
    assert [len(batch.columns[0]) for batch in batches] == [1_000, 234]
    assert [
        [*first, *second] for first, second in zip(*(b.columns for b in batches), strict=True)
    ] == whole
    assert [e for b in batches for e in b.errors] == errors
    assert [e.row for e in errors] == [2, 501, 502, 1_001, 1_002, 1_235]


def test_gb18030_csv_is_read(tmp_path: Path) -> None:
    chinese = [c.chinese for c in COLUMNS]
    ledger = write(
        tmp_path, "l.csv", csv_text([chinese, ["户1", "", "", "", "监测户"]]).encode("gbk")
    )
    assert rows_of(ledger)[0][1][4] == "监测户"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_file"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 8, "not_a_ledger"),
        (b"\xff\xfeh\x00", "not_a_ledger"),
        (b"PK\x03\x04rest", "not_a_ledger"),
        (b"\x00\x01\x02", "not_a_ledger"),
    ],
)
def test_files_that_are_no_ledger_are_told_apart(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    with pytest.raises(LedgerFileError) as caught:
        detect_format(path, "f")
    assert caught.value.code == code


def test_headers_are_checked_when_the_file_is_opened(tmp_path: Path) -> None:
    ledger = write(tmp_path, "l.csv", b"name,colour\n")
    with pytest.raises(LedgerFileError) as caught:
        open_ledger(ledger)
    assert caught.value.code == "bad_headers"
    assert caught.value.unknown == ["colour"]
    blank = write(tmp_path, "b.csv", b"\n\n")
    with pytest.raises(LedgerFileError, match="no header"):
        open_ledger(blank)


def test_xlsx_cells_are_read_as_text_a_person_sees(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(ENGLISH[:11])
    sheet.append(["1", 510303100001, None, 13800001234, None, 2016.0, None, True, HEAD, "张三"])
    sheet.append([])
    sheet.append(["2", "510303100001", None, None, None, date(2020, 1, 2)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    ledger = write(tmp_path, "upload", buffer.getvalue())
    assert ledger.format is LedgerFormat.XLSX
    assert estimate_rows(ledger) == 3
    rows = rows_of(ledger)
    assert [n for n, _ in rows] == [2, 4]
    assert rows[0][1] == [
        "1",
        "510303100001",
        "",
        "13800001234",
        "",
        "2016",
        "",
        "true",
        HEAD,
        "张三",
    ]
    assert rows[1][1][5] == "2020-01-02"


def test_a_number_too_large_to_be_exact_is_refused_with_its_cell(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(ENGLISH[:11])
    # A resident ID typed into a number-formatted column: its last digits are gone.
    sheet.append(["1", 510303100001, None, None, None, None, None, None, 510303194405082408])
    buffer = io.BytesIO()
    workbook.save(buffer)
    ledger = write(tmp_path, "upload", buffer.getvalue())
    with pytest.raises(LedgerFileError) as caught:
        rows_of(ledger)
    assert caught.value.code == "bad_cell"
    # As a spreadsheet shows the number: the lost digits are not made up.
    assert caught.value.message.startswith("cell I2: the number 5.10303194405082e+17 is")
    assert "give it as text" in caught.value.message


# ---------------------------------------------------------------- templates


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file))


def test_the_shipped_templates_and_example_match_the_columns() -> None:
    assert read_csv(TEMPLATES / "ledger-template.csv") == [header("en")]
    assert read_csv(TEMPLATES / "ledger-template.zh.csv") == [header("zh")]
    assert read_csv(TEMPLATES / "ledger-example.csv") == [header("en"), *example_rows()]
    assert (TEMPLATES / "ledger-template.zh.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_the_example_parses_without_errors() -> None:
    layout = match_headers(header("en"))
    parser = RowParser(layout, TODAY)
    for number, row in enumerate(example_rows(), start=2):
        _, errors = parser.parse(number, row)
        assert errors == [], (number, errors)


def test_the_xlsx_template_has_the_ledger_sheet_first_then_its_explanations() -> None:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(template_xlsx("zh")), read_only=True)
    first, columns, words = workbook.worksheets
    assert next(first.iter_rows(values_only=True)) == tuple(header("zh"))
    assert len(list(columns.iter_rows())) == len(COLUMNS) + 1
    listed = {(row[0], row[1]) for row in words.iter_rows(min_row=2, values_only=True)}
    expected: set[tuple[str, str]] = set()
    for column, enum in ENUMERATED.items():
        expected |= {(column, str(m.value)) for m in enum}
    assert listed == expected
    workbook.close()


def test_an_xlsx_without_a_dimension_is_counted_up_to_a_limit(tmp_path: Path) -> None:
    import openpyxl

    # The write-only mode, like some other writers, records no dimension.
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("ledger")
    sheet.append(ENGLISH)
    for number in range(3_000):
        sheet.append([str(number), "510303100001", "一组" * 20, *["x"] * 20])
    buffer = io.BytesIO()
    workbook.save(buffer)
    ledger = write(tmp_path, "big.xlsx", buffer.getvalue())
    assert estimate_rows(ledger) is None
    assert estimate_rows(ledger, up_to=2_999) is None
    assert estimate_rows(ledger, up_to=5_000) == 3_000
