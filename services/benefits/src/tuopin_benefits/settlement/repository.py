"""Queries of the settlement package.

A settlement is two statements, each committing on its own: one that reads the
patient, the policy in force, the patient's year-to-date sums and any earlier
use of the key or claim number; and one that stores the settlement, the key,
the ledger's new sums and the audit row together, but only if the sums are
still the ones read. Between them the rules run in Python without any lock
held. When another settlement of the same patient
moved the sums in between, nothing is stored and the settlement is computed
again, this time inside a transaction holding the patient's row. The round
trips, not the arithmetic, are what a settlement costs: two instead of four.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tuopin_shared.contracts.divisions import division_prefix

Database = AsyncSession | AsyncConnection


@dataclass(frozen=True)
class _Numbered:
    """A statement written with :named parameters, numbered ($1, $2 …) once, here.

    The two statements of every settlement go to asyncpg as they are (prepared
    once per connection and cached there): with forty parameters, binding a
    text() statement anew on every execution costs about as much CPU as the
    database spends running it.
    """

    sql: str
    names: tuple[str, ...]

    @classmethod
    def of(cls, sql: str) -> _Numbered:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        # ":name" but not the "::" of a cast.
        return cls(re.sub(r"(?<![:\w]):(\w+)", number, sql), tuple(names))

    async def fetchrow(self, driver: Any, values: Mapping[Any, Any]) -> Any:
        return await driver.fetchrow(self.sql, *(values[name] for name in self.names))


# Household statuses whose members count as registered poor (建档立卡) for the
# medical layers. Households lifted out keep the health policies during the
# transition (脱贫不脱政策); a monitored household was never registered.
REGISTERED_POOR_STATUSES = (
    "registered_poor",
    "lifted_out",
    "returned_to_poverty",
    "newly_impoverished",
)

# The patient and their household's status on the discharge date (the latest
# status change effective by then; a household without any history in the
# projection has only its current status to go on), the policy set in force for
# their district and the discharge year (its medical section as text: parsed
# only the first time a version is seen), the patient's year-to-date sums (none
# yet: zero), and the earlier use of this key and claim number. Reads only.
_READ_SETTLEMENT = _Numbered.of(
    """
WITH patient AS (
    SELECT p.member_id, p.dibao, p.tekun, p.deceased_on, h.division_code,
           CASE WHEN EXISTS (SELECT 1 FROM benefits.household_status s
                              WHERE s.household_id = p.household_id)
                THEN (SELECT s.status FROM benefits.household_status s
                       WHERE s.household_id = p.household_id AND s.effective_on <= CAST(:on AS date)
                       ORDER BY s.effective_on DESC, s.id DESC LIMIT 1)
                ELSE h.status
           END AS household_status
      FROM benefits.person p
      JOIN benefits.household h ON h.household_id = p.household_id
     WHERE p.resident_id = :resident_id
), policy AS (
    SELECT ps.id, ps.district_code, ps.year, ps.version,
           (ps.parameters -> 'medical')::text AS medical
      FROM benefits.policy_set ps, patient
     WHERE ps.district_code = rpad(left(patient.division_code, 6), 12, '0')
       AND ps.year = CAST(:year AS integer)
     ORDER BY ps.version DESC
     LIMIT 1
), ledger AS (
    SELECT y.basic_paid, y.critical_illness_self_pay_base, y.critical_illness_paid,
           y.assistance_paid
      FROM benefits.medical_year_to_date y, patient
     WHERE y.person_id = patient.member_id AND y.year = CAST(:year AS integer)
), used_key AS (
    SELECT k.operation, k.request_hash, k.status_code, k.settlement_id, s.response_body,
           s.reversal_response_body
      FROM benefits.medical_idempotency_key k
      JOIN benefits.medical_settlement s ON s.id = k.settlement_id
     WHERE k.owner = :owner AND k.key = :key
), claim AS (
    SELECT s.id, s.request_hash, s.response_body
      FROM benefits.medical_settlement s
     WHERE s.institution_code = :institution_code AND s.claim_number = :claim_number
)
SELECT patient.*, policy.id AS policy_set_id, policy.district_code AS policy_district_code,
       policy.year AS policy_year, policy.version AS policy_version, policy.medical,
       coalesce(ledger.basic_paid, 0) AS basic_paid,
       coalesce(ledger.critical_illness_self_pay_base, 0) AS critical_illness_self_pay_base,
       coalesce(ledger.critical_illness_paid, 0) AS critical_illness_paid,
       coalesce(ledger.assistance_paid, 0) AS assistance_paid,
       used_key.operation AS key_operation, used_key.request_hash AS key_request_hash,
       used_key.status_code AS key_status_code, used_key.settlement_id AS key_settlement_id,
       CASE used_key.operation WHEN 'settle' THEN used_key.response_body
                               ELSE used_key.reversal_response_body END AS key_response_body,
       claim.id AS claim_settlement_id, claim.request_hash AS claim_request_hash,
       claim.response_body AS claim_response_body
  FROM (SELECT 1) AS one
  LEFT JOIN patient ON true
  LEFT JOIN policy ON true
  LEFT JOIN ledger ON true
  LEFT JOIN used_key ON true
  LEFT JOIN claim ON true
