"""One member: read, update, record a death, move to another household."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from tuopin_registry.access import Editor, Reader, record
from tuopin_registry.members import service
from tuopin_registry.members.models import MemberRow
from tuopin_registry.members.views import member_view
from tuopin_shared.contracts.clock import today
from tuopin_shared.contracts.registry import Member, MemberDeath, MemberMove, MemberUpdate
from tuopin_shared.kit.errors import problem_responses
from tuopin_shared.kit.http import IfMatch, Session, etag

router = APIRouter(prefix="/v1/members", tags=["members"])


async def _answer(
    request: Request,
    response: Response,
    session: Session,
    principal: Editor,
    member: MemberRow,
    action: str,
) -> Member:
    await record(session, request, principal, action, "member", member.id)
    response.headers["ETag"] = etag(member.version)
    return member_view(member, unmasked=principal.can_see_pii)


@router.get("/{member_id}", responses=problem_responses(404))
async def get_member(
    member_id: uuid.UUID, request: Request, response: Response, session: Session, principal: Reader
) -> Member:
    """Get one member."""
    member, _ = await service.member_in_scope(session, principal, member_id)
    if principal.can_see_pii:
        await record(session, request, principal, "read_pii", "member", member.id)
    response.headers["ETag"] = etag(member.version)
    return member_view(member, unmasked=principal.can_see_pii)


@router.patch("/{member_id}", responses=problem_responses(404, 412, 428))
async def update_member(
    member_id: uuid.UUID,
    body: MemberUpdate,
    request: Request,
    response: Response,
    session: Session,
    principal: Editor,
    if_match: IfMatch = None,
) -> Member:
    """Change a member's fields; needs If-Match with the ETag last read."""
    member = await service.update(session, principal, member_id, body, if_match)
    return await _answer(request, response, session, principal, member, "update")


@router.post("/{member_id}/death", responses=problem_responses(404, 409, 412, 428))
async def record_death(
    member_id: uuid.UUID,
    body: MemberDeath,
    request: Request,
    response: Response,
    session: Session,
    principal: Editor,
    if_match: IfMatch = None,
) -> Member:
    """Record that a member died, with the date."""
    member = await service.record_death(session, principal, member_id, body, if_match, today())
    return await _answer(request, response, session, principal, member, "record_death")


@router.post("/{member_id}/move", responses=problem_responses(404, 409, 412, 428))
async def move_member(
    member_id: uuid.UUID,
    body: MemberMove,
    request: Request,
    response: Response,
    session: Session,
    principal: Editor,
    if_match: IfMatch = None,
) -> Member:
    """Move a member to another household in the caller's division."""
    member = await service.move(session, principal, member_id, body, if_match)
    return await _answer(request, response, session, principal, member, "move")
