"""Status history on the change feed: one event per status change, with its date."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry import outbox
from tuopin_registry.households.models import HouseholdRow
from tuopin_registry.status.models import StatusChangeRow

_EVENT_FIELDS = (
    "id",
    "household_id",
    "from_status",
    "to_status",
    "effective_on",
    "lifted_out_year",
)


def status_event_payload(row: StatusChangeRow) -> dict[str, Any]:
    """A status-history event: consumers rebuild each household's status over time."""
    return {
        **{name: getattr(row, name) for name in _EVENT_FIELDS},
        "household_id": str(row.household_id),
        "effective_on": row.effective_on.isoformat(),
    }


def status_event_payload_sql(row: str) -> str:
    """``status_event_payload`` built by PostgreSQL, for bulk writes: ``row`` is the alias
    of a registry.status_change row (or of rows returned by inserting into it)."""
    return "jsonb_build_object(" + ", ".join(f"'{n}', {row}.{n}" for n in _EVENT_FIELDS) + ")"


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
