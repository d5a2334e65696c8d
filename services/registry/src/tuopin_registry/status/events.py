"""Status history on the change feed: one event per status change, with its date."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry import outbox
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.status.models import StatusChangeRow


def status_event_payload(row: StatusChangeRow) -> dict[str, Any]:
    """A status-history event: consumers rebuild each household's status over time."""
    return {
        "id": row.id,
        "household_id": str(row.household_id),
        "from_status": row.from_status,
        "to_status": row.to_status,
        "effective_on": row.effective_on.isoformat(),
        "lifted_out_year": row.lifted_out_year,
    }


async def append_status_event(
    session: AsyncSession, household: HouseholdRow, row: StatusChangeRow
) -> None:
    await outbox.append(
        session,
        household.division_code,
        "household_status",
        household.id,
        household.version,
        "recorded",
        status_event_payload(row),
    )
