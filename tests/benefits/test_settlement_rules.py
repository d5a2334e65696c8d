"""One-stop medical settlement rules: hand-worked examples and properties.

All figures are the default parameters: inpatient deductibles 100 / 400 / 800 /
1,200 and ratios 90 / 80 / 70 / 60% by level (township / county / municipal /
provincial); registered poor in county: deductible halved, ratio +5 points;
general outpatient 50%; critical illness above 15,000 a year (7,500 for the
registered poor) at 60 / 70 / 80% (+5 for the registered poor) on the first
50,000 above the deductible / the next 50,000 / the rest; assistance 70%;
personal share at most 10% for the top-up.
"""

from __future__ import annotations

from dataclasses import fields
from decimal import ROUND_FLOOR, Decimal
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuopin_benefits.settlement.rules import (
    SOURCES,
    AnnualCap,
    CareType,
    Claim,
    InstitutionLevel,
    MedicalParameters,
    Settlement,
    TierPortion,
    YearToDate,
    default_parameters,
    reverse,
    settle,
)
from tuopin_shared.contracts.money import FEN, round_fen

D = Decimal
PARAMETERS = default_parameters()

TOWNSHIP = InstitutionLevel.TOWNSHIP
COUNTY = InstitutionLevel.COUNTY
PROVINCIAL = InstitutionLevel.PROVINCIAL
INPATIENT = CareType.INPATIENT
CHRONIC = CareType.CHRONIC_OUTPATIENT
GENERAL = CareType.GENERAL_OUTPATIENT
IN_COUNTY, OUT_OF_COUNTY = True, False


def county_stay(*, registered_poor: bool = False, dibao: bool = False) -> Claim:
    """The stay most examples use: county hospital, in county, 120,000 (100,000 in policy)."""
    return Claim(
        COUNTY,
        IN_COUNTY,
        INPATIENT,
        D("120000.00"),
        D("100000.00"),
        registered_poor=registered_poor,
        dibao=dibao,
    )


def parts(settlement: Settlement) -> tuple[Decimal, ...]:
    return (
        settlement.basic_insurance,
        settlement.critical_illness,
        settlement.medical_assistance,
        settlement.poverty_top_up,
        settlement.personal_payment,
    )


# ---------------------------------------------------------------------------
# Worked examples, computed by hand
# ---------------------------------------------------------------------------


class Worked(NamedTuple):
    name: str
    claim: Claim
    # Terms from the trace: basic deductible, basic ratio, critical-illness deductible.
    terms: tuple[str, str, str | None]
    # basic, critical illness, assistance, top-up, personal, personal share.
    split: tuple[str, str, str, str, str, str]
    deposit_required: bool