"""
)


@dataclass(frozen=True)
class Prepared:
    """Everything a settlement needs read, the patient's year-to-date sums included."""

    row: Mapping[Any, Any]

    @property
    def known_patient(self) -> bool:
        return self.row["member_id"] is not None

    def __getitem__(self, name: str) -> Any:
        return self.row[name]


@dataclass(frozen=True)
class Lookup:
    resident_id: str
    discharged_on: date
    owner: str
    key: str
    institution_code: str
    claim_number: str

    def values(self) -> dict[str, Any]:
        return {
            "resident_id": self.resident_id,
            "on": self.discharged_on,
            "year": self.discharged_on.year,
            "owner": self.owner,
            "key": self.key,
            "institution_code": self.institution_code,
            "claim_number": self.claim_number,
        }


async def read_settlement(driver: Any, lookup: Lookup) -> Prepared:
    return Prepared(await _READ_SETTLEMENT.fetchrow(driver, lookup.values()))


# Inside the transaction of a settlement that lost the race for the sums: the
# patient's row, created if missing, locked until the settlement is stored.
# An upsert rather than SELECT … FOR UPDATE: it also locks a row that does not
# exist yet, and ON CONFLICT DO UPDATE always works on the newest version.
_LOCK_LEDGER_FOR_SETTLEMENT = """
WITH patient AS (SELECT member_id FROM benefits.person WHERE resident_id = $1)
INSERT INTO benefits.medical_year_to_date AS y (person_id, year)
SELECT member_id, $2 FROM patient
ON CONFLICT (person_id, year) DO UPDATE SET settlements = y.settlements
"""


async def lock_ledger_for_settlement(driver: Any, lookup: Lookup) -> None:
    await driver.execute(_LOCK_LEDGER_FOR_SETTLEMENT, lookup.resident_id, lookup.discharged_on.year)


