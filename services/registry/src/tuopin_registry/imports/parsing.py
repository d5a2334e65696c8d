"""A ledger's rows turned into the registry's values, cell by cell. Pure: no I/O.

The ledger has one row per member with the household's columns repeated. What
one row can tell on its own is checked here, with the contract's own validators
and limits (resident ID, division code, enums, lengths, ranges); what needs the
whole file or the register (duplicates, divisions, heads, agreement between a
household's rows) is set-based SQL in ``staging``.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tuopin_registry.imports import vocabulary
from tuopin_registry.status.rules import INITIAL
from tuopin_shared.contracts.divisions import normalise_division_code
from tuopin_shared.contracts.enums import PovertyCause, PovertyStatus, Sex
from tuopin_shared.contracts.identity import ResidentId, parse_resident_id
from tuopin_shared.contracts.registry import HouseholdCreate, HouseholdFields, MemberFields, Year

__all__ = [
    "COLUMNS",
    "ENUMERATED",
    "RECORD_FIELDS",
    "CellError",
    "HeaderError",
    "Layout",
    "LedgerColumn",
    "RowError",
    "RowParser",
    "match_headers",
]

# The ledger's own numbering of households; it groups rows and is not stored.
HOUSEHOLD_NUMBER_MAX_LENGTH = 50


@dataclass(frozen=True)
class LedgerColumn:
    name: str  # the English header, and the field it fills
    chinese: str  # the Chinese header
    household: bool  # repeated on every member's row of a household
    required: bool  # the header must be present (and the cell filled, see ``staging``)
    description: str


COLUMNS: tuple[LedgerColumn, ...] = (
    LedgerColumn(
        "household_number",
        "户编号",
        True,
        True,
        "Groups the rows of one household within the file (any text up to 50 characters); "
        "required on every row.",
    ),
    LedgerColumn(
        "division_code",
        "行政区划代码",
        True,
        True,
        "The household's village, a 12-digit statistical division code inside your division.",
    ),
    LedgerColumn("address", "地址", True, False, "Up to 300 characters."),
    LedgerColumn("phone", "联系电话", True, False, "Digits, spaces, + and -, 5 to 30 characters."),
    LedgerColumn(
        "household_status",
        "户状态",
        True,
        False,
        "registered_poor (default), monitored or newly_impoverished.",
    ),
    LedgerColumn(
        "registered_year",
        "建档年度",
        True,
        False,
        "2000-2100; default the import's year for a registered poor household.",
    ),
    LedgerColumn("main_poverty_cause", "主要致贫原因", True, False, "See the vocabulary."),
    LedgerColumn("water_short_area", "缺水地区", True, False, "Yes/no; default no."),
    LedgerColumn(
        "resident_id",
        "身份证号",
        False,
        True,
        "18 characters (GB 11643-1999); birth date and sex are read from it.",
    ),
    LedgerColumn("name", "姓名", False, True, "Up to 100 characters."),
    LedgerColumn("relation_to_head", "与户主关系", False, True, "Exactly one head per household."),
    LedgerColumn("labour_capacity", "劳动能力", False, False, "Default none."),
    LedgerColumn("employment_status", "务工状态", False, False, "Default unemployed."),
    LedgerColumn("months_worked", "务工月数", False, False, "0-12; default 0."),
    LedgerColumn("employment_place", "务工地点", False, False, "Up to 200 characters."),
    LedgerColumn("health_status", "健康状况", False, False, "Default healthy."),
    LedgerColumn(
        "disability_category", "残疾类别", False, False, "Filled together with the grade."
    ),
    LedgerColumn("disability_grade", "残疾等级", False, False, "1 (most severe) to 4."),
    LedgerColumn("disability_certificate_no", "残疾证号", False, False, "Up to 40 characters."),
    LedgerColumn("disability_certified_on", "残疾证发证日期", False, False, "A date."),
    LedgerColumn("school_stage", "在校情况", False, False, "Default not_in_school."),
    LedgerColumn(
        "school_exempt", "免于义务教育", False, False, "Yes/no: exempt for health or disability."
    ),
    LedgerColumn("basic_medical_insured", "参加基本医疗保险", False, False, "Yes/no."),
    LedgerColumn("critical_illness_insured", "参加大病保险", False, False, "Yes/no."),
    LedgerColumn("resident_pension_enrolled", "参加城乡居民养老保险", False, False, "Yes/no."),
    LedgerColumn("employee_pension_enrolled", "参加职工养老保险", False, False, "Yes/no."),
    LedgerColumn("dibao", "低保", False, False, "Yes/no: receives the minimum living allowance."),
    LedgerColumn("tekun", "特困供养", False, False, "Yes/no: supported as extreme poverty."),
    LedgerColumn("work_injury_care_allowance", "工伤护理费", False, False, "Yes/no."),
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
MEMBER_FIELDS = tuple(MemberFields.model_fields)

# The order of a parsed row's values: the staging table's columns. Sex and birth
# date come from the resident ID; ``division_bad`` marks a division code that was
# given but unreadable (already reported), so that the household is not also
# reported as having none.
RECORD_FIELDS = (
    "row_no",
    "household_number",
    "division_code",
    "division_bad",
    "address",
    "phone",
    "household_status",
    "registered_year",
    "main_poverty_cause",
    "water_short_area",
    "resident_id",
    "sex",
    "birth_date",
    *MEMBER_FIELDS,
)
_SLOT = {name: index for index, name in enumerate(RECORD_FIELDS)}
_DIVISION_CODE = _SLOT["division_code"]
_DIVISION_BAD = _SLOT["division_bad"]
_RESIDENT_ID = _SLOT["resident_id"]
_SEX = _SLOT["sex"]
_BIRTH_DATE = _SLOT["birth_date"]
_DISABILITY_CATEGORY = _SLOT["disability_category"]
_DISABILITY_GRADE = _SLOT["disability_grade"]

# Blank cells of these are errors on every row; the division is needed once per household.
_REQUIRED_ON_EVERY_ROW = frozenset({"household_number", "resident_id", "name", "relation_to_head"})


class CellError(ValueError):
    """A cell that cannot be read, with a machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str | None
    value: str | None
    code: str
    message: str


