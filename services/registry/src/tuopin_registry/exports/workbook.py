"""A one-sheet XLSX workbook written directly as SpreadsheetML, a row at a time.

Officials open exports in Excel or WPS, and a district's export runs to a few
hundred thousand rows. A general spreadsheet writer spends microseconds on every
cell deciding how to store it; an export's cells are only text, integers,
booleans and dates, so each row's XML is put together in one pass, its text
escaped by one ``str.translate``. The sheet's XML goes to a temporary file and
is deflated into the archive at the end (a zip's directory comes last, so the
workbook cannot be sent while it is written); memory holds one batch of rows.

Cells are typed as a person expects: numbers and booleans as such, dates as
dates shown ``yyyy-mm-dd``, and text as inline strings, which a spreadsheet never
evaluates, so a name such as ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import IO

__all__ = ["Workbook", "column_letter"]

# Day 0 of the 1900 date system as Excel counts from 1900-03-01 on; before, it
# counts a 29 February 1900 that never was, so earlier days are one less.
_EPOCH = date(1899, 12, 30)
_FIRST_TRUE_SERIAL = 61  # 1900-03-01

# XML text escapes; the characters XML 1.0 cannot carry are written as Excel
# writes them (_xHHHH_), and a carriage return as a character reference, which
# XML parsers do not fold into a line feed.
_ESCAPES: dict[int, str] = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord("\r"): "&#13;",
    **{c: f"_x{c:04X}_" for c in (*range(0x20), 0xFFFE, 0xFFFF) if chr(c) not in "\t\n\r"},
}
_ATTRIBUTE_ESCAPES = {**_ESCAPES, ord('"'): "&quot;"}
# Text that reads as such an escape is itself escaped, or Excel would decode it.
_LOOKS_ESCAPED = re.compile(r"(_x[0-9A-Fa-f]{4}_)")

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_TYPE = "application/vnd.openxmlformats-officedocument"

# Styles by index: 0 normal, 1 a date, 2 the header's bold.
_DATE, _BOLD = 1, 2

_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml"'
        f' ContentType="{_TYPE}.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml"'
        f' ContentType="{_TYPE}.spreadsheetml.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_TYPE}.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PACKAGE}">'
        f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/officeDocument"'
        ' Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PACKAGE}">'
        f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/worksheet"'
        ' Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_RELATIONSHIPS}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_MAIN}">'
        '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
        '<fonts count="2">'
        '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        "</fonts>"
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="3">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}

_WORKSHEET = f'<worksheet xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
# The cells in use, written once they are known over a placeholder of the
# widest possible: readers size the sheet from it before reading its rows.
_DIMENSION_WIDTH = len('<dimension ref="A1:XFD1048576"/>')
# The header row stays in view while the rows scroll under it.
_SHEET_VIEW = (
    '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
    "</sheetView></sheetViews>"
    '<sheetFormatPr defaultRowHeight="15"/>'
    "<sheetData>"
)
_SHEET_END = "</sheetData></worksheet>"


def column_letter(index: int) -> str:
    """The letters of the column at ``index`` (0 is A)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _text(value: str) -> str:
    if "_x" in value:
        value = _LOOKS_ESCAPED.sub(r"_x005F\1", value)
    return value.translate(_ESCAPES)


def _serial(day: date) -> int:
    serial = (day - _EPOCH).days
    return serial if serial >= _FIRST_TRUE_SERIAL else serial - 1


def _cell(reference: str, value: object, style: int = 0) -> str:
    if value is None or value == "":  # a blank cell, as a person leaves it
        return ""
    if isinstance(value, str):
        styled = f' s="{style}"' if style else ""
        return (
            f'<c r="{reference}"{styled} t="inlineStr"><is><t xml:space="preserve">'
            f"{_text(value)}</t></is></c>"
        )
    if isinstance(value, bool):  # before int: a bool is one
        return f'<c r="{reference}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{reference}"><v>{value}</v></c>'
    if isinstance(value, date):
        return f'<c r="{reference}" s="{_DATE}"><v>{_serial(value)}</v></c>'
    return _cell(reference, str(value), style)


class Workbook:
    """A workbook of one sheet, its header row first, filled by ``append``."""

    def __init__(self, sheet_name: str, header: Sequence[str]) -> None:
        # Everything goes into a folder of its own, removed whole at the end: a
        # build the client abandons leaves nothing behind.
        self._folder = tempfile.TemporaryDirectory(prefix="tuopin-export-")
        self._sheet_path = Path(self._folder.name) / "sheet1.xml"
        self._sheet: IO[bytes] = self._sheet_path.open("wb")
        self.file: IO[bytes] = tempfile.TemporaryFile(dir=self._folder.name)  # noqa: SIM115
        self._name = sheet_name
        self._letters = [column_letter(i) for i in range(len(header))]
        self._sheet.write((_DECLARATION + _WORKSHEET).encode())
        self._dimension_at = self._sheet.tell()
        self._sheet.write(b" " * _DIMENSION_WIDTH)
        self._sheet.write((_SHEET_VIEW + self._row(1, header, _BOLD)).encode())
        self.rows = 0

    def _row(self, number: int, values: Sequence[object], style: int = 0) -> str:
        cells = "".join(
            _cell(f"{letter}{number}", value, style)
            for letter, value in zip(self._letters, values, strict=True)
        )
        return f'<row r="{number}">{cells}</row>'

    def append(self, records: Sequence[Sequence[object]]) -> None:
        """Add rows after those already written (blocking I/O: call it in a thread)."""
        first = self.rows + 2  # the header is row 1
        self._sheet.write(
            "".join(
                self._row(number, record) for number, record in enumerate(records, first)
            ).encode()
        )
        self.rows += len(records)

    def finish(self) -> int:
        """Write the archive; returns its size in bytes."""
        self._sheet.write(_SHEET_END.encode())
        last = f"{self._letters[-1] if self._letters else 'A'}{self.rows + 1}"
        self._sheet.seek(self._dimension_at)
        self._sheet.write(f'<dimension ref="A1:{last}"/>'.ljust(_DIMENSION_WIDTH).encode())
        self._sheet.close()
        workbook = (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
            "<bookViews><workbookView/></bookViews>"
            f'<sheets><sheet name="{self._name.translate(_ATTRIBUTE_ESCAPES)}" sheetId="1"'
            ' r:id="rId1"/>'
            "</sheets></workbook>"
        )
        with zipfile.ZipFile(self.file, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, xml in _PARTS.items():
                archive.writestr(name, _DECLARATION + xml)
            archive.writestr("xl/workbook.xml", _DECLARATION + workbook)
            archive.write(self._sheet_path, "xl/worksheets/sheet1.xml")
        size = self.file.tell()
        self.file.seek(0)
        return size

    def close(self) -> None:
        try:
            self._sheet.close()
            self.file.close()
        finally:
            self._folder.cleanup()