# fmt: off
WORKED_EXAMPLES = [
    # basic (100000 - 400) x 80% = 79680.00; self-pay 100000 - 79680 = 20320.00;
    # critical illness (20320 - 15000) x 60% = 3192.00; not poor: no assistance, no top-up;
    # personal 120000 - 79680 - 3192 = 37128.00; 37128 / 120000 = 0.3094
    Worked("county stay, not poor",
           county_stay(),
           ("400", "0.80", "15000"),
           ("79680.00", "3192.00", "0.00", "0.00", "37128.00", "0.3094"), True),
    # basic (100000 - 200) x 85% = 84830.00; self-pay 15170.00;
    # critical illness (15170 - 7500) x 65% = 4985.50;
    # assistance (15170 - 4985.50) x 70% = 10184.50 x 70% = 7129.15;
    # before top-up 120000 - 84830 - 4985.50 - 7129.15 = 23055.35; 10% of 120000 = 12000.00;
    # top-up 23055.35 - 12000 = 11055.35; personal 12000.00 = 10%
    Worked("county stay, registered poor in county",
           county_stay(registered_poor=True),
           ("200", "0.85", "7500"),
           ("84830.00", "4985.50", "7129.15", "11055.35", "12000.00", "0.1000"), False),
    # out of county: standard basic terms, basic (100000 - 1200) x 60% = 59280.00;
    # self-pay 40720.00; critical illness (40720 - 7500) x 65% = 33220 x 65% = 21593.00;
    # assistance (40720 - 21593) x 70% = 19127 x 70% = 13388.90; no top-up out of county;
    # personal 120000 - 59280 - 21593 - 13388.90 = 25738.10; / 120000 = 0.21448 -> 0.2145
    Worked("provincial stay out of county, registered poor",
           Claim(PROVINCIAL, OUT_OF_COUNTY, INPATIENT, D("120000.00"), D("100000.00"),
                 registered_poor=True),
           ("1200", "0.60", "7500"),
           ("59280.00", "21593.00", "13388.90", "0.00", "25738.10", "0.2145"), True),
    # general outpatient: 250 x 50% = 125.00 and nothing else, even for the poor;
    # personal 300 - 125 = 175.00; 175 / 300 = 0.58333 -> 0.5833
    Worked("general outpatient, registered poor in county",
           Claim(TOWNSHIP, IN_COUNTY, GENERAL, D("300.00"), D("250.00"), registered_poor=True),
           ("0", "0.50", None),
           ("125.00", "0.00", "0.00", "0.00", "175.00", "0.5833"), False),
    # chronic outpatient, county level, poor in county: no deductible, 80% + 5 = 85%:
    # basic 1800 x 85% = 1530.00; self-pay 270.00, below the 7500 deductible;
    # assistance 270 x 70% = 189.00; before top-up 2000 - 1530 - 189 = 281.00;
    # 10% of 2000 = 200.00; top-up 81.00; personal 200.00
    Worked("chronic outpatient, registered poor in county",
           Claim(COUNTY, IN_COUNTY, CHRONIC, D("2000.00"), D("1800.00"), registered_poor=True),
           ("0", "0.85", "7500"),
           ("1530.00", "0.00", "189.00", "81.00", "200.00", "0.1000"), False),
    # dibao, not registered poor: standard terms, basic (9000 - 400) x 80% = 6880.00;
    # self-pay 2120.00 < 15000; assistance 2120 x 70% = 1484.00; no top-up;
    # personal 10000 - 6880 - 1484 = 1636.00
    Worked("county stay, dibao",
           Claim(COUNTY, IN_COUNTY, INPATIENT, D("10000.00"), D("9000.00"), dibao=True),
           ("400", "0.80", "15000"),
           ("6880.00", "0.00", "1484.00", "0.00", "1636.00", "0.1636"), True),
    # in-policy 60 below the 100 deductible: basic 0; personal pays all 80.00
    Worked("township stay below the deductible, not poor",
           Claim(TOWNSHIP, IN_COUNTY, INPATIENT, D("80.00"), D("60.00")),
           ("100", "0.90", "15000"),
           ("0.00", "0.00", "0.00", "0.00", "80.00", "1.0000"), True),
]
# fmt: on


@pytest.mark.parametrize("example", WORKED_EXAMPLES, ids=[e.name for e in WORKED_EXAMPLES])
def test_worked_example(example: Worked) -> None:
    settlement = settle(example.claim, PARAMETERS, YearToDate())

    basic, critical, assistance, top_up, personal, share = (D(x) for x in example.split)
    assert parts(settlement) == (basic, critical, assistance, top_up, personal)
    assert settlement.personal_share == share
    assert settlement.deposit_required is example.deposit_required
    deductible, ratio, critical_deductible = example.terms
    assert settlement.trace.deductible == D(deductible)
    assert settlement.trace.ratio == D(ratio)
    assert settlement.trace.critical_illness_deductible == (
        None if critical_deductible is None else D(critical_deductible)
    )
    assert settlement.trace.caps_hit == ()


