"""Runs: create one per program, period and district, compute its lines from the
projection, approve it (four eyes), cancel it while nothing is paid."""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_benefits.policies import service as policies
from tuopin_benefits.projection.sync import FEED, SYNC_LOCK
from tuopin_benefits.runs import queries
from tuopin_benefits.runs.access import sees
from tuopin_benefits.runs.models import BatchRow, EntitlementRow, RunRow
from tuopin_benefits.runs.rules import Period, parse_period
from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.benefits import PolicyParameters
from tuopin_shared.contracts.divisions import division_prefix
from tuopin_shared.contracts.runs import (
    YEARLY_PROGRAMS,
    Program,
    Run,
    RunCreate,
    RunInputs,
    RunStatus,
)
from tuopin_shared.kit import metrics
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.database import after_commit
from tuopin_shared.kit.errors import Conflict, Forbidden, NotFound

# The steps of a run's life operators watch: created (a new run, not the live one found
# again), computed (each computation, recomputations included), approved, paid (every
# payable line paid; at approval itself when there is nothing to pay, so such a run
# counts as approved and as paid) and cancelled. A refused step is no outcome: it is a
# 4xx in the HTTP metrics, and the run stays where it was.
Outcome = Literal["created", "computed", "approved", "paid", "cancelled"]
RUNS = metrics.counter(
    "tuopin_runs_total",
    "Benefit runs by program and the step of their life reached.",
    ["program", "outcome"],
)


def count(session: AsyncSession, program: str, outcome: Outcome) -> None:
    """Count a run's step once the transaction that took it has committed."""
    after_commit(session, RUNS.labels(program=program, outcome=outcome).inc)


async def create(
    session: AsyncSession, principal: Principal, body: RunCreate
) -> tuple[RunRow, bool]:
    """The new run, or the live one for the same program, period and district (False)."""
    created = await session.scalar(
        insert(RunRow)
        .values(
            program=body.program.value,
            period=body.period,
            district_code=body.district,
            arrears_from=body.arrears_from,
            created_by=principal.subject,
        )
        # Two requests at once: the second waits for the first's commit, then finds it.
        .on_conflict_do_nothing(
            index_elements=["program", "period", "district_code"],
            index_where=text("status <> 'cancelled'"),
        )
        .returning(RunRow.id)
    )
    statement = select(RunRow).execution_options(populate_existing=True)
    if created is not None:
        count(session, body.program.value, "created")
        return (await session.execute(statement.where(RunRow.id == created))).scalar_one(), True
    live = await session.execute(
        statement.where(
            RunRow.program == body.program.value,
            RunRow.period == body.period,
            RunRow.district_code == body.district,
            RunRow.status != RunStatus.CANCELLED.value,
        )
    )
    return live.scalar_one(), False


async def get(
    session: AsyncSession, principal: Principal, run_id: uuid.UUID, *, for_update: bool = False
) -> RunRow:
    # populate_existing: the row may have been changed by a core UPDATE in this session.
    statement = select(RunRow).where(RunRow.id == run_id).execution_options(populate_existing=True)
    if for_update:
        statement = statement.with_for_update()
    run = (await session.execute(statement)).scalar_one_or_none()
    if run is None or not sees(principal, run.district_code):
        raise NotFound(f"run {run_id} not found")
    return run


async def get_many(session: AsyncSession, run_ids: list[uuid.UUID]) -> list[RunRow]:
    """Runs already found in the caller's scope, in the order given."""
    rows = await session.scalars(select(RunRow).where(RunRow.id.in_(run_ids)))
    by_id = {row.id: row for row in rows}
    return [by_id[run_id] for run_id in run_ids]