class HeaderError(ValueError):
    """The header row does not match the template."""

    def __init__(
        self, unknown: Sequence[str], missing: Sequence[str], duplicated: Sequence[str]
    ) -> None:
        self.unknown = list(unknown)
        self.missing = list(missing)
        self.duplicated = list(duplicated)
        parts = []
        if missing:
            parts.append("missing required columns: " + ", ".join(missing))
        if unknown:
            parts.append("unknown columns: " + ", ".join(unknown))
        if duplicated:
            parts.append("columns given twice: " + ", ".join(duplicated))
        super().__init__("; ".join(parts))


# ---------------------------------------------------------------- cells

Cell = Callable[[str], Any]

_INTEGER = re.compile(r"[0-9]+")
# ISO (2020-03-05) or the slashes spreadsheets show (2020/3/5).
_DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")


def _metadata(field: FieldInfo, kind: type) -> Any:
    return next((item for item in field.metadata if isinstance(item, kind)), None)


class _Text:
    """A text cell held to a length and, for some, a pattern."""

    def __init__(self, max_length: int | None, pattern: str | None = None) -> None:
        self.max_length = max_length
        self.pattern = pattern
        self._compiled = re.compile(pattern) if pattern else None

    def __call__(self, text: str) -> str:
        if self.max_length is not None and len(text) > self.max_length:
            raise CellError("too_long", f"at most {self.max_length} characters, got {len(text)}")
        if self._compiled is not None and not self._compiled.fullmatch(text):
            raise CellError("invalid_format", f"does not match {self.pattern}")
        return text


def _text_field(field: FieldInfo) -> Cell:
    limit = _metadata(field, annotated_types.MaxLen)
    general = next((m for m in field.metadata if getattr(m, "pattern", None)), None)
    return _Text(limit.max_length if limit else None, getattr(general, "pattern", None))


