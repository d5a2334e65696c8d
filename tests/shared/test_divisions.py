import pytest
from pydantic import BaseModel, ValidationError

from tuopin_shared.contracts.divisions import (
    Division,
    DivisionCode,
    division_contains,
    division_level,
    division_parent,
    division_prefix,
    normalise_division_code,
)
from tuopin_shared.contracts.enums import DivisionLevel

SICHUAN = "510000000000"
ZIGONG = "510300000000"
GONGJING = "510303000000"
AIYE_TOWN = "510303100000"
AIYE_VILLAGE = "510303100201"
SIBLING_TOWN = "510303101000"
SIBLING_TOWN_VILLAGE = "510303101201"
OTHER_COUNTY = "510304000000"


class Household(BaseModel):
    division: DivisionCode


@pytest.mark.parametrize(
    ("code", "level"),
    [
        (SICHUAN, DivisionLevel.PROVINCE),
        (ZIGONG, DivisionLevel.CITY),
        (GONGJING, DivisionLevel.COUNTY),
        (AIYE_TOWN, DivisionLevel.TOWN),
        (AIYE_VILLAGE, DivisionLevel.VILLAGE),
        # Trailing zeros inside a segment are significant: village 010.
        ("510303100010", DivisionLevel.VILLAGE),
    ],
)
def test_levels(code: str, level: DivisionLevel) -> None:
    assert division_level(code) is level


@pytest.mark.parametrize(
    ("code", "parent"),
    [
        (AIYE_VILLAGE, AIYE_TOWN),
        (AIYE_TOWN, GONGJING),
        (GONGJING, ZIGONG),
        (ZIGONG, SICHUAN),
        (SICHUAN, None),
    ],
)
def test_parents(code: str, parent: str | None) -> None:
    assert division_parent(code) == parent


def test_town_directly_under_a_city_has_the_city_as_parent() -> None:
    # Dongguan has no counties; its towns hang straight off the city.
    assert division_level("441900003000") is DivisionLevel.TOWN
    assert division_parent("441900003000") == "441900000000"
    assert division_level("441900000000") is DivisionLevel.CITY


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        (SICHUAN, "51"),
        (ZIGONG, "5103"),
        (GONGJING, "510303"),
        (AIYE_TOWN, "510303100"),
        (AIYE_VILLAGE, "510303100201"),
    ],
)
def test_prefixes(code: str, prefix: str) -> None:
    assert division_prefix(code) == prefix


def test_village_is_inside_its_town_county_city_and_province() -> None:
    for scope in (AIYE_TOWN, GONGJING, ZIGONG, SICHUAN):
        assert division_contains(scope, AIYE_VILLAGE)


def test_scope_contains_itself() -> None:
    assert division_contains(AIYE_TOWN, AIYE_TOWN)
    assert division_contains(AIYE_VILLAGE, AIYE_VILLAGE)


def test_siblings_and_ancestors_are_not_inside() -> None:
    assert not division_contains(SIBLING_TOWN, AIYE_VILLAGE)
    assert not division_contains(AIYE_TOWN, SIBLING_TOWN_VILLAGE)
    assert not division_contains(OTHER_COUNTY, AIYE_TOWN)
    assert not division_contains(AIYE_VILLAGE, AIYE_TOWN)
    assert not division_contains(AIYE_TOWN, GONGJING)


def test_short_forms_are_accepted_everywhere() -> None:
    assert division_contains("510303", "510303100")
    assert division_parent("510303100") == GONGJING
    assert division_level("510303") is DivisionLevel.COUNTY


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("510303", GONGJING),
        ("510303100", AIYE_TOWN),
        (AIYE_VILLAGE, AIYE_VILLAGE),
        (" 510303100 ", AIYE_TOWN),
    ],
)
def test_padding(value: str, normalised: str) -> None:
    assert normalise_division_code(value) == normalised


@pytest.mark.parametrize(
    "value",
    ["", "51", "5103", "5103031", "5103031000", "5103031002011", "51030310020a", "５１０３０３"],
)
def test_bad_shapes_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"must be 6, 9 or 12 digits"):
        normalise_division_code(value)


@pytest.mark.parametrize("value", ["000000", "000000000", "000000000000"])
def test_all_zero_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"must not be all zeros"):
        normalise_division_code(value)


def test_missing_province_is_refused() -> None:
    with pytest.raises(ValueError, match=r"must start with a province code"):
        normalise_division_code("000303100000")


def test_division_value_object() -> None:
    town = Division("510303100")
    assert town == Division(AIYE_TOWN)
    assert hash(town) == hash(Division(AIYE_TOWN))
    assert str(town) == AIYE_TOWN
    assert town.level is DivisionLevel.TOWN
    assert town.prefix == "510303100"
    assert town.parent == Division(GONGJING)
    assert Division(SICHUAN).parent is None
    assert town.contains(AIYE_VILLAGE)
    assert town.contains(Division(AIYE_VILLAGE))
    assert not town.contains(SIBLING_TOWN_VILLAGE)
    assert sorted([Division(SIBLING_TOWN), town, Division(GONGJING)]) == [
        Division(GONGJING),
        town,
        Division(SIBLING_TOWN),
    ]
    with pytest.raises(ValueError, match=r"must be 6, 9 or 12 digits"):
        Division("5103")


def test_pydantic_field_normalises() -> None:
    assert Household(division="510303100").division == AIYE_TOWN
    assert Household.model_validate_json('{"division": "510303"}').division == GONGJING


def test_pydantic_field_refuses_and_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        Household(division="5103")
    [error] = caught.value.errors()
    assert error["loc"] == ("division",)
    assert "must be 6, 9 or 12 digits" in error["msg"]


def test_pydantic_field_refuses_numbers() -> None:
    # A number would have lost any leading zeros before it got here.
    with pytest.raises(ValidationError):
        Household.model_validate({"division": 510303})


def test_json_schema() -> None:
    schema = Household.model_json_schema()["properties"]["division"]
    assert schema["type"] == "string"
    assert schema["pattern"] == "^[0-9]{6}([0-9]{3}){0,2}$"
    assert schema["examples"] == ["510303100000"]