async def _for_change(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> RunRow:
    run = await get(session, principal, run_id, for_update=True)
    if not principal.covers(run.district_code):
        raise Forbidden("only staff of the whole district may change its runs")
    return run


def _conflict(run: RunRow, action: str) -> Conflict:
    return Conflict(f"a {run.status} run cannot be {action}", run_status=run.status)


async def _refuse_if_counted_on(session: AsyncSession, run: RunRow, action: str) -> None:
    """A later run counted this run's lines as paid: changing them would make it wrong."""
    if run.computed_at is None or Program(run.program) in YEARLY_PROGRAMS:
        return
    later = await session.scalar(
        select(RunRow.id).where(
            RunRow.program == run.program,
            RunRow.district_code == run.district_code,
            RunRow.status != RunStatus.CANCELLED.value,
            RunRow.id != run.id,
            RunRow.computed_at > run.computed_at,
        )
    )
    if later is not None:
        raise Conflict(
            f"run {later} was computed after this one and counts its lines;"
            f" cancel it before this run can be {action}",
            run_id=str(later),
        )


@dataclass(frozen=True)
class FeedState:
    position: str | None
    as_of: datetime | None
    age: timedelta | None

    def stale(self, limit: timedelta) -> bool:
        """Not heard from the registry for longer than ``limit``, or never: the run is
        still computed (the registry may be down) but says so."""
        return self.age is None or self.age > limit


async def feed_state(session: AsyncSession) -> FeedState:
    row = (
        await session.execute(
            text(
                "SELECT position, updated_at, now() - updated_at AS age"
                " FROM benefits.feed_position WHERE feed = :feed"
            ),
            {"feed": FEED},
        )
    ).one_or_none()
    if row is None:
        return FeedState(None, None, None)
    return FeedState(row.position, row.updated_at, max(row.age, timedelta(0)))


async def policies_in_force(
    session: AsyncSession, district: str, years: range
) -> dict[int, queries.PolicyInForce]:
    found = {}
    for year in years:
        row = await policies.in_force(session, district, year)
        if row is None:
            raise Conflict(
                f"no policy set for district {district} in {year}: save one under /v1/policies",
                year=year,
            )
        found[year] = queries.PolicyInForce(
            row.id, row.version, year, PolicyParameters.model_validate(row.parameters)
        )
    return found


def first_month(run: RunRow, period: Period) -> date:
    return run.arrears_from or date(period.year, 1, 1)


async def compute(
    session: AsyncSession, principal: Principal, run_id: uuid.UUID, settings: BenefitsSettings
) -> RunRow:
    """(Re)compute a run's lines, set-based, from the projection as it stands."""
    run = await _for_change(session, principal, run_id)
    if run.status not in (RunStatus.DRAFT, RunStatus.COMPUTED):
        raise _conflict(run, "computed")
    program, period = Program(run.program), parse_period(run.period)
    # Shared with other runs, exclusive against the feed syncer (which skips a turn):
    # the projection and its position stay still while the run reads them.
    await session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": SYNC_LOCK})
    # Runs of one program and district see each other's lines as paid: one at a time.
    key = zlib.crc32(f"run:{program.value}:{run.district_code}".encode())
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    await _refuse_if_counted_on(session, run, "recomputed")

    start = period.first_month if program in YEARLY_PROGRAMS else first_month(run, period)
    in_force = await policies_in_force(
        session, run.district_code, range(start.year, period.year + 1)
    )
    feed = await feed_state(session)
    await session.execute(delete(EntitlementRow).where(EntitlementRow.run_id == run.id))
    # A population run sorts and hashes a million rows: in memory, not in temporary
    # files. For this transaction only (SET LOCAL, with the value bound).
    await session.execute(
        text("SELECT set_config('work_mem', :value, true)"), {"value": settings.run_work_mem}
    )
    prefix = division_prefix(run.district_code)
    try:
        if program in YEARLY_PROGRAMS:
            totals = await queries.insert_pension_lines(
                session, run.id, prefix, period, in_force[period.year]
            )
        else:
            totals = await queries.insert_monthly_lines(
                session, run.id, program, prefix, period, start, in_force
            )
    except IntegrityError as exc:
        # The unique line per person, program, period, kind and year: another district's
        # run wrote lines for the same people at the same moment (they moved).
        raise Conflict(
            "another run wrote lines for some of the same people at the same time;"
            " compute this run again"
        ) from exc
    policy = in_force[period.year]
    # clock_timestamp, not now(): runs computed in one transaction still get their order.
    await session.execute(
        update(RunRow)
        .where(RunRow.id == run.id)
        .values(
            status=RunStatus.COMPUTED.value,
            computed_by=principal.subject,
            computed_at=text("clock_timestamp()"),
            policy_set_id=policy.id,
            policy_version=policy.version,
            feed_position=feed.position,
            inputs_as_of=feed.as_of,
            inputs_age_seconds=int(feed.age.total_seconds()) if feed.age is not None else None,
            inputs_stale=feed.stale(settings.run_stale_after),
            lines=totals.lines,
            persons=totals.persons,
            payable_amount=totals.payable,
            recovery_amount=totals.recovery,
            paid_amount=0,
        )
    )
    count(session, program.value, "computed")
    return await get(session, principal, run.id, for_update=True)


async def approve(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> RunRow:
    run = await _for_change(session, principal, run_id)
    if run.status != RunStatus.COMPUTED:
        raise _conflict(run, "approved")
    if principal.subject in (run.created_by, run.computed_by):
        raise Forbidden(
            "a run is approved by someone other than the officers who created and computed it"
        )
    # Nothing to pay (no lines, or only recoveries): approved is as good as paid.
    status = RunStatus.PAID if run.payable_amount == 0 else RunStatus.APPROVED
    await session.execute(
        update(RunRow)
        .where(RunRow.id == run.id)
        .values(
            status=status.value,
            approved_by=principal.subject,
            approved_at=text("clock_timestamp()"),
            paid_at=text("clock_timestamp()") if status is RunStatus.PAID else None,
        )
    )
    count(session, run.program, "approved")
    if status is RunStatus.PAID:
        count(session, run.program, "paid")
    return await get(session, principal, run.id, for_update=True)


async def cancel(session: AsyncSession, principal: Principal, run_id: uuid.UUID) -> RunRow:
    run = await _for_change(session, principal, run_id)
    if run.status not in (RunStatus.DRAFT, RunStatus.COMPUTED, RunStatus.APPROVED):
        raise _conflict(run, "cancelled")
    batch = await session.scalar(select(BatchRow.id).where(BatchRow.run_id == run.id).limit(1))
    if batch is not None:
        raise Conflict(
            f"the run's lines went to the bank in batch {batch}: it can no longer be cancelled",
            batch_id=str(batch),
        )
    await _refuse_if_counted_on(session, run, "cancelled")
    # Its lines never paid anything: they go, so a new run for the period can take their
    # place. The run keeps its figures for the record.
    await session.execute(delete(EntitlementRow).where(EntitlementRow.run_id == run.id))
    await session.execute(
        update(RunRow)
        .where(RunRow.id == run.id)
        .values(
            status=RunStatus.CANCELLED.value,
            cancelled_by=principal.subject,
            cancelled_at=text("clock_timestamp()"),
        )
    )
    count(session, run.program, "cancelled")
    return await get(session, principal, run.id, for_update=True)


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"


def inputs_view(run: RunRow) -> RunInputs | None:
    if run.computed_at is None:
        return None
    if run.inputs_as_of is None:
        note = "no inputs: the projection has never been synced with the registry"
    else:
        age = run.inputs_age_seconds or 0
        note = (
            f"inputs as of {run.inputs_as_of.isoformat(timespec='seconds')}"
            f" (registry feed position {run.feed_position}), {_age(age)} old when computed"
        )
        # The limit it was judged by is the one in force when it was computed, which
        # the run does not keep: the note does not quote today's.
        if run.inputs_stale:
            note += "; stale: registry changes since then are not in this run"
    return RunInputs(
        feed_position=run.feed_position,
        as_of=run.inputs_as_of,
        age_seconds=run.inputs_age_seconds,
        stale=bool(run.inputs_stale),
        note=note,
    )


def run_view(run: RunRow) -> Run:
    return Run(
        id=run.id,
        program=Program(run.program),
        period=run.period,
        district=run.district_code,
        status=RunStatus(run.status),
        arrears_from=run.arrears_from,
        policy_set_id=run.policy_set_id,
        policy_version=run.policy_version,
        inputs=inputs_view(run),
        persons=run.persons,
        lines=run.lines,
        payable_amount=run.payable_amount,
        recovery_amount=run.recovery_amount,
        paid_amount=run.paid_amount,
        created_by=run.created_by,
        created_at=run.created_at,
        computed_by=run.computed_by,
        computed_at=run.computed_at,
        approved_by=run.approved_by,
        approved_at=run.approved_at,
        cancelled_by=run.cancelled_by,
        cancelled_at=run.cancelled_at,
        paid_at=run.paid_at,
    )