def test_worked_example_trace_of_the_poor_county_stay() -> None:
    settlement = settle(county_stay(registered_poor=True), PARAMETERS, YearToDate())

    assert settlement.trace.critical_illness_tiers == (
        TierPortion(D("0"), D("50000"), D("0.65"), D("7670.00"), D("4985.50")),
    )
    assert settlement.trace.personal_payment_limit == D("12000.00")
    assert settlement.trace.year_to_date_after == YearToDate(
        basic_paid=D("84830.00"),
        critical_illness_self_pay_base=D("15170.00"),
        critical_illness_paid=D("4985.50"),
        assistance_paid=D("7129.15"),
    )
    assert "critical-illness deductible 7500.00 crossed in this claim" in settlement.trace.notes
    assert (
        "no deposit: registered poor patient treated in county (treat first, pay later)"
        in settlement.trace.notes
    )


def test_general_outpatient_adds_nothing_to_the_critical_illness_base() -> None:
    before = YearToDate(critical_illness_self_pay_base=D("14000.00"))
    claim = Claim(COUNTY, IN_COUNTY, GENERAL, D("300.00"), D("250.00"))

    settlement = settle(claim, PARAMETERS, before)

    assert settlement.trace.year_to_date_after == YearToDate(
        basic_paid=D("125.00"), critical_illness_self_pay_base=D("14000.00")
    )


# ---------------------------------------------------------------------------
# The 10% personal share, on its boundary
# ---------------------------------------------------------------------------

# Chronic outpatient at a county institution, registered poor in county: 85%, no
# deductible, so with in-policy I and total T the personal share before the
# top-up is (T - I) + (I - 0.85 I) x 30% = T - 0.955 I, which is 10% of T when
# I = 0.9 T / 0.955.


def chronic_poor(total: str, in_policy: str) -> Claim:
    return Claim(COUNTY, IN_COUNTY, CHRONIC, D(total), D(in_policy), registered_poor=True)


def test_personal_share_exactly_ten_percent_needs_no_top_up() -> None:
    # basic 900 x 85% = 765.00; assistance 135 x 70% = 94.50;
    # personal 955 - 765 - 94.50 = 95.50 = 10% of 955.00 exactly
    settlement = settle(chronic_poor("955.00", "900.00"), PARAMETERS, YearToDate())

    assert parts(settlement) == (D("765.00"), D("0"), D("94.50"), D("0"), D("95.50"))
    assert settlement.personal_payment * 10 == D("955.00")
    assert settlement.personal_share == D("0.1000")


def test_personal_share_a_fen_above_ten_percent_gets_a_top_up_of_one_fen() -> None:
    # basic 899.99 x 85% = 764.9915 -> 764.99; self-pay 135.00; assistance 94.50;
    # before top-up 955 - 764.99 - 94.50 = 95.51; limit 95.50; top-up 0.01
    settlement = settle(chronic_poor("955.00", "899.99"), PARAMETERS, YearToDate())

    assert parts(settlement) == (D("764.99"), D("0"), D("94.50"), D("0.01"), D("95.50"))
    assert settlement.personal_payment / D("955.00") <= D("0.10")


def test_personal_share_limit_is_rounded_down_so_it_never_exceeds_ten_percent() -> None:
    # 10% of 955.05 is 95.505: half-up would allow 95.51, above 10%; the limit is 95.50.
    # before top-up 955.05 - 765 - 94.50 = 95.55; top-up 0.05
    settlement = settle(chronic_poor("955.05", "900.00"), PARAMETERS, YearToDate())

    assert settlement.trace.personal_payment_limit == D("95.50")
    assert settlement.poverty_top_up == D("0.05")
    assert settlement.personal_payment == D("95.50")
    assert settlement.personal_payment / D("955.05") <= D("0.10")


# ---------------------------------------------------------------------------
# Critical illness across the year
# ---------------------------------------------------------------------------


