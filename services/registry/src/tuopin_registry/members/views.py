"""Members as the wire shows them: resident ID masked unless the caller may see it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuopin_registry.assessments.rules import IN_SCHOOL
from tuopin_registry.members.models import MemberRow
from tuopin_shared.contracts.identity import mask_resident_id
from tuopin_shared.contracts.masking import mask_certificate_number
from tuopin_shared.contracts.registry import Member


def member_view(row: MemberRow | Mapping[str, Any], *, unmasked: bool) -> Member:
    """The wire form of a member, from an ORM row or a mapping of its columns."""
    if isinstance(row, MemberRow):
        data: dict[str, Any] = {c.key: getattr(row, c.key) for c in MemberRow.__table__.columns}
    else:
        data = dict(row)
    if not unmasked:
        data["resident_id"] = mask_resident_id(data["resident_id"])
        data["disability_certificate_no"] = mask_certificate_number(
            data["disability_certificate_no"]
        )
    data["in_school"] = data["school_stage"] in IN_SCHOOL
    return Member.model_validate(data)
