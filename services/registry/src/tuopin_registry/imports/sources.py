"""Ledger files: what format a file is, its header, and its rows one at a time.

Every reader streams: a CSV is read through the csv module a line at a time,
an XLSX through openpyxl's read-only mode, which parses the sheet's XML as it
goes instead of building the sheet in memory, and NDJSON a line at a time.
Blocking I/O: call these from a worker thread, never on the event loop.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from tuopin_registry.imports.parsing import HeaderError, Layout, match_headers
from tuopin_shared.contracts.imports import LedgerFormat

__all__ = [
    "LedgerFile",
    "LedgerFileError",
    "LedgerReader",
    "count_text_rows",
    "detect_format",
    "estimate_rows",
    "open_ledger",
    "spool",
]

_CHUNK = 1 << 20
# Enough of a file to tell its encoding; a CSV's first megabyte is its header and
# thousands of rows, so text that decodes there is taken to be in that encoding.
_SNIFF = 1 << 20
# An NDJSON line longer than this is refused rather than read into memory: a
# ledger row with every cell full is a few kilobytes.
_MAX_LINE_BYTES = 1 << 20
# Doubles hold every integer up to 2**53 exactly; beyond, digits are already lost.
_EXACT_INTEGERS = 2**53
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 .xls format


class LedgerFileError(ValueError):
    """The file as a whole cannot be read as a ledger (not its rows: the file)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        unknown: list[str] | None = None,
        missing: list[str] | None = None,
        duplicated: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.unknown = unknown or []
        self.missing = missing or []
        self.duplicated = duplicated or []


@dataclass(frozen=True)
class LedgerFile:
    path: Path
    name: str  # as the user called it: reports and the audit log name it
    format: LedgerFormat


class LedgerReader(Protocol):
    layout: Layout

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, cells) of each non-blank data row: its row as a spreadsheet
        numbers it, the header being row 1; in NDJSON, its line."""
        ...

    def close(self) -> None: ...


def spool(source: IO[bytes], destination: Path) -> tuple[int, int]:
    """Copy an upload to ``destination`` a chunk at a time: (bytes, line breaks)."""
    size = lines = 0
    with destination.open("wb") as out:
        while chunk := source.read(_CHUNK):
            out.write(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    return size, lines


def temporary_path(suffix: str) -> Path:
    handle, name = tempfile.mkstemp(prefix="tuopin-import-", suffix=suffix)
    os.close(handle)
    return Path(name)


def detect_format(path: Path, name: str) -> LedgerFormat:
    """CSV, XLSX or NDJSON, from the content (the name only sharpens the message)."""
    with path.open("rb") as file:
        head = file.read(4096)
    if not head:
        raise LedgerFileError("empty_file", "the file is empty")
    if head.startswith(_XLSX_MAGIC):
        if not _is_workbook(path):
            raise LedgerFileError("not_a_ledger", "a ZIP archive that is not an XLSX workbook")
        return LedgerFormat.XLSX
    if head.startswith(_OLE_MAGIC):
        raise LedgerFileError(
            "not_a_ledger", "an old-style Excel (.xls) workbook: save it as .xlsx or as CSV"
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LedgerFileError(
            "not_a_ledger", "UTF-16 text (Excel's 'Unicode text'): save it as CSV UTF-8 or .xlsx"
        )
    if b"\x00" in head:
        raise LedgerFileError("not_a_ledger", f"{name} is neither CSV, XLSX nor NDJSON")
    # No CSV header starts with a brace; a JSON object does.
    if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"{"):
        return LedgerFormat.NDJSON
    return LedgerFormat.CSV


def _is_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def open_ledger(ledger: LedgerFile) -> LedgerReader:
    """A reader positioned after the header, which has been matched to the columns."""
    reader: _CsvReader | _XlsxReader | _NdjsonReader
    if ledger.format is LedgerFormat.XLSX:
        reader = _XlsxReader(ledger.path)
    elif ledger.format is LedgerFormat.NDJSON:
        reader = _NdjsonReader(ledger.path)
    else:
        reader = _CsvReader(ledger.path)
    try:
        header = reader.header()
        if header is None or not any(cell.strip() for cell in header):
            raise LedgerFileError("empty_file", "the file has no header row")
        try:
            reader.layout = match_headers(header)
        except HeaderError as error:
            raise LedgerFileError(
                "bad_headers",
                str(error),
                unknown=error.unknown,
                missing=error.missing,
                duplicated=error.duplicated,
            ) from None
    except BaseException:
        reader.close()
        raise
    return reader


def _encoding(path: Path) -> str:
    """UTF-8 (with or without the BOM Excel writes), else GB18030: the encoding Excel on a
    Chinese Windows saves 'CSV' in, and a superset of GBK and GB2312."""
    with path.open("rb") as file:
        sample = file.read(_SNIFF)
    try:
        # Not final: the sample may end inside a character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


def _refuse_nul(path: Path) -> None:
    """The csv module reads NUL as any other character, and no register can store it.

    Looked for in the bytes, at C speed: in UTF-8 and GB18030 alike a zero byte
    is only ever the NUL character.
    """
    lines = 1
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            at = chunk.find(b"\x00")
            if at >= 0:
                lines += chunk.count(b"\n", 0, at)
                raise LedgerFileError(
                    "bad_csv", f"line {lines} holds a NUL character: not text a ledger can hold"
                )
            lines += chunk.count(b"\n")


class _CsvReader:
    layout: Layout

    def __init__(self, path: Path) -> None:
        self._encoding = _encoding(path)
        _refuse_nul(path)
        self._file = path.open(encoding=self._encoding, newline="")
        self._reader = csv.reader(self._file)

    def header(self) -> list[str] | None:
        return self._next()

    def _next(self) -> list[str] | None:
        try:
            return next(self._reader, None)
        except UnicodeDecodeError:
            raise LedgerFileError(
                "bad_encoding",
                f"the file is not valid {'UTF-8' if self._encoding != 'gb18030' else 'GB18030'}"
                " text: save it as CSV UTF-8",
            ) from None
        except csv.Error as error:
            raise LedgerFileError(
                "bad_csv", f"not readable as CSV near row {self._reader.line_num}: {error}"
            ) from None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        number = 1
        while (cells := self._next()) is not None:
            number += 1
            if any(cells):
                yield number, cells

    def close(self) -> None:
        self._file.close()


class _Unreadable(ValueError):
    """A value no cell can hold as it is; the reader says where it is."""


def _cell_text(value: Any) -> str:
    """A spreadsheet cell's value, or a JSON value, as the text a person sees in it."""
    if value is None:
        return ""
    if isinstance(value, str):
        if "\x00" in value:
            raise _Unreadable("holds a NUL character, which no register can store")
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        # Whole numbers are stored as floats: a year, a month count, a phone number.
        # A resident ID typed as a number has lost its last digits already.
        if abs(value) >= _EXACT_INTEGERS:
            raise _Unreadable(
                f"the number {value:.15g} is too large to be exact: give it as text"
                " (in a spreadsheet, format the column as text)"
            )
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _texts(number: int, row: Sequence[Any]) -> list[str]:
    try:
        return [_cell_text(value) for value in row]
    except _Unreadable:
        for index, value in enumerate(row):
            try:
                _cell_text(value)
            except _Unreadable as error:
                from openpyxl.utils import get_column_letter

                column = get_column_letter(index + 1)
                raise LedgerFileError("bad_cell", f"cell {column}{number}: {error}") from None
        raise