def test_critical_illness_pays_only_above_the_deductible_crossed_mid_claim() -> None:
    # year's base 12000 + this claim's 20320 = 32320; above 15000: 17320 x 60% = 10392.00
    before = YearToDate(critical_illness_self_pay_base=D("12000.00"))

    settlement = settle(county_stay(), PARAMETERS, before)

    assert settlement.critical_illness == D("10392.00")
    assert settlement.trace.critical_illness_tiers == (
        TierPortion(D("0"), D("50000"), D("0.60"), D("17320.00"), D("10392.00")),
    )
    assert "critical-illness deductible 15000.00 crossed in this claim" in settlement.trace.notes
    assert settlement.trace.year_to_date_after.critical_illness_self_pay_base == D("32320.00")
    assert settlement.personal_payment == D("120000.00") - D("79680.00") - D("10392.00")


def test_critical_illness_below_the_deductible_pays_nothing() -> None:
    # 9000 + 5320 = 14320, still below 15000
    before = YearToDate(critical_illness_self_pay_base=D("9000.00"))
    claim = Claim(COUNTY, IN_COUNTY, INPATIENT, D("30000.00"), D("25000.00"))

    settlement = settle(claim, PARAMETERS, before)

    assert settlement.critical_illness == D("0")
    assert settlement.trace.critical_illness_tiers == ()
    assert settlement.trace.year_to_date_after.critical_illness_self_pay_base == D("14320.00")


def test_critical_illness_claim_spanning_two_tiers_is_split() -> None:
    # base 60000 -> 80320, i.e. 45000 -> 65320 above the deductible:
    # 5000 x 60% = 3000 in the first tier, 15320 x 70% = 10724 in the second; 13724.00
    before = YearToDate(critical_illness_self_pay_base=D("60000.00"))

    settlement = settle(county_stay(), PARAMETERS, before)

    assert settlement.trace.critical_illness_tiers == (
        TierPortion(D("0"), D("50000"), D("0.60"), D("5000.00"), D("3000.00")),
        TierPortion(D("50000"), D("100000"), D("0.70"), D("15320.00"), D("10724.00")),
    )
    assert settlement.critical_illness == D("13724.00")


def test_critical_illness_for_the_poor_into_the_top_tier() -> None:
    # base 100000 -> 115170, i.e. 92500 -> 107670 above the halved deductible 7500:
    # 7500 x 75% = 5625 and 7670 x 85% = 6519.50; 12144.50.
    # assistance (15170 - 12144.50) x 70% = 2117.85;
    # before top-up 120000 - 84830 - 12144.50 - 2117.85 = 20907.65; top-up 8907.65
    before = YearToDate(critical_illness_self_pay_base=D("100000.00"))

    settlement = settle(county_stay(registered_poor=True), PARAMETERS, before)

    assert settlement.trace.critical_illness_tiers == (
        TierPortion(D("50000"), D("100000"), D("0.75"), D("7500.00"), D("5625.00")),
        TierPortion(D("100000"), None, D("0.85"), D("7670.00"), D("6519.50")),
    )
    assert parts(settlement) == (
        D("84830.00"),
        D("12144.50"),
        D("2117.85"),
        D("8907.65"),
        D("12000.00"),
    )


def test_critical_illness_annual_cap_binds_the_non_poor_only() -> None:
    # 399000 of 400000 already paid; this claim would pay (20320 above the deductible) x 60%
    before = YearToDate(
        critical_illness_self_pay_base=D("30000.00"), critical_illness_paid=D("399000.00")
    )

    capped = settle(county_stay(), PARAMETERS, before)
    poor = settle(county_stay(registered_poor=True), PARAMETERS, before)

    assert capped.critical_illness == D("1000.00")
    assert capped.trace.caps_hit == (AnnualCap.CRITICAL_ILLNESS,)
    assert capped.personal_payment == D("120000.00") - D("79680.00") - D("1000.00")
    # poor: no cap; 15170 x 65% = 9860.50
    assert poor.critical_illness == D("9860.50")
    assert poor.trace.caps_hit == ()


