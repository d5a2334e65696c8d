"""Every table of the benefits service, imported in one place for the migrations."""

from tuopin_benefits.db import Base, audit_log
from tuopin_benefits.policies.models import PolicySetRow
from tuopin_benefits.projection.models import (
    FeedPositionRow,
    HouseholdRow,
    HouseholdStatusRow,
    PersonRow,
)
from tuopin_benefits.runs import models as runs_models  # noqa: F401 - registers the tables
from tuopin_benefits.settlement import models as settlement_models  # noqa: F401

metadata = Base.metadata

__all__ = [
    "FeedPositionRow",
    "HouseholdRow",
    "HouseholdStatusRow",
    "PersonRow",
    "PolicySetRow",
    "audit_log",
    "metadata",
]
