"""One-stop medical settlement (一站式即时结算), pure.

One claim is settled across every payer in one call: basic medical insurance,
critical-illness insurance, medical assistance and the health poverty-relief
top-up, leaving the patient's personal payment. Besides the claim and the
policy parameters, the computation needs the person's year-to-date sums from
earlier settlements (read by the caller from the service's own ledger, never
taken from the client); it returns the sums after this claim so that the
caller can store them with the settlement.

Money rule: each payer's amount is rounded half-up to the fen once, and the
personal payment is what is left of the total, so the parts always add up to
the total exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from types import MappingProxyType

from tuopin_shared.contracts.money import FEN, round_fen

__all__ = [
    "SOURCES",
    "AnnualCap",
    "ByLevel",
    "CareType",
    "Claim",
    "CriticalIllnessTier",
    "InstitutionLevel",
    "MedicalParameters",
    "Settlement",
    "SettlementTrace",
    "TierPortion",
    "YearToDate",
    "default_parameters",
    "reverse",
    "settle",
]

ZERO = Decimal("0.00")
ONE = Decimal(1)
_SHARE_PLACES = Decimal("0.0001")

# The computation runs in its own context so that neither precision nor
# rounding depends on whatever the calling thread's context happens to be.
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


class InstitutionLevel(StrEnum):
    """Level of the treating institution (医疗机构级别)."""

    TOWNSHIP = "township"  # 乡镇卫生院
    COUNTY = "county"  # 县级
    MUNICIPAL = "municipal"  # 市级
    PROVINCIAL = "provincial"  # 省级


class CareType(StrEnum):
    """Kind of care a claim is for."""

    INPATIENT = "inpatient"  # 住院
    CHRONIC_OUTPATIENT = "chronic_outpatient"  # 门诊慢特病 (chronic-disease maintenance)
    GENERAL_OUTPATIENT = "general_outpatient"  # 普通门诊


class AnnualCap(StrEnum):
    """An annual ceiling that reduced what a payer would otherwise have paid."""

    BASIC_INSURANCE = "basic_insurance"
    CRITICAL_ILLNESS = "critical_illness"
    MEDICAL_ASSISTANCE = "medical_assistance"


def _amount(name: str, value: object) -> Decimal:
    """An input amount checked (a Decimal, not negative, whole fen) and given two places."""
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite amount, got {value}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    try:
        exact = value.quantize(FEN, context=_CONTEXT)
    except InvalidOperation:
        raise ValueError(f"{name} is too large: {value}") from None
    # Refused rather than rounded: a third decimal place means the amount was
    # computed or typed wrongly upstream, and rounding here would hide that.
    if exact != value:
        raise ValueError(f"{name} must have at most 2 decimal places, got {value}")
    # copy_abs: "-0.00" would read like a debit that is not there.
    return exact.copy_abs()


@dataclass(frozen=True)
class Claim:
    """One claim from a designated institution, as the settlement rules see it.

    Assistance applies to registered poor, dibao and tekun patients; the
    in-county adjustments, the top-up and "treat first, pay later" to
    registered poor patients only.
    """

    institution_level: InstitutionLevel
    in_county: bool
    care_type: CareType
    total_cost: Decimal
    in_policy_cost: Decimal
    registered_poor: bool = False
    dibao: bool = False
    tekun: bool = False

    def __post_init__(self) -> None:
        total = _amount("total_cost", self.total_cost)
        in_policy = _amount("in_policy_cost", self.in_policy_cost)
        if in_policy > total:
            raise ValueError(
                f"in_policy_cost {in_policy} must not exceed total_cost {total}: "
                "the in-policy cost is part of the total"
            )
        # Frozen, so the checked values are put in place once, here; the enum
        # constructors also refuse an unknown level or care type given as text.
        object.__setattr__(self, "institution_level", InstitutionLevel(self.institution_level))
        object.__setattr__(self, "care_type", CareType(self.care_type))
        object.__setattr__(self, "total_cost", total)
        object.__setattr__(self, "in_policy_cost", in_policy)

    @property
    def poor_in_county(self) -> bool:
        return self.registered_poor and self.in_county

    @property
    def assistance_eligible(self) -> bool:
        return self.registered_poor or self.dibao or self.tekun

    @property
    def top_up_eligible(self) -> bool:
        # Seed S3 names in-county hospitalisation and chronic-disease outpatient
        # maintenance, nothing else.
        return self.poor_in_county and self.care_type in (
            CareType.INPATIENT,
            CareType.CHRONIC_OUTPATIENT,
        )


@dataclass(frozen=True)
class YearToDate:
    """A person's sums for the calendar year from earlier settlements."""

    # Paid by basic insurance, toward its annual cap.
    basic_paid: Decimal = ZERO
    # In-policy cost left after basic insurance, cumulated: the figure the
    # critical-illness deductible and tiers are measured on.
    critical_illness_self_pay_base: Decimal = ZERO
    # Paid by critical-illness insurance, toward its annual cap (non-poor).
    critical_illness_paid: Decimal = ZERO
    # Paid by medical assistance, toward its annual cap.
    assistance_paid: Decimal = ZERO

    def __post_init__(self) -> None:
        for item in fields(self):
            object.__setattr__(self, item.name, _amount(item.name, getattr(self, item.name)))

    def _combine(self, other: YearToDate, sign: int) -> YearToDate:
        return YearToDate(
            **{
                item.name: getattr(self, item.name) + sign * getattr(other, item.name)
                for item in fields(self)
            }
        )