# The ledger moves first and only from the sums read: if another settlement
# moved them meanwhile, nothing below is written (the settlement and its key
# insert from the ledger's RETURNING). The sums themselves are compared, not a
# version number: a settlement computed on sums equal to the current ones is
# right however they came to be (a settlement and its reversal in between), and
# nothing that changes them can slip past. A row not there yet is inserted; two
# first settlements at once both insert, and the loser meets the winner's sums,
# not the zeros it read. A claim number or key committed meanwhile by another
# request fails the whole statement on its unique constraint: nothing is
# written and the caller reads again.
_STORE_SETTLEMENT = _Numbered.of(
    """
WITH ledger AS (
    INSERT INTO benefits.medical_year_to_date AS y (
        person_id, year, basic_paid, critical_illness_self_pay_base, critical_illness_paid,
        assistance_paid, settlements)
    VALUES (:person_id, :year, :basic_insurance, :critical_illness_base_added,
            :critical_illness, :medical_assistance, 1)
    ON CONFLICT (person_id, year) DO UPDATE
       SET basic_paid = y.basic_paid + excluded.basic_paid,
           critical_illness_self_pay_base =
               y.critical_illness_self_pay_base + excluded.critical_illness_self_pay_base,
           critical_illness_paid = y.critical_illness_paid + excluded.critical_illness_paid,
           assistance_paid = y.assistance_paid + excluded.assistance_paid,
           settlements = y.settlements + 1,
           updated_at = now()
     WHERE y.basic_paid = CAST(:read_basic_paid AS numeric)
       AND y.critical_illness_self_pay_base = CAST(:read_critical_illness_self_pay_base AS numeric)
       AND y.critical_illness_paid = CAST(:read_critical_illness_paid AS numeric)
       AND y.assistance_paid = CAST(:read_assistance_paid AS numeric)
    RETURNING 1
), settlement AS (
    INSERT INTO benefits.medical_settlement (
        id, status, institution_code, claim_number, institution_level, person_id,
        resident_id, division_code, household_status, registered_poor, dibao, tekun,
        in_county, care_type, admitted_on, discharged_on, year, policy_set_id,
        total_cost, in_policy_cost, basic_insurance, critical_illness, medical_assistance,
        poverty_top_up, personal_payment, personal_share, personal_share_cap,
        critical_illness_base_added, deposit_required, trace, request_hash, response_body,
        settled_by, settled_at)
    SELECT :id, 'settled', :institution_code, :claim_number, :institution_level, :person_id,
           :resident_id, :division_code, :household_status, :registered_poor, :dibao, :tekun,
           :in_county, :care_type, :admitted_on, :discharged_on, :year, :policy_set_id,
           :total_cost, :in_policy_cost, :basic_insurance, :critical_illness,
           :medical_assistance, :poverty_top_up, :personal_payment, :personal_share,
           :personal_share_cap, :critical_illness_base_added, :deposit_required,
           CAST(:trace AS jsonb), :request_hash, :response_body, :settled_by, :settled_at
      FROM ledger
    RETURNING id
), used_key AS (
    INSERT INTO benefits.medical_idempotency_key
           (owner, key, operation, request_hash, settlement_id, status_code)
    SELECT :owner, :key, 'settle', :request_hash, id, 201 FROM settlement
), audit AS (
    INSERT INTO benefits.audit_log (actor, roles, action, entity, entity_id, request_id, details)
    SELECT :actor, :roles, 'create', 'medical_settlement', id::text, :request_id,
           CAST(:audit_details AS jsonb)
      FROM settlement
)
SELECT count(*) AS stored FROM settlement
"""
)

# The unique constraints a settlement may meet when another request committed
# the same claim number or key between its read and its write.
CLAIM_NUMBER_TAKEN = "uq_medical_settlement_institution_code_claim_number"
KEY_TAKEN = "pk_medical_idempotency_key"


async def store_settlement(driver: Any, values: Mapping[Any, Any]) -> bool:
    """Store a settlement computed on the year-to-date sums ``read_*``.

    False when the sums moved meanwhile: nothing was written. Raises asyncpg's
    UniqueViolationError (constraint CLAIM_NUMBER_TAKEN or KEY_TAKEN) when the
    claim number or key was committed meanwhile: nothing was written either.
    """
    row = await _STORE_SETTLEMENT.fetchrow(driver, values)
    return bool(row["stored"])


# ---------------------------------------------------------------- reversal

_REVERSAL_TARGET = text(
    """
SELECT s.person_id, s.year, s.institution_code, s.division_code
  FROM benefits.medical_settlement s
 WHERE s.id = :id
"""
)

_LOCK_LEDGER = text(
    """
SELECT basic_paid, critical_illness_self_pay_base, critical_illness_paid, assistance_paid
  FROM benefits.medical_year_to_date
 WHERE person_id = :person_id AND year = :year
   FOR UPDATE
"""
)

_USED_KEY = text(
    """
SELECT k.operation, k.request_hash, k.status_code, k.settlement_id,
       CASE k.operation WHEN 'settle' THEN s.response_body
                        ELSE s.reversal_response_body END AS response_body
  FROM benefits.medical_idempotency_key k
  JOIN benefits.medical_settlement s ON s.id = k.settlement_id
 WHERE k.owner = :owner AND k.key = :key
"""
)


