"""Wire models of the monitoring service: plans and targets, progress reports,
indicator snapshots, the dashboard and return-to-poverty alerts."""

from __future__ import annotations

import datetime as datetime_module
import itertools
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tuopin_shared.contracts.divisions import DivisionCode
from tuopin_shared.contracts.enums import (
    HousingGrade,
    LabourCapacity,
    PovertyStatus,
)
from tuopin_shared.contracts.money import NonNegativeMoney

Year = Annotated[int, Field(ge=2000, le=2100, examples=[2020])]
Ratio = Annotated[Decimal, Field(ge=0, le=1, decimal_places=4, examples=["0.30"])]
TargetCode = Annotated[
    str, Field(min_length=1, max_length=16, pattern=r"^[A-Z][A-Z0-9.\-]*$", examples=["G1"])
]
Unit = Annotated[str, Field(min_length=1, max_length=20, examples=["km", "%"])]


class _Input(BaseModel):
    # Unknown fields are refused: a typo must not be silently dropped.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Comparator(StrEnum):
    """How a value is held against a target's figure."""

    AT_LEAST = ">="
    AT_MOST = "<="
    EQUAL = "="


class Measurement(StrEnum):
    """Where a target's value comes from."""

    COMPUTED = "computed"  # from the registry projection (or another service's statistics)
    REPORTED = "reported"  # from progress reports filed by divisions


class TargetStatus(StrEnum):
    ACHIEVED = "achieved"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    NOT_AVAILABLE = "not_available"


class AlertRule(StrEnum):
    """The return-to-poverty alert rules (POLICY.md), each parameterised by the plan."""

    INCOME_BELOW_LINE = "income_below_line"
    INCOME_BELOW_MONITORING_LINE = "income_below_monitoring_line"
    INCOME_DROP = "income_drop"
    MEDICAL_SPENDING = "medical_spending"
    NEW_DISABILITY_OR_ILLNESS = "new_disability_or_illness"
    SCHOOL_DROPOUT = "school_dropout"
    UNSAFE_HOUSING = "unsafe_housing"
    NO_EMPLOYED_MEMBER = "no_employed_member"


class AlertSeverity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


# ---------------------------------------------------------------- plans


def _default_severities() -> dict[AlertRule, AlertSeverity]:
    return {
        AlertRule.INCOME_BELOW_LINE: AlertSeverity.HIGH,
        AlertRule.INCOME_BELOW_MONITORING_LINE: AlertSeverity.LOW,
        AlertRule.INCOME_DROP: AlertSeverity.MEDIUM,
        AlertRule.MEDICAL_SPENDING: AlertSeverity.MEDIUM,
        AlertRule.NEW_DISABILITY_OR_ILLNESS: AlertSeverity.MEDIUM,
        AlertRule.SCHOOL_DROPOUT: AlertSeverity.HIGH,
        AlertRule.UNSAFE_HOUSING: AlertSeverity.HIGH,
        AlertRule.NO_EMPLOYED_MEMBER: AlertSeverity.MEDIUM,
    }


class PlanParameters(_Input):
    """The figures the plan's indicators and alert rules use (data, never code)."""

    income_line: NonNegativeMoney = Field(
        default=Decimal("4300.00"), description="Per-capita net income every poor household needs."
    )
    monitoring_line: NonNegativeMoney = Field(
        default=Decimal("6000.00"), description="Below it a household is watched (1.5 x line)."
    )
    income_drop_ratio: Ratio = Field(
        default=Decimal("0.30"), description="Year-on-year fall of per-capita income that alerts."
    )
    medical_spending_ratio: Ratio = Field(
        default=Decimal("0.50"),
        description="Personal medical spending over this share of net income alerts"
        " (not evaluated: the registry does not hold medical spending).",
    )
    school_age_min: int = Field(default=6, ge=0, le=25)
    school_age_max: int = Field(default=15, ge=0, le=25)
    labour_capacities: list[LabourCapacity] = Field(
        default=[LabourCapacity.SKILLED, LabourCapacity.ORDINARY],
        description="Capacities that make a member able to work.",
    )
    stable_employment_min_months: int = Field(
        default=6, ge=0, le=12, description="Months worked in the year that count as stable work."
    )
    new_condition_days: int = Field(
        default=365, ge=1, le=3660, description="How long a new disability or illness alerts."
    )
    unsafe_housing_grades: list[HousingGrade] = Field(
        default=[HousingGrade.C, HousingGrade.D],
        description="Grades that alert unless the household was relocated or the house reinforced.",
    )
    alert_statuses: list[PovertyStatus] = Field(
        default=[PovertyStatus.LIFTED_OUT, PovertyStatus.MONITORED],
        description="Households watched for return to poverty (lifted out, edge households).",
    )
    at_risk_margin: Ratio = Field(
        default=Decimal("0.10"),
        description="Shortfall behind the expected-progress line, as a share of the distance"
        " from baseline to figure, that is still 'at risk' rather than 'off track'.",
    )
    alert_severities: dict[AlertRule, AlertSeverity] = Field(default_factory=_default_severities)

    @model_validator(mode="after")
    def _consistent(self) -> PlanParameters:
        if self.school_age_min > self.school_age_max:
            raise ValueError("school_age_min must not exceed school_age_max")
        if self.monitoring_line < self.income_line:
            raise ValueError("monitoring_line must not be below income_line")
        return self