@dataclass(frozen=True)
class ByLevel:
    """One figure per institution level."""

    township: Decimal
    county: Decimal
    municipal: Decimal
    provincial: Decimal

    def __getitem__(self, level: InstitutionLevel) -> Decimal:
        return {
            InstitutionLevel.TOWNSHIP: self.township,
            InstitutionLevel.COUNTY: self.county,
            InstitutionLevel.MUNICIPAL: self.municipal,
            InstitutionLevel.PROVINCIAL: self.provincial,
        }[level]


@dataclass(frozen=True)
class CriticalIllnessTier:
    """A band of the year's in-policy self-pay, measured above the critical-illness
    deductible, and the ratio paid on it."""

    up_to: Decimal | None  # upper bound above the deductible; None for the open top band
    ratio: Decimal


@dataclass(frozen=True)
class MedicalParameters:
    """Every figure of the settlement rules. Defaults from the district's policy;
    where each comes from is in ``SOURCES``. Ratios are fractions (0.80 = 80%)."""

    inpatient_deductible: ByLevel = ByLevel(
        township=Decimal("100"),
        county=Decimal("400"),
        municipal=Decimal("800"),
        provincial=Decimal("1200"),
    )
    basic_ratio: ByLevel = ByLevel(
        township=Decimal("0.90"),
        county=Decimal("0.80"),
        municipal=Decimal("0.70"),
        provincial=Decimal("0.60"),
    )
    poor_in_county_deductible_factor: Decimal = Decimal("0.5")
    poor_in_county_extra_ratio: Decimal = Decimal("0.05")
    basic_annual_cap: Decimal = Decimal("150000")
    general_outpatient_ratio: Decimal = Decimal("0.50")
    critical_illness_deductible: Decimal = Decimal("15000")
    critical_illness_poor_deductible_factor: Decimal = Decimal("0.5")
    critical_illness_tiers: tuple[CriticalIllnessTier, ...] = (
        CriticalIllnessTier(up_to=Decimal("50000"), ratio=Decimal("0.60")),
        CriticalIllnessTier(up_to=Decimal("100000"), ratio=Decimal("0.70")),
        CriticalIllnessTier(up_to=None, ratio=Decimal("0.80")),
    )
    critical_illness_poor_extra_ratio: Decimal = Decimal("0.05")
    # None means no cap.
    critical_illness_annual_cap: Decimal | None = Decimal("400000")
    critical_illness_poor_annual_cap: Decimal | None = None
    assistance_ratio: Decimal = Decimal("0.70")
    assistance_annual_cap: Decimal = Decimal("30000")
    # The most a top-up-eligible patient pays, as a share of the total cost.
    personal_share_cap: Decimal = Decimal("0.10")

    def __post_init__(self) -> None:
        # Ratios and factors outside [0, 1] would let a payer pay more than the
        # cost or a deductible grow; refuse such a parameter set outright.
        fractions = {
            "poor_in_county_deductible_factor": self.poor_in_county_deductible_factor,
            "poor_in_county_extra_ratio": self.poor_in_county_extra_ratio,
            "general_outpatient_ratio": self.general_outpatient_ratio,
            "critical_illness_poor_deductible_factor": self.critical_illness_poor_deductible_factor,
            "critical_illness_poor_extra_ratio": self.critical_illness_poor_extra_ratio,
            "assistance_ratio": self.assistance_ratio,
            "personal_share_cap": self.personal_share_cap,
        }
        for level in InstitutionLevel:
            fractions[f"basic_ratio.{level}"] = self.basic_ratio[level]
        for index, tier in enumerate(self.critical_illness_tiers):
            fractions[f"critical_illness_tiers[{index}].ratio"] = tier.ratio
        for name, value in fractions.items():
            if not ZERO <= value <= ONE:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")

        amounts: dict[str, Decimal | None] = {
            "basic_annual_cap": self.basic_annual_cap,
            "critical_illness_deductible": self.critical_illness_deductible,
            "critical_illness_annual_cap": self.critical_illness_annual_cap,
            "critical_illness_poor_annual_cap": self.critical_illness_poor_annual_cap,
            "assistance_annual_cap": self.assistance_annual_cap,
        }
        for level in InstitutionLevel:
            amounts[f"inpatient_deductible.{level}"] = self.inpatient_deductible[level]
        for name, amount in amounts.items():
            if amount is not None:
                _amount(name, amount)

        bounds = [tier.up_to for tier in self.critical_illness_tiers]
        if not bounds or bounds[-1] is not None or None in bounds[:-1]:
            raise ValueError("critical_illness_tiers must end with exactly one open tier")
        closed = [bound for bound in bounds if bound is not None]
        if any(low >= high for low, high in zip([ZERO, *closed], closed, strict=False)):
            raise ValueError("critical_illness_tiers bounds must be positive and increasing")


SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "inpatient_deductible": "placeholder: per stay; township 100, county 400, "
        "municipal 800, provincial 1,200",
        "basic_ratio": "placeholder: township 90%, county 80%, municipal 70%, provincial 60%; "
        "also the chronic-disease outpatient ratio",
        "poor_in_county_deductible_factor": "placeholder: deductible halved for a registered "
        "poor patient treated in county",
        "poor_in_county_extra_ratio": "placeholder: +5 points for a registered poor patient "
        "treated in county",
        "basic_annual_cap": "placeholder: 150,000",
        "general_outpatient_ratio": "placeholder: 50%, no deductible, no further layers",
        "critical_illness_deductible": "placeholder: 15,000 a year",
        "critical_illness_poor_deductible_factor": "placeholder: halved for the registered poor",
        "critical_illness_tiers": "placeholder: up to 50,000 above the deductible at 60%, "
        "50,000-100,000 at 70%, above at 80%",
        "critical_illness_poor_extra_ratio": "placeholder: +5 points for the registered poor",
        "critical_illness_annual_cap": "placeholder: 400,000 for patients not registered poor",
        "critical_illness_poor_annual_cap": "placeholder: none for the registered poor",
        "assistance_ratio": "placeholder: 70% of the in-policy self-pay left",
        "assistance_annual_cap": "placeholder: 30,000",
        "personal_share_cap": "seed (S3): personal share of in-county hospitalisation and "
        "chronic-disease outpatient costs at most 10% for the registered poor",
    }
)
"""Where each default of ``MedicalParameters`` comes from, by field name."""


def default_parameters() -> MedicalParameters:
    """The district's default figures (see ``SOURCES``), used until an operator sets others."""
    return MedicalParameters()


