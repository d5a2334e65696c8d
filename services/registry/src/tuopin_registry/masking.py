"""The masks of ``tuopin_shared.contracts`` as SQL, for output that PostgreSQL builds.

Each function returns an SQL expression over ``value`` (an SQL expression of type
text) equal to the Python mask of the same name; a test holds them equal.
"""

from __future__ import annotations


def mask_resident_id(value: str) -> str:
    return (
        f"CASE WHEN length({value}) = 18 THEN left({value}, 6) || '********' || right({value}, 4)"
        f" ELSE repeat('*', length({value})) END"
    )


def mask_certificate_number(value: str) -> str:
    # The ID number in its first 18 characters is masked like the ID itself.
    return (
        f"CASE WHEN length({value}) >= 18"
        f" THEN left({value}, 6) || '********' || substr({value}, 15)"
        f" ELSE repeat('*', length({value})) END"
    )


def mask_phone(value: str) -> str:
    return (
        f"CASE WHEN length({value}) < 8 THEN repeat('*', length({value}))"
        f" ELSE left({value}, 3) || repeat('*', length({value}) - 7) || right({value}, 4) END"
    )


def masked_member_payload(payload: str) -> str:
    """A member's feed payload (jsonb) with its identifiers masked."""
    resident_id = f"({payload} ->> 'resident_id')"
    certificate = f"({payload} ->> 'disability_certificate_no')"
    return (
        f"{payload} || jsonb_build_object("
        f"'resident_id', {mask_resident_id(resident_id)}, "
        f"'disability_certificate_no', {mask_certificate_number(certificate)})"
    )
