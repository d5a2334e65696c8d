"""Amounts of money in yuan, exact to the fen (0.01 yuan).

Amounts are ``Decimal`` everywhere and travel on the wire as strings such as
"100.00": a JSON number is a binary float to most clients, and a float
cannot hold most fen amounts exactly.
"""

import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
)

__all__ = ["FEN", "Money", "NonNegativeMoney", "round_fen"]

FEN = Decimal("0.01")

# A private context so that neither rounding nor precision depends on
# whatever the thread's current decimal context happens to be.
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP, traps=[InvalidOperation])

# What a string amount may look like. Decimal() alone would also take
# "1e3", "1_000", full-width digits and "Infinity", none of which anyone
# should be sending as an amount.
_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?")

# Pydantic hands JSON numbers over as binary floats. Any decimal with at
# most 15 significant digits survives that trip exactly, which with two
# decimal places covers every amount below 10^13 yuan; beyond that digits
# could change silently, so larger amounts must be sent as strings.
_JSON_NUMBER_LIMIT = 10**13


def round_fen(value: Decimal) -> Decimal:
    """Round to the fen, halves away from zero: 0.005 -> 0.01, -0.005 -> -0.01.

    This is the project's one rounding rule for money. It is the 四舍五入
    people expect on payment lists, which Decimal's default half-even
    rounding would contradict on exact halves.
    """
    if not isinstance(value, Decimal):
        raise TypeError(f"round_fen needs a Decimal, got {type(value).__name__}")
    return _without_negative_zero(value.quantize(FEN, context=_CONTEXT))


def _coerce_input(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, float):
        if info.mode == "python":
            raise ValueError(
                "amount must not be a float, which cannot hold most amounts exactly; "
                "pass a Decimal, an int or a string such as '100.50'"
            )
        if not math.isfinite(value):
            raise ValueError("amount must be a finite number")
        if abs(value) >= _JSON_NUMBER_LIMIT:
            raise ValueError(
                f"amounts of {_JSON_NUMBER_LIMIT} or more must be sent as a string "
                "to keep every digit"
            )
        # repr() gives the shortest decimal that reads back as this float,
        # which is the number the client wrote whenever that had at most 15
        # significant digits (see the limit above). A longer one cannot be
        # recovered; it has too many decimal places to be valid anyway, and
        # is refused unless the float happens to land on a whole fen.
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN_AMOUNT.fullmatch(text):
            raise ValueError(
                f"amount must be a plain decimal number such as '100.50', got {value!r}"
            )
        return text
    return value


def _to_fen(value: Decimal) -> Decimal:
    try:
        exact = value.quantize(FEN, context=_CONTEXT)
    except InvalidOperation:
        raise ValueError("amount is too large") from None
    # Refuse rather than round: a third decimal place means the amount was
    # computed or typed wrongly upstream, and rounding would hide that.
    if exact != value:
        raise ValueError("amount must have at most 2 decimal places")
    return _without_negative_zero(exact)


def _refuse_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("amount must not be negative")
    return value


def _without_negative_zero(value: Decimal) -> Decimal:
    # Decimal keeps the sign of zero, and "-0.00" on a statement looks like
    # a debit that is not there.
    return value.copy_abs() if value.is_zero() else value


def _as_string(value: Decimal) -> str:
    # The "f" format never switches to exponent notation, unlike str().
    return format(value, "f")


def _json_schema(pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": pattern,
            "description": description,
            "examples": ["100.00"],
        }
    )


Money = Annotated[
    Decimal,
    BeforeValidator(_coerce_input),
    AfterValidator(_to_fen),
    PlainSerializer(_as_string, return_type=str, when_used="json"),
    _json_schema(
        r"^-?[0-9]+(\.[0-9]{1,2})?$",
        "Amount in yuan with at most 2 decimal places, sent as a string.",
    ),
]
"""An amount in yuan, exact to the fen; negative amounts (recoveries) are allowed."""

NonNegativeMoney = Annotated[
    Money,
    AfterValidator(_refuse_negative),
    _json_schema(
        r"^[0-9]+(\.[0-9]{1,2})?$",
        "Non-negative amount in yuan with at most 2 decimal places, sent as a string.",
    ),
]
"""An amount in yuan, exact to the fen, that may not be below zero."""
