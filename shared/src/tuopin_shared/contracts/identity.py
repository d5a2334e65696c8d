"""Resident ID numbers (居民身份证号码) as defined by GB 11643-1999.

An 18-character number is a 6-digit area code, an 8-digit birth date
(YYYYMMDD), a 3-digit sequence whose parity gives the holder's sex, and an
ISO 7064 MOD 11-2 check character over the first 17 digits.
"""

import re
from dataclasses import dataclass
from datetime import date
from operator import mul
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from tuopin_shared.contracts.clock import today as china_today
from tuopin_shared.contracts.enums import Sex

__all__ = [
    "ResidentId",
    "ResidentIdNumber",
    "check_character",
    "make_resident_id",
    "mask_resident_id",
    "parse_resident_id",
]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"
# The weights are applied to the digits' ASCII codes, and what the codes add
# (the code of "0" times each weight) is taken off once: an import checks a
# million numbers, and converting each digit with int() was most of the cost.
_CODE_OFFSET = ord("0") * sum(_WEIGHTS)
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# Explicit ASCII classes: str.isdigit() and \d also accept full-width and
# other scripts' digits, which int() would then quietly convert.
_DIGITS = re.compile(r"[0-9]+")
_NUMBER_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

# A synthetic number (Gongjing District, born 1985-06-09, sequence 123) that
# happens to end in X, so API documentation shows that case too.
_EXAMPLE_NUMBER = "51030319850609123X"


def check_character(first17: str) -> str:
    """Return the check character ("0"-"9" or "X") for the first 17 digits."""
    if len(first17) != 17 or not _DIGITS.fullmatch(first17):
        raise ValueError("the check character is computed from exactly 17 digits")
    return _check_character(first17)


def _check_character(first17: str) -> str:
    """``check_character`` for 17 characters already known to be ASCII digits."""
    total = sum(map(mul, _WEIGHTS, first17.encode("ascii"))) - _CODE_OFFSET
    return _CHECK_CHARACTERS[total % 11]


@dataclass(frozen=True, repr=False, slots=True)
class ResidentId:
    """A validated resident ID number and the facts it encodes."""

    number: str
    area_code: str
    birth_date: date
    sex: Sex

    def __repr__(self) -> str:
        # The full number is personal information; keep it out of logs,
        # tracebacks and assertion messages.
        return f"ResidentId(number={mask_resident_id(self.number)!r})"


def parse_resident_id(value: str, *, today: date | None = None) -> ResidentId:
    """Validate an 18-character resident ID number and decode it.

    ``today`` defaults to the current date in China; pass it to make the
    future-birth-date check deterministic.
    """
    number = _normalise(value)
    if len(number) == 15 and _DIGITS.fullmatch(number):
        raise ValueError(
            "this is a legacy 15-digit resident ID number; "
            "it must be converted to the 18-digit form"
        )
    if len(number) != 18:
        raise ValueError(f"resident ID number must be 18 characters, got {len(number)}")
    if not _NUMBER_SHAPE.fullmatch(number):
        raise ValueError("resident ID number must contain only digits except a final X")

    # The date is checked before the check character because a mistyped
    # date digit is more helpfully reported as an impossible date.
    birth_date = _birth_date(number[6:14], today if today is not None else china_today())
    expected = _check_character(number[:17])
    if number[17] != expected:
        raise ValueError(f"check character should be {expected!r}, got {number[17]!r}")

    return ResidentId(
        number=number,
        area_code=number[:6],
        birth_date=birth_date,
        sex=Sex.MALE if number[16] in "13579" else Sex.FEMALE,
    )


def mask_resident_id(number: str) -> str:
    """Hide the eight birth-date digits for display: "510303********123X"."""
    number = _normalise(number)
    if len(number) != 18:
        # Not a shape we know which parts are safe to show, so show none.
        return "*" * len(number)
    return f"{number[:6]}{'*' * 8}{number[14:]}"


def make_resident_id(area_code: str, birth_date: date, sequence: int) -> str:
    """Build a well-formed number; an odd ``sequence`` makes it a man's.

    The birth date is deliberately not held to the 1900-to-today window so
    that tests can build numbers that ``parse_resident_id`` must refuse.
    """
    if len(area_code) != 6 or not _DIGITS.fullmatch(area_code):
        raise ValueError(f"area code must be 6 digits, got {area_code!r}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be between 0 and 999, got {sequence}")
    # Formatted by hand: strftime("%Y") does not zero-pad years before 1000.
    birth = f"{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}"
    first17 = f"{area_code}{birth}{sequence:03d}"
    return first17 + check_character(first17)


def _normalise(value: str) -> str:
    # Only a final lower-case x is folded; str.upper() on the whole string
    # could change its length (e.g. "ß" becomes "SS") and confuse the
    # length messages.
    value = value.strip()
    if value.endswith("x"):
        value = value[:-1] + "X"
    return value


def _birth_date(digits: str, today: date) -> date:
    # Eight ASCII digits are ISO 8601's basic form (YYYYMMDD), read in C since 3.11.
    try:
        born = date.fromisoformat(digits)
    except ValueError:
        raise ValueError(f"birth date {digits} is not a real date") from None
    if born < _EARLIEST_BIRTH_DATE:
        raise ValueError(f"birth date {digits} is before 1900-01-01")
    if born > today:
        raise ValueError(f"birth date is in the future ({digits})")
    return born


def _validated_number(value: str) -> str:
    return parse_resident_id(value).number


ResidentIdNumber = Annotated[
    str,
    AfterValidator(_validated_number),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 18,
            "maxLength": 18,
            "pattern": r"^[0-9]{17}[0-9Xx]$",
            "description": (
                "Resident ID number (GB 11643-1999), 18 characters; "
                "a final lower-case x is accepted and stored as X."
            ),
            "examples": [_EXAMPLE_NUMBER],
        }
    ),
]
"""A resident ID number, validated and normalised to its 18-character form."""
