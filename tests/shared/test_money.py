from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tuopin_shared.contracts.money import FEN, Money, NonNegativeMoney, round_fen


class Payment(BaseModel):
    amount: Money


class Grant(BaseModel):
    amount: NonNegativeMoney


def refusal(model: type[BaseModel], value: object) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"amount": value})
    [error] = caught.value.errors()
    assert error["loc"] == ("amount",)
    return str(error["msg"])


def json_refusal(model: type[BaseModel], text: str) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(f'{{"amount": {text}}}')
    [error] = caught.value.errors()
    return str(error["msg"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("100"), "100.00"),
        (Decimal("100.5"), "100.50"),
        (Decimal("100.500"), "100.50"),  # trailing zeros lose nothing
        (100, "100.00"),
        (0, "0.00"),
        ("100", "100.00"),
        ("100.5", "100.50"),
        ("100.50", "100.50"),
        (" 100.50 ", "100.50"),
        ("-35.2", "-35.20"),
        ("-0", "0.00"),
    ],
)
def test_accepted_inputs_are_quantized_to_two_places(value: object, expected: str) -> None:
    amount = Payment.model_validate({"amount": value}).amount
    assert isinstance(amount, Decimal)
    assert str(amount) == expected
    assert amount.as_tuple().exponent == -2


def test_negative_zero_is_stored_as_zero() -> None:
    amount = Payment(amount=Decimal("-0.00")).amount
    assert not amount.is_signed()


@pytest.mark.parametrize("value", [Decimal("100.505"), "100.505", "0.001", Decimal("1E-3")])
def test_three_decimal_places_are_refused_not_rounded(value: object) -> None:
    assert "at most 2 decimal places" in refusal(Payment, value)


@pytest.mark.parametrize("value", [100.5, 100.0, 0.1])
def test_python_floats_are_refused(value: float) -> None:
    assert "must not be a float" in refusal(Payment, value)


@pytest.mark.parametrize("value", ["1e3", "1_000", "１００", "+5", ".5", "5.", "NaN", "abc", ""])
def test_strings_must_be_plain_decimals(value: str) -> None:
    assert "plain decimal number" in refusal(Payment, value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_decimals_are_refused(value: Decimal) -> None:
    refusal(Payment, value)


def test_booleans_are_refused() -> None:
    refusal(Payment, True)


def test_absurdly_large_amounts_are_refused() -> None:
    assert "too large" in refusal(Payment, Decimal("1E+40"))


def test_json_numbers_are_read_exactly() -> None:
    assert Payment.model_validate_json('{"amount": 100.5}').amount == Decimal("100.50")
    assert Payment.model_validate_json('{"amount": 0.1}').amount == Decimal("0.10")
    assert Payment.model_validate_json('{"amount": 100}').amount == Decimal("100.00")
    largest = Payment.model_validate_json('{"amount": 9999999999999.99}').amount
    assert largest == Decimal("9999999999999.99")


def test_json_strings_are_read() -> None:
    assert Payment.model_validate_json('{"amount": "100.5"}').amount == Decimal("100.50")


def test_json_numbers_with_three_places_are_refused() -> None:
    assert "at most 2 decimal places" in json_refusal(Payment, "100.505")


def test_json_numbers_too_large_for_a_float_must_be_strings() -> None:
    # As a float this would silently become 99999999999999.98.
    assert "must be sent as a string" in json_refusal(Payment, "99999999999999.99")
    exact = Payment.model_validate_json('{"amount": "99999999999999.99"}').amount
    assert exact == Decimal("99999999999999.99")


def test_json_output_is_a_string_and_python_output_a_decimal() -> None:
    payment = Payment(amount=Decimal("100.5"))
    assert payment.model_dump_json() == '{"amount":"100.50"}'
    assert payment.model_dump() == {"amount": Decimal("100.50")}
    assert payment.model_dump(mode="json") == {"amount": "100.50"}


def test_json_round_trip() -> None:
    payment = Payment(amount=Decimal("-1234.5"))
    assert Payment.model_validate_json(payment.model_dump_json()) == payment


def test_json_schema() -> None:
    schema = Payment.model_json_schema()["properties"]["amount"]
    assert schema["type"] == "string"
    assert schema["pattern"] == r"^-?[0-9]+(\.[0-9]{1,2})?$"
    assert schema["examples"] == ["100.00"]
    serialisation = Payment.model_json_schema(mode="serialization")["properties"]["amount"]
    assert serialisation["type"] == "string"


def test_non_negative_money() -> None:
    assert Grant(amount=Decimal("0")).amount == Decimal("0.00")
    assert Grant(amount="-0.00").amount == Decimal("0.00")
    assert "must not be negative" in refusal(Grant, "-0.01")
    assert "at most 2 decimal places" in refusal(Grant, "1.001")
    assert Grant(amount=Decimal("5")).model_dump_json() == '{"amount":"5.00"}'
    schema = Grant.model_json_schema()["properties"]["amount"]
    assert schema["pattern"] == r"^[0-9]+(\.[0-9]{1,2})?$"


def test_fen() -> None:
    assert Decimal("0.01") == FEN


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),  # half-even would give 0.02 too; the next one differs
        ("0.025", "0.03"),
        ("2.675", "2.68"),
        ("0.004", "0.00"),
        ("-0.005", "-0.01"),
        ("-0.025", "-0.03"),
        ("-0.004", "0.00"),
        ("100", "100.00"),
    ],
)
def test_round_fen_rounds_halves_away_from_zero(value: str, expected: str) -> None:
    rounded = round_fen(Decimal(value))
    assert str(rounded) == expected


def test_round_fen_refuses_floats() -> None:
    with pytest.raises(TypeError):
        round_fen(0.005)  # type: ignore[arg-type]


@given(
    st.decimals(
        min_value=Decimal("-1E12"),
        max_value=Decimal("1E12"),
        allow_nan=False,
        allow_infinity=False,
        places=6,
    )
)
def test_round_fen_moves_a_value_by_at_most_half_a_fen(value: Decimal) -> None:
    rounded = round_fen(value)
    assert abs(rounded - value) <= Decimal("0.005")
    assert rounded.as_tuple().exponent == -2


@given(
    st.decimals(
        min_value=Decimal("-1E12"),
        max_value=Decimal("1E12"),
        allow_nan=False,
        allow_infinity=False,
        places=2,
    )
)
def test_two_place_amounts_round_trip_through_json(value: Decimal) -> None:
    payment = Payment(amount=value)
    assert payment.amount == value
    assert Payment.model_validate_json(payment.model_dump_json()) == payment
    assert Payment.model_validate_json(f'{{"amount": {value}}}') == payment
