"""Statistical division codes (统计用区划代码).

A full code has 12 digits: province (2), city (2), county (2), township (3)
and village (3). A code names the division at the deepest non-zero segment,
so Gongjing District is 510303000000 and Aiye Town in it is 510303100000.
Codes are always stored in the 12-digit form; the 6- and 9-digit forms people
type for counties and towns are padded with zeros.

Access scopes are divisions too: a record belongs to a scope when its code
starts with the scope's significant digits (``division_prefix``).
"""

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from tuopin_shared.contracts.enums import DivisionLevel

__all__ = [
    "Division",
    "DivisionCode",
    "division_contains",
    "division_level",
    "division_parent",
    "division_prefix",
    "normalise_division_code",
]

_FULL_LENGTH = 12
_ACCEPTED_LENGTHS = (6, 9, 12)

# Explicit ASCII class: str.isdigit() also accepts full-width digits.
_DIGITS = re.compile(r"[0-9]+")

# How many leading digits identify a division at each level.
_PREFIX_LENGTHS = {
    DivisionLevel.PROVINCE: 2,
    DivisionLevel.CITY: 4,
    DivisionLevel.COUNTY: 6,
    DivisionLevel.TOWN: 9,
    DivisionLevel.VILLAGE: 12,
}
_PARENT_LEVELS = {
    DivisionLevel.CITY: DivisionLevel.PROVINCE,
    DivisionLevel.COUNTY: DivisionLevel.CITY,
    DivisionLevel.TOWN: DivisionLevel.COUNTY,
    DivisionLevel.VILLAGE: DivisionLevel.TOWN,
}


def normalise_division_code(value: str) -> str:
    """Return the 12-digit form of a 6-, 9- or 12-digit division code."""
    code = value.strip()
    if len(code) not in _ACCEPTED_LENGTHS or not _DIGITS.fullmatch(code):
        raise ValueError(f"division code must be 6, 9 or 12 digits, got {value!r}")
    code = code.ljust(_FULL_LENGTH, "0")
    if code == "0" * _FULL_LENGTH:
        raise ValueError("division code must not be all zeros")
    # Without a province the remaining segments would match nothing real,
    # yet the prefix rules would still treat the code as a valid scope.
    if code.startswith("00"):
        raise ValueError(f"division code must start with a province code, not 00: {value!r}")
    return code


def division_level(code: str) -> DivisionLevel:
    """Return the level named by a code: the deepest segment that is not all zeros."""
    code = normalise_division_code(code)
    for level in (
        DivisionLevel.PROVINCE,
        DivisionLevel.CITY,
        DivisionLevel.COUNTY,
        DivisionLevel.TOWN,
    ):
        if _is_zeros(code[_PREFIX_LENGTHS[level] :]):
            return level
    return DivisionLevel.VILLAGE


def division_prefix(code: str) -> str:
    """Return the digits a code shares with every division inside it."""
    code = normalise_division_code(code)
    return code[: _PREFIX_LENGTHS[division_level(code)]]


def division_parent(code: str) -> str | None:
    """Return the code of the division one level up, or None for a province.

    Some towns sit directly under a city with no county (Dongguan's, for
    example, are 441900xxx), so the parent's own level can be higher than
    the nominal one.
    """
    code = normalise_division_code(code)
    parent_level = _PARENT_LEVELS.get(division_level(code))
    if parent_level is None:
        return None
    return code[: _PREFIX_LENGTHS[parent_level]].ljust(_FULL_LENGTH, "0")


def division_contains(scope: str, code: str) -> bool:
    """Whether ``code`` is ``scope`` itself or lies inside it."""
    return normalise_division_code(code).startswith(division_prefix(scope))


@dataclass(frozen=True, order=True)
class Division:
    """A division code as a value object; ordering follows the code."""

    code: str

    def __post_init__(self) -> None:
        # Normalised on construction so that Division("510303") and
        # Division("510303000000") are equal and hash alike.
        object.__setattr__(self, "code", normalise_division_code(self.code))

    def __str__(self) -> str:
        return self.code

    @property
    def level(self) -> DivisionLevel:
        return division_level(self.code)

    @property
    def prefix(self) -> str:
        return division_prefix(self.code)

    @property
    def parent(self) -> "Division | None":
        parent = division_parent(self.code)
        return None if parent is None else Division(parent)

    def contains(self, other: "Division | str") -> bool:
        return division_contains(self.code, str(other))


def _is_zeros(digits: str) -> bool:
    return digits.strip("0") == ""


DivisionCode = Annotated[
    str,
    AfterValidator(normalise_division_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{6}([0-9]{3}){0,2}$",
            "description": (
                "Statistical division code: 12 digits, or 6 (county) or 9 (town) "
                "digits, which are padded with zeros to 12."
            ),
            "examples": ["510303100000"],
        }
    ),
]
"""A division code, validated and normalised to its 12-digit form."""
