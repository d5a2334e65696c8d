"""Who may do what in the monitoring service, and what they may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import InstrumentedAttribute

from tuopin_monitoring.db import audit_log
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.divisions import division_contains, division_prefix
from tuopin_shared.kit import audit
from tuopin_shared.kit.auth import Principal, require_roles

READ_ROLES = (
    Role.admin,
    Role.district_officer,
    Role.town_officer,
    Role.village_cadre,
    Role.auditor,
    Role.service,
)
PLAN_ROLES = (Role.admin, Role.district_officer)
# Progress is reported by whoever is responsible for the division's work.
REPORT_ROLES = (Role.admin, Role.district_officer, Role.town_officer, Role.village_cadre)
# Snapshots and evaluations cover a whole district: district level or the scheduler.
SNAPSHOT_ROLES = (Role.admin, Role.district_officer, Role.service)
ALERT_ROLES = (Role.admin, Role.district_officer, Role.town_officer, Role.village_cadre)

Reader = Annotated[Principal, Depends(require_roles(*READ_ROLES))]
PlanEditor = Annotated[Principal, Depends(require_roles(*PLAN_ROLES))]
Reporter = Annotated[Principal, Depends(require_roles(*REPORT_ROLES))]
SnapshotTaker = Annotated[Principal, Depends(require_roles(*SNAPSHOT_ROLES))]
AlertHandler = Annotated[Principal, Depends(require_roles(*ALERT_ROLES))]


def sees_plan(principal: Principal, district_code: str) -> bool:
    """A district's plan is seen from the district, from above it and from inside it:
    a village cadre's dashboard is measured against the district's targets."""
    return principal.covers(district_code) or division_contains(district_code, principal.division)


def plans_seen(principal: Principal, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """``sees_plan`` as SQL, for a column of district codes (plans belong to districts)."""
    district = division_prefix(principal.division)[:6].ljust(12, "0")
    return or_(column == district, within(column, principal.division))


def within(column: InstrumentedAttribute[str], division: str) -> ColumnElement[bool]:
    """Rows filed at or below a division: a range on the code, which an index serves
    whatever the database's collation (a LIKE prefix needs the C collation for that)."""
    prefix = division_prefix(division)
    return column.between(prefix.ljust(12, "0"), prefix.ljust(12, "9"))


# Every write and unmasked read goes to the service's append-only audit log.
record = audit.recorder(audit_log)