# ---------------------------------------------------------------------------
# Annual caps of basic insurance and assistance
# ---------------------------------------------------------------------------


def test_basic_insurance_annual_cap() -> None:
    # 140000 of 150000 paid: basic 10000.00 instead of 79680.00; self-pay 90000.00;
    # critical illness on 75000 above 15000: 50000 x 60% + 25000 x 70% = 47500.00;
    # personal 120000 - 10000 - 47500 = 62500.00
    before = YearToDate(basic_paid=D("140000.00"))

    settlement = settle(county_stay(), PARAMETERS, before)

    assert parts(settlement) == (D("10000.00"), D("47500.00"), D("0"), D("0"), D("62500.00"))
    assert settlement.trace.caps_hit == (AnnualCap.BASIC_INSURANCE,)
    assert settlement.trace.year_to_date_after.basic_paid == D("150000.00")


def test_basic_insurance_cap_already_reached_pays_nothing() -> None:
    before = YearToDate(basic_paid=D("150000.00"))

    settlement = settle(county_stay(), PARAMETERS, before)

    assert settlement.basic_insurance == D("0")
    assert settlement.trace.caps_hit == (AnnualCap.BASIC_INSURANCE,)


@pytest.mark.parametrize(
    ("assistance_paid", "assistance", "personal"),
    [
        # 30000 - 29000.50 = 999.50 left of the cap; 1484.00 would be due;
        # personal 10000 - 6880 - 999.50 = 2120.50
        ("29000.50", "999.50", "2120.50"),
        # exactly enough left: 30000 - 28516 = 1484.00, no cap hit
        ("28516.00", "1484.00", "1636.00"),
        # cap already reached
        ("30000.00", "0.00", "3120.00"),
    ],
)
def test_assistance_annual_cap(assistance_paid: str, assistance: str, personal: str) -> None:
    claim = Claim(COUNTY, IN_COUNTY, INPATIENT, D("10000.00"), D("9000.00"), dibao=True)

    settlement = settle(claim, PARAMETERS, YearToDate(assistance_paid=D(assistance_paid)))

    assert settlement.medical_assistance == D(assistance)
    assert settlement.personal_payment == D(personal)
    hit = D(assistance) < D("1484.00")
    assert settlement.trace.caps_hit == ((AnnualCap.MEDICAL_ASSISTANCE,) if hit else ())


# ---------------------------------------------------------------------------
# Who gets what
# ---------------------------------------------------------------------------


def test_non_poor_patients_get_neither_assistance_nor_top_up() -> None:
    settlement = settle(county_stay(), PARAMETERS, YearToDate())

    assert settlement.medical_assistance == 0
    assert settlement.poverty_top_up == 0
    assert settlement.deposit_required


def test_tekun_patient_gets_assistance_but_no_top_up() -> None:
    claim = Claim(COUNTY, IN_COUNTY, INPATIENT, D("10000.00"), D("9000.00"), tekun=True)

    settlement = settle(claim, PARAMETERS, YearToDate())

    assert settlement.medical_assistance == D("1484.00")
    assert settlement.poverty_top_up == 0


def test_top_up_may_shrink_when_the_total_grows() -> None:
    # A larger in-policy cost is mostly paid by insurance and assistance, so the
    # personal share before the top-up grows by less than 10% of the increase:
    # 2000 / 1800 -> top-up 81.00 (see the worked examples);
    # 2100 / 1900: basic 1615.00, assistance 285 x 70% = 199.50,
    # before top-up 2100 - 1615 - 199.50 = 285.50, limit 210.00, top-up 75.50.
    smaller = settle(chronic_poor("2000.00", "1800.00"), PARAMETERS, YearToDate())
    larger = settle(chronic_poor("2100.00", "1900.00"), PARAMETERS, YearToDate())

    assert (smaller.poverty_top_up, larger.poverty_top_up) == (D("81.00"), D("75.50"))
    assert larger.personal_payment > smaller.personal_payment


