"""What the exports hold, as SQL that PostgreSQL renders itself.

Each export is one SELECT over the registry's tables. Its columns are declared
once and rendered three ways: a JSON object per row (NDJSON), text fields
(CSV) and typed values (XLSX). Identifiers are masked in SQL, by expressions
equal to the contract's Python masks (a property test holds them equal), so an
unmasked value never leaves the database for a caller without ``pii``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tuopin_registry.assessments.rules import IN_SCHOOL
from tuopin_shared.contracts.divisions import division_prefix

# ---------------------------------------------------------------- masks

# Python's str.strip() removes every character for which str.isspace() holds,
# not only ASCII blanks; mask_resident_id strips before it measures, so the SQL
# strips the same set, spelt as a Unicode-escaped literal.
_PYTHON_WHITESPACE = "".join(
    character for character in map(chr, range(sys.maxunicode + 1)) if character.isspace()
)
_WHITESPACE_LITERAL = "U&'" + "".join(f"\\{ord(c):04X}" for c in _PYTHON_WHITESPACE) + "'"


def mask_resident_id_sql(value: str) -> str:
    """SQL equal to ``contracts.identity.mask_resident_id`` over a text expression.

    The Python function strips whitespace, folds a final ``x`` to ``X``, then
    hides the birth date of an 18-character number and everything of any other
    length. Folding keeps the length and touches only the last character, which
    is shown as it is, so it is applied there alone.
    """
    stripped = f"btrim({value}, {_WHITESPACE_LITERAL})"
    return (
        f"CASE WHEN length({stripped}) = 18"
        f" THEN left({stripped}, 6) || '********' || substr({stripped}, 15, 3)"
        f" || translate(right({stripped}, 1), 'x', 'X')"
        f" ELSE repeat('*', length({stripped})) END"
    )


def mask_certificate_number_sql(value: str) -> str:
    """SQL equal to ``contracts.masking.mask_certificate_number`` (NULL stays NULL)."""
    return (
        f"CASE WHEN {value} IS NULL THEN NULL"
        f" WHEN length({value}) >= 18"
        f" THEN ({mask_resident_id_sql(f'left({value}, 18)')}) || substr({value}, 19)"
        f" ELSE repeat('*', length({value})) END"
    )


def mask_phone_sql(value: str) -> str:
    """SQL equal to ``contracts.masking.mask_phone`` (NULL stays NULL)."""
    return (
        f"CASE WHEN {value} IS NULL THEN NULL"
        f" WHEN length({value}) < 8 THEN repeat('*', length({value}))"
        f" ELSE left({value}, 3) || repeat('*', length({value}) - 7) || right({value}, 4) END"
    )


# The member table's CHECK holds every stored resident ID to ^[0-9]{17}[0-9X]$,
# a shape on which the general mask above reduces to this; the test of the masks
# holds the two equal on that shape. It is the one mask every person row pays for.
def _stored_resident_id_mask(value: str) -> str:
    return f"left({value}, 6) || '********' || right({value}, 4)"


# ---------------------------------------------------------------- columns


class Kind(StrEnum):
    TEXT = "text"
    # Text a CHECK constraint keeps to ASCII letters, digits, "_" and "*" (enum
    # values, division codes, resident ID numbers): never escaped in JSON.
    CODE = "code"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    UUID = "uuid"


@dataclass(frozen=True)
class Column:
    """One field of an exported record: its wire name, SQL and type."""

    name: str
    sql: str
    kind: Kind = Kind.TEXT
    # As the table declares it: a NOT NULL column's JSON skips the NULL test.
    nullable: bool = False
    masked_sql: str | None = None  # what a caller without pii gets instead

    def __post_init__(self) -> None:
        # Names are written into the SQL as JSON keys and column aliases.
        if not re.fullmatch(r"[a-z_]+", self.name):
            raise ValueError(f"not a plain column name: {self.name!r}")

    def value(self, masked: bool) -> str:
        return self.masked_sql if masked and self.masked_sql is not None else self.sql


def _timestamp_json(value: str) -> str:
    # The form pydantic writes for an aware UTC datetime, which the JSON API
    # returns: no fraction when the microseconds are zero, six digits otherwise.
    utc = f"({value} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN date_trunc('second', {value}) = {value} THEN ''"
        f" ELSE to_char({utc}, '.US') END || 'Z'"
    )


def _json_parts(column: Column, masked: bool, key: str) -> list[str]:
    """Arguments of concat() that write ``key`` and the column's value as JSON.

    Quotes around values that need no escaping go into the neighbouring
    literals, and NOT NULL columns skip the NULL test: each row is rendered
    with as few function calls as its values allow.
    """
    value = column.value(masked)
    if not column.nullable:
        if column.kind in (Kind.CODE, Kind.UUID):
            return [_literal(key + '"'), value, _literal('"')]
        if column.kind is Kind.INTEGER:
            return [_literal(key), value]
        if column.kind is Kind.BOOLEAN:
            return [_literal(key), f"CASE WHEN {value} THEN 'true' ELSE 'false' END"]
    if column.kind in (Kind.INTEGER, Kind.BOOLEAN):
        text = f"({value})::text"  # 42, true, false
    elif column.kind in (Kind.CODE, Kind.UUID):
        text = f"'\"' || ({value})::text || '\"'"
    elif column.kind is Kind.TIMESTAMP:
        text = f"'\"' || ({_timestamp_json(value)}) || '\"'"
    else:
        text = f"to_json({value})::text"  # escapes text; a date becomes "YYYY-MM-DD"
    return (
        [_literal(key), f"coalesce({text}, 'null')"] if column.nullable else [_literal(key), text]
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_literal(part: str) -> bool:
    return part.startswith("'") and part.endswith("'") and "'" not in part[1:-1].replace("''", "")


def _text_value(column: Column, masked: bool) -> str:
    # Explicit formats, so the file does not depend on the session's DateStyle.
    value = column.value(masked)
    if column.kind is Kind.BOOLEAN:
        return f"({value})::text"  # 'true' / 'false', as in JSON
    if column.kind is Kind.DATE:
        return f"to_char({value}, 'YYYY-MM-DD')"
    if column.kind is Kind.TIMESTAMP:
        return _timestamp_json(value)
    return value


def _typed_value(column: Column, masked: bool) -> str:
    # Typed for a spreadsheet's cells: numbers, booleans and dates stay what they
    # are; identifiers and timestamps (which a spreadsheet cannot hold with their
    # offset) go as the text the JSON API shows.
    value = column.value(masked)
    if column.kind is Kind.UUID:
        return f"({value})::text"
    if column.kind is Kind.TIMESTAMP:
        return _timestamp_json(value)
    return value


_IN_SCHOOL = ", ".join(f"'{stage.value}'" for stage in sorted(IN_SCHOOL))

# A person as the wire's Member shows it (same names, same values), with the
# household's division and poverty status. Identifiers come first: the order
# is the order of the CSV and XLSX columns.
PERSON_COLUMNS: tuple[Column, ...] = (
    Column("id", "m.id", Kind.UUID),
    Column("household_id", "m.household_id", Kind.UUID),
    Column("division_code", "h.division_code", Kind.CODE),
    Column("household_status", "h.status", Kind.CODE),
    Column(
        "resident_id",
        "m.resident_id",
        Kind.CODE,
        masked_sql=_stored_resident_id_mask("m.resident_id"),
    ),
    Column("name", "m.name"),
    Column("sex", "m.sex", Kind.CODE),
    Column("birth_date", "m.birth_date", Kind.DATE),
    Column("relation_to_head", "m.relation_to_head", Kind.CODE),
    Column("labour_capacity", "m.labour_capacity", Kind.CODE),
    Column("employment_status", "m.employment_status", Kind.CODE),
    Column("months_worked", "m.months_worked", Kind.INTEGER),
    Column("employment_place", "m.employment_place", nullable=True),
    Column("health_status", "m.health_status", Kind.CODE),
    Column("disability_category", "m.disability_category", Kind.CODE, nullable=True),
    Column("disability_grade", "m.disability_grade", Kind.INTEGER, nullable=True),
    Column(
        "disability_certificate_no",
        "m.disability_certificate_no",
        nullable=True,
        masked_sql=mask_certificate_number_sql("m.disability_certificate_no"),
    ),
    Column("disability_certified_on", "m.disability_certified_on", Kind.DATE, nullable=True),
    Column("school_stage", "m.school_stage", Kind.CODE),
    Column("in_school", f"m.school_stage IN ({_IN_SCHOOL})", Kind.BOOLEAN),
    Column("school_exempt", "m.school_exempt", Kind.BOOLEAN),
    Column("basic_medical_insured", "m.basic_medical_insured", Kind.BOOLEAN),
    Column("critical_illness_insured", "m.critical_illness_insured", Kind.BOOLEAN),
    Column("resident_pension_enrolled", "m.resident_pension_enrolled", Kind.BOOLEAN),
    Column("employee_pension_enrolled", "m.employee_pension_enrolled", Kind.BOOLEAN),
    Column("dibao", "m.dibao", Kind.BOOLEAN),
    Column("tekun", "m.tekun", Kind.BOOLEAN),
    Column("work_injury_care_allowance", "m.work_injury_care_allowance", Kind.BOOLEAN),
    Column("deceased_on", "m.deceased_on", Kind.DATE, nullable=True),
    Column("version", "m.version", Kind.INTEGER),
)

# A household as the wire's Household shows it without its members, with the
# living head's name and the living members' count of the household list.
HOUSEHOLD_COLUMNS: tuple[Column, ...] = (
    Column("id", "h.id", Kind.UUID),
    Column("division_code", "h.division_code", Kind.CODE),
    Column("status", "h.status", Kind.CODE),
    Column("main_poverty_cause", "h.main_poverty_cause", Kind.CODE, nullable=True),
    Column("head_name", "living.head_name", nullable=True),
    Column("size", "living.size", Kind.INTEGER),
    Column("address", "h.address", nullable=True),
    Column("phone", "h.phone", nullable=True, masked_sql=mask_phone_sql("h.phone")),
    Column("registered_year", "h.registered_year", Kind.INTEGER, nullable=True),
    Column("lifted_out_year", "h.lifted_out_year", Kind.INTEGER, nullable=True),
    Column("water_short_area", "h.water_short_area", Kind.BOOLEAN),
    Column("version", "h.version", Kind.INTEGER),
    Column("created_at", "h.created_at", Kind.TIMESTAMP),
    Column("updated_at", "h.updated_at", Kind.TIMESTAMP),
)

# The register in the import's own layout (imports.parsing.COLUMNS, same names,
# same order): one row per living member, the household's columns repeated and
# its id as the household number. A ledger exported with pii imports into
# another register as it stands; a test holds the names to the import's.
LEDGER_COLUMNS: tuple[Column, ...] = (
    Column("household_number", "h.id", Kind.UUID),
    Column("division_code", "h.division_code", Kind.CODE),
    Column("address", "h.address", nullable=True),
    Column("phone", "h.phone", nullable=True, masked_sql=mask_phone_sql("h.phone")),
    Column("household_status", "h.status", Kind.CODE),
    Column("registered_year", "h.registered_year", Kind.INTEGER, nullable=True),
    Column("main_poverty_cause", "h.main_poverty_cause", Kind.CODE, nullable=True),
    Column("water_short_area", "h.water_short_area", Kind.BOOLEAN),
    *(
        column
        for column in PERSON_COLUMNS
        if column.name
        not in {
            "id",
            "household_id",
            "division_code",
            "household_status",
            "sex",
            "birth_date",
            "in_school",
            "deceased_on",
            "version",
        }
    ),
)

# Every member, the deceased included (with deceased_on): an export is the
# register as it stands, and a reader filters on deceased_on if it must.
_PERSONS_FROM = """
  FROM registry.member m
  JOIN registry.household h ON h.id = m.household_id"""

# One pass over each household's members; head and size as the household list
# counts them (living members only).
_HOUSEHOLDS_FROM = """
  FROM registry.household h
  LEFT JOIN LATERAL (
        SELECT count(*) FILTER (WHERE m.deceased_on IS NULL) AS size,
               (array_agg(m.name ORDER BY m.birth_date)
                    FILTER (WHERE m.relation_to_head = 'head' AND m.deceased_on IS NULL))[1]
                   AS head_name
          FROM registry.member m
         WHERE m.household_id = h.id
       ) living ON true"""


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class ExportFilter:
    scope: str  # the caller's division: nothing outside it is exported
    division: str | None = None
    status: str | None = None


def _code_range(division_code: str) -> tuple[str, str]:
    """Codes under a division, as bounds the b-tree index on division_code serves."""
    prefix = division_prefix(division_code)
    return prefix.ljust(12, "0"), prefix.ljust(12, "9")


@dataclass(frozen=True)
class ExportQuery:
    """One export's SELECT, renderable for each format; ``args`` are its $n parameters."""

    entity: str
    columns: tuple[Column, ...]
    from_sql: str
    where_sql: str
    order_sql: str
    args: tuple[object, ...]
    masked: bool

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def _select(self, values: str, ordered: bool) -> str:
        order = f"\n ORDER BY {self.order_sql}" if ordered else ""
        return f"SELECT {values}{self.from_sql}\n WHERE {self.where_sql}{order}"

    def _columns(self, render: Callable[[Column, bool], str]) -> str:
        return ",\n       ".join(
            f'{render(column, self.masked)} AS "{column.name}"' for column in self.columns
        )

    def ndjson(self, *, ordered: bool = False) -> str:
        """One text value per row: the record as compact JSON, keys in column order.

        Built with concat(): several times faster in PostgreSQL than
        ``row_to_json`` over a subquery, which looks up every column's type
        for every row.
        """
        parts: list[str] = []
        for index, column in enumerate(self.columns):
            key = ("{" if index == 0 else ",") + f'"{column.name}":'
            parts += _json_parts(column, self.masked, key)
        parts.append(_literal("}"))
        merged: list[str] = []
        for part in parts:
            # Adjacent literals become one: concat() takes at most 100 arguments.
            if merged and _is_literal(merged[-1]) and _is_literal(part):
                merged[-1] = merged[-1][:-1] + part[1:]
            else:
                merged.append(part)
        assert len(merged) <= 100, "too many columns for one concat()"
        return self._select(f"concat({', '.join(merged)})", ordered)

    def csv(self, *, ordered: bool = False) -> str:
        return self._select(self._columns(_text_value), ordered)

    def rows(self, *, ordered: bool = False) -> str:
        return self._select(self._columns(_typed_value), ordered)

    def count(self) -> str:
        return f"SELECT count(*){self.count_from}\n WHERE {self.where_sql}"

    @property
    def count_from(self) -> str:
        # Households are counted without the lateral join that finds their heads.
        return "\n  FROM registry.household h" if self.entity == "households" else self.from_sql


