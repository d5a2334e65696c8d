"""Creating and changing households: the rules around the writes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry import outbox
from tuopin_registry.divisions.models import DivisionRow
from tuopin_registry.households import repository
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.members import service as members
from tuopin_registry.members.models import MemberRow
from tuopin_registry.status.events import append_status_event
from tuopin_registry.status.models import StatusChangeRow
from tuopin_registry.status.rules import INITIAL
from tuopin_shared.contracts.enums import DivisionLevel, PovertyStatus
from tuopin_shared.contracts.registry import HouseholdCreate, HouseholdUpdate, MemberCreate
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Forbidden, NotFound, Unprocessable, field_error
from tuopin_shared.kit.http import check_if_match


async def household_in_scope(
    session: AsyncSession,
    principal: Principal,
    household_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> HouseholdRow:
    row = await repository.get(session, household_id, for_update=for_update)
    if row is None or not principal.covers(row.division_code):
        raise NotFound(f"household {household_id} not found")
    return row


async def ensure_village_in_scope(
    session: AsyncSession, principal: Principal, code: str, field: str
) -> None:
    division = await session.get(DivisionRow, code)
    if division is None:
        raise Unprocessable(
            f"division {code} does not exist",
            errors=[field_error(field, f"division {code} does not exist", "unknown_division")],
        )
    if division.level != DivisionLevel.VILLAGE:
        raise Unprocessable(
            f"households belong to a village; {code} is a {division.level}",
            errors=[field_error(field, "must be a village", "not_a_village")],
        )
    if not principal.covers(code):
        raise Forbidden(
            f"division {code} is outside your division {principal.division}",
            errors=[field_error(field, "outside your division", "out_of_scope")],
        )


def _refuse_duplicates_in_body(items: list[MemberCreate]) -> None:
    seen: dict[str, int] = {}
    errors = []
    for index, member in enumerate(items):
        if member.resident_id in seen:
            errors.append(
                field_error(
                    f"members.{index}.resident_id",
                    f"the same resident ID as members.{seen[member.resident_id]}",
                    "duplicate",
                )
            )
        seen.setdefault(member.resident_id, index)
    if errors:
        raise Unprocessable("a resident ID appears twice in the request", errors=errors)


async def create(
    session: AsyncSession, principal: Principal, body: HouseholdCreate, today: date
) -> tuple[HouseholdRow, list[MemberRow]]:
    await ensure_village_in_scope(session, principal, body.division_code, "division_code")
    if body.status not in INITIAL:
        allowed = ", ".join(sorted(s.value for s in INITIAL))
        raise Unprocessable(
            f"a new household starts as one of: {allowed}",
            errors=[field_error("status", f"must be one of: {allowed}", "invalid_initial_status")],
        )
    _refuse_duplicates_in_body(body.members)
    effective_on = body.status_effective_on or today
    household = HouseholdRow(
        division_code=body.division_code,
        address=body.address,
        phone=body.phone,
        status=body.status.value,
        main_poverty_cause=body.main_poverty_cause.value if body.main_poverty_cause else None,
        registered_year=body.registered_year
        if body.registered_year is not None
        else (effective_on.year if body.status is PovertyStatus.REGISTERED_POOR else None),
        water_short_area=body.water_short_area,
    )
    session.add(household)
    await session.flush()
    await session.refresh(household)
    initial = StatusChangeRow(
        household_id=household.id,
        from_status=None,
        to_status=body.status.value,
        effective_on=effective_on,
        reason="registered",
        actor=principal.subject,
    )
    session.add(initial)
    await session.flush()
    await append_status_event(session, household, initial)
    added = []
    for index, member in enumerate(body.members):
        added.append(
            await members.add(session, household, member, field_prefix=f"members.{index}.")
        )
    await outbox.append(
        session,
        household.division_code,
        "household",
        household.id,
        household.version,
        "created",
        household_payload(household),
    )
    return household, added


async def update(
    session: AsyncSession,
    principal: Principal,
    household_id: uuid.UUID,
    body: HouseholdUpdate,
    if_match: str | None,
) -> HouseholdRow:
    household = await household_in_scope(session, principal, household_id, for_update=True)
    check_if_match(if_match, household.version)
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if name == "water_short_area" and value is None:
            raise Unprocessable(errors=[field_error(name, "must be true or false", "null")])
        changes[name] = value.value if hasattr(value, "value") else value
    for name, value in changes.items():
        setattr(household, name, value)
    household.version += 1
    household.updated_at = func.now()
    await session.flush()
    await session.refresh(household)
    await outbox.append(
        session,
        household.division_code,
        "household",
        household.id,
        household.version,
        "updated",
        household_payload(household),
    )
    return household


# A household's fields on the change feed.
_EVENT_FIELDS = (
    "id",
    "division_code",
    "status",
    "main_poverty_cause",
    "registered_year",
    "lifted_out_year",
    "water_short_area",
    "version",
)


def household_payload(row: HouseholdRow) -> dict[str, Any]:
    return {**{name: getattr(row, name) for name in _EVENT_FIELDS}, "id": str(row.id)}


def household_payload_sql(row: str) -> str:
    """``household_payload`` built by PostgreSQL, for bulk writes: ``row`` is the alias
    of a registry.household row (or of rows returned by inserting into it)."""
    return "jsonb_build_object(" + ", ".join(f"'{n}', {row}.{n}" for n in _EVENT_FIELDS) + ")"


async def bump(session: AsyncSession, household: HouseholdRow) -> None:
    """A change to what the household resource shows (status): new version, new ETag."""
    household.version += 1
    household.updated_at = func.now()
    await session.flush()
    await session.refresh(household)