class _Integer:
    """A whole number within bounds."""

    # A range this small has every value's usual spelling looked up, like a word.
    _SPELLED_OUT = 1_000

    def __init__(self, low: int | None, high: int | None) -> None:
        self.low, self.high = low, high
        if low is not None and high is not None and high - low <= self._SPELLED_OUT:
            self.words = {str(value): value for value in range(low, high + 1)}

    def __call__(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise CellError("invalid_number", "must be a whole number")
        value = int(text)
        low, high = self.low, self.high
        if (low is not None and value < low) or (high is not None and value > high):
            raise CellError("out_of_range", f"must be between {low} and {high}, got {value}")
        return value


def _integer_bounds(metadata: Sequence[Any]) -> Cell:
    low = next((int(m.ge) for m in metadata if isinstance(m, annotated_types.Ge)), None)  # type: ignore[call-overload]
    high = next((int(m.le) for m in metadata if isinstance(m, annotated_types.Le)), None)  # type: ignore[call-overload]
    return _Integer(low, high)


class _Words:
    """A cell read by looking its text up: an enumeration's words, yes/no.

    The row parser looks the text up itself (the common case, one dict lookup);
    calling the object is the slow path: case folded, or the error.
    """

    def __init__(self, words: Mapping[str, Any], error: CellError) -> None:
        self.words = dict(words)
        self._error = error

    def __call__(self, text: str) -> Any:
        value = self.words.get(text.lower(), _MISSING)
        if value is _MISSING:
            raise self._error
        return value


_MISSING = object()


def _choice(enum: type[Enum]) -> _Words:
    english = ", ".join(str(member.value) for member in enum)
    return _Words(
        {word: member.value for word, member in vocabulary.accepted_words(enum).items()},
        CellError("invalid_value", f"must be one of {english}, or a Chinese label of one"),
    )


_boolean = _Words(
    {
        **dict.fromkeys(vocabulary.TRUE_WORDS, True),
        **dict.fromkeys(vocabulary.FALSE_WORDS, False),
        **dict.fromkeys((w.upper() for w in vocabulary.TRUE_WORDS), True),
        **dict.fromkeys((w.upper() for w in vocabulary.FALSE_WORDS), False),
    },
    CellError("invalid_boolean", "must be 是/否, Y/N, true/false or 1/0"),
)


def _date(text: str) -> date:
    match = _DATE.fullmatch(text)
    if match is None:
        raise CellError("invalid_date", "must be a date such as 2020-03-05 or 2020/3/5")
    try:
        return date(int(match[1]), int(match[3]), int(match[4]))
    except ValueError:
        raise CellError("invalid_date", f"{text} is not a real date") from None


def _type_of(field: FieldInfo) -> Any:
    """A field's type, without the ``| None``."""
    arguments = [a for a in typing.get_args(field.annotation) if a is not type(None)]
    if arguments:
        [annotation] = arguments
        return annotation
    return field.annotation


def _member_cell(field: FieldInfo) -> Cell:
    """The parser of a member field, from its type and limits in the contract."""
    annotation = _type_of(field)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _choice(annotation)
    if annotation is bool:
        return _boolean
    if annotation is int:
        return _integer_bounds(field.metadata)
    if annotation is date:
        return _date
    if annotation is str:
        return _text_field(field)
    # A new kind of field in the contract: the ledger must be taught to read it.
    raise TypeError(f"no ledger parser for {annotation!r}")


def _resident_id(text: str, today: date) -> ResidentId:
    try:
        return parse_resident_id(text, today=today)
    except ValueError as error:
        raise CellError("invalid_resident_id", str(error)) from None


def _division_code(text: str) -> str:
    try:
        return normalise_division_code(text)
    except ValueError as error:
        raise CellError("invalid_division_code", str(error)) from None


class _InitialStatus(_Words):
    """A household status a new household may start with (the lifecycle's INITIAL)."""

    def __init__(self) -> None:
        statuses = _choice(PovertyStatus)
        self._any = statuses
        allowed = ", ".join(sorted(s.value for s in INITIAL))
        initial = {s.value for s in INITIAL}
        super().__init__(
            {word: value for word, value in statuses.words.items() if value in initial},
            CellError("invalid_initial_status", f"a new household starts as one of: {allowed}"),
        )

    def __call__(self, text: str) -> Any:
        self._any(text)  # an unknown word is invalid_value, a known one not initial is this
        return super().__call__(text)


def _household_cells() -> dict[str, Cell]:
    fields = HouseholdFields.model_fields
    return {
        "household_number": _Text(HOUSEHOLD_NUMBER_MAX_LENGTH),
        "division_code": _division_code,
        "address": _text_field(fields["address"]),
        "phone": _text_field(fields["phone"]),
        "household_status": _InitialStatus(),
        "registered_year": _integer_bounds(typing.get_args(Year)[1].metadata),
        "main_poverty_cause": _choice(PovertyCause),
        "water_short_area": _boolean,
    }


# Each member field's type, as the contract declares it (without ``| None``).
MEMBER_TYPES: dict[str, Any] = {
    name: _type_of(field) for name, field in MemberFields.model_fields.items()
}

# The enumerated columns and the enumeration whose words each accepts.
ENUMERATED: dict[str, type[Enum]] = {
    "household_status": PovertyStatus,
    "main_poverty_cause": PovertyCause,
    **{
        name: _type_of(field)
        for name, field in MemberFields.model_fields.items()
        if isinstance(_type_of(field), type) and issubclass(_type_of(field), Enum)
    },
}

CELLS: dict[str, Cell] = {
    **_household_cells(),
    **{name: _member_cell(field) for name, field in MemberFields.model_fields.items()},
}


def _default(field: FieldInfo) -> Any:
    if field.default is PydanticUndefined:
        return None  # required: a blank cell is an error
    value = field.default
    return value.value if isinstance(value, Enum) else value


# What a blank member cell means: the contract's default. Blank household cells
# stay empty: they take the value given on the household's other rows, and the
# contract's defaults are applied once per household when it is written.
_TEMPLATE: list[Any] = [None] * len(RECORD_FIELDS)
_TEMPLATE[_DIVISION_BAD] = False
for _name, _field in MemberFields.model_fields.items():
    _TEMPLATE[_SLOT[_name]] = _default(_field)

HOUSEHOLD_DEFAULTS: Mapping[str, Any] = {
    "household_status": _default(HouseholdCreate.model_fields["status"]),
    "water_short_area": _default(HouseholdFields.model_fields["water_short_area"]),
}


# ---------------------------------------------------------------- headers


def _header_key(text: str) -> str:
    key = text.strip().lstrip("\ufeff").rstrip("*＊").strip()
    # English headers are matched loosely ("Resident ID" is resident_id); Chinese exactly.
    return re.sub(r"[\s\-]+", "_", key.lower()) if key.isascii() else key


_BY_HEADER = {key: c for c in COLUMNS for key in (c.name, c.chinese)}


@dataclass(frozen=True)
class Layout:
    """Which cell of a row holds which column, and each column's header as written."""

    positions: tuple[tuple[int, LedgerColumn], ...]
    headers: Mapping[str, str]

    def header(self, column: str | None) -> str | None:
        return self.headers.get(column, column) if column else None


def match_headers(cells: Sequence[str]) -> Layout:
    """The layout of a header row; ``HeaderError`` naming every unknown or missing header."""
    positions: list[tuple[int, LedgerColumn]] = []
    headers: dict[str, str] = {}
    unknown: list[str] = []
    duplicated: list[str] = []
    for index, cell in enumerate(cells):
        written = cell.strip()
        if not written:
            continue  # spreadsheets leave empty columns at the right; nothing to read there
        column = _BY_HEADER.get(_header_key(written))
        if column is None:
            unknown.append(written)
        elif column.name in headers:
            duplicated.append(written)
        else:
            headers[column.name] = written
            positions.append((index, column))
    missing = [f"{c.name} ({c.chinese})" for c in COLUMNS if c.required and c.name not in headers]
    if unknown or missing or duplicated:
        raise HeaderError(unknown, missing, duplicated)
    return Layout(tuple(positions), headers)


# ---------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class _Planned:
    """How one column of the file is read."""

    position: int  # among the file's known columns, in the file's order
    index: int  # the cell's index in a row
    slot: int  # where the value goes in a record
    name: str
    required: bool
    cell: Cell
    # The words a cell is looked up in (enumerations, yes/no, divisions seen before).
    words: dict[str, Any] | None
    # Text held to a length only: read without a call per cell when no cell is too long.
    length_only: int | None


class RowParser:
    """Parses the rows of one ledger; ``today`` bounds birth dates in resident IDs.

    The hot loop of an import: a million rows pass through ``parse_batch``. A
    batch is read a column at a time, so that the common cases run in C over the
    whole column: cells read by lookup (enumerations, yes/no, a division code seen
    before) are one ``map`` of a dict's ``get``, text within its length is taken
    as it is. Only blank cells, cells missing from the words and the cells that
    need reading (numbers, dates, resident IDs) go through a call each.
    """

    def __init__(self, layout: Layout, today: date) -> None:
        cells: dict[str, Cell] = {**CELLS, "resident_id": lambda text: _resident_id(text, today)}
        # A county's few hundred villages repeat on every row: each is normalised once.
        divisions: dict[str, str] = {}

        def division(text: str) -> str:
            code = _division_code(text)
            if len(divisions) < 10_000:
                divisions[text] = code
            return code

        cells["division_code"] = division
        self._plan = tuple(
            _Planned(
                position=position,
                index=index,
                slot=_SLOT[column.name],
                name=column.name,
                required=column.name in _REQUIRED_ON_EVERY_ROW,
                cell=cell,
                words=divisions if column.name == "division_code" else getattr(cell, "words", None),
                length_only=cell.max_length
                if isinstance(cell, _Text) and cell.pattern is None and cell.max_length
                else None,
            )
            for position, (index, column) in enumerate(layout.positions)
            for cell in [cells[column.name]]
        )
        self._width = max((planned.index for planned in self._plan), default=-1) + 1

    def parse(self, row_no: int, cells: Sequence[str]) -> tuple[list[Any], list[RowError]]:
        """The row's values in ``RECORD_FIELDS`` order (None where unreadable) and its errors."""
        columns, errors = self.parse_batch([(row_no, cells)])
        return [values[0] for values in columns], errors

    def parse_batch(
        self, rows: Sequence[tuple[int, Sequence[str]]]
    ) -> tuple[list[list[Any]], list[RowError]]:
        """The rows' values a column at a time, in ``RECORD_FIELDS`` order (None where
        unreadable), and the errors in row order, each row's in the file's column order.

        Columns, not a tuple per row: a batch waiting to be copied then holds a few
        dozen lists rather than thousands of objects for the garbage collector to
        traverse again and again (that cost a third of the reading).
        """
        count = len(rows)
        if not count:
            return [[] for _ in RECORD_FIELDS], []
        width = self._width
        table = [
            cells if len(cells) >= width else [*cells, *[""] * (width - len(cells))]
            for _, cells in rows
        ]
        numbers = [number for number, _ in rows]
        # Columns the file does not have keep their default on every row.
        columns: list[list[Any]] = [[default] * count for default in _TEMPLATE]
        columns[0] = numbers
        found: list[tuple[int, int, RowError]] = []  # (row in batch, column position, error)
        # The cells a column at a time (rows longer than the known columns are cut short).
        cells_by_column = list(zip(*table, strict=False))
        for planned in self._plan:
            texts = list(map(str.strip, cells_by_column[planned.index]))
            values: list[Any]
            if planned.words is not None:
                values = list(map(planned.words.get, texts))
                # None: a blank cell, or a word to fold or refuse.
                pending = [i for i, v in enumerate(values) if v is None] if None in values else []
            elif planned.length_only is not None:
                values = texts
                limit = planned.length_only
                pending = (
                    [i for i, t in enumerate(texts) if not t or len(t) > limit]
                    if "" in texts or max(map(len, texts)) > limit
                    else []
                )
            else:
                values = texts
                pending = range(count)  # type: ignore[assignment]
            if pending:
                self._read_one_by_one(planned, texts, values, pending, columns, numbers, found)
            columns[planned.slot] = values
        grades, categories = columns[_DISABILITY_GRADE], columns[_DISABILITY_CATEGORY]
        unmatched = [
            i
            for i, (grade, category) in enumerate(zip(grades, categories, strict=True))
            if (grade is None) != (category is None)
        ]
        if unmatched:
            # Not when either cell has been reported already: one error says enough.
            reported = {
                i for i, _, e in found if e.column in ("disability_category", "disability_grade")
            }
            found.extend(
                (
                    i,
                    len(self._plan),
                    RowError(
                        numbers[i],
                        "disability_grade",
                        None if grades[i] is None else str(grades[i]),
                        "inconsistent",
                        "disability_category and disability_grade go together",
                    ),
                )
                for i in unmatched
                if i not in reported
            )
        found.sort(key=lambda f: (f[0], f[1]))
        return columns, [error for _, _, error in found]

    @staticmethod
    def _read_one_by_one(
        planned: _Planned,
        texts: list[str],
        values: list[Any],
        pending: Sequence[int],
        columns: list[list[Any]],
        numbers: list[int],
        found: list[tuple[int, int, RowError]],
    ) -> None:
        """The cells of one column that need a call each: blank, unknown or to be read."""
        slot, name, cell, words = planned.slot, planned.name, planned.cell, planned.words
        default = _TEMPLATE[slot]
        for i in pending:
            text = texts[i]
            if not text:
                values[i] = default
                if planned.required:
                    found.append(
                        (
                            i,
                            planned.position,
                            RowError(numbers[i], name, None, "required", "must not be blank"),
                        )
                    )
                continue
            value = words.get(text, _MISSING) if words is not None else _MISSING
            if value is _MISSING:
                try:
                    value = cell(text)
                except CellError as error:
                    found.append(
                        (
                            i,
                            planned.position,
                            RowError(numbers[i], name, text, error.code, error.message),
                        )
                    )
                    values[i] = None
                    if slot == _DIVISION_CODE:
                        columns[_DIVISION_BAD][i] = True
                    continue
            if slot == _RESIDENT_ID:
                values[i] = value.number
                columns[_SEX][i] = "male" if value.sex is Sex.MALE else "female"
                columns[_BIRTH_DATE][i] = value.birth_date
            else:
                values[i] = value