@dataclass(frozen=True)
class TierPortion:
    """The part of this claim's critical-illness base that fell in one tier."""

    lower: Decimal  # the tier's bounds, measured above the deductible
    upper: Decimal | None
    ratio: Decimal  # the ratio applied, extra points for the registered poor included
    base: Decimal
    amount: Decimal  # base x ratio, before the payer's total is rounded


@dataclass(frozen=True)
class SettlementTrace:
    """What applied to a claim, so that a settlement can be explained and audited."""

    deductible: Decimal  # basic insurance, this claim
    ratio: Decimal  # basic insurance
    critical_illness_deductible: Decimal | None  # None when the layer does not apply
    critical_illness_tiers: tuple[TierPortion, ...]
    # The most the patient may pay when the top-up applies, else None.
    personal_payment_limit: Decimal | None
    caps_hit: tuple[AnnualCap, ...]
    year_to_date_before: YearToDate
    year_to_date_after: YearToDate
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Settlement:
    """How one claim's total cost is split between the payers and the patient."""

    basic_insurance: Decimal
    critical_illness: Decimal
    medical_assistance: Decimal
    poverty_top_up: Decimal
    personal_payment: Decimal
    personal_share: Decimal | None  # personal / total to 4 places; None for a zero total
    # False for a registered poor patient treated in county: treat first, pay later.
    deposit_required: bool
    trace: SettlementTrace

    @property
    def ytd_delta(self) -> YearToDate:
        """What this settlement added to the person's year-to-date sums."""
        return self.trace.year_to_date_after._combine(self.trace.year_to_date_before, -1)


def settle(
    claim: Claim, parameters: MedicalParameters, year_to_date: YearToDate | None = None
) -> Settlement:
    """Split a claim's total cost between basic insurance, critical-illness insurance,
    medical assistance, the poverty top-up and the patient."""
    before = year_to_date if year_to_date is not None else YearToDate()
    log = _Log()
    with localcontext(_CONTEXT):
        deductible, ratio = _basic_terms(claim, parameters, log)
        basic = _basic_insurance(claim, parameters, before, deductible, ratio, log)
        # The in-policy cost the patient would still owe after basic insurance.
        self_pay = claim.in_policy_cost - basic

        if claim.care_type is CareType.GENERAL_OUTPATIENT:
            log.note("general outpatient: basic insurance only, no further layers")
            critical_illness_deductible: Decimal | None = None
            portions: tuple[TierPortion, ...] = ()
            critical_illness = ZERO
            base_added = ZERO
        else:
            critical_illness_deductible, portions, critical_illness = _critical_illness(
                claim, parameters, before, self_pay, log
            )
            base_added = self_pay

        assistance = ZERO
        if claim.care_type is not CareType.GENERAL_OUTPATIENT and claim.assistance_eligible:
            assistance = _assistance(parameters, before, self_pay - critical_illness, log)

        personal_before_top_up = claim.total_cost - basic - critical_illness - assistance
        top_up = ZERO
        limit: Decimal | None = None
        if claim.top_up_eligible:
            # Rounded down, not half-up: half-up could let the patient pay up
            # to half a fen more than the share allows (total 955.05: 10% is
            # 95.505, and 95.51 would be above it). Rounding down keeps the
            # share at or under the cap exactly; the fund pays the fraction of a fen.
            limit = (claim.total_cost * parameters.personal_share_cap).quantize(
                FEN, rounding=ROUND_FLOOR
            )
            top_up = max(ZERO, personal_before_top_up - limit)
            log.note(
                f"top-up {_yuan(top_up)}: personal payment limited to {_yuan(limit)} "
                f"({_percent(parameters.personal_share_cap)} of {_yuan(claim.total_cost)}, "
                "rounded down to the fen)"
            )
        elif claim.registered_poor and claim.care_type is not CareType.GENERAL_OUTPATIENT:
            log.note("no top-up: it applies only to care in county")

        personal = personal_before_top_up - top_up
        share = (personal / claim.total_cost).quantize(_SHARE_PLACES) if claim.total_cost else None

    deposit_required = not claim.poor_in_county
    if not deposit_required:
        log.note("no deposit: registered poor patient treated in county (treat first, pay later)")

    after = before._combine(
        YearToDate(
            basic_paid=basic,
            critical_illness_self_pay_base=base_added,
            critical_illness_paid=critical_illness,
            assistance_paid=assistance,
        ),
        1,
    )
    return Settlement(
        basic_insurance=basic,
        critical_illness=critical_illness,
        medical_assistance=assistance,
        poverty_top_up=top_up,
        personal_payment=personal,
        personal_share=share,
        deposit_required=deposit_required,
        trace=SettlementTrace(
            deductible=deductible,
            ratio=ratio,
            critical_illness_deductible=critical_illness_deductible,
            critical_illness_tiers=portions,
            personal_payment_limit=limit,
            caps_hit=tuple(log.caps_hit),
            year_to_date_before=before,
            year_to_date_after=after,
            notes=tuple(log.notes),
        ),
    )


