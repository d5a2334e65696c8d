"""Who may do what in the registry, and the records they may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from tuopin_registry.db import audit_log
from tuopin_shared.contracts.auth import Role
from tuopin_shared.kit import audit
from tuopin_shared.kit.auth import Principal, require_roles
from tuopin_shared.kit.errors import NotFound

READ_ROLES = (
    Role.admin,
    Role.district_officer,
    Role.town_officer,
    Role.village_cadre,
    Role.benefits_officer,
    Role.auditor,
    Role.service,
)
EDIT_ROLES = (Role.admin, Role.district_officer, Role.town_officer, Role.village_cadre)
# Changing a household's poverty status is a town or district decision.
STATUS_ROLES = (Role.admin, Role.district_officer, Role.town_officer)
PARAMETER_ROLES = (Role.admin, Role.district_officer)

Reader = Annotated[Principal, Depends(require_roles(*READ_ROLES))]
Editor = Annotated[Principal, Depends(require_roles(*EDIT_ROLES))]
StatusEditor = Annotated[Principal, Depends(require_roles(*STATUS_ROLES))]
ParameterEditor = Annotated[Principal, Depends(require_roles(*PARAMETER_ROLES))]


def ensure_in_scope(principal: Principal, division_code: str, what: str) -> None:
    """Out-of-scope records are answered as missing: their existence is not revealed."""
    if not principal.covers(division_code):
        raise NotFound(f"{what} not found")


# Every write and unmasked read goes to the service's append-only audit log.
record = audit.recorder(audit_log)
