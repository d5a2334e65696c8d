"""Adding, changing, moving and recording the death of members."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry import outbox
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.members import repository
from tuopin_registry.members.models import MemberRow
from tuopin_shared.contracts.identity import parse_resident_id
from tuopin_shared.contracts.registry import MemberCreate, MemberDeath, MemberMove, MemberUpdate
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import Conflict, NotFound, Unprocessable, field_error
from tuopin_shared.kit.http import check_if_match


def _column_values(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in fields.items()}


async def add(
    session: AsyncSession, household: HouseholdRow, body: MemberCreate, *, field_prefix: str = ""
) -> MemberRow:
    identity = parse_resident_id(body.resident_id)
    values = _column_values(body.model_dump())
    values.update(
        household_id=household.id,
        resident_id=identity.number,
        sex=identity.sex.value,
        birth_date=identity.birth_date,
    )
    row = await repository.insert_unless_registered(session, values)
    if row is None:
        holder = await repository.holder_of(session, identity.number)
        household_id, division = holder if holder else (None, None)
        raise Conflict(
            f"resident ID is already registered in household {household_id}",
            errors=[
                field_error(
                    f"{field_prefix}resident_id",
                    f"already registered in household {household_id}",
                    "duplicate_resident_id",
                )
            ],
            household_id=str(household_id) if household_id else None,
            division_code=division,
        )
    await outbox.append(
        session,
        household.division_code,
        "member",
        row.id,
        row.version,
        "created",
        member_payload(row),
    )
    return row


async def member_in_scope(
    session: AsyncSession, principal: Principal, member_id: uuid.UUID, *, for_update: bool = False
) -> tuple[MemberRow, HouseholdRow]:
    member = await repository.get(session, member_id, for_update=for_update)
    household = await session.get(HouseholdRow, member.household_id) if member else None
    if member is None or household is None or not principal.covers(household.division_code):
        raise NotFound(f"member {member_id} not found")
    return member, household


async def _save(
    session: AsyncSession, member: MemberRow, household: HouseholdRow, kind: str
) -> MemberRow:
    member.version += 1
    member.updated_at = func.now()
    await session.flush()
    await session.refresh(member)
    await outbox.append(
        session,
        household.division_code,
        "member",
        member.id,
        member.version,
        kind,
        member_payload(member),
    )
    return member


async def update(
    session: AsyncSession,
    principal: Principal,
    member_id: uuid.UUID,
    body: MemberUpdate,
    if_match: str | None,
) -> MemberRow:
    member, household = await member_in_scope(session, principal, member_id, for_update=True)
    check_if_match(if_match, member.version)
    changes = _column_values({name: getattr(body, name) for name in body.model_fields_set})
    nullable = {
        "employment_place",
        "disability_category",
        "disability_grade",
        "disability_certificate_no",
        "disability_certified_on",
    }
    errors = [
        field_error(name, "may not be null", "null")
        for name, value in changes.items()
        if value is None and name not in nullable
    ]
    if errors:
        raise Unprocessable("a required field was set to null", errors=errors)
    for name, value in changes.items():
        setattr(member, name, value)
    if (member.disability_grade is None) != (member.disability_category is None):
        raise Unprocessable(
            "disability_category and disability_grade go together",
            errors=[
                field_error(
                    "disability_grade", "set or clear it with disability_category", "inconsistent"
                )
            ],
        )
    return await _save(session, member, household, "updated")


async def record_death(
    session: AsyncSession,
    principal: Principal,
    member_id: uuid.UUID,
    body: MemberDeath,
    if_match: str | None,
    today: date,
) -> MemberRow:
    member, household = await member_in_scope(session, principal, member_id, for_update=True)
    check_if_match(if_match, member.version)
    if member.deceased_on is not None:
        raise Conflict(f"the death was already recorded on {member.deceased_on}")
    if body.deceased_on > today:
        raise Unprocessable(errors=[field_error("deceased_on", "is in the future", "future_date")])
    if body.deceased_on < member.birth_date:
        raise Unprocessable(
            errors=[field_error("deceased_on", "is before the birth date", "before_birth")]
        )
    member.deceased_on = body.deceased_on
    return await _save(session, member, household, "deceased")


async def move(
    session: AsyncSession,
    principal: Principal,
    member_id: uuid.UUID,
    body: MemberMove,
    if_match: str | None,
) -> MemberRow:
    member, household = await member_in_scope(session, principal, member_id, for_update=True)
    check_if_match(if_match, member.version)
    target = await session.get(HouseholdRow, body.household_id)
    if target is None or not principal.covers(target.division_code):
        raise NotFound(
            f"household {body.household_id} not found",
            errors=[field_error("household_id", "no such household in your division", "not_found")],
        )
    if target.id == household.id:
        raise Unprocessable(
            errors=[field_error("household_id", "the member already lives there", "same_household")]
        )
    if member.deceased_on is not None:
        raise Conflict("a deceased member cannot move")
    member.household_id = target.id
    member.relation_to_head = body.relation_to_head.value
    return await _save(session, member, target, "moved")


def member_payload(row: MemberRow) -> dict[str, Any]:
    """What feed consumers need: every column, unmasked (the feed is for services)."""
    payload: dict[str, Any] = {}
    for column in MemberRow.__table__.columns:
        value = getattr(row, column.key)
        payload[column.key] = (
            value.isoformat()
            if isinstance(value, date)
            else (str(value) if isinstance(value, uuid.UUID) else value)
        )
    return payload
