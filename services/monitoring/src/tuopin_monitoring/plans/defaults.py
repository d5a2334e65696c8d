"""The seed plan: every target of the Gongjing 2020 work plan (seed/FACTS.md).

Targets the registry's data answers are computed; the others are reported by
the divisions responsible. Figures are the seed document's; a target whose
figure is a milestone ("built", "started", "in force") is 1 in the unit
``milestone`` and due by the end of the year (its expected progress starts in
December rather than in January).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tuopin_shared.contracts.monitoring import (
    Comparator,
    Measurement,
    PlanParameters,
    ProgressPoint,
    TargetInput,
)

PARAMETER_SOURCES: dict[str, str] = {
    "income_line": "seed",
    "monitoring_line": "placeholder",
    "income_drop_ratio": "placeholder",
    "medical_spending_ratio": "placeholder",
    "school_age_min": "national",
    "school_age_max": "national",
    "labour_capacities": "placeholder",
    "stable_employment_min_months": "placeholder",
    "new_condition_days": "placeholder",
    "unsafe_housing_grades": "national",
    "alert_statuses": "national",
    "at_risk_margin": "placeholder",
    "alert_severities": "placeholder",
}

C, R = Measurement.COMPUTED, Measurement.REPORTED
GE, EQ = Comparator.AT_LEAST, Comparator.EQUAL

# code, name, indicator, measurement, comparator, figure, unit, additive, notes
_TARGETS: list[tuple[str, str, str, Measurement, Comparator, str | None, str, bool, str | None]] = [
    ("G1", "Per-capita annual net income of every poor household, stably, at or above"
     " the income line", "income_at_or_above_line_share", C, GE, "100", "%", False,
     "the line is the plan's income_line (4,300 yuan)"),
    ("G2", "People lifted out of poverty whose indicators are consolidated",
     "lifted_out_consolidated_people", C, GE, "11226", "people", True, None),
    ("G3", "New poverty cases in the district", "newly_impoverished_households", C, EQ, "0",
     "households", True, None),
    ("G4", "Cases of return to poverty", "returned_to_poverty_households", C, EQ, "0",
     "households", True, None),
    ("G5", "Poor population meeting the two no-worries and three guarantees (water checked"
     " with them)", "guarantees_met_share", C, GE, "100", "%", False, None),
    ("I1", "Poor households stably linked to an industry chain", "industry_linked_share", R, GE,
     "80", "%", False, None),
    ("I2", "High-standard farmland consolidated", "high_standard_farmland", R, GE, "10000", "mu",
     True, None),
    ("I3", "New farm-machinery power", "farm_machinery_power", R, GE, "1000", "kW", True,
     "0.1 wan kW"),
    ("I4", "Irrigation pumping stations built or rebuilt", "pumping_stations", R, GE, "2",
     "stations", True, None),
    ("I5", "New poverty-alleviation industry base", "industry_bases", R, GE, "1", "bases", True,
     None),
    ("I6", "New primary processing facilities for farm products", "processing_facilities", R, GE,
     "4", "facilities", True, None),
    ("I7", "New provincial demonstration farmer cooperatives", "demonstration_cooperatives", R,
     GE, "3", "cooperatives", True, None),
    ("I8", "New provincial demonstration family farm", "demonstration_family_farms", R, GE, "1",
     "farms", True, None),
    ("I9", "New professional farmers trained", "professional_farmers_trained", R, GE, "50",
     "people", True, None),
    ("I10", "Town and village e-commerce service stations built or rebuilt",
     "ecommerce_stations", R, GE, "5", "stations", True, None),
    ("I11", "An e-commerce sales platform for poverty-alleviation products",
     "ecommerce_platform", R, EQ, "1", "milestone", False, "built"),
    ("E1", "Poor households with labour capacity that have at least one member in stable"
     " employment", "labour_households_employed_share", C, GE, "100", "%", False,
     "willingness to work is not in the registry: every household able to work counts"),
    ("E2", "Poverty-alleviation job fairs held", "job_fairs", R, GE, "2", "fairs", True, None),
    ("E3", "New poverty-alleviation workshop", "workshops", R, GE, "1", "workshops", True, None),
    ("E4", "Newly employed poor labourers", "newly_employed_labourers", C, GE, "100", "people",
     True, "members of poor households whose change from unemployed into work reached the"
     " registry's feed this year and who are still in work; those registered already"
     " working are not new"),
    ("N1", "Rural roads built or rebuilt", "rural_roads", R, GE, "35", "km", True, None),
    ("N2", "Yantangwan water-plant expansion (urban-rural water supply)",
     "water_plant_expansion", R, EQ, "1", "milestone", False, "started"),
    ("N3", "Rural tap-water qualification rate", "tap_water_qualification_rate", R, GE, None,
     "%", False, "to be raised; the plan gives no figure"),
    ("N4", "100 Mbps broadband coverage", "broadband_100mbps_coverage", R, GE, "95", "%", False,
     None),
    ("N5", "Gigabit broadband coverage (pilot villages)", "broadband_gigabit_coverage", R, GE,
     "5", "%", False, None),
    ("N6", "10 kV lines built or rebuilt", "lines_10kv", R, GE, "12", "km", True, None),
    ("N7", "Low-voltage lines built or rebuilt", "lines_low_voltage", R, GE, "86", "km", True,
     None),
    ("N8", "Transformers built or rebuilt", "transformers", R, GE, "38", "transformers", True,
     None),
    ("N9", "Poor households with safe housing (hazard relocation, reinforcement)",
     "safe_housing_share", C, GE, "100", "%", False, None),
    ("N10", "Rural domestic-garbage collection and treatment efficiency",
     "garbage_treatment_efficiency", R, GE, "94", "%", False, None),
    ("S1", "School-age children of poor households enrolled in compulsory education",
     "school_enrolment_share", C, GE, "100", "%", False,
     "no pupil drops out because of poverty"),
    ("S2", "Registered poor people covered by basic medical and critical-illness insurance",
     "insurance_coverage_share", C, GE, "100", "%", False,
     "medical assistance, the third layer, is the benefits service's"),
    ("S3", "Personal share of in-county hospitalisation and chronic-disease outpatient costs",
     "in_county_poor_within_cap_share", C, GE, "100", "%", False,
     "at most 10% for each settlement of a poor patient: every settlement within the cap"),
    ("S4", "One-stop instant settlement; in-county treat first, pay later",
     "one_stop_settlement", R, EQ, "1", "milestone", False, "in force"),
    ("S5", "Family-doctor contracting for poor people", "family_doctor_contracting", R, EQ, "1",
     "milestone", False, "in force"),
    ("S6", "Resident pension contribution paid for each eligible registered poor person",
     "pension_paid_on_behalf_share", C, GE, "100", "%", False,
     "100 yuan per person per year"),
    ("S7", "Eligible registered poor households in the minimum living allowance",
     "dibao_coverage_share", C, GE, "100", "%", False, "all who qualify are covered"),
    ("S8", "Disability nursing and living subsidies paid quarterly on actual eligibility",
     "disability_subsidies_paid_share", C, GE, "100", "%", False, None),
]  # fmt: skip


def seed_targets(year: int) -> list[TargetInput]:
    """The targets for ``year`` (the seed is for 2020; the milestones fall due in its December)."""
    december = [ProgressPoint(on=date(year, 12, 1), share=Decimal(0))]
    return [
        TargetInput(
            code=code,
            name=name,
            indicator=indicator,
            measurement=measurement,
            comparator=comparator,
            figure=Decimal(figure) if figure is not None else None,
            unit=unit,
            source="seed",
            additive=additive,
            expected_progress=december if unit == "milestone" else None,
            notes=notes,
        )
        for (code, name, indicator, measurement, comparator, figure, unit, additive, notes) in (
            _TARGETS
        )
    ]


def seed_parameters() -> PlanParameters:
    return PlanParameters()
