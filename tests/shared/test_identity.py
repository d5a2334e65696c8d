from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tuopin_shared.contracts.enums import Sex
from tuopin_shared.contracts.identity import (
    ResidentId,
    ResidentIdNumber,
    check_character,
    make_resident_id,
    mask_resident_id,
    parse_resident_id,
)

# Pinned so the future-date rule does not make results depend on the day
# the suite runs.
TODAY = date(2025, 6, 1)

# The worked example printed in GB 11643-1999 itself, so the check
# character algorithm is tested against an outside answer.
STANDARD_EXAMPLE = "11010519491231002X"


class Resident(BaseModel):
    id_number: ResidentIdNumber


def with_last(number: str, last: str) -> str:
    return number[:17] + last


def test_standard_example_is_valid() -> None:
    assert check_character(STANDARD_EXAMPLE[:17]) == "X"
    parsed = parse_resident_id(STANDARD_EXAMPLE, today=TODAY)
    assert parsed.number == STANDARD_EXAMPLE
    assert parsed.area_code == "110105"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex is Sex.FEMALE


def test_valid_number_with_digit_check_character() -> None:
    number = make_resident_id("510303", date(1985, 6, 15), 123)
    assert number == "510303198506151239"
    parsed = parse_resident_id(number, today=TODAY)
    assert parsed == ResidentId(
        number=number, area_code="510303", birth_date=date(1985, 6, 15), sex=Sex.MALE
    )


def test_valid_number_whose_check_character_is_x() -> None:
    number = make_resident_id("510303", date(1985, 6, 9), 123)
    assert number.endswith("X")
    assert parse_resident_id(number, today=TODAY).number == number


def test_lower_case_x_and_whitespace_are_normalised() -> None:
    number = make_resident_id("510303", date(1985, 6, 9), 123)
    parsed = parse_resident_id(f"  {number[:17]}x\n", today=TODAY)
    assert parsed.number == number


def test_sex_follows_sequence_parity() -> None:
    male = parse_resident_id(make_resident_id("510303", date(1990, 1, 1), 7), today=TODAY)
    female = parse_resident_id(make_resident_id("510303", date(1990, 1, 1), 8), today=TODAY)
    assert male.sex is Sex.MALE
    assert female.sex is Sex.FEMALE


def test_wrong_check_character_names_the_expected_one() -> None:
    number = make_resident_id("510303", date(1985, 6, 9), 123)
    with pytest.raises(ValueError, match=r"check character should be 'X', got '3'"):
        parse_resident_id(with_last(number, "3"), today=TODAY)


def test_x_where_a_digit_is_expected_is_refused() -> None:
    number = make_resident_id("510303", date(1985, 6, 15), 123)
    with pytest.raises(ValueError, match=r"check character should be '9', got 'X'"):
        parse_resident_id(with_last(number, "X"), today=TODAY)


def test_impossible_birth_date_is_refused() -> None:
    first17 = "510303" + "19990230" + "123"
    with pytest.raises(ValueError, match=r"birth date 19990230 is not a real date"):
        parse_resident_id(first17 + check_character(first17), today=TODAY)


def test_month_thirteen_is_refused() -> None:
    first17 = "510303" + "19991331" + "123"
    with pytest.raises(ValueError, match=r"birth date 19991331 is not a real date"):
        parse_resident_id(first17 + check_character(first17), today=TODAY)


def test_future_birth_date_is_refused() -> None:
    tomorrow = TODAY + timedelta(days=1)
    with pytest.raises(ValueError, match=r"birth date is in the future"):
        parse_resident_id(make_resident_id("510303", tomorrow, 1), today=TODAY)


def test_born_today_is_accepted() -> None:
    parsed = parse_resident_id(make_resident_id("510303", TODAY, 1), today=TODAY)
    assert parsed.birth_date == TODAY


def test_birth_date_before_1900_is_refused() -> None:
    with pytest.raises(ValueError, match=r"before 1900-01-01"):
        parse_resident_id(make_resident_id("440524", date(1899, 12, 31), 1), today=TODAY)


def test_legacy_fifteen_digit_number_is_refused_with_advice() -> None:
    with pytest.raises(ValueError, match=r"legacy 15-digit") as caught:
        parse_resident_id("510303850615123", today=TODAY)
    assert "must be converted to the 18-digit form" in str(caught.value)


@pytest.mark.parametrize("value", ["", "51030319850615123", "5103031985061512390"])
def test_wrong_length_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"must be 18 characters"):
        parse_resident_id(value, today=TODAY)


