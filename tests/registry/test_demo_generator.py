"""The demo district generator: deterministic, valid against the schema, and realistic."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Table

from tuopin_registry.assessments.rules import IN_SCHOOL, age_on
from tuopin_registry.demo.district import (
    AIYE_TOWN_CODE,
    DISTRICT_CODE,
    demo_divisions,
    demo_parameter_set,
)
from tuopin_registry.demo.generator import (
    ACTOR,
    ASSESSMENT_COLUMNS,
    DEFAULT_PERSONS,
    HOUSEHOLD_COLUMNS,
    INCOME_COLUMNS,
    MEMBER_COLUMNS,
    STATUS_CHANGE_COLUMNS,
    DemoDistrict,
    ResidentIdAllocator,
    generate,
)
from tuopin_registry.models import (
    AssessmentRow,
    HouseholdRow,
    IncomeRow,
    MemberRow,
    StatusChangeRow,
)
from tuopin_registry.status.rules import ALLOWED, INITIAL
from tuopin_shared.contracts.divisions import division_level, division_parent
from tuopin_shared.contracts.enums import DivisionLevel, PovertyStatus, SchoolStage, Sex
from tuopin_shared.contracts.identity import parse_resident_id
from tuopin_shared.contracts.money import round_fen

YEAR = 2020
LINE = Decimal("4300.00")
END_OF_YEAR = date(YEAR, 12, 31)
Row = dict[str, Any]
STATUS = HOUSEHOLD_COLUMNS.index("status")


@dataclass
class Rows:
    households: list[Row]
    members: list[Row]
    incomes: list[Row]
    assessments: list[Row]
    status_changes: list[Row]

    def members_by_household(self) -> dict[Any, list[Row]]:
        grouped: dict[Any, list[Row]] = defaultdict(list)
        for member in self.members:
            grouped[member["household_id"]].append(member)
        return grouped


def materialise(district: DemoDistrict, households_per_batch: int = 5_000) -> Rows:
    rows = Rows([], [], [], [], [])
    for batch in district.batches(households_per_batch):
        for target, columns, records in (
            (rows.households, HOUSEHOLD_COLUMNS, batch.households),
            (rows.members, MEMBER_COLUMNS, batch.members),
            (rows.incomes, INCOME_COLUMNS, batch.incomes),
            (rows.assessments, ASSESSMENT_COLUMNS, batch.assessments),
            (rows.status_changes, STATUS_CHANGE_COLUMNS, batch.status_changes),
        ):
            for record in records:
                assert len(record) == len(columns)
                target.append(dict(zip(columns, record, strict=True)))
    return rows


@pytest.fixture(scope="module")
def rows() -> Rows:
    # Big enough for rates to settle, small enough to generate in about a second.
    return materialise(generate(20_000, seed=11))


# ------------------------------------------------------------------ determinism


def test_the_same_seed_gives_the_same_rows_whatever_the_batch_size() -> None:
    first = materialise(generate(3_000, seed=5))
    again = materialise(generate(3_000, seed=5), households_per_batch=7)
    assert first == again


def test_a_different_seed_gives_a_different_district() -> None:
    one = materialise(generate(3_000, seed=5))
    other = materialise(generate(3_000, seed=6))
    assert {h["id"] for h in one.households}.isdisjoint({h["id"] for h in other.households})
    assert [m["resident_id"] for m in one.members] != [m["resident_id"] for m in other.members]
    assert [i["net_income"] for i in one.incomes] != [i["net_income"] for i in other.incomes]


def test_generate_refuses_an_empty_district_or_a_year_without_history() -> None:
    with pytest.raises(ValueError, match="at least one person"):
        generate(0, seed=1)
    with pytest.raises(ValueError, match="2016 or later"):
        generate(100, seed=1, year=2015)


def test_the_default_size_is_gongjing_lifted_out_population() -> None:
    assert DEFAULT_PERSONS == 11_226


# ------------------------------------------------------------------ the schema


@pytest.mark.parametrize(
    ("columns", "table"),
    [
        (HOUSEHOLD_COLUMNS, HouseholdRow.__table__),
        (MEMBER_COLUMNS, MemberRow.__table__),
        (INCOME_COLUMNS, IncomeRow.__table__),
        (ASSESSMENT_COLUMNS, AssessmentRow.__table__),
        (STATUS_CHANGE_COLUMNS, StatusChangeRow.__table__),
    ],
)
def test_records_follow_the_tables_column_order_and_leave_out_only_defaults(
    columns: tuple[str, ...], table: Table
) -> None:
    names = [column.name for column in table.columns]
    assert list(columns) == [name for name in names if name in columns]
    for column in table.columns:
        if column.name not in columns:
            assert column.server_default is not None or column.identity is not None, column.name


# ------------------------------------------------------------------ people


def test_every_resident_id_is_valid_unique_and_matches_birth_date_and_sex(rows: Rows) -> None:
    numbers = [m["resident_id"] for m in rows.members]
    assert len(set(numbers)) == len(numbers)
    for member in rows.members:
        identity = parse_resident_id(member["resident_id"], today=END_OF_YEAR)
        assert identity.area_code == "510303"
        assert identity.birth_date == member["birth_date"]
        assert identity.sex.value == member["sex"]
        assert (int(member["resident_id"][14:17]) % 2 == 1) == (member["sex"] == Sex.MALE)


def test_the_allocator_never_repeats_a_number_on_a_crowded_date() -> None:
    allocator = ResidentIdAllocator(random.Random(3))
    born = date(1970, 1, 1)
    issued = [allocator.allocate(born, male=True) for _ in range(1_200)]
    numbers = [number for number, _ in issued]
    assert len(set(numbers)) == len(numbers)
    # A date holds 499 men; the rest are moved to the days just before it.
    assert Counter(day for _, day in issued) == {
        born: 499,
        born - timedelta(days=1): 499,
        born - timedelta(days=2): 202,
    }
    for number, day in issued:
        identity = parse_resident_id(number, today=END_OF_YEAR)
        assert identity.birth_date == day
        assert identity.sex is Sex.MALE


def test_every_household_has_one_head_and_one_to_six_members(rows: Rows) -> None:
    assert len(rows.members) == 20_000
    by_household = rows.members_by_household()
    assert set(by_household) == {h["id"] for h in rows.households}
    sizes = [len(members) for members in by_household.values()]
    assert set(sizes) <= set(range(1, 7))
    assert 2.7 <= statistics.mean(sizes) <= 3.4
    for members in by_household.values():
        assert [m["relation_to_head"] for m in members].count("head") == 1


def test_relations_fit_the_ages(rows: Rows) -> None:
    on = date(YEAR, 9, 1)
    for members in rows.members_by_household().values():
        [head] = [m for m in members if m["relation_to_head"] == "head"]
        head_age = age_on(head["birth_date"], on)
        assert head_age >= 28
        for member in members:
            age = age_on(member["birth_date"], on)
            relation = member["relation_to_head"]
            if relation in ("son", "daughter"):
                assert head_age - age >= 20
            elif relation in ("grandson", "granddaughter"):
                assert head_age - age >= 40
            elif relation in ("father", "mother", "father_in_law", "mother_in_law"):
                assert age - head_age >= 20
            elif relation == "spouse":
                assert abs(age - head_age) <= 6
                assert member["sex"] != head["sex"]


def test_the_population_is_old_with_children(rows: Rows) -> None:
    on = date(YEAR, 9, 1)
    ages = [age_on(m["birth_date"], on) for m in rows.members]
    assert 0.22 <= sum(a >= 60 for a in ages) / len(ages) <= 0.40
    assert 0.15 <= sum(a < 16 for a in ages) / len(ages) <= 0.28
    assert max(ages) <= 100


def test_about_eight_percent_are_disabled_with_consistent_certificates(rows: Rows) -> None:
    disabled = [m for m in rows.members if m["disability_category"] is not None]
    assert 0.065 <= len(disabled) / len(rows.members) <= 0.095
    for member in rows.members:
        has = member["disability_category"] is not None
        assert (member["disability_grade"] is not None) == has
        assert (member["disability_certificate_no"] is not None) == has
        assert (member["disability_certified_on"] is not None) == has
        assert (member["health_status"] == "disabled") == has
    for member in disabled:
        assert member["disability_grade"] in (1, 2, 3, 4)
        assert member["disability_certificate_no"].startswith(member["resident_id"])
        assert member["birth_date"] < member["disability_certified_on"] <= date(YEAR, 8, 31)
    illnesses = Counter(m["health_status"] for m in rows.members)
    assert illnesses["chronic_illness"] > illnesses["serious_illness"] > 0


def test_every_child_of_school_age_is_in_school_or_flagged(rows: Rows) -> None:
    assessed_on = {a["household_id"]: a["assessed_on"] for a in rows.assessments}
    children = [
        m
        for m in rows.members
        if 6 <= age_on(m["birth_date"], assessed_on[m["household_id"]]) <= 15
    ]
    assert children
    for child in children:
        stage = SchoolStage(child["school_stage"])
        assert stage in IN_SCHOOL or stage is SchoolStage.DROPPED_OUT or child["school_exempt"]
    in_school = sum(SchoolStage(c["school_stage"]) in IN_SCHOOL for c in children)
    assert in_school / len(children) >= 0.97
    # A dropout who is not exempt fails the household's education guarantee.
    failing = {
        c["household_id"]
        for c in children
        if SchoolStage(c["school_stage"]) not in IN_SCHOOL and not c["school_exempt"]
    }
    for assessment in rows.assessments:
        assert assessment["education_secure"] == (assessment["household_id"] not in failing)


def test_some_young_adults_study_beyond_compulsory_school(rows: Rows) -> None:
    on = date(YEAR, 9, 1)
    stages = Counter(
        m["school_stage"] for m in rows.members if 16 <= age_on(m["birth_date"], on) <= 22
    )
    for stage in ("senior_secondary", "secondary_vocational", "undergraduate"):
        assert stages[stage] > 0


def test_labour_and_work_fit_age_and_health(rows: Rows) -> None:
    on = date(YEAR, 9, 1)
    employed = 0
    for member in rows.members:
        age = age_on(member["birth_date"], on)
        works = member["employment_status"] != "unemployed"
        employed += works
        assert works == (member["months_worked"] > 0) == (member["employment_place"] is not None)
        assert 0 <= member["months_worked"] <= 12
        if age < 16:
            assert member["labour_capacity"] == "none"
            assert not works
        if works:
            assert 16 <= age < 65
            assert member["labour_capacity"] in ("skilled", "ordinary", "weak")
        if member["disability_grade"] in (1, 2) and 16 <= age < 60:
            assert member["labour_capacity"] in ("lost", "none")
    assert 0.2 <= employed / len(rows.members) <= 0.5
    places = Counter(m["employment_status"] for m in rows.members)
    assert places["migrant"] > places["self_employed"] > 0
    assert places["local"] > 0


def test_insurance_and_pensions(rows: Rows) -> None:
    on = date(YEAR, 9, 1)
    insured = sum(m["basic_medical_insured"] for m in rows.members)
    assert insured / len(rows.members) >= 0.98
    adults = []
    for member in rows.members:
        assert member["critical_illness_insured"] == member["basic_medical_insured"]
        assert not (member["resident_pension_enrolled"] and member["employee_pension_enrolled"])
        age = age_on(member["birth_date"], on)
        if 16 <= age < 60 and member["school_stage"] == "not_in_school":
            adults.append(member)
    assert sum(m["resident_pension_enrolled"] for m in adults) / len(adults) >= 0.8
    assert any(m["employee_pension_enrolled"] for m in adults)


def test_dibao_goes_to_whole_households_and_tekun_to_old_people_alone(rows: Rows) -> None:
    on = date(YEAR, 9, 1)
    by_household = rows.members_by_household()
    dibao = 0
    for members in by_household.values():
        flags = {m["dibao"] for m in members}
        assert len(flags) == 1
        dibao += flags == {True}
    assert 0.10 <= dibao / len(by_household) <= 0.20
    tekun = [m for m in rows.members if m["tekun"]]
    assert tekun
    for member in tekun:
        assert len(by_household[member["household_id"]]) == 1
        assert age_on(member["birth_date"], on) >= 60
        assert not member["dibao"]


def test_a_few_members_died_during_the_year_never_the_head(rows: Rows) -> None:
    deceased = [m for m in rows.members if m["deceased_on"] is not None]
    assert 0 < len(deceased) < 0.02 * len(rows.members)
    for member in deceased:
        assert member["deceased_on"].year == YEAR
        assert member["relation_to_head"] != "head"


# ------------------------------------------------------------------ households


def test_every_status_is_present_from_500_persons() -> None:
    for seed in range(1, 6):
        statuses = {h[STATUS] for h in generate(500, seed=seed).households()}
        assert statuses == {status.value for status in PovertyStatus}


def test_most_households_are_lifted_out(rows: Rows) -> None:
    shares = Counter(h["status"] for h in rows.households)
    total = len(rows.households)
    assert 0.75 <= shares["lifted_out"] / total <= 0.9
    for status in PovertyStatus:
        assert shares[status.value] > 0
    causes = Counter(h["main_poverty_cause"] for h in rows.households)
    # Illness and disability are frequent causes, illness the most frequent.
    top = [cause for cause, _ in causes.most_common(3)]
    assert top[0] == "illness"
    assert "disability" in top


def test_households_live_in_villages_all_over_the_district(rows: Rows) -> None:
    villages = {d.code for d in demo_divisions() if d.level is DivisionLevel.VILLAGE}
    used = Counter(h["division_code"] for h in rows.households)
    assert set(used) == villages
    assert all(h["version"] == 1 and h["phone"] is None for h in rows.households)


def test_status_histories_make_only_allowed_moves_in_date_order(rows: Rows) -> None:
    history: dict[Any, list[Row]] = defaultdict(list)
    for change in rows.status_changes:
        history[change["household_id"]].append(change)
    assert set(history) == {h["id"] for h in rows.households}
    for household in rows.households:
        changes = history[household["id"]]
        assert changes[0]["from_status"] is None
        assert PovertyStatus(changes[0]["to_status"]) in INITIAL
        for before, after in itertools.pairwise(changes):
            assert after["from_status"] == before["to_status"]
            assert PovertyStatus(after["to_status"]) in ALLOWED[PovertyStatus(before["to_status"])]
            assert before["effective_on"] < after["effective_on"]
        assert changes[-1]["to_status"] == household["status"]
        assert changes[-1]["effective_on"] <= END_OF_YEAR
        assert all(c["actor"] == ACTOR and c["reason"] for c in changes)

        lifts = [c for c in changes if c["to_status"] == "lifted_out"]
        assert all(c["lifted_out_year"] == c["effective_on"].year for c in lifts)
        assert all(c["lifted_out_year"] is None for c in changes if c not in lifts)
        expected_lift = lifts[-1]["lifted_out_year"] if lifts else None
        assert household["lifted_out_year"] == expected_lift
        registrations = [c for c in changes if c["to_status"] == "registered_poor"]
        expected_registration = registrations[0]["effective_on"].year if registrations else None
        assert household["registered_year"] == expected_registration
        if household["status"] == "lifted_out":
            assert 2014 <= household["lifted_out_year"] <= 2019


def test_incomes_obey_the_income_rule(rows: Rows) -> None:
    by_household = rows.members_by_household()
    years: dict[Any, set[int]] = defaultdict(set)
    for income in rows.incomes:
        years[income["household_id"]].add(income["year"])
        parts = [
            income[name]
            for name in (
                "wage_income",
                "business_income",
                "property_income",
                "transfer_income",
                "business_costs",
            )
        ]
        assert all(part >= 0 and part == round_fen(part) for part in parts)
        assert income["net_income"] == sum(parts[:4]) - parts[4]
        size = income["household_size"]
        assert income["per_capita_net_income"] == round_fen(income["net_income"] / size)
        # The household's size in the year, counted as the income service counts it.
        first, last = date(income["year"], 1, 1), date(income["year"], 12, 31)
        assert size == sum(
            1
            for m in by_household[income["household_id"]]
            if m["birth_date"] <= last and (m["deceased_on"] is None or m["deceased_on"] >= first)
        )
        assert income["needs_review"] == bool(income["review_reasons"])
        assert income["recorded_by"] == ACTOR
    assert all(found == {YEAR - 1, YEAR} for found in years.values())
    assert set(years) == {h["id"] for h in rows.households}


def test_incomes_spread_around_the_line_by_status(rows: Rows) -> None:
    status = {h["id"]: h["status"] for h in rows.households}
    lifted_in = {h["id"]: h["lifted_out_year"] for h in rows.households}
    this_year: dict[str, list[Decimal]] = defaultdict(list)
    for income in rows.incomes:
        if income["year"] == YEAR:
            this_year[status[income["household_id"]]].append(income["per_capita_net_income"])
        elif lifted_in[income["household_id"]] == YEAR - 1:
            # Lifting out last year needed last year's income at or above the line.
            assert income["per_capita_net_income"] >= LINE
    lifted = this_year["lifted_out"]
    below = sum(value < LINE for value in lifted)
    assert 0 < below < 0.08 * len(lifted)
    medians = {name: statistics.median(values) for name, values in this_year.items()}
    assert medians["lifted_out"] > medians["monitored"] > LINE
    for poor in ("registered_poor", "returned_to_poverty", "newly_impoverished"):
        assert medians[poor] < medians["monitored"]
        assert any(value < LINE for value in this_year[poor])


def test_one_assessment_per_household_mostly_all_met(rows: Rows) -> None:
    assert Counter(a["household_id"] for a in rows.assessments) == Counter(
        {h["id"]: 1 for h in rows.households}
    )
    unmet = Counter(name for a in rows.assessments for name in a["unmet"])
    for assessment in rows.assessments:
        assert assessment["assessed_on"].year == YEAR
        assert assessment["all_met"] == (not assessment["unmet"])
        assert assessment["education_derived"] and assessment["medical_derived"]
        safe = (
            assessment["housing_grade"] in ("A", "B")
            or assessment["relocated"]
            or assessment["reinforced"]
        )
        assert assessment["housing_secure"] == safe
        assert ("housing" in assessment["unmet"]) == (not safe)
        assert ("water" in assessment["unmet"]) == (not assessment["water_secure"])
        assert assessment["assessor"] == ACTOR
    met = sum(a["all_met"] for a in rows.assessments) / len(rows.assessments)
    assert 0.8 <= met <= 0.97
    assert unmet["housing"] > 0
    assert unmet["water"] > 0
    assert unmet["medical"] > 0


# ------------------------------------------------------------------ divisions and parameters


def test_the_division_tree_is_rooted_at_gongjing_and_labels_synthetic_ones() -> None:
    divisions = {d.code: d for d in demo_divisions()}
    district = divisions[DISTRICT_CODE]
    assert district.parent_code is None
    assert district.level is DivisionLevel.COUNTY
    assert not district.synthetic and "Gongjing" in district.name
    aiye = divisions[AIYE_TOWN_CODE]
    assert not aiye.synthetic and "Aiye" in aiye.name
    assert {code for code, d in divisions.items() if not d.synthetic} == {
        DISTRICT_CODE,
        AIYE_TOWN_CODE,
    }
    for code, division in divisions.items():
        assert len(code) == 12 and code.startswith("510303")
        assert division_level(code) is division.level
        assert ("(synthetic)" in division.name) == division.synthetic
        if code != DISTRICT_CODE:
            assert division.parent_code == division_parent(code)
            assert division.parent_code in divisions
    towns = [d for d in divisions.values() if d.level is DivisionLevel.TOWN]
    assert len(towns) >= 4
    for town in towns:
        assert any(d.parent_code == town.code for d in divisions.values())
    assert f"{AIYE_TOWN_CODE[:9]}001" in divisions
    # Parents come before their children, so they can be inserted in that order.
    seen: set[str] = set()
    for division in demo_divisions():
        assert division.parent_code is None or division.parent_code in seen
        seen.add(division.code)


def test_the_2020_parameter_set_is_the_seed_line_and_national_criteria() -> None:
    parameters = demo_parameter_set()
    assert parameters.district_code == DISTRICT_CODE
    assert parameters.year == 2020
    assert parameters.income_line == Decimal("4300.00")
    assert (parameters.school_age_min, parameters.school_age_max) == (6, 15)
    assert parameters.water_min_litres == 35
    assert parameters.water_min_litres_short_area == 20
    assert parameters.water_max_fetch_minutes == 20
    assert parameters.water_max_outage_days == 36
    assert parameters.per_capita_review_ceiling == Decimal("100000.00")
    assert parameters.sources["income_line"] == "seed"
    assert set(parameters.sources) == {
        "income_line",
        "school_age_min",
        "school_age_max",
        "water_min_litres",
        "water_min_litres_short_area",
        "water_max_fetch_minutes",
        "water_max_outage_days",
        "per_capita_review_ceiling",
    }
    assert {v for k, v in parameters.sources.items() if k != "income_line"} == {"national"}
    assert demo_parameter_set(2021).sources["income_line"] == "placeholder"