# ---------------------------------------------------------------------------
# Reversal
# ---------------------------------------------------------------------------


def test_reverse_takes_a_settlement_out_of_the_year_to_date() -> None:
    before = YearToDate(
        basic_paid=D("5000.00"),
        critical_illness_self_pay_base=D("3000.00"),
        assistance_paid=D("100.00"),
    )
    first = settle(county_stay(registered_poor=True), PARAMETERS, before)
    second = settle(chronic_poor("2000.00", "1800.00"), PARAMETERS, first.trace.year_to_date_after)

    # First claim: base 3000 -> 18170, 10670 above 7500 x 65% = 6935.50;
    # assistance (15170 - 6935.50) x 70% = 5764.15.
    assert first.ytd_delta == YearToDate(
        basic_paid=D("84830.00"),
        critical_illness_self_pay_base=D("15170.00"),
        critical_illness_paid=D("6935.50"),
        assistance_paid=D("5764.15"),
    )
    # The second claim came after the deductible was passed: its self-pay 270.00
    # got 270 x 65% = 175.50, then assistance (270 - 175.50) x 70% = 66.15.
    # Reversing the first claim afterwards takes out only what it added; the
    # second stays as it was paid.
    assert reverse(second.trace.year_to_date_after, first) == YearToDate(
        basic_paid=D("5000.00") + D("1530.00"),
        critical_illness_self_pay_base=D("3000.00") + D("270.00"),
        critical_illness_paid=D("175.50"),
        assistance_paid=D("100.00") + D("66.15"),
    )


def test_reverse_refuses_sums_that_do_not_include_the_settlement() -> None:
    settlement = settle(county_stay(), PARAMETERS, YearToDate())

    with pytest.raises(ValueError, match="do not include that settlement"):
        reverse(YearToDate(), settlement)


