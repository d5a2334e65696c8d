"""Masking of personal identifiers shown to callers without the ``pii`` permission."""

from __future__ import annotations

from tuopin_shared.contracts.identity import mask_resident_id


def mask_certificate_number(value: str | None) -> str | None:
    """A second-generation disability certificate number is the holder's resident ID
    number plus two digits (category, grade): mask the ID part like the ID itself."""
    if value is None:
        return None
    if len(value) >= 18:
        return mask_resident_id(value[:18]) + value[18:]
    return "*" * len(value)


def mask_phone(value: str | None) -> str | None:
    """Keep the first three and last four digits ("138****5678"), as banks print them."""
    if value is None:
        return None
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
