"""Settlements as the wire shows them, and back into the rules' values.

One function builds the answer from a settlement's columns, whether they were
just computed or read back, so that the first answer and a later read agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tuopin_benefits.settlement import rules
from tuopin_shared.contracts.identity import mask_resident_id
from tuopin_shared.contracts.medical import (
    PatientCategory,
    PolicyUsed,
    Settlement,
    SettlementReversal,
    SettlementTrace,
    YearToDate,
)
from tuopin_shared.contracts.money import FEN

_YEAR_TO_DATE_FIELDS = tuple(YearToDate.model_fields)
_RESIDENT_ID_FIELD = re.compile(r'"resident_id":"([0-9]{17}[0-9X])"')


def _figure(value: Decimal) -> Decimal:
    """Two places when the figure is whole fen (7500.0 -> 7500.00), else as computed."""
    in_fen = value.quantize(FEN)
    return in_fen if in_fen == value else value


def _year_to_date(value: rules.YearToDate) -> dict[str, Decimal]:
    return {name: getattr(value, name) for name in _YEAR_TO_DATE_FIELDS}


def trace_of(trace: rules.SettlementTrace, personal_share_cap: Decimal) -> SettlementTrace:
    return SettlementTrace(
        deductible=_figure(trace.deductible),
        ratio=trace.ratio,
        critical_illness_deductible=(
            None
            if trace.critical_illness_deductible is None
            else _figure(trace.critical_illness_deductible)
        ),
        critical_illness_tiers=[
            {
                "lower": _figure(portion.lower),
                "upper": None if portion.upper is None else _figure(portion.upper),
                "ratio": portion.ratio,
                "base": _figure(portion.base),
                "amount": _figure(portion.amount),
            }
            for portion in trace.critical_illness_tiers
        ],
        personal_share_cap=personal_share_cap,
        personal_payment_limit=trace.personal_payment_limit,
        caps_hit=[cap.value for cap in trace.caps_hit],
        year_to_date_before=_year_to_date(trace.year_to_date_before),
        year_to_date_after=_year_to_date(trace.year_to_date_after),
        notes=list(trace.notes),
    )


def settlement_view(row: Mapping[Any, Any]) -> Settlement:
    """The settlement from its columns (the policy's from a join), resident ID unmasked."""
    reversal = None
    if row["reversed_at"] is not None:
        reversal = SettlementReversal(
            reversed_at=row["reversed_at"],
            reversed_by=row["reversed_by"],
            reason=row["reversal_reason"],
        )
    return Settlement(
        id=row["id"],
        status=row["status"],
        institution_code=row["institution_code"],
        claim_number=row["claim_number"],
        institution_level=row["institution_level"],
        resident_id=row["resident_id"],
        patient=PatientCategory(
            division_code=row["division_code"],
            household_status=row["household_status"],
            registered_poor=row["registered_poor"],
            dibao=row["dibao"],
            tekun=row["tekun"],
        ),
        in_county=row["in_county"],
        care_type=row["care_type"],
        admitted_on=row["admitted_on"],
        discharged_on=row["discharged_on"],
        year=row["year"],
        total_cost=row["total_cost"],
        in_policy_cost=row["in_policy_cost"],
        basic_insurance=row["basic_insurance"],
        critical_illness=row["critical_illness"],
        medical_assistance=row["medical_assistance"],
        poverty_top_up=row["poverty_top_up"],
        personal_payment=row["personal_payment"],
        personal_share=row["personal_share"],
        deposit_required=row["deposit_required"],
        trace=row["trace"],
        policy=PolicyUsed(
            policy_set_id=row["policy_set_id"],
            district_code=row["policy_district_code"],
            year=row["policy_year"],
            version=row["policy_version"],
        ),
        settled_at=row["settled_at"],
        settled_by=row["settled_by"],
        reversal=reversal,
    )


def _rules_year_to_date(value: YearToDate) -> rules.YearToDate:
    return rules.YearToDate(**{name: getattr(value, name) for name in _YEAR_TO_DATE_FIELDS})


def rules_settlement(row: Mapping[Any, Any]) -> rules.Settlement:
    """A stored settlement as the rules return it, for ``rules.reverse``."""
    trace = SettlementTrace.model_validate(row["trace"])
    return rules.Settlement(
        basic_insurance=row["basic_insurance"],
        critical_illness=row["critical_illness"],
        medical_assistance=row["medical_assistance"],
        poverty_top_up=row["poverty_top_up"],
        personal_payment=row["personal_payment"],
        personal_share=row["personal_share"],
        deposit_required=row["deposit_required"],
        trace=rules.SettlementTrace(
            deductible=trace.deductible,
            ratio=trace.ratio,
            critical_illness_deductible=trace.critical_illness_deductible,
            critical_illness_tiers=tuple(
                rules.TierPortion(p.lower, p.upper, p.ratio, p.base, p.amount)
                for p in trace.critical_illness_tiers
            ),
            personal_payment_limit=trace.personal_payment_limit,
            caps_hit=tuple(rules.AnnualCap(cap.value) for cap in trace.caps_hit),
            year_to_date_before=_rules_year_to_date(trace.year_to_date_before),
            year_to_date_after=_rules_year_to_date(trace.year_to_date_after),
            notes=tuple(trace.notes),
        ),
    )


def _mask_match(match: re.Match[str]) -> str:
    return f'"resident_id":"{mask_resident_id(match.group(1))}"'


def for_caller(body: str, unmasked: bool) -> str:
    """A stored answer as this caller may see it: the resident ID masked without pii.

    Answers are stored unmasked so that a retry by a caller holding pii gets
    the number; the one field that carries it is masked on the way out.
    """
    return body if unmasked else _RESIDENT_ID_FIELD.sub(_mask_match, body)
