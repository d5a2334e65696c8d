"""The entitlement rules, pure: each edge of POLICY.md, and what a run's lines add up to."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuopin_benefits.runs.rules import (
    PersonFacts,
    StatusChange,
    month_amount,
    monthly_lines,
    months_between,
    months_owed,
    parse_period,
    pension_eligible,
    status_periods,
)
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.runs import EntitlementKind, Program

PARAMS = PolicyParameters()
NO_TRANSITION = PolicyParameters.model_validate({"pension": {"lifted_out_keep_policy": False}})
POOR = (StatusChange("registered_poor", date(2016, 5, 1)),)
EDGE = (StatusChange("monitored", date(2019, 5, 1)),)

PERSON = PersonFacts(
    member_id=uuid.uuid4(),
    birth_date=date(1980, 3, 15),
    deceased_on=None,
    disability_grade=None,
    disability_certified_on=None,
    school_stage="not_in_school",
    resident_pension_enrolled=True,
    employee_pension_enrolled=False,
    dibao=False,
    tekun=False,
    work_injury_care_allowance=False,
    household_status="registered_poor",
)


def eligible(person: PersonFacts, history=POOR, params=PARAMS, year: int = 2020) -> bool:  # type: ignore[no-untyped-def]
    return pension_eligible(person, history, params, year)[0]


@pytest.mark.parametrize(
    ("born", "expected"),
    [
        (date(2004, 12, 31), True),  # turns 16 on 31 Dec
        (date(2005, 1, 1), False),  # turns 16 on 1 Jan of the next year
        (date(1960, 1, 1), False),  # turns 60 on 1 Jan
        (date(1960, 1, 2), True),  # turns 60 on 2 Jan: 59 on 1 Jan
        (date(1960, 2, 29), True),
        (date(1959, 12, 31), False),
    ],
)
def test_pension_ages(born: date, expected: bool) -> None:
    assert eligible(replace(PERSON, birth_date=born)) is expected


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("senior_secondary", False),
        ("secondary_vocational", False),
        ("higher_vocational", False),
        ("undergraduate", False),
        ("graduate", False),
        ("junior_secondary", True),
        ("dropped_out", True),
        ("not_in_school", True),
    ],
)
def test_full_time_students_are_not_paid_for(stage: str, expected: bool) -> None:
    assert eligible(replace(PERSON, school_stage=stage)) is expected


def test_pension_schemes_and_death() -> None:
    assert not eligible(replace(PERSON, employee_pension_enrolled=True))
    assert not eligible(replace(PERSON, resident_pension_enrolled=False))
    assert not eligible(replace(PERSON, deceased_on=date(2019, 12, 31)))
    assert eligible(replace(PERSON, deceased_on=date(2020, 1, 1)))
    assert eligible(replace(PERSON, deceased_on=date(2020, 11, 30)))


def test_refusals_list_every_failed_condition() -> None:
    ok, reasons = pension_eligible(
        replace(PERSON, birth_date=date(1950, 1, 1), employee_pension_enrolled=True),
        EDGE,
        PARAMS,
        2020,
    )
    assert not ok
    assert reasons == [
        "is 60 or older on 1 January 2020",
        "in the employee pension scheme",
        "neither registered poor, dibao, tekun nor a qualifying grade in 2020",
    ]
    ok, grounds = pension_eligible(replace(PERSON, dibao=True), POOR, PARAMS, 2020)
    assert ok and grounds == ["dibao", "household registered_poor in 2020"]


def test_lifted_out_households_keep_the_policy_only_in_the_transition() -> None:
    lifted = (*POOR, StatusChange("lifted_out", date(2018, 12, 1)))
    assert eligible(PERSON, lifted, PARAMS)
    assert not eligible(PERSON, lifted, NO_TRANSITION)
    # Registered poor for part of the year is enough, transition or not.
    lifted_in_year = (*POOR, StatusChange("lifted_out", date(2020, 3, 1)))
    assert eligible(PERSON, lifted_in_year, NO_TRANSITION)


def test_grounds_other_than_the_household() -> None:
    assert not eligible(PERSON, EDGE)
    assert eligible(replace(PERSON, dibao=True), EDGE)
    assert eligible(replace(PERSON, tekun=True), EDGE)
    grade_2 = replace(PERSON, disability_grade=2, disability_certified_on=date(2020, 12, 31))
    assert eligible(grade_2, EDGE)
    assert not eligible(replace(grade_2, disability_certified_on=date(2021, 1, 1)), EDGE)
    assert not eligible(replace(grade_2, disability_certified_on=None), EDGE)
    assert not eligible(replace(grade_2, disability_grade=3), EDGE)


def test_status_periods() -> None:
    history = [
        StatusChange("lifted_out", date(2019, 1, 1), id=2),
        StatusChange("registered_poor", date(2019, 1, 1), id=1),
        StatusChange("monitored", date(2020, 6, 1), id=3),
    ]
    # The change superseded on its own day held no day.
    assert [(p.status, p.starts_on, p.ends_on) for p in status_periods(history, "x")] == [
        ("lifted_out", date(2019, 1, 1), date(2020, 6, 1)),
        ("monitored", date(2020, 6, 1), None),
    ]
    assert [(p.status, p.starts_on) for p in status_periods([], "returned_to_poverty")] == [
        ("returned_to_poverty", None)
    ]


def test_periods() -> None:
    q3 = parse_period("2020-Q3")
    assert (q3.first_month, q3.last_month, str(q3)) == (
        date(2020, 7, 1),
        date(2020, 9, 1),
        "2020-Q3",
    )
    year = parse_period("2020")
    assert (year.first_month, year.last_month) == (date(2020, 1, 1), date(2020, 12, 1))
    with pytest.raises(ValueError, match="not a period"):
        parse_period("2020-Q5")


NURSE = replace(PERSON, disability_grade=1, disability_certified_on=date(2019, 5, 10))
YEARS = {2019: PARAMS, 2020: PARAMS}


def owed(person: PersonFacts, history=POOR, program=Program.NURSING_SUBSIDY, params=YEARS):  # type: ignore[no-untyped-def]
    return [
        m.month
        for m in months_owed(program, person, history, params, date(2020, 1, 1), date(2020, 12, 1))
    ]


def test_subsidy_months_start_after_the_certificate_and_end_after_death() -> None:
    assert owed(NURSE) == list(range(1, 13))
    assert owed(replace(NURSE, disability_certified_on=date(2020, 8, 15))) == [9, 10, 11, 12]
    assert owed(replace(NURSE, disability_certified_on=date(2020, 7, 1))) == [8, 9, 10, 11, 12]
    assert owed(replace(NURSE, deceased_on=date(2020, 8, 3))) == list(range(1, 9))
    assert owed(replace(NURSE, deceased_on=date(2020, 8, 1))) == list(range(1, 9))
    assert owed(replace(NURSE, deceased_on=date(2020, 7, 31))) == list(range(1, 8))


def test_subsidy_exclusions_and_grades() -> None:
    assert owed(replace(NURSE, tekun=True)) == []
    assert owed(replace(NURSE, tekun=True), program=Program.LIVING_SUBSIDY) == []
    assert owed(replace(NURSE, work_injury_care_allowance=True)) == []
    assert owed(replace(NURSE, work_injury_care_allowance=True), program=Program.LIVING_SUBSIDY)
    assert owed(replace(NURSE, disability_grade=3)) == []
    periods = status_periods(POOR, "registered_poor")
    assert month_amount(
        Program.NURSING_SUBSIDY, NURSE, periods, PARAMS, date(2020, 3, 1)
    ) == Decimal("100.00")
    grade_2 = replace(NURSE, disability_grade=2)
    assert month_amount(
        Program.NURSING_SUBSIDY, grade_2, periods, PARAMS, date(2020, 3, 1)
    ) == Decimal("80.00")
    # Before the current certificate counts the facts cannot tell.
    assert month_amount(Program.NURSING_SUBSIDY, NURSE, periods, PARAMS, date(2019, 5, 1)) is None


def test_living_subsidy_follows_the_household_status_month_by_month() -> None:
    living = replace(NURSE, disability_grade=4)
    lifted = (*POOR, StatusChange("lifted_out", date(2020, 7, 10)))
    no_transition = {2020: NO_TRANSITION}
    assert owed(living, lifted, Program.LIVING_SUBSIDY, no_transition) == list(range(1, 8))
    assert owed(living, lifted, Program.LIVING_SUBSIDY) == list(range(1, 13))
    newly = (*EDGE, StatusChange("newly_impoverished", date(2020, 5, 20)))
    assert owed(living, newly, Program.LIVING_SUBSIDY) == list(range(6, 13))
    assert owed(living, EDGE, Program.LIVING_SUBSIDY) == []
    assert owed(replace(living, dibao=True), EDGE, Program.LIVING_SUBSIDY) == list(range(1, 13))
    extension_off = {
        2020: PolicyParameters.model_validate({"disability": {"living_for_registered_poor": False}})
    }
    assert owed(living, POOR, Program.LIVING_SUBSIDY, extension_off) == []


def test_a_quarter_pays_its_months_arrears_and_records_recoveries() -> None:
    q3 = parse_period("2020-Q3")
    paid = {date(2020, m, 1): Decimal("100.00") for m in range(4, 7)}
    dead = replace(NURSE, deceased_on=date(2020, 4, 20))
    lines = monthly_lines(Program.NURSING_SUBSIDY, dead, POOR, YEARS, date(2020, 1, 1), q3, paid)
    assert [(line.kind, line.months, line.amount) for line in lines] == [
        (EntitlementKind.ARREARS, tuple(date(2020, m, 1) for m in (1, 2, 3)), Decimal("300.00")),
        (EntitlementKind.RECOVERY, (date(2020, 5, 1), date(2020, 6, 1)), Decimal("-200.00")),
    ]
    # Arrears reach back to a configurable start, across years, each year its own line.
    lines = monthly_lines(Program.NURSING_SUBSIDY, NURSE, POOR, YEARS, date(2019, 11, 1), q3, paid)
    assert [(line.kind, line.year, len(line.months)) for line in lines] == [
        (EntitlementKind.ARREARS, 2019, 2),
        (EntitlementKind.ARREARS, 2020, 3),
        (EntitlementKind.DUE, 2020, 3),
    ]


@settings(max_examples=300, deadline=None)
@given(
    grade=st.sampled_from([None, 1, 2, 3, 4]),
    certified=st.one_of(st.none(), st.dates(date(2019, 1, 1), date(2020, 12, 31))),
    died=st.one_of(st.none(), st.dates(date(2019, 6, 1), date(2021, 1, 31))),
    tekun=st.booleans(),
    dibao=st.booleans(),
    program=st.sampled_from([Program.NURSING_SUBSIDY, Program.LIVING_SUBSIDY]),
    paid_months=st.dictionaries(
        st.integers(1, 9), st.sampled_from([Decimal("80.00"), Decimal("100.00")]), max_size=9
    ),
    lifted_day=st.one_of(st.none(), st.integers(0, 500)),
)
def test_after_a_run_what_is_paid_is_what_is_owed_where_the_facts_tell(
    grade: int | None,
    certified: date | None,
    died: date | None,
    tekun: bool,
    dibao: bool,
    program: Program,
    paid_months: dict[int, Decimal],
    lifted_day: int | None,
) -> None:
    person = replace(
        PERSON,
        disability_grade=grade,
        disability_certified_on=certified,
        deceased_on=died,
        tekun=tekun,
        dibao=dibao,
    )
    history = POOR
    if lifted_day is not None:
        history = (*POOR, StatusChange("lifted_out", date(2019, 6, 1) + timedelta(days=lifted_day)))
    paid = {date(2020, m, 1): amount for m, amount in paid_months.items()}
    q3 = parse_period("2020-Q3")
    lines = monthly_lines(
        program, person, history, {2020: NO_TRANSITION}, date(2020, 1, 1), q3, paid
    )
    after = dict(paid)
    for line in lines:
        assert line.amount != 0 and (line.kind is EntitlementKind.RECOVERY) == (line.amount < 0)
        for month, amount in zip(line.months, line.amounts, strict=True):
            after[month] = after.get(month, Decimal(0)) + amount
    periods = status_periods(history, person.household_status)
    for month in months_between(date(2020, 1, 1), q3.last_month):
        owed_now = month_amount(program, person, periods, NO_TRANSITION, month)
        expected = paid.get(month, Decimal(0)) if owed_now is None else owed_now
        assert after.get(month, Decimal(0)) == expected