def reverse(year_to_date: YearToDate, settlement: Settlement) -> YearToDate:
    """The year-to-date sums with one settlement's effects taken out (a reversal).

    ``year_to_date`` is the person's current state, which includes the
    settlement. Settlements made after it are left as they were, not
    recomputed: they were paid on the sums as they stood then, and a
    correction is a reversal plus a new claim.
    """
    delta = settlement.ytd_delta
    for item in fields(YearToDate):
        current, removed = getattr(year_to_date, item.name), getattr(delta, item.name)
        if current < removed:
            raise ValueError(
                f"year-to-date {item.name} {current} is less than the {removed} the "
                "settlement added: these sums do not include that settlement"
            )
    return year_to_date._combine(delta, -1)


class _Log:
    """Notes and caps gathered while a claim is settled."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.caps_hit: list[AnnualCap] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def _basic_terms(claim: Claim, parameters: MedicalParameters, log: _Log) -> tuple[Decimal, Decimal]:
    """The basic-insurance deductible and ratio for this claim."""
    if claim.care_type is CareType.GENERAL_OUTPATIENT:
        # The general-outpatient rule is flat: no per-level figures and no
        # adjustment for the poor.
        return ZERO, parameters.general_outpatient_ratio
    level = claim.institution_level
    deductible = (
        parameters.inpatient_deductible[level] if claim.care_type is CareType.INPATIENT else ZERO
    )
    ratio = parameters.basic_ratio[level]
    if claim.poor_in_county:
        # For chronic-disease outpatient care the policy gives "the inpatient
        # ratio of the institution's level"; the reading chosen here is that
        # this ratio includes the +5 points a registered poor patient gets in
        # county, as it would on a stay at the same institution.
        deductible *= parameters.poor_in_county_deductible_factor
        ratio = min(ONE, ratio + parameters.poor_in_county_extra_ratio)
        log.note(
            "registered poor patient treated in county: deductible "
            f"x {parameters.poor_in_county_deductible_factor}, ratio "
            f"+{_points(parameters.poor_in_county_extra_ratio)} points"
        )
    elif claim.registered_poor:
        log.note("registered poor patient treated out of county: standard deductible and ratio")
    return deductible, ratio


def _basic_insurance(
    claim: Claim,
    parameters: MedicalParameters,
    before: YearToDate,
    deductible: Decimal,
    ratio: Decimal,
    log: _Log,
) -> Decimal:
    covered = max(ZERO, claim.in_policy_cost - deductible)
    amount = _within_cap(
        covered * ratio,
        parameters.basic_annual_cap,
        before.basic_paid,
        AnnualCap.BASIC_INSURANCE,
        log,
    )
    log.note(
        f"basic insurance {_yuan(amount)}: (in-policy {_yuan(claim.in_policy_cost)} - "
        f"deductible {_yuan(deductible)}) x {_percent(ratio)}"
    )
    return amount


def _critical_illness(
    claim: Claim,
    parameters: MedicalParameters,
    before: YearToDate,
    self_pay: Decimal,
    log: _Log,
) -> tuple[Decimal, tuple[TierPortion, ...], Decimal]:
    """Critical-illness insurance on this claim: the deductible, the tier portions, the amount.

    The deductible and tiers are yearly, so they are measured on the year's
    cumulative base; this claim is paid on the stretch of that base it adds
    above the deductible, split across the tiers that stretch runs through.
    """
    poor = claim.registered_poor
    deductible = parameters.critical_illness_deductible
    if poor:
        deductible *= parameters.critical_illness_poor_deductible_factor
    extra = parameters.critical_illness_poor_extra_ratio if poor else ZERO

    base_before = before.critical_illness_self_pay_base
    base_after = base_before + self_pay
    if base_before < deductible < base_after:
        log.note(f"critical-illness deductible {_yuan(deductible)} crossed in this claim")
    elif base_after <= deductible:
        log.note(
            f"critical-illness deductible {_yuan(deductible)} not reached: "
            f"year's base {_yuan(base_after)}"
        )
    elif base_before >= deductible:
        log.note(f"critical-illness deductible {_yuan(deductible)} already passed this year")
    start = max(ZERO, base_before - deductible)
    end = max(ZERO, base_after - deductible)

    portions: list[TierPortion] = []
    lower = ZERO
    for tier in parameters.critical_illness_tiers:
        low = max(lower, start)
        high = end if tier.up_to is None else min(tier.up_to, end)
        if high > low:
            ratio = min(ONE, tier.ratio + extra)
            portions.append(TierPortion(lower, tier.up_to, ratio, high - low, (high - low) * ratio))
        if tier.up_to is None:
            break
        lower = tier.up_to

    cap = (
        parameters.critical_illness_poor_annual_cap
        if poor
        else parameters.critical_illness_annual_cap
    )
    amount = _within_cap(
        sum((portion.amount for portion in portions), ZERO),
        cap,
        before.critical_illness_paid,
        AnnualCap.CRITICAL_ILLNESS,
        log,
    )
    if portions:
        log.note(
            f"critical-illness insurance {_yuan(amount)} on {_yuan(end - start)} above "
            "the deductible, "
            + ", ".join(f"{_yuan(p.base)} at {_percent(p.ratio)}" for p in portions)
        )
    return deductible, tuple(portions), amount


def _assistance(
    parameters: MedicalParameters, before: YearToDate, left: Decimal, log: _Log
) -> Decimal:
    # max() only guards the arithmetic: critical illness never pays more than
    # the self-pay it is computed on.
    left = max(ZERO, left)
    amount = _within_cap(
        left * parameters.assistance_ratio,
        parameters.assistance_annual_cap,
        before.assistance_paid,
        AnnualCap.MEDICAL_ASSISTANCE,
        log,
    )
    log.note(
        f"medical assistance {_yuan(amount)}: {_percent(parameters.assistance_ratio)} of "
        f"the in-policy self-pay left, {_yuan(left)}"
    )
    return amount


def _within_cap(
    raw: Decimal, annual_cap: Decimal | None, paid: Decimal, cap: AnnualCap, log: _Log
) -> Decimal:
    """A payer's amount, rounded half-up to the fen once and kept within what is
    left of its annual cap (None: no cap)."""
    amount = round_fen(raw)
    if annual_cap is None:
        return amount
    remaining = max(ZERO, round_fen(annual_cap - paid))
    if amount <= remaining:
        return amount
    log.caps_hit.append(cap)
    log.note(
        f"{cap.value.replace('_', ' ')} annual cap {_yuan(annual_cap)} reached: "
        f"{_yuan(remaining)} paid of {_yuan(amount)}"
    )
    return remaining


def _yuan(value: Decimal) -> str:
    return format(round_fen(value), "f")


def _percent(ratio: Decimal) -> str:
    return f"{_points(ratio)}%"


def _points(ratio: Decimal) -> str:
    # normalize() drops trailing zeros (85.00 -> 85); "f" keeps it from
    # turning 100 into 1E+2.
    return format((ratio * 100).normalize(), "f")
