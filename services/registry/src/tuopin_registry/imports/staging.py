"""The set-based half of an import: parsed rows are COPYed into a temporary table,
checked against each other and the register with a few statements, and merged
into the registry's tables with ``INSERT … SELECT`` — never a statement per row.

The statements run on the driver's connection (asyncpg): COPY is the driver's,
and a million rows are no place for an ORM.
"""

# ruff: noqa: S608 - the only names put into SQL are this module's own temporary tables

from __future__ import annotations

import json
import os
import struct
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import annotated_types
import asyncpg

from tuopin_registry.households.service import household_payload_sql
from tuopin_registry.imports.parsing import (
    COLUMN_NAMES,
    HOUSEHOLD_DEFAULTS,
    MEMBER_FIELDS,
    MEMBER_TYPES,
    RECORD_FIELDS,
    RowError,
)
from tuopin_registry.status.events import status_event_payload_sql
from tuopin_shared.contracts.enums import DivisionLevel, PovertyStatus, RelationToHead
from tuopin_shared.contracts.registry import HouseholdCreate

__all__ = ["Checked", "Scope", "Staging", "row_count"]

# Column types of the staging table, by parsed field. Codes are CHAR like the
# registry's own columns, so that the joins on them can use the registry's indexes;
# text is compared byte-wise ("C"), which is all the checks need and the fastest.
_TYPES: dict[str, str] = {
    "row_no": "integer NOT NULL",
    "household_number": 'text COLLATE "C"',
    "division_code": "char(12)",
    "division_bad": "boolean NOT NULL",
    "address": 'text COLLATE "C"',
    "phone": 'text COLLATE "C"',
    "household_status": "text",
    "registered_year": "integer",
    "main_poverty_cause": "text",
    "water_short_area": "boolean",
    "resident_id": "char(18)",
    "sex": "text",
    "birth_date": "date",
    "months_worked": "smallint",
    "disability_grade": "smallint",
    # Made by the importer (``ordered_ids``) and staged with each row: the member's
    # own id, and a candidate for its household's (which takes one of its rows').
    "member_id": "uuid",
    "household_key": "uuid",
}
STAGED_FIELDS = (*RECORD_FIELDS, "member_id", "household_key")
# The other member fields' types follow the contract's.
_SQL_TYPES: dict[Any, str] = {bool: "boolean", int: "integer", date: "date"}

# Version 7's fixed bits (RFC 9562): the version (0111) after the 48-bit time, the
# variant (10) at the top of the last 64 bits.
_VERSION_7 = (0x7 << 76) | (0b10 << 62)
_LOW_30 = (1 << 30) - 1


def ordered_ids(count: int) -> list[str]:
    """``count`` UUIDs in ascending order, as text: version 7 (RFC 9562), the time in
    milliseconds first, then a 42-bit counter from a random start (below half its
    range, so it cannot wrap), then 32 random bits, so that no id tells its
    neighbours'.

    Made here rather than by the server's ``gen_random_uuid()``: where PostgreSQL is
    built without OpenSSL that reads the OS's generator once per id, which at a
    million ids costs more than the rest of the merge. Ascending rather than random
    because every index on them (households' and members' keys, members' and status
    history's household) then grows at its right edge: a million rows dirty a few
    thousand index pages once instead of every leaf again and again, and each
    foreign-key check finds its household in a page still in memory.
    """
    millis = time.time_ns() // 1_000_000
    start = int.from_bytes(os.urandom(6), "big") >> 7
    prefix = (millis << 80) | _VERSION_7
    tails = struct.iter_unpack(">I", os.urandom(4 * count))
    return [
        f"{prefix | (counter >> 30) << 64 | (counter & _LOW_30) << 32 | tail:032x}"
        for counter, (tail,) in zip(range(start, start + count), tails, strict=True)
    ]


def _type(field: str) -> str:
    return _TYPES.get(field) or _SQL_TYPES.get(MEMBER_TYPES.get(field), "text")


# Household columns whose values must agree across a household's rows, as text.
_AGREEING = (
    ("division_code", "r.division_code::text"),
    ("address", "r.address"),
    ("phone", "r.phone"),
    ("household_status", "r.household_status"),
    ("registered_year", "r.registered_year::text"),
    ("main_poverty_cause", "r.main_poverty_cause"),
    ("water_short_area", "r.water_short_area::text"),
)

# Members of one household: as many as the contract allows in one registration.
MAX_MEMBERS = next(
    m.max_length
    for m in HouseholdCreate.model_fields["members"].metadata
    if isinstance(m, annotated_types.MaxLen)
)


@dataclass(frozen=True)
class Scope:
    """Division codes the caller may write to, as a range the b-tree indexes serve."""

    low: str
    high: str

    @classmethod
    def of(cls, prefix: str) -> Scope:
        return cls(prefix.ljust(12, "0"), prefix.ljust(12, "9"))


