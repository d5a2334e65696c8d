"""Every table of the registry, imported in one place for the migrations."""

from tuopin_registry.assessments.models import AssessmentRow
from tuopin_registry.db import Base, audit_log, change_event
from tuopin_registry.divisions.models import DivisionRow, ParameterSetRow
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.imports.models import ImportJobRow  # noqa: F401 - its table, for the migrations
from tuopin_registry.incomes.models import IncomeRow
from tuopin_registry.members.models import MemberRow
from tuopin_registry.status.models import StatusChangeRow

metadata = Base.metadata

__all__ = [
    "AssessmentRow",
    "DivisionRow",
    "HouseholdRow",
    "IncomeRow",
    "MemberRow",
    "ParameterSetRow",
    "StatusChangeRow",
    "audit_log",
    "change_event",
    "metadata",
]
