"""Who may run, approve and pay, and which runs a caller sees."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from tuopin_benefits.db import audit_log
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.divisions import division_contains
from tuopin_shared.kit import audit
from tuopin_shared.kit.auth import Principal, require_roles

# Creating, computing, approving and paying runs: benefits staff of a district.
RUN_ROLES = (Role.admin, Role.district_officer, Role.benefits_officer)

Officer = Annotated[Principal, Depends(require_roles(*RUN_ROLES))]


def sees(principal: Principal, district_code: str) -> bool:
    """A district's run is seen from the district or above, and from inside it (a town
    officer sees the town's part of the lines)."""
    return principal.covers(district_code) or division_contains(district_code, principal.division)


def scope_of(principal: Principal, district_code: str) -> str:
    """The part of a district's run the caller sees: all of it, or their division's."""
    return district_code if principal.covers(district_code) else principal.division


# Every write and unmasked read goes to the service's append-only audit log.
record = audit.recorder(audit_log)