async def used_key(session: Database, owner: str, key: str) -> Mapping[Any, Any] | None:
    result = await session.execute(_USED_KEY, {"owner": owner, "key": key})
    return result.mappings().one_or_none()


async def reversal_target(
    session: AsyncSession, settlement_id: uuid.UUID
) -> Mapping[Any, Any] | None:
    result = await session.execute(_REVERSAL_TARGET, {"id": settlement_id})
    return result.mappings().one_or_none()


async def lock_ledger(session: AsyncSession, person_id: uuid.UUID, year: int) -> Mapping[Any, Any]:
    result = await session.execute(_LOCK_LEDGER, {"person_id": person_id, "year": year})
    return result.mappings().one()


# Settlements are read with the version of the policy set that settled them.
_WITH_POLICY = """
SELECT s.*, ps.district_code AS policy_district_code, ps.year AS policy_year,
       ps.version AS policy_version
  FROM benefits.medical_settlement s
  JOIN benefits.policy_set ps ON ps.id = s.policy_set_id
"""
_SETTLEMENT = text(_WITH_POLICY + " WHERE s.id = :id")


async def settlement(session: Database, settlement_id: uuid.UUID) -> Mapping[Any, Any] | None:
    result = await session.execute(_SETTLEMENT, {"id": settlement_id})
    return result.mappings().one_or_none()


_STORE_REVERSAL = text(
    """
WITH reversed AS (
    UPDATE benefits.medical_settlement
       SET status = 'reversed', reversed_at = :reversed_at, reversed_by = :reversed_by,
           reversal_reason = :reason, reversal_response_body = :response_body
     WHERE id = :id AND status = 'settled'
    RETURNING id
), ledger AS (
    UPDATE benefits.medical_year_to_date
       SET basic_paid = :basic_paid,
           critical_illness_self_pay_base = :critical_illness_self_pay_base,
           critical_illness_paid = :critical_illness_paid,
           assistance_paid = :assistance_paid,
           settlements = settlements - 1,
           updated_at = now()
     WHERE person_id = :person_id AND year = :year AND EXISTS (SELECT 1 FROM reversed)
    RETURNING 1
), used_key AS (
    INSERT INTO benefits.medical_idempotency_key
           (owner, key, operation, request_hash, settlement_id, status_code)
    SELECT :owner, :key, 'reverse', :request_hash, id, 200 FROM reversed
    RETURNING 1
), audit AS (
    INSERT INTO benefits.audit_log (actor, roles, action, entity, entity_id, request_id, details)
    SELECT :actor, :roles, 'reverse', 'medical_settlement', id::text, :request_id,
           CAST(:audit_details AS jsonb)
      FROM reversed
)
SELECT (SELECT count(*) FROM reversed) AS reversed, (SELECT count(*) FROM ledger) AS ledger_moved
"""
)


async def store_reversal(session: AsyncSession, values: Mapping[Any, Any]) -> None:
    row = (await session.execute(_STORE_REVERSAL, dict(values))).one()
    # Both rows are locked by this transaction; anything else is a bug.
    if not (row.reversed and row.ledger_moved):
        raise RuntimeError("the locked settlement or ledger row did not take the reversal")


# ---------------------------------------------------------------- reads


def _within(column: str, division_code: str, name: str) -> tuple[str, dict[str, str]]:
    """Codes under a division, as a range so that a b-tree index serves it."""
    prefix = division_prefix(division_code)
    return (
        f"{column} BETWEEN :{name}_low AND :{name}_high",
        {f"{name}_low": prefix.ljust(12, "0"), f"{name}_high": prefix.ljust(12, "9")},
    )


@dataclass(frozen=True)
class SettlementFilter:
    scope: str | None  # the caller's division; None for an institution (its own only)
    institution_code: str | None = None
    resident_id: str | None = None
    discharged_from: date | None = None
    discharged_to: date | None = None