class _XlsxReader:
    layout: Layout

    def __init__(self, path: Path) -> None:
        import openpyxl

        # A file object: openpyxl judges a path by its extension, and an upload's is ours.
        self._file = path.open("rb")
        try:
            # read_only: rows are parsed from the sheet's XML as they are iterated.
            self._workbook = openpyxl.load_workbook(self._file, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            self._file.close()
            raise LedgerFileError(
                "not_a_ledger", f"not a readable XLSX workbook: {error}"
            ) from None
        sheet = self._workbook.worksheets[0]
        # A stored dimension can be wrong (some writers never update it): read every row.
        sheet.reset_dimensions()
        self._rows = sheet.iter_rows(values_only=True)

    def header(self) -> list[str] | None:
        row = next(self._rows, None)
        return None if row is None else _texts(1, row)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        # openpyxl yields an empty row for each row missing from the sheet, so the
        # count stays the row number a spreadsheet shows.
        for number, row in enumerate(self._rows, start=2):
            if any(value is not None and value != "" for value in row):
                yield number, _texts(number, row)

    def close(self) -> None:
        self._workbook.close()
        self._file.close()


class _NdjsonReader:
    """One JSON object per line, keyed by column names: the first line's keys are the
    header, and a later line may leave keys out (blank cells) but add none."""

    layout: Layout

    def __init__(self, path: Path) -> None:
        # Bytes, each line decoded on its own: an encoding error is told with its line.
        self._file = path.open("rb")
        self._lines: Iterator[tuple[int, dict[str, Any]]] = iter(())
        self._first: tuple[int, dict[str, Any]] | None = None
        self._keys: list[str] = []
        self._known: frozenset[str] = frozenset()

    def _objects(self) -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        while line := self._file.readline(_MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > _MAX_LINE_BYTES:
                raise LedgerFileError(
                    "bad_ndjson",
                    f"line {number} is longer than {_MAX_LINE_BYTES // 1024:,} KB: no ledger"
                    " row is",
                )
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    raise LedgerFileError(
                        "bad_encoding", f"line {number} is not valid UTF-8"
                    ) from None
                value = None
            if not isinstance(value, dict):
                raise LedgerFileError("bad_ndjson", f"line {number} is not a JSON object")
            yield number, value

    def header(self) -> list[str] | None:
        self._lines = self._objects()
        self._first = next(self._lines, None)
        if self._first is None:
            return None
        self._keys = list(self._first[1])
        self._known = frozenset(self._keys)
        return self._keys

    def _cells(self, number: int, record: dict[str, Any]) -> list[str]:
        extra = [key for key in record if key not in self._known]
        if extra:
            raise LedgerFileError(
                "bad_ndjson",
                f"line {number} has fields the first line has not: {', '.join(extra)};"
                " give every field on the first line, null where it is blank",
            )
        cells = []
        for key in self._keys:
            value = record.get(key)
            if isinstance(value, (dict, list)):
                raise LedgerFileError(
                    "bad_ndjson",
                    f"line {number}, field {key}: a ledger's values are text, numbers,"
                    " true/false or null",
                )
            try:
                cells.append(_cell_text(value))
            except _Unreadable as error:
                raise LedgerFileError(
                    "bad_ndjson", f"line {number}, field {key}: {error}"
                ) from None
        return cells

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        if self._first is not None:
            (number, record), self._first = self._first, None
            yield number, self._cells(number, record)
        for number, record in self._lines:
            yield number, self._cells(number, record)

    def close(self) -> None:
        self._file.close()


# ---------------------------------------------------------------- size


def count_text_rows(path: Path, *, header: bool = True) -> int:
    """Data rows of a CSV (or NDJSON, which has no ``header``), counted by line
    breaks: an upper bound when cells hold line breaks or lines are blank."""
    lines = 0
    last = b""
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk
    return _rows_from_lines(lines, last, header)


def _rows_from_lines(lines: int, last_chunk: bytes, header: bool) -> int:
    if last_chunk and not last_chunk.endswith(b"\n"):
        lines += 1
    return max(lines - 1, 0) if header else lines


# The first sheet is found the way a spreadsheet finds it: the workbook lists its
# sheets in order, each naming a relationship whose target is the sheet's XML.
_FIRST_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*?\s(?:\w+:)?id=\"([^\"]+)\"")
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_ATTRIBUTE = re.compile(rb'\s(Id|Target)="([^"]*)"')
_ROW = re.compile(rb"<(?:\w+:)?row[\s>]")
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]+[0-9]+(?::[A-Z]+([0-9]+))?"')
# More XML than a ledger row takes, even with every cell filled in.
_MAX_ROW_BYTES = 8 << 10
# The workbook's own parts are a few kilobytes; a larger one is not read into memory.
_PART_LIMIT = 4 << 20


