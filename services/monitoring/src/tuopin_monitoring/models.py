"""Every table of the monitoring service, imported in one place for the migrations."""

from tuopin_monitoring.alerts.models import AlertActionRow, AlertRow
from tuopin_monitoring.db import Base, audit_log
from tuopin_monitoring.plans.models import PlanRow, TargetRow
from tuopin_monitoring.projection.models import (
    AssessmentRow,
    HouseholdIncomeRow,
    HouseholdRow,
    HouseholdStatusRow,
    PersonRow,
    SyncStateRow,
)
from tuopin_monitoring.reports.models import ProgressReportRow
from tuopin_monitoring.snapshots.models import SnapshotRow, SnapshotValueRow

metadata = Base.metadata

__all__ = [
    "AlertActionRow",
    "AlertRow",
    "AssessmentRow",
    "HouseholdIncomeRow",
    "HouseholdRow",
    "HouseholdStatusRow",
    "PersonRow",
    "PlanRow",
    "ProgressReportRow",
    "SnapshotRow",
    "SnapshotValueRow",
    "SyncStateRow",
    "TargetRow",
    "audit_log",
    "metadata",
]