async def page(
    database: Database,
    filters: SettlementFilter,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
) -> list[Mapping[Any, Any]]:
    """Settlements by discharge date then id: keyset pages that never repeat a row."""
    conditions: list[str] = []
    params: dict[str, Any] = {"limit": limit + 1}
    if filters.scope is not None:
        condition, bounds = _within("s.division_code", filters.scope, "scope")
        conditions.append(condition)
        params.update(bounds)
    if filters.institution_code is not None:
        conditions.append("s.institution_code = :institution_code")
        params["institution_code"] = filters.institution_code
    if filters.resident_id is not None:
        conditions.append("s.resident_id = :resident_id")
        params["resident_id"] = filters.resident_id
    if filters.discharged_from is not None:
        conditions.append("s.discharged_on >= :discharged_from")
        params["discharged_from"] = filters.discharged_from
    if filters.discharged_to is not None:
        conditions.append("s.discharged_on <= :discharged_to")
        params["discharged_to"] = filters.discharged_to
    if after is not None:
        conditions.append("(s.discharged_on, s.id) > (:after_on, :after_id)")
        params["after_on"], params["after_id"] = after
    where = " AND ".join(conditions) or "true"
    # Only fixed fragments above go into the text; every value is a bound parameter.
    statement = text(f"{_WITH_POLICY} WHERE {where} ORDER BY s.discharged_on, s.id LIMIT :limit")
    return list((await database.execute(statement, params)).mappings())


# The child level's prefix length for each level of the division asked about;
# a village has no children and is its own row.
_CHILD_PREFIX = {2: 4, 4: 6, 6: 9, 9: 12, 12: 12}


@dataclass(frozen=True)
class StatsPeriod:
    start: date | None
    end: date | None  # exclusive


async def stats(
    database: Database, division_code: str, period: StatsPeriod
) -> tuple[list[Mapping[Any, Any]], Mapping[Any, Any]]:
    """Settlements by child division and discharge month, and the division's total."""
    child = _CHILD_PREFIX[len(division_prefix(division_code))]
    condition, bounds = _within("division_code", division_code, "scope")
    conditions = [condition]
    params: dict[str, Any] = dict(bounds)
    if period.start is not None:
        conditions.append("discharged_on >= :start")
        params["start"] = period.start
    if period.end is not None:
        conditions.append("discharged_on < :end")
        params["end"] = period.end
    where = " AND ".join(conditions)
    # Fixed fragments only; the values are bound.
    aggregates = """
        count(*) FILTER (WHERE status = 'settled') AS settlements,
        count(*) FILTER (WHERE status = 'reversed') AS reversed,
        coalesce(sum(total_cost) FILTER (WHERE status = 'settled'), 0) AS total_cost,
        coalesce(sum(personal_payment) FILTER (WHERE status = 'settled'), 0) AS personal_payment,
        round(avg(personal_share) FILTER (WHERE status = 'settled'), 4)
            AS average_personal_share,
        max(personal_share) FILTER (WHERE status = 'settled') AS max_personal_share,
        count(*) FILTER (WHERE status = 'settled' AND registered_poor AND in_county
                           AND care_type IN ('inpatient', 'chronic_outpatient'))
            AS in_county_poor_settlements,
        count(*) FILTER (WHERE status = 'settled' AND registered_poor AND in_county
                           AND care_type IN ('inpatient', 'chronic_outpatient')
                           AND personal_payment > total_cost * personal_share_cap)
            AS in_county_poor_above_cap
    """
    by_division = text(
        f"SELECT rpad(left(division_code, {child}), 12, '0') AS division_code,"  # noqa: S608
        f" to_char(discharged_on, 'YYYY-MM') AS month, {aggregates}"
        f" FROM benefits.medical_settlement WHERE {where}"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    )
    total = text(
        f"SELECT {aggregates} FROM benefits.medical_settlement WHERE {where}"  # noqa: S608
    )
    rows: list[Mapping[Any, Any]] = list((await database.execute(by_division, params)).mappings())
    overall = (await database.execute(total, params)).mappings().one()
    return rows, overall


LEDGER_FIELDS = (
    "basic_paid",
    "critical_illness_self_pay_base",
    "critical_illness_paid",
    "assistance_paid",
)


def ledger_values(row: Mapping[Any, Any]) -> dict[str, Decimal]:
    return {name: row[name] for name in LEDGER_FIELDS}