def _part(archive: zipfile.ZipFile, name: str) -> bytes:
    if archive.getinfo(name).file_size > _PART_LIMIT:
        raise KeyError(name)
    return archive.read(name)


def _first_sheet(archive: zipfile.ZipFile) -> str | None:
    sheet = _FIRST_SHEET.search(_part(archive, "xl/workbook.xml"))
    if sheet is None:
        return None
    for element in _RELATIONSHIP.findall(_part(archive, "xl/_rels/workbook.xml.rels")):
        attributes = dict(_ATTRIBUTE.findall(element))
        if attributes.get(b"Id") == sheet[1] and b"Target" in attributes:
            target = attributes[b"Target"].decode()
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _count_rows(sheet: IO[bytes], start: bytes, limit: int) -> int | None:
    """Row elements in the sheet's XML, counted while there are at most ``limit`` + 1."""
    count = len(_ROW.findall(start))
    tail = start[-16:]
    while count <= limit + 1 and (chunk := sheet.read(_CHUNK)):
        # The tail of the last chunk, so that a tag split between two is counted.
        count += len(_ROW.findall(tail + chunk))
        tail = chunk[-16:]
    return max(count - 1, 0) if count <= limit + 1 else None


def _xlsx_rows(path: Path, up_to: int | None) -> int | None:
    """Data rows of the first sheet: from the dimension its XML starts with or, when it
    has none (some writers omit it), counted if there are at most ``up_to``."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = _first_sheet(archive)
            if member is None:
                return None
            size = archive.getinfo(member).file_size
            with archive.open(member) as sheet:
                start = sheet.read(64 * 1024)
                match = _DIMENSION.search(start)
                if match is None or match[1] is None:
                    if size <= len(start):
                        return max(len(_ROW.findall(start)) - 1, 0)
                    return None if up_to is None else _count_rows(sheet, start, up_to)
    except (KeyError, zipfile.BadZipFile, OSError, zlib.error):
        return None
    rows = max(int(match[1]) - 1, 0)
    # A dimension far smaller than the sheet's XML is stale: the size is unknown.
    return rows if size <= (rows + 16) * _MAX_ROW_BYTES else None


def estimate_rows(
    ledger: LedgerFile, line_breaks: int | None = None, up_to: int | None = None
) -> int | None:
    """About how many data rows the file has; None when that cannot be told without
    reading it all (or, given ``up_to``, when there are more than that)."""
    if ledger.format is LedgerFormat.XLSX:
        return _xlsx_rows(ledger.path, up_to)
    header = ledger.format is LedgerFormat.CSV
    if line_breaks is not None:
        with ledger.path.open("rb") as file:
            file.seek(-1, os.SEEK_END)
            last = file.read(1)
        return _rows_from_lines(line_breaks, last, header)
    return count_text_rows(ledger.path, header=header)
