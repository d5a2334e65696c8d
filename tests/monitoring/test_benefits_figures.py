"""The benefits figures' arithmetic, on statistics as the wire gives them: rounding,
the months and quarters counted, and rows filed at a division's own code."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tuopin_monitoring.benefits.figures import (
    DISABILITY_PAID,
    PENSION_PAID,
    PENSION_PER_PERSON,
    WITHIN_CAP,
    Figure,
    entitlement_figures,
    medical_figures,
    per_person,
    percent,
    quarters_through,
)
from tuopin_monitoring.indicators.catalogue import FROM_BENEFITS
from tuopin_shared.contracts.medical import MedicalStats
from tuopin_shared.contracts.runs import EntitlementStat, TotalsLevel

DISTRICT = "510303000000"
TOWN = "510303100000"
VILLAGE = "510303100001"


def test_percent_and_per_person_round_half_up() -> None:
    assert percent(Decimal(2), Decimal(3)) == Decimal("66.67")
    assert percent(Decimal(1), Decimal(8)) == Decimal("12.50")
    assert percent(Decimal(1), Decimal(1600)) == Decimal("0.06")  # 0.0625
    assert percent(Decimal(0), Decimal(0)) is None
    assert per_person(Decimal("100.01"), Decimal(2)) == Decimal("50.01")  # 50.005
    assert per_person(Decimal("100.00"), Decimal(0)) is None


@pytest.mark.parametrize(
    ("day", "quarters"),
    [
        (date(2020, 1, 1), ["2020-Q1"]),
        (date(2020, 3, 31), ["2020-Q1"]),
        (date(2020, 4, 1), ["2020-Q1", "2020-Q2"]),
        (date(2020, 12, 31), ["2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4"]),
    ],
)
def test_quarters_through_the_date(day: date, quarters: list[str]) -> None:
    assert quarters_through(day) == quarters


def medical_row(division: str, month: str, settlements: int, above: int) -> dict[str, Any]:
    return {
        "division_code": division,
        "month": month,
        "settlements": settlements,
        "reversed": 0,
        "total_cost": "0.00",
        "personal_payment": "0.00",
        "average_personal_share": None,
        "max_personal_share": None,
        "in_county_poor_settlements": settlements,
        "in_county_poor_above_cap": above,
    }


def medical(division: str, *rows: dict[str, Any]) -> MedicalStats:
    total = medical_row(division, None, 0, 0)  # type: ignore[arg-type]
    return MedicalStats.model_validate(
        {"division_code": division, "month": None, "year": 2020, "rows": rows, "total": total}
    )


def by_division(figures: list[Figure], indicator: str) -> dict[str, tuple[Any, ...]]:
    return {
        f.division_code: (str(f.numerator), str(f.denominator), str(f.value), f.level)
        for f in figures
        if f.indicator == indicator
    }


def test_medical_months_through_the_date_and_settlements_at_a_town_s_own_code() -> None:
    district = medical(
        DISTRICT,
        medical_row(TOWN, "2020-05", 3, 1),
        medical_row(TOWN, "2020-07", 5, 5),  # after the snapshot's month
        medical_row(DISTRICT, "2020-06", 1, 0),  # filed at the district's own code
    )
    town = medical(
        TOWN,
        medical_row(VILLAGE, "2020-05", 2, 1),
        medical_row(TOWN, "2020-05", 1, 0),  # at the town's own code: not a village
    )
    figures = medical_figures(district, [town], date(2020, 6, 30))
    assert by_division(figures, WITHIN_CAP) == {
        DISTRICT: ("3", "4", "75.00", "county"),
        TOWN: ("2", "3", "66.67", "town"),
        VILLAGE: ("1", "2", "50.00", "village"),
    }
    assert {f.division_code: f.parent_code for f in figures} == {
        DISTRICT: None,
        TOWN: DISTRICT,
        VILLAGE: TOWN,
    }


def stat(program: str, period: str, division: str, eligible: int, paid: int) -> EntitlementStat:
    return EntitlementStat.model_validate(
        {
            "program": program,
            "period": period,
            "division_code": division,
            "eligible_persons": eligible,
            "paid_persons": paid,
            "entitled_amount": f"{100 * eligible}.00",
            "paid_amount": f"{100 * paid}.00",
            "recovery_amount": "0.00",
        }
    )


def test_entitlements_each_level_from_its_own_rows() -> None:
    figures = entitlement_figures(
        {
            TotalsLevel.DISTRICT: [
                stat("pension", "2020", DISTRICT, 5, 4),
                stat("pension", "2019", DISTRICT, 9, 9),  # another year
                stat("nursing_subsidy", "2020-Q1", DISTRICT, 2, 2),
                stat("living_subsidy", "2020-Q1", DISTRICT, 3, 1),
                stat("nursing_subsidy", "2020-Q2", DISTRICT, 2, 0),
                stat("nursing_subsidy", "2020-Q3", DISTRICT, 2, 0),  # after the date
            ],
            TotalsLevel.TOWN: [
                # A person in two villages of the town counts once here, not twice.
                stat("pension", "2020", TOWN, 3, 3),
                # Lines filed at the district's own code, grouped at town level.
                stat("pension", "2020", DISTRICT, 2, 1),
            ],
            TotalsLevel.VILLAGE: [
                stat("pension", "2020", VILLAGE, 2, 2),
                stat("pension", "2020", "510303100002", 2, 2),
                stat("pension", "2020", TOWN, 1, 0),  # at the town's own code
            ],
        },
        2020,
        ["2020-Q1", "2020-Q2"],
    )
    assert by_division(figures, PENSION_PAID) == {
        DISTRICT: ("4", "5", "80.00", "county"),
        TOWN: ("3", "3", "100.00", "town"),
        VILLAGE: ("2", "2", "100.00", "village"),
        "510303100002": ("2", "2", "100.00", "village"),
    }
    assert by_division(figures, PENSION_PER_PERSON)[DISTRICT] == (
        "400.00",
        "4",
        "100.00",
        "county",
    )
    # Person-quarters: Q1 nursing 2 of 2, Q1 living 1 of 3, Q2 nursing 0 of 2.
    assert by_division(figures, DISABILITY_PAID) == {DISTRICT: ("3", "7", "42.86", "county")}


def test_every_benefits_indicator_of_the_catalogue_has_figures() -> None:
    made = {
        f.indicator
        for f in medical_figures(
            medical(DISTRICT, medical_row(TOWN, "2020-01", 1, 0)), [], date(2020, 6, 30)
        )
        + entitlement_figures(
            {
                TotalsLevel.DISTRICT: [
                    stat("pension", "2020", DISTRICT, 1, 1),
                    stat("living_subsidy", "2020-Q1", DISTRICT, 1, 1),
                ]
            },
            2020,
            ["2020-Q1"],
        )
    }
    assert made == {i.key for i in FROM_BENEFITS}