class PlanInput(_Input):
    """A district's plan for a year; its targets are added one by one."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "district_code": "510303000000",
                    "year": 2020,
                    "name": "Gongjing District 2020 key points of poverty-alleviation work",
                    "parameters": {"income_line": "4300.00", "monitoring_line": "6000.00"},
                    "sources": {"income_line": "seed", "monitoring_line": "placeholder"},
                }
            ]
        },
    )

    district_code: DivisionCode
    year: Year
    name: str = Field(min_length=1, max_length=200)
    parameters: PlanParameters = PlanParameters()
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="Where each parameter comes from: seed, national or placeholder.",
    )


class Plan(PlanInput):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    created_by: str
    created_at: datetime


class ProgressPoint(_Input):
    """A point of a target's expected-progress curve: this share of the way by this date."""

    on: date
    share: Ratio


class TargetInput(_Input):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "code": "N1",
                    "name": "Rural roads built or rebuilt",
                    "indicator": "rural_roads_built",
                    "measurement": "reported",
                    "comparator": ">=",
                    "figure": "35",
                    "unit": "km",
                    "source": "seed",
                }
            ]
        },
    )

    code: TargetCode
    name: str = Field(min_length=1, max_length=300)
    indicator: str = Field(
        min_length=1,
        max_length=80,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="A computed indicator's key (see the indicator catalogue) or, for a"
        " reported target, the name of what is reported.",
    )
    measurement: Measurement
    comparator: Comparator = Comparator.AT_LEAST
    figure: Decimal | None = Field(
        default=None, description="Null when the plan gives no figure (status not available)."
    )
    unit: Unit
    scope: DivisionCode | None = Field(
        default=None, description="The division the target is for; default the plan's district."
    )
    source: str = Field(default="seed", max_length=20, examples=["seed", "local"])
    baseline: Decimal | None = Field(
        default=None,
        description="Value at the start of the year; default the year's first snapshot"
        " (computed) or zero (reported).",
    )
    additive: bool = Field(
        default=True,
        description="Reported values of sub-divisions add up (km, counts); false for shares.",
    )
    expected_progress: list[ProgressPoint] | None = Field(
        default=None,
        description="Points of the expected-progress curve; default a straight line over the year.",
    )
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _progress_in_order(self) -> TargetInput:
        points = self.expected_progress or []
        for earlier, later in itertools.pairwise(points):
            if later.on <= earlier.on or later.share < earlier.share:
                raise ValueError("expected_progress points must move forward in date and share")
        return self


class Target(TargetInput):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    scope: DivisionCode
    created_at: datetime


# ---------------------------------------------------------------- progress reports