# Village by village, each household's members together, head first.
_PERSONS_ORDER = "h.division_code, m.household_id, m.relation_to_head <> 'head', m.birth_date, m.id"


def _where(filters: ExportFilter) -> tuple[str, tuple[object, ...]]:
    conditions = ["h.division_code BETWEEN $1 AND $2"]
    args: list[object] = [*_code_range(filters.scope)]
    if filters.division:
        conditions.append(f"h.division_code BETWEEN ${len(args) + 1} AND ${len(args) + 2}")
        args.extend(_code_range(filters.division))
    if filters.status:
        conditions.append(f"h.status = ${len(args) + 1}")
        args.append(filters.status)
    return " AND ".join(conditions), tuple(args)


def _person_rows(
    entity: str,
    columns: tuple[Column, ...],
    filters: ExportFilter,
    masked: bool,
    condition: str | None = None,
) -> ExportQuery:
    where, args = _where(filters)
    return ExportQuery(
        entity=entity,
        columns=columns,
        from_sql=_PERSONS_FROM,
        where_sql=f"{where} AND {condition}" if condition else where,
        order_sql=_PERSONS_ORDER,
        args=args,
        masked=masked,
    )


def persons(filters: ExportFilter, *, masked: bool) -> ExportQuery:
    return _person_rows("persons", PERSON_COLUMNS, filters, masked)


def ledger(filters: ExportFilter, *, masked: bool) -> ExportQuery:
    # The living only: the ledger registers people, and has no date of death.
    return _person_rows("ledger", LEDGER_COLUMNS, filters, masked, "m.deceased_on IS NULL")


def households(filters: ExportFilter, *, masked: bool) -> ExportQuery:
    where, args = _where(filters)
    return ExportQuery(
        entity="households",
        columns=HOUSEHOLD_COLUMNS,
        from_sql=_HOUSEHOLDS_FROM,
        where_sql=where,
        order_sql="h.division_code, h.id",
        args=args,
        masked=masked,
    )