# ---------------------------------------------------------------------------
# Inputs refused
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "in_policy", "message"),
    [
        ("100.00", "100.01", "in_policy_cost 100.01 must not exceed total_cost 100.00"),
        ("100.005", "50.00", "total_cost must have at most 2 decimal places"),
        ("100.00", "-1.00", "in_policy_cost must not be negative"),
        ("NaN", "0", "total_cost must be a finite amount"),
    ],
)
def test_claim_amounts_refused(total: str, in_policy: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Claim(COUNTY, IN_COUNTY, INPATIENT, D(total), D(in_policy))


def test_claim_refuses_a_float() -> None:
    with pytest.raises(TypeError, match="total_cost must be a Decimal, got float"):
        Claim(COUNTY, IN_COUNTY, INPATIENT, 100.0, D("50.00"))  # type: ignore[arg-type]


def test_claim_amounts_are_kept_with_two_places() -> None:
    claim = Claim(COUNTY, IN_COUNTY, INPATIENT, D("100"), D("50.5"))

    assert str(claim.total_cost) == "100.00"
    assert str(claim.in_policy_cost) == "50.50"


def test_year_to_date_refuses_a_negative_sum() -> None:
    with pytest.raises(ValueError, match="assistance_paid must not be negative"):
        YearToDate(assistance_paid=D("-0.01"))


def test_parameters_refuse_a_ratio_above_one() -> None:
    with pytest.raises(ValueError, match="assistance_ratio must be between 0 and 1"):
        MedicalParameters(assistance_ratio=D("1.2"))


def test_every_parameter_has_its_source_labelled() -> None:
    names = {item.name for item in fields(MedicalParameters)}

    assert set(SOURCES) == names
    assert all(text.startswith(("placeholder", "seed")) for text in SOURCES.values()), (
        "each default is labelled placeholder or seed"
    )


# ---------------------------------------------------------------------------
# Properties over random claims and year-to-date states
# ---------------------------------------------------------------------------


def fen(count: int) -> Decimal:
    return Decimal(count).scaleb(-2)


def amounts(top_yuan: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, top_yuan * 100).map(fen)


def around(yuan: int) -> st.SearchStrategy[Decimal]:
    """Amounts a little below or above a cap or a deductible, where rules change."""
    return st.integers(max(0, yuan * 100 - 200_000), yuan * 100 + 100_000).map(fen)


@st.composite
def claims(draw: st.DrawFn) -> Claim:
    # Up to 600,000 yuan, past the last critical-illness tier boundary.
    total = draw(st.integers(0, 60_000_000))
    in_policy = draw(st.integers(0, total))
    return Claim(
        draw(st.sampled_from(InstitutionLevel)),
        draw(st.booleans()),
        draw(st.sampled_from(CareType)),
        fen(total),
        fen(in_policy),
        registered_poor=draw(st.booleans()),
        dibao=draw(st.booleans()),
        tekun=draw(st.booleans()),
    )


year_to_dates = st.builds(
    YearToDate,
    basic_paid=st.one_of(amounts(160_000), around(150_000)),
    critical_illness_self_pay_base=st.one_of(
        amounts(250_000), around(7_500), around(15_000), around(57_500), around(115_000)
    ),
    critical_illness_paid=st.one_of(amounts(410_000), around(400_000)),
    assistance_paid=st.one_of(amounts(32_000), around(30_000)),
)


@given(claims(), year_to_dates)
def test_parts_sum_exactly_to_the_total_never_negative_in_whole_fen(
    claim: Claim, before: YearToDate
) -> None:
    settlement = settle(claim, PARAMETERS, before)

    assert sum(parts(settlement)) == claim.total_cost
    for amount in parts(settlement):
        assert amount >= 0
        assert amount.as_tuple().exponent == -2
    if claim.total_cost:
        assert settlement.personal_share == (
            settlement.personal_payment / claim.total_cost
        ).quantize(D("0.0001"))
    else:
        assert settlement.personal_share is None


@given(claims(), year_to_dates)
def test_personal_share_cap_holds_whenever_it_applies(claim: Claim, before: YearToDate) -> None:
    settlement = settle(claim, PARAMETERS, before)

    if claim.top_up_eligible:
        assert settlement.personal_payment <= claim.total_cost * PARAMETERS.personal_share_cap
        # And the fund pays no more than needed: a top-up leaves the patient
        # within a fen of the cap.
        if settlement.poverty_top_up:
            assert settlement.personal_payment > (
                claim.total_cost * PARAMETERS.personal_share_cap - FEN
            )
    else:
        assert settlement.poverty_top_up == 0


@given(claims(), year_to_dates)
def test_annual_caps_hold(claim: Claim, before: YearToDate) -> None:
    settlement = settle(claim, PARAMETERS, before)

    def left(cap: Decimal, paid: Decimal) -> Decimal:
        return max(D(0), cap - paid)

    assert settlement.basic_insurance <= left(PARAMETERS.basic_annual_cap, before.basic_paid)
    assert settlement.medical_assistance <= left(
        PARAMETERS.assistance_annual_cap, before.assistance_paid
    )
    if not claim.registered_poor:
        assert PARAMETERS.critical_illness_annual_cap is not None
        assert settlement.critical_illness <= left(
            PARAMETERS.critical_illness_annual_cap, before.critical_illness_paid
        )


@given(claims(), year_to_dates)
def test_only_the_layers_that_apply_pay(claim: Claim, before: YearToDate) -> None:
    settlement = settle(claim, PARAMETERS, before)

    if not (claim.registered_poor or claim.dibao or claim.tekun):
        assert settlement.medical_assistance == 0
        assert settlement.poverty_top_up == 0
    if claim.care_type is GENERAL:
        assert settlement.critical_illness == 0
        assert settlement.medical_assistance == 0
        assert settlement.poverty_top_up == 0
        assert settlement.basic_insurance == min(
            round_fen(claim.in_policy_cost * PARAMETERS.general_outpatient_ratio),
            max(D(0), PARAMETERS.basic_annual_cap - before.basic_paid),
        )
    assert settlement.deposit_required is not (claim.registered_poor and claim.in_county)


@given(claims(), year_to_dates)
def test_year_to_date_after_adds_this_claim_and_reverse_takes_it_out(
    claim: Claim, before: YearToDate
) -> None:
    settlement = settle(claim, PARAMETERS, before)
    after = settlement.trace.year_to_date_after

    assert settlement.trace.year_to_date_before == before
    assert after.basic_paid == before.basic_paid + settlement.basic_insurance
    assert after.critical_illness_paid == before.critical_illness_paid + settlement.critical_illness
    assert after.assistance_paid == before.assistance_paid + settlement.medical_assistance
    added = (
        D(0) if claim.care_type is GENERAL else claim.in_policy_cost - settlement.basic_insurance
    )
    assert after.critical_illness_self_pay_base == before.critical_illness_self_pay_base + added
    assert reverse(after, settlement) == before


GROWTHS = ("same in-policy", "same proportion", "both parts up")


@st.composite
def larger_claims(draw: st.DrawFn) -> tuple[Claim, Claim]:
    """A claim and one like it with a higher total cost, grown in one of three ways."""
    smaller = draw(claims())
    growth = draw(st.sampled_from(GROWTHS))
    extra = fen(draw(st.integers(1, 20_000_000)))
    total = smaller.total_cost + extra
    if growth == "same in-policy":
        in_policy = smaller.in_policy_cost
    elif growth == "same proportion":
        # Rounding to the fen keeps both the in-policy and the out-of-policy
        # part from going down when the total goes up.
        in_policy = (
            round_fen(total * smaller.in_policy_cost / smaller.total_cost)
            if smaller.total_cost
            else D(0)
        )
    else:
        in_policy = smaller.in_policy_cost + fen(draw(st.integers(0, int(extra * 100))))
    larger = Claim(
        smaller.institution_level,
        smaller.in_county,
        smaller.care_type,
        total,
        in_policy,
        registered_poor=smaller.registered_poor,
        dibao=smaller.dibao,
        tekun=smaller.tekun,
    )
    return smaller, larger


@settings(max_examples=500)
@given(larger_claims(), year_to_dates)
def test_a_higher_total_never_lowers_what_the_payers_or_the_patient_pay(
    pair: tuple[Claim, Claim], before: YearToDate
) -> None:
    """With the in-policy and out-of-policy parts both not lower, each of basic
    insurance, critical illness, assistance and the patient pays at least as much.

    For a top-up-eligible patient the personal payment is min(personal before
    top-up, 10% of the total rounded down), both of which grow with the cost;
    for anyone else it is the out-of-policy part plus what is left of the
    in-policy part, which grows too because no layer pays more than 100% of
    an increase. The top-up alone may shrink (see the example above).
    """
    smaller, larger = pair
    small = settle(smaller, PARAMETERS, before)
    large = settle(larger, PARAMETERS, before)

    assert large.basic_insurance >= small.basic_insurance
    assert large.critical_illness >= small.critical_illness
    assert large.medical_assistance >= small.medical_assistance
    assert large.personal_payment >= small.personal_payment


@given(claims(), year_to_dates)
def test_top_up_eligible_patient_pays_the_lesser_of_the_share_and_the_remainder(
    claim: Claim, before: YearToDate
) -> None:
    settlement = settle(claim, PARAMETERS, before)
    remainder = (
        claim.total_cost
        - settlement.basic_insurance
        - settlement.critical_illness
        - settlement.medical_assistance
    )

    if claim.top_up_eligible:
        limit = (claim.total_cost * PARAMETERS.personal_share_cap).quantize(
            FEN, rounding=ROUND_FLOOR
        )
        assert settlement.personal_payment == min(remainder, limit)
    else:
        assert settlement.personal_payment == remainder
