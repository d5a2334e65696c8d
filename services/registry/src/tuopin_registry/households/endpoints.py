"""Households: register, read, list and update; their members as a sub-collection."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from tuopin_registry.access import Editor, Reader, record
from tuopin_registry.households import repository, service
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.households.views import household_json, present
from tuopin_registry.members import repository as member_repository
from tuopin_registry.members import service as member_service
from tuopin_registry.members.models import MemberRow
from tuopin_registry.members.views import member_view
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.enums import PovertyCause, PovertyStatus
from tuopin_shared.contracts.pages import Page
from tuopin_shared.contracts.registry import (
    Household,
    HouseholdCreate,
    HouseholdSummary,
    HouseholdUpdate,
    Member,
    MemberCreate,
)
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.errors import NotFound, Unprocessable, field_error, problem_responses
from tuopin_shared.kit.http import IfMatch, ReadDatabase, Session, etag
from tuopin_shared.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1/households", tags=["households"])


async def household_view(
    session: Session,
    request: Request,
    principal: Principal,
    household: HouseholdRow,
    members: list[MemberRow] | None = None,
) -> Household:
    if members is None:
        members = await member_repository.of_households(session, [household.id])
    if principal.can_see_pii:
        await record(session, request, principal, "read_pii", "household", household.id)
    columns = {c.key: getattr(household, c.key) for c in HouseholdRow.__table__.columns}
    return present(columns, members, principal.can_see_pii)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409),
)
async def create_household(
    body: HouseholdCreate,
    request: Request,
    response: Response,
    session: Session,
    principal: Editor,
) -> Household:
    """Register a household, with its members, in one step."""
    household, members = await service.create(session, principal, body, today())
    await record(session, request, principal, "create", "household", household.id)
    response.headers["ETag"] = etag(household.version)
    response.headers["Location"] = f"/v1/households/{household.id}"
    return await household_view(session, request, principal, household, members)


@router.get("", responses=problem_responses())
async def list_households(
    session: Session,
    principal: Reader,
    division: Annotated[DivisionCode | None, Query(description="Only under this division.")] = None,
    status_: Annotated[PovertyStatus | None, Query(alias="status")] = None,
    main_poverty_cause: PovertyCause | None = None,
    per_capita_income_below: Annotated[
        Decimal | None,
        Query(ge=0, description="Latest recorded per-capita net income below this figure (yuan)."),
    ] = None,
    has_disabled_member: bool | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[HouseholdSummary]:
    """List households in the caller's division, filtered, a page at a time."""
    after = None
    if cursor:
        key = decode_cursor(cursor)
        try:
            after = uuid.UUID(str(key.get("id")))
        except ValueError:
            raise Unprocessable(
                errors=[field_error("cursor", "not a valid cursor", "cursor_invalid", "query")]
            ) from None
    filters = repository.HouseholdFilter(
        scope=principal.division,
        division=division,
        status=status_.value if status_ else None,
        main_poverty_cause=main_poverty_cause.value if main_poverty_cause else None,
        per_capita_income_below=per_capita_income_below,
        has_disabled_member=has_disabled_member,
    )
    rows = await repository.page(session, filters, after, limit)
    next_cursor = encode_cursor({"id": rows[limit - 1]["id"]}) if len(rows) > limit else None
    return Page[HouseholdSummary](
        items=[HouseholdSummary.model_validate(r) for r in rows[:limit]], next_cursor=next_cursor
    )


@router.get("/{household_id}", response_model=Household, responses=problem_responses(404))
async def get_household(
    household_id: uuid.UUID, request: Request, database: ReadDatabase, principal: Reader
) -> Response:
    """Get a household with its members."""
    # The hottest read: one statement, no transaction, serialised once.
    async with database.connection() as connection:
        household = await repository.household_with_members(connection, household_id)
        if household is None or not principal.covers(household["division_code"]):
            raise NotFound(f"household {household_id} not found")
        if principal.can_see_pii:
            await record(connection, request, principal, "read_pii", "household", household_id)
    members = household.pop("members")
    return Response(
        household_json(household, members, principal.can_see_pii),
        media_type="application/json",
        headers={"ETag": etag(household["version"])},
    )


@router.patch("/{household_id}", responses=problem_responses(404, 412, 428))
async def update_household(
    household_id: uuid.UUID,
    body: HouseholdUpdate,
    request: Request,
    response: Response,
    session: Session,
    principal: Editor,
    if_match: IfMatch = None,
) -> Household:
    """Change a household's own fields; needs If-Match with the ETag last read."""
    household = await service.update(session, principal, household_id, body, if_match)
    await record(session, request, principal, "update", "household", household.id)
    response.headers["ETag"] = etag(household.version)
    return await household_view(session, request, principal, household)


@router.get("/{household_id}/members", responses=problem_responses(404))
async def list_household_members(
    household_id: uuid.UUID, request: Request, session: Session, principal: Reader
) -> list[Member]:
    """List a household's members, the deceased included."""
    household = await service.household_in_scope(session, principal, household_id)
    members = await member_repository.of_households(session, [household.id])
    if principal.can_see_pii and members:
        await record(session, request, principal, "read_pii", "household", household.id)
    return [member_view(m, unmasked=principal.can_see_pii) for m in members]


@router.post(
    "/{household_id}/members",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409),
)
async def add_member(
    household_id: uuid.UUID,
    body: MemberCreate,
    request: Request,
    response: Response,
    session: Session,
    principal: Editor,
) -> Member:
    """Add a member to a household; the resident ID must not be registered anywhere yet."""
    household = await service.household_in_scope(session, principal, household_id, for_update=True)
    member = await member_service.add(session, household, body)
    await record(session, request, principal, "create", "member", member.id)
    response.headers["ETag"] = etag(member.version)
    response.headers["Location"] = f"/v1/members/{member.id}"
    return member_view(member, unmasked=principal.can_see_pii)
