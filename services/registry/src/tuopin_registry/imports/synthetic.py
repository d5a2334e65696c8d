"""A ledger of the synthetic demo district, as a town office would fill it in.

For trying the import at scale and measuring it: the demo generator's
households written out one row per living member, household columns repeated,
enumerations and yes/no in Chinese. Statuses a new household may not start
with become registered_poor. Streams: rows are made as they are written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from tuopin_registry.demo.generator import HOUSEHOLD_COLUMNS, MEMBER_COLUMNS, generate
from tuopin_registry.imports import vocabulary
from tuopin_registry.imports.parsing import COLUMN_NAMES, ENUMERATED
from tuopin_registry.status.rules import INITIAL
from tuopin_shared.contracts.enums import PovertyStatus

__all__ = ["demo_ledger", "write_demo_ledger"]

_H = {name: index for index, name in enumerate(HOUSEHOLD_COLUMNS)}
_M = {name: index for index, name in enumerate(MEMBER_COLUMNS)}


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    enum = ENUMERATED.get(column)
    if enum is not None:
        return vocabulary.label(enum(value))
    return str(value)


def demo_ledger(persons: int, seed: int = 2020) -> Iterator[list[str]]:
    """The header, then one row per living member of the demo district's households."""
    yield list(COLUMN_NAMES)
    for batch in generate(persons, seed).batches():
        households = {row[_H["id"]]: row for row in batch.households}
        for member in batch.members:
            if member[_M["deceased_on"]] is not None:
                continue
            household = households[member[_M["household_id"]]]
            status = PovertyStatus(household[_H["status"]])
            values = {
                "household_number": household[_H["id"]].hex[:12],
                "division_code": household[_H["division_code"]],
                "address": household[_H["address"]],
                "phone": household[_H["phone"]],
                "household_status": status if status in INITIAL else PovertyStatus.REGISTERED_POOR,
                "registered_year": household[_H["registered_year"]],
                "main_poverty_cause": household[_H["main_poverty_cause"]],
                "water_short_area": household[_H["water_short_area"]],
                **{name: member[_M[name]] for name in COLUMN_NAMES if name in _M},
            }
            yield [_cell(name, values.get(name)) for name in COLUMN_NAMES]


def write_demo_ledger(path: Path, persons: int, seed: int = 2020) -> int:
    """Write the demo ledger as CSV (UTF-8 with a byte-order mark); the data rows written."""
    rows = -1
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        for row in demo_ledger(persons, seed):
            writer.writerow(row)
            rows += 1
    return rows