@pytest.mark.parametrize(
    "value",
    [
        "5103031985O6151239",  # letter O for zero
        "X10303198506151239",
        "51030319850615123-",
        "５１０３０３198506151239",  # full-width digits
    ],
)
def test_non_digits_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"must contain only digits except a final X"):
        parse_resident_id(value, today=TODAY)


def test_default_today_accepts_an_ordinary_number() -> None:
    number = make_resident_id("510303", date(1985, 6, 15), 123)
    assert parse_resident_id(number).number == number


def test_mask_keeps_area_code_sequence_and_check_character() -> None:
    number = make_resident_id("510303", date(1985, 6, 9), 123)
    assert mask_resident_id(number) == "510303********123X"
    assert mask_resident_id(number[:17] + "x") == "510303********123X"


def test_mask_hides_everything_of_an_unexpected_shape() -> None:
    assert mask_resident_id("510303850615123") == "*" * 15


def test_repr_does_not_reveal_the_number() -> None:
    number = make_resident_id("510303", date(1985, 6, 15), 123)
    text = repr(parse_resident_id(number, today=TODAY))
    assert number not in text
    assert "510303********1239" in text


def test_check_character_needs_seventeen_digits() -> None:
    with pytest.raises(ValueError, match=r"17 digits"):
        check_character("1234")


def test_make_resident_id_refuses_bad_parts() -> None:
    with pytest.raises(ValueError, match=r"area code must be 6 digits"):
        make_resident_id("51030", date(1985, 6, 15), 1)
    with pytest.raises(ValueError, match=r"sequence must be between 0 and 999"):
        make_resident_id("510303", date(1985, 6, 15), 1000)
    with pytest.raises(ValueError, match=r"sequence must be between 0 and 999"):
        make_resident_id("510303", date(1985, 6, 15), -1)


def test_pydantic_field_accepts_and_normalises() -> None:
    number = make_resident_id("510303", date(1985, 6, 9), 123)
    resident = Resident(id_number=f" {number[:17]}x ")
    assert resident.id_number == number
    assert Resident.model_validate_json(f'{{"id_number": "{number}"}}').id_number == number


def test_pydantic_field_refuses_and_names_the_field() -> None:
    number = make_resident_id("510303", date(1985, 6, 9), 123)
    with pytest.raises(ValidationError) as caught:
        Resident(id_number=with_last(number, "3"))
    [error] = caught.value.errors()
    assert error["loc"] == ("id_number",)
    assert "check character should be 'X', got '3'" in error["msg"]
    assert "id_number" in str(caught.value)


def test_pydantic_field_refuses_non_strings() -> None:
    with pytest.raises(ValidationError):
        Resident.model_validate({"id_number": 510303198506151239})


def test_json_schema_describes_the_canonical_form() -> None:
    schema = Resident.model_json_schema()["properties"]["id_number"]
    assert schema["type"] == "string"
    assert schema["minLength"] == 18
    assert schema["maxLength"] == 18
    assert schema["pattern"] == "^[0-9]{17}[0-9Xx]$"
    assert schema["description"]
    [example] = schema["examples"]
    assert parse_resident_id(example, today=TODAY).number == example


area_codes = st.from_regex(r"[0-9]{6}", fullmatch=True)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


@given(area_code=area_codes, birth_date=birth_dates, sequence=sequences)
def test_made_numbers_round_trip(area_code: str, birth_date: date, sequence: int) -> None:
    number = make_resident_id(area_code, birth_date, sequence)
    parsed = parse_resident_id(number, today=TODAY)
    assert parsed.number == number
    assert parsed.area_code == area_code
    assert parsed.birth_date == birth_date
    assert parsed.sex is (Sex.MALE if sequence % 2 else Sex.FEMALE)


@given(first17=st.from_regex(r"[0-9]{17}", fullmatch=True))
def test_check_character_follows_the_standards_definition(first17: str) -> None:
    # GB 11643-1999 as written: the digit i places from the right weighs 2^i mod 11,
    # and the check character brings the weighted sum to 1 modulo 11 (10 is X).
    total = sum(int(digit) * pow(2, 17 - index, 11) for index, digit in enumerate(first17))
    expected = (12 - total % 11) % 11
    assert check_character(first17) == ("X" if expected == 10 else str(expected))


@given(
    area_code=area_codes,
    birth_date=birth_dates,
    sequence=sequences,
    position=st.integers(min_value=0, max_value=16),
    shift=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_change_is_caught(
    area_code: str, birth_date: date, sequence: int, position: int, shift: int
) -> None:
    number = make_resident_id(area_code, birth_date, sequence)
    replacement = str((int(number[position]) + shift) % 10)
    altered = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(ValueError):
        parse_resident_id(altered, today=TODAY)