class ProgressReportInput(_Input):
    """A division's cumulative value of a reported target at a date; a correction is a new one."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "target_id": "6c1f7e0a-3b1e-4c55-9a53-6c0f0b8b2a10",
                    "division_code": "510303100000",
                    "reported_on": "2020-06-30",
                    "value": "12.5",
                    "unit": "km",
                    "evidence": "Acceptance certificates 2020-017 to 2020-021",
                    "reporter_name": "Aiye Town transport office",
                }
            ]
        },
    )

    target_id: uuid.UUID
    division_code: DivisionCode
    reported_on: date
    value: Decimal = Field(ge=0, le=Decimal("1e12"))
    unit: Unit
    evidence: str = Field(min_length=1, max_length=4000)
    reporter_name: str | None = Field(default=None, max_length=200)
    corrects: int | None = Field(default=None, description="Id of the report this one corrects.")


class ProgressReport(ProgressReportInput):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    id: int
    target_code: str
    reporter: str
    recorded_at: datetime


# ---------------------------------------------------------------- snapshots


class SnapshotInput(_Input):
    plan_id: uuid.UUID
    as_of: date | None = Field(default=None, description="Default today.")


class Snapshot(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: uuid.UUID
    district_code: DivisionCode
    as_of: date
    taken_at: datetime
    taken_by: str
    feed_position: str = Field(description="The registry feed position the projection was at.")
    projection_synced_at: datetime | None
    values_count: int
    duration_ms: int
    unavailable: dict[str, str] = Field(
        default_factory=dict,
        description="Indicators this snapshot has no values of, each with the reason"
        " (the benefits service could not be reached, or refused).",
    )


class SnapshotValue(BaseModel):
    indicator: str
    division_code: DivisionCode
    level: str
    numerator: Decimal
    denominator: Decimal | None
    value: Decimal | None = Field(
        description="Percent for shares, the count for counts, the amount per person for averages."
    )


class SnapshotDetail(Snapshot):
    values: list[SnapshotValue]


# ---------------------------------------------------------------- dashboard


class TrendPoint(BaseModel):
    as_of: date
    value: Decimal | None


class SubdivisionValue(BaseModel):
    division_code: DivisionCode
    value: Decimal | None
    status: TargetStatus


class DashboardTarget(BaseModel):
    code: str
    name: str
    indicator: str
    measurement: Measurement
    comparator: Comparator
    figure: Decimal | None
    unit: str
    value: Decimal | None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    expected: Decimal | None = Field(description="Where the expected-progress line is at the date.")
    status: TargetStatus
    status_reason: str | None = None
    trend: list[TrendPoint]
    worst_subdivisions: list[SubdivisionValue]


class Dashboard(BaseModel):
    division_code: DivisionCode
    plan_id: uuid.UUID
    year: int
    date: datetime_module.date = Field(description="The date the dashboard is for.")
    as_of: datetime_module.date | None = Field(
        description="Date of the snapshot the computed values come from."
    )
    snapshot_id: int | None
    snapshot_taken_at: datetime | None
    projection_synced_at: datetime | None
    stale: bool
    stale_reasons: list[str]
    targets: list[DashboardTarget]


# ---------------------------------------------------------------- indicators


class IndicatorInfo(BaseModel):
    key: str
    name: str
    unit: str
    kind: str = Field(description="share (percent), count, or average (per person)")
    available: bool
    unavailable_reason: str | None
    household_level: bool = Field(description="Failing households can be listed.")
    source: str = Field(
        default="projection",
        description="projection (the registry's data, kept here), medical_statistics or"
        " entitlement_statistics (the benefits service's, asked at each snapshot).",
    )
    formula: str | None = Field(
        default=None, description="How a figure from another service's statistics is made."
    )


class FailingHousehold(BaseModel):
    household_id: uuid.UUID
    division_code: DivisionCode
    status: PovertyStatus | None
    evidence: dict[str, Any]
    registry_url: str = Field(description="The household in the registry.")


# ---------------------------------------------------------------- alerts


class AlertNote(_Input):
    note: str | None = Field(default=None, max_length=2000)


class AlertAssign(_Input):
    assignee: str = Field(min_length=1, max_length=200, description="The cadre (token subject).")
    note: str | None = Field(default=None, max_length=2000)


class AlertClose(_Input):
    note: str = Field(min_length=1, max_length=2000, description="What was done, or why not.")


class AlertEvaluateInput(_Input):
    district_code: DivisionCode | None = Field(
        default=None, description="Default the caller's district."
    )
    as_of: date | None = Field(default=None, description="Default today.")


class AlertRuleInfo(BaseModel):
    rule: AlertRule
    description: str
    default_severity: AlertSeverity
    evaluated: bool
    reason: str | None = Field(description="Why a rule is not evaluated.")


class AlertEvaluation(BaseModel):
    plan_id: uuid.UUID
    as_of: date
    opened: int
    refreshed: int
    cleared: int


class AlertAction(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    from_status: AlertStatus | None
    to_status: AlertStatus
    actor: str
    assignee: str | None
    note: str | None
    at: datetime


class Alert(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    household_id: uuid.UUID
    division_code: DivisionCode
    plan_id: uuid.UUID
    rule: AlertRule
    severity: AlertSeverity
    status: AlertStatus
    evidence: dict[str, Any] = Field(description="The facts the rule found, with its thresholds.")
    opened_at: datetime
    last_seen_at: datetime
    cleared_at: datetime | None = Field(
        description="When a re-evaluation no longer found the condition; null while it holds."
    )
    assignee: str | None
    updated_at: datetime
    registry_url: str | None = None


class AlertDetail(Alert):
    actions: list[AlertAction]