@dataclass(frozen=True)
class Checked:
    households: int
    error_count: int
    error_counts: dict[str, int]
    errors: list[RowError]  # the first ones, by row and column


class Staging:
    """One import's temporary tables on one connection."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        suffix = uuid.uuid4().hex[:12]
        self.rows = f"import_row_{suffix}"
        self.households = f"import_household_{suffix}"
        self.errors = f"import_error_{suffix}"

    async def create(self) -> None:
        columns = ", ".join(f"{field} {_type(field)}" for field in STAGED_FIELDS)
        # Temporary: private to this connection, and never written to the WAL.
        await self._connection.execute(
            f"""
            CREATE TEMPORARY TABLE {self.rows} ({columns});
            CREATE TEMPORARY TABLE {self.errors} (
                row_no integer NOT NULL,
                column_name text,
                value text,
                code text NOT NULL,
                message text NOT NULL
            );
            """
        )

    async def copy(self, columns: Sequence[Sequence[Any]]) -> None:
        """Stage parsed rows, given a column at a time (``RECORD_FIELDS``), each row
        given its ids on the way. A household takes the id of its first row's key,
        the least: the households' ids ascend in the file's order too."""
        ids = ordered_ids(2 * len(columns[0]))
        # Each row's tuple is made as COPY sends it, and gone once sent.
        rows = zip(*columns, ids[0::2], ids[1::2], strict=True)
        await self._connection.copy_records_to_table(
            self.rows, records=rows, columns=list(STAGED_FIELDS)
        )

    async def drop(self) -> None:
        await self._connection.execute(
            f"DROP TABLE IF EXISTS {self.rows}, {self.households}, {self.errors}"
        )

    # ------------------------------------------------------------ checks

    async def check(self, scope: Scope, limit: int) -> Checked:
        """Every check across rows and against the register; the first ``limit`` errors."""
        connection = self._connection
        # The temporary tables have no statistics until analysed, and the joins
        # below would be planned as if they held a handful of rows.
        # Only the columns joined and grouped on: the others' statistics would cost
        # more to gather than every check together.
        await connection.execute(
            f"ANALYZE {self.rows} (household_number, resident_id, division_code, relation_to_head)"
        )
        await connection.execute(self._households_sql())
        # With the columns the checks filter on: a file without disagreeing households
        # then costs the agreement check nothing (planned blind, it sorted every row).
        await connection.execute(
            f"ANALYZE {self.households} (household_number, id, disagrees, heads, size)"
        )
        for statement, scoped in self._checks().values():
            await connection.execute(statement, *((scope.low, scope.high) if scoped else ()))
        counts = {
            row["code"]: row["count"]
            for row in await connection.fetch(
                f"SELECT code, count(*) AS count FROM {self.errors} GROUP BY code"
            )
        }
        first = await connection.fetch(
            f"""
            SELECT row_no, column_name, value, code, message FROM {self.errors}
            ORDER BY row_no, array_position($1::text[], column_name), code
            LIMIT $2
            """,
            list(COLUMN_NAMES),
            limit,
        )
        households = await connection.fetchval(f"SELECT count(*) FROM {self.households}")
        return Checked(
            households=households,
            error_count=sum(counts.values()),
            error_counts=counts,
            errors=[
                RowError(r["row_no"], r["column_name"], r["value"], r["code"], r["message"])
                for r in first
            ],
        )

    def _households_sql(self) -> str:
        # One pass over the rows gives each household its values, its counts and
        # whether its rows disagree; the merge reuses it, ids and all.
        disagree = " OR ".join(
            f"min({column}) <> max({column})"
            for column in (
                "division_code",
                "address",
                "phone",
                "household_status",
                "registered_year",
                "main_poverty_cause",
            )
        )
        return f"""
        CREATE TEMPORARY TABLE {self.households} AS
        SELECT household_number,
               min(household_key::text)::uuid AS id,
               min(row_no) AS first_row,
               count(*) AS size,
               count(*) FILTER (WHERE relation_to_head = '{RelationToHead.HEAD.value}') AS heads,
               count(*) - count(relation_to_head) AS unknown_relations,
               bool_or(division_bad) AS division_bad,
               min(division_code) AS division_code,
               min(address) AS address,
               min(phone) AS phone,
               min(household_status) AS status,
               min(registered_year) AS registered_year,
               min(main_poverty_cause) AS main_poverty_cause,
               bool_or(water_short_area) AS water_short_area,
               coalesce({disagree} OR bool_or(water_short_area) <> bool_and(water_short_area),
                        false) AS disagrees
        FROM {self.rows}
        WHERE household_number IS NOT NULL
        GROUP BY household_number
        """

    def _checks(self) -> dict[str, tuple[str, bool]]:
        """Each check's statement, and whether it takes the scope's bounds ($1, $2)."""
        rows, households, errors = self.rows, self.households, self.errors
        insert = f"INSERT INTO {errors} (row_no, column_name, value, code, message)"
        village = DivisionLevel.VILLAGE.value
        head = RelationToHead.HEAD.value
        disagreeing = ", ".join(f"('{name}', {value})" for name, value in _AGREEING)
        return {
            # The same resident ID twice in the file: every row after the first.
            "duplicate_in_file": (
                f"""
                {insert}
                SELECT r.row_no, 'resident_id', r.resident_id, 'duplicate_in_file',
                       'the same resident ID as row ' || d.first_row
                FROM {rows} r
                JOIN (SELECT resident_id, min(row_no) AS first_row FROM {rows}
                      WHERE resident_id IS NOT NULL
                      GROUP BY resident_id HAVING count(*) > 1) d USING (resident_id)
                WHERE r.row_no <> d.first_row
                """,
                False,
            ),
            # Already in the register. The holding household is named only when it is
            # inside the caller's division: elsewhere even its existence is not shown.
            "already_registered": (
                f"""
                {insert}
                SELECT r.row_no, 'resident_id', r.resident_id, 'already_registered',
                       CASE WHEN h.division_code BETWEEN $1 AND $2
                            THEN 'already registered in household ' || h.id
                            ELSE 'already registered in a household outside your division' END
                FROM {rows} r
                JOIN registry.member m ON m.resident_id = r.resident_id
                JOIN registry.household h ON h.id = m.household_id
                """,
                True,
            ),
            # Divisions: each code once against the register, then back onto its rows.
            "division": (
                f"""
                WITH stated AS (
                    SELECT DISTINCT division_code FROM {rows} WHERE division_code IS NOT NULL
                ), bad AS MATERIALIZED (  -- first: usually empty, and the rows go unread
                    SELECT s.division_code,
                           CASE WHEN d.code IS NULL THEN 'unknown_division'
                                WHEN d.level <> '{village}' THEN 'not_a_village'
                                ELSE 'out_of_scope' END AS code,
                           CASE WHEN d.code IS NULL
                                THEN 'division ' || s.division_code || ' does not exist'
                                WHEN d.level <> '{village}'
                                THEN 'households belong to a village; ' || s.division_code
                                     || ' is a ' || d.level
                                ELSE 'outside your division' END AS message
                    FROM stated s LEFT JOIN registry.division d ON d.code = s.division_code
                    WHERE d.code IS NULL OR d.level <> '{village}'
                       OR s.division_code NOT BETWEEN $1 AND $2
                )
                {insert}
                SELECT r.row_no, 'division_code', r.division_code, b.code, b.message
                FROM {rows} r JOIN bad b USING (division_code)
                """,
                True,
            ),
            # No division on any row (an unreadable one has been reported already).
            "no_division": (
                f"""
                {insert}
                SELECT first_row, 'division_code', NULL, 'required',
                       'household ' || household_number || ' has no division code on any row'
                FROM {households} WHERE division_code IS NULL AND NOT division_bad
                """,
                False,
            ),
            "no_head": (
                f"""
                {insert}
                SELECT first_row, 'relation_to_head', NULL, 'no_head',
                       'household ' || household_number || ' has no head (户主)'
                FROM {households} WHERE heads = 0 AND unknown_relations = 0
                """,
                False,
            ),
            "several_heads": (
                f"""
                {insert}
                SELECT row_no, 'relation_to_head', '{head}', 'several_heads',
                       'household ' || household_number || ' already has a head on row '
                       || first_head
                FROM (SELECT r.row_no, r.household_number,
                             min(r.row_no) OVER (PARTITION BY r.household_number) AS first_head
                      FROM {rows} r JOIN {households} h USING (household_number)
                      WHERE h.heads > 1 AND r.relation_to_head = '{head}') heads
                WHERE row_no <> first_head
                """,
                False,
            ),
            "too_many_members": (
                f"""
                {insert}
                SELECT first_row, 'household_number', household_number, 'too_many_members',
                       'household ' || household_number || ' has ' || size
                       || ' rows; a household has at most {MAX_MEMBERS} members'
                FROM {households} WHERE size > {MAX_MEMBERS}
                """,
                False,
            ),
            # Rows of a household stating another value than its first row stating one.
            # Blank cells agree with anything: merged cells in a spreadsheet leave them so.
            "household_disagrees": (
                f"""
                {insert}
                SELECT row_no, column_name, value, 'household_disagrees',
                       'household ' || household_number || ' has ' || first_value
                       || ' on row ' || first_row
                FROM (SELECT r.row_no, r.household_number, c.column_name, c.value,
                             first_value(c.value) OVER stating AS first_value,
                             first_value(r.row_no) OVER stating AS first_row
                      FROM {rows} r
                      JOIN {households} h USING (household_number)
                      CROSS JOIN LATERAL (VALUES {disagreeing}) AS c(column_name, value)
                      WHERE h.disagrees AND c.value IS NOT NULL
                      WINDOW stating AS (PARTITION BY r.household_number, c.column_name
                                         ORDER BY r.row_no)) stated
                WHERE value <> first_value
                """,
                False,
            ),
        }

    # ------------------------------------------------------------ merge

    async def merge(self, *, effective_on: date, reason: str, actor: str) -> tuple[int, int]:
        """Write the staged households and members, their status history and change
        events (each household's creation and first status, each member's creation):
        (households, members). The caller holds the transaction."""
        connection = self._connection
        households = row_count(
            await connection.execute(
                f"""
                WITH new_household AS (
                    INSERT INTO registry.household (
                        id, division_code, address, phone, status, main_poverty_cause,
                        registered_year, water_short_area)
                    SELECT id, division_code, address, phone, coalesce(status, $1),
                           main_poverty_cause,
                           coalesce(registered_year,
                                    CASE WHEN coalesce(status, $1) = $2 THEN $3::integer END),
                           coalesce(water_short_area, $4)
                    FROM {self.households}
                    ORDER BY first_row
                    RETURNING *
                ), history AS (
                    INSERT INTO registry.status_change (
                        household_id, from_status, to_status, effective_on, reason, actor)
                    SELECT id, NULL, status, $5, $6, $7 FROM new_household
                    RETURNING *
                ), status_event AS (
                    -- The first status on the feed, as the API and the demo loader put it:
                    -- consumers rebuild each household's status over time from these.
                    INSERT INTO registry.change_event (
                        division_code, entity, entity_id, version, kind, payload)
                    SELECT h.division_code, 'household_status', h.id, h.version, 'recorded',
                           {status_event_payload_sql("s")}
                    FROM history s JOIN new_household h ON h.id = s.household_id
                )
                INSERT INTO registry.change_event (
                    division_code, entity, entity_id, version, kind, payload)
                SELECT h.division_code, 'household', h.id, h.version, 'created',
                       {household_payload_sql("h")}
                FROM new_household h
                """,
                HOUSEHOLD_DEFAULTS["household_status"],
                PovertyStatus.REGISTERED_POOR.value,
                effective_on.year,
                HOUSEHOLD_DEFAULTS["water_short_area"],
                effective_on,
                reason,
                actor,
            )
        )
        columns = ", ".join(("resident_id", "sex", "birth_date", *MEMBER_FIELDS))
        selected = ", ".join(f"r.{c}" for c in ("resident_id", "sex", "birth_date", *MEMBER_FIELDS))
        # The member's event carries the whole row, as the registry's services append it.
        members = row_count(
            await connection.execute(
                f"""
                WITH new_member AS (
                    INSERT INTO registry.member (id, household_id, {columns})
                    SELECT r.member_id, h.id, {selected}
                    FROM {self.rows} r JOIN {self.households} h USING (household_number)
                    RETURNING *
                )
                INSERT INTO registry.change_event (
                    division_code, entity, entity_id, version, kind, payload)
                SELECT h.division_code, 'member', m.id, m.version, 'created', to_jsonb(m)
                FROM new_member m JOIN {self.households} h ON h.id = m.household_id
                """
            )
        )
        return households, members

    async def registered_now(self, scope: Scope) -> list[RowError]:
        """Rows whose resident ID the register holds now (after a concurrent registration)."""
        await self._connection.execute(f"TRUNCATE {self.errors}")
        statement, _ = self._checks()["already_registered"]
        await self._connection.execute(statement, scope.low, scope.high)
        return [
            RowError(r["row_no"], r["column_name"], r["value"], r["code"], r["message"])
            for r in await self._connection.fetch(f"SELECT * FROM {self.errors} ORDER BY row_no")
        ]


async def record_audit(
    connection: asyncpg.Connection,
    *,
    actor: str,
    roles: str,
    import_id: uuid.UUID,
    request_id: str | None,
    details: dict[str, Any],
) -> None:
    # The kit's audit table (tuopin_shared.kit.audit), written on the driver's connection.
    await connection.execute(
        """
        INSERT INTO registry.audit_log
            (actor, roles, action, entity, entity_id, request_id, details)
        VALUES ($1, $2, 'import', 'import', $3, $4, $5::jsonb)
        """,
        actor,
        roles,
        str(import_id),
        request_id,
        json.dumps(details),
    )


def row_count(status: str) -> int:
    """The row count at the end of a command tag such as ``INSERT 0 42``."""
    return int(status.rsplit(" ", 1)[-1])
