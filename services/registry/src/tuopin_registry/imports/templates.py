"""The documented ledger files: the template in each language, and a worked example.

The CSV files ship in ``templates/``; the XLSX template is built from the same
column list on request, with a second sheet explaining every column and the
words each enumerated column accepts.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Literal

from tuopin_registry.imports import vocabulary
from tuopin_registry.imports.parsing import COLUMNS, ENUMERATED
from tuopin_shared.contracts.identity import make_resident_id

__all__ = [
    "TEMPLATES",
    "Language",
    "example_rows",
    "header",
    "template_file",
    "template_xlsx",
    "vocabulary_rows",
]

TEMPLATES = Path(__file__).parent / "templates"
Language = Literal["en", "zh"]


def header(language: Language = "en") -> list[str]:
    return [column.name if language == "en" else column.chinese for column in COLUMNS]


def template_file(language: Language = "en") -> Path:
    return TEMPLATES / ("ledger-template.csv" if language == "en" else "ledger-template.zh.csv")


def vocabulary_rows() -> Iterator[tuple[str, str, str]]:
    """(column, value, Chinese labels) for every enumerated column's values."""
    for column, enum in ENUMERATED.items():
        for member in enum:
            labels = " / ".join(vocabulary.LABELS[enum][member])
            yield column, str(member.value), labels


def template_xlsx(language: Language = "en") -> bytes:
    """The template as a workbook: the ledger sheet first, then how to fill it."""
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    ledger = workbook.create_sheet("ledger" if language == "en" else "台账")
    ledger.append(header(language))
    columns = workbook.create_sheet("columns" if language == "en" else "说明")
    columns.append(["column", "列名", "required", "level", "description"])
    for column in COLUMNS:
        columns.append(
            [
                column.name,
                column.chinese,
                "yes" if column.required else "no",
                "household" if column.household else "member",
                column.description,
            ]
        )
    words = workbook.create_sheet("vocabulary" if language == "en" else "代码表")
    words.append(["column", "value", "中文"])
    for row in vocabulary_rows():
        words.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def example_rows() -> list[list[str]]:
    """The shipped example: three households, every kind of column used once at least.

    Synthetic people; their resident ID numbers are well formed (made with the
    check character) but under another district's area code, so that the example
    never collides with the demo district's register.
    """
    area = "510304"
    rows: list[dict[str, str]] = [
        {
            "household_number": "AY-001",
            "division_code": "510303100001",
            "address": "一组 12 号",
            "phone": "13800001234",
            "household_status": "建档立卡贫困户",
            "registered_year": "2014",
            "main_poverty_cause": "因病",
            "water_short_area": "否",
            "resident_id": make_resident_id(area, date(1968, 4, 2), 31),
            "name": "李建国",
            "relation_to_head": "户主",
            "labour_capacity": "普通劳动力",
            "employment_status": "县内务工",
            "months_worked": "8",
            "employment_place": "贡井区建筑工地",
            "health_status": "长期慢性病",
            "basic_medical_insured": "是",
            "critical_illness_insured": "是",
            "resident_pension_enrolled": "是",
        },
        {
            "household_number": "AY-001",
            "resident_id": make_resident_id(area, date(1970, 9, 18), 42),
            "name": "王秀英",
            "relation_to_head": "配偶",
            "labour_capacity": "弱劳动力或半劳动力",
            "health_status": "残疾",
            "disability_category": "肢体残疾",
            "disability_grade": "二级",
            "disability_certified_on": "2016/5/20",
            "basic_medical_insured": "是",
            "critical_illness_insured": "是",
            "resident_pension_enrolled": "是",
            "dibao": "是",
        },
        {
            "household_number": "AY-001",
            "resident_id": make_resident_id(area, date(2008, 1, 9), 53),
            "name": "李明",
            "relation_to_head": "之子",
            "school_stage": "初中",
            "basic_medical_insured": "是",
            "critical_illness_insured": "是",
        },
        {
            "household_number": "AY-002",
            "division_code": "510303100002",
            "address": "三组 5 号",
            "household_status": "monitored",
            "main_poverty_cause": "lack_of_labour",
            "water_short_area": "Y",
            "resident_id": make_resident_id(area, date(1941, 12, 1), 64),
            "name": "张桂珍",
            "relation_to_head": "head",
            "labour_capacity": "none",
            "health_status": "serious_illness",
            "basic_medical_insured": "true",
            "critical_illness_insured": "true",
            "tekun": "1",
        },
        {
            "household_number": "DT-001",
            "division_code": "510303101001",
            "phone": "0813-3301234",
            "registered_year": "2016",
            "main_poverty_cause": "缺技术",
            "resident_id": make_resident_id(area, date(1985, 6, 30), 75),
            "name": "刘强",
            "relation_to_head": "户主",
            "labour_capacity": "技能劳动力",
            "employment_status": "县外务工",
            "months_worked": "11",
            "employment_place": "广东省东莞市",
            "basic_medical_insured": "是",
            "critical_illness_insured": "是",
            "resident_pension_enrolled": "是",
        },
        {
            "household_number": "DT-001",
            "division_code": "510303101001",
            "resident_id": make_resident_id(area, date(2016, 3, 3), 86),
            "name": "刘欣",
            "relation_to_head": "之女",
            "school_stage": "小学",
            "basic_medical_insured": "是",
        },
    ]
    names = [column.name for column in COLUMNS]
    return [[row.get(name, "") for name in names] for row in rows]
