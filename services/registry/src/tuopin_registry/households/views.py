"""Households as the wire shows them: personal identifiers masked unless the caller may see them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import to_json

from tuopin_registry.assessments.rules import IN_SCHOOL
from tuopin_registry.members.models import MemberRow
from tuopin_registry.members.views import member_view
from tuopin_shared.contracts.identity import mask_resident_id
from tuopin_shared.contracts.masking import mask_certificate_number, mask_phone
from tuopin_shared.contracts.registry import Household, Member

_HOUSEHOLD_FIELDS = tuple(name for name in Household.model_fields if name != "members")
_MEMBER_FIELDS = tuple(name for name in Member.model_fields if name != "in_school")


def present(
    household: Mapping[str, Any], members: Sequence[MemberRow | Mapping[str, Any]], unmasked: bool
) -> Household:
    fields = dict(household)
    if not unmasked:
        fields["phone"] = mask_phone(fields["phone"])
    fields["members"] = [member_view(m, unmasked=unmasked) for m in members]
    return Household.model_validate(fields)


def household_json(
    household: Mapping[str, Any], members: Sequence[Mapping[str, Any]], unmasked: bool
) -> bytes:
    """The JSON ``present(...).model_dump_json()`` gives, built without validating.

    For the hottest read, whose rows come straight from the registry's own
    constrained tables: validating them again costs more than the query. A test
    holds the two forms equal.
    """
    out = {name: household[name] for name in _HOUSEHOLD_FIELDS}
    if not unmasked:
        out["phone"] = mask_phone(out["phone"])
    shown = []
    for member in members:
        item = {name: member[name] for name in _MEMBER_FIELDS}
        if not unmasked:
            item["resident_id"] = mask_resident_id(item["resident_id"])
            item["disability_certificate_no"] = mask_certificate_number(
                item["disability_certificate_no"]
            )
        item["in_school"] = item["school_stage"] in IN_SCHOOL
        shown.append(item)
    out["members"] = shown
    return to_json(out)
