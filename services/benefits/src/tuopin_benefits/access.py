"""Who may do what in the benefits service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from tuopin_shared.contracts.auth import Role
from tuopin_shared.kit.auth import Principal, require_roles

READ_ROLES = (
    Role.admin,
    Role.district_officer,
    Role.benefits_officer,
    Role.auditor,
    Role.service,
)
POLICY_ROLES = (Role.admin, Role.district_officer)

Reader = Annotated[Principal, Depends(require_roles(*READ_ROLES))]
PolicyEditor = Annotated[Principal, Depends(require_roles(*POLICY_ROLES))]
