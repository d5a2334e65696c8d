"""Payment batches, the bank's files, a person's ledger and the statistics: a failed line
is paid once in a later batch, and nothing is ever paid twice."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from datetime import date
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.benefits.test_runs_factories import (
    AIYE,
    add_household,
    add_person,
    add_policy,
    computed_run,
    create_run,
    set_feed,
)
from tests.conftest import counted
from tuopin_shared.contracts.auth import Role


async def approved_pension_run(
    client: AsyncClient, token: Any, db: AsyncSession, persons: int = 3
) -> dict[str, Any]:
    await add_policy(db)
    await set_feed(db)
    household = await add_household(db)
    for _ in range(persons):
        await add_person(db, household)
    run = await computed_run(
        client, token(Role.benefits_officer, subject="maker"), "pension", "2020"
    )
    approved = await client.post(
        f"/v1/runs/{run['id']}/approve", headers=token(Role.district_officer, subject="checker")
    )
    assert approved.status_code == 200, approved.text
    result: dict[str, Any] = approved.json()
    return result


def result_file(*rows: tuple[Any, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line_id", "status", "bank_reference", "reason"])
    writer.writerows(rows)
    return out.getvalue().encode()


async def upload(client: AsyncClient, headers: dict[str, str], batch_id: str, body: bytes) -> Any:
    return await client.post(
        f"/v1/batches/{batch_id}/bank-result",
        content=body,
        headers={**headers, "Content-Type": "text/csv"},
    )


async def new_batch(
    client: AsyncClient, headers: dict[str, str], run_id: str, key: str | None = None
) -> Any:
    return await client.post(
        "/v1/batches",
        json={"run_id": run_id},
        headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def test_a_failed_line_is_paid_once_in_a_later_batch_and_never_twice(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    run = await approved_pension_run(client, token, db)
    payer = token(Role.benefits_officer, subject="payer", pii=True)

    first = await new_batch(client, payer, run["id"], key="batch-1")
    assert first.status_code == 201, first.text
    batch = first.json()
    assert (batch["lines"], batch["amount"], batch["status"]) == (3, "300.00", "open")
    assert (await new_batch(client, payer, run["id"], key="batch-1")).json() == batch
    # Every line is in the open batch: nothing for another.
    nothing = await new_batch(client, payer, run["id"])
    assert nothing.status_code == 409 and "nothing left to pay" in nothing.json()["detail"]

    # The bank file: unmasked resident IDs, so only with the pii right.
    no_pii = token(Role.benefits_officer, subject="payer")
    refused = await client.get(f"/v1/batches/{batch['id']}/bank-file", headers=no_pii)
    assert refused.status_code == 403
    download = await client.get(f"/v1/batches/{batch['id']}/bank-file", headers=payer)
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert list(rows[0]) == [
        "batch_id",
        "line_id",
        "resident_id",
        "name",
        "amount",
        "program",
        "period",
    ]
    assert {(r["batch_id"], r["amount"], r["program"], r["period"]) for r in rows} == {
        (batch["id"], "100.00", "pension", "2020")
    }
    assert all(len(r["resident_id"]) == 18 and "*" not in r["resident_id"] for r in rows)
    lines = [int(r["line_id"]) for r in rows]

    # The bank pays one line, fails one, has not answered for the third yet.
    partial = await upload(
        client,
        payer,
        batch["id"],
        result_file((lines[0], "paid", "BK-001", ""), (lines[1], "failed", "", "account closed")),
    )
    assert partial.status_code == 200, partial.text
    summary = partial.json()
    assert (summary["applied"], summary["unchanged"], summary["run_status"]) == (2, 0, "approved")
    assert (summary["batch"]["status"], summary["batch"]["pending_lines"]) == ("open", 1)
    # The same file again changes nothing.
    again = (
        await upload(client, payer, batch["id"], result_file((lines[0], "paid", "BK-001", "")))
    ).json()
    assert (again["applied"], again["unchanged"]) == (0, 1)
    # A paid line cannot turn failed.
    contradicted = await upload(
        client, payer, batch["id"], result_file((lines[0], "failed", "", "typo"))
    )
    assert contradicted.status_code == 409
    assert contradicted.json()["errors"][0]["field"] == "rows.0.status"

    # The failed line, and only it, goes into the next batch (the third still waits).
    second = (await new_batch(client, payer, run["id"])).json()
    assert (second["lines"], second["amount"]) == (1, "100.00")
    second_rows = list(
        csv.DictReader(
            io.StringIO(
                (await client.get(f"/v1/batches/{second['id']}/bank-file", headers=payer)).text
            )
        )
    )
    assert [int(r["line_id"]) for r in second_rows] == [lines[1]]
    # A line of another batch is not this batch's to answer.
    foreign = await upload(client, payer, second["id"], result_file((lines[0], "paid", "BK-9", "")))
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["code"] == "not_in_batch"

    done = (
        await upload(client, payer, second["id"], result_file((lines[1], "paid", "BK-002", "")))
    ).json()
    assert (done["batch"]["status"], done["run_status"]) == ("closed", "approved")
    last = (
        await upload(client, payer, batch["id"], result_file((lines[2], "paid", "BK-003", "")))
    ).json()
    assert (last["batch"]["status"], last["run_status"]) == ("closed", "paid")
    paid_run = (await client.get(f"/v1/runs/{run['id']}", headers=payer)).json()
    assert (paid_run["status"], paid_run["paid_amount"]) == ("paid", "300.00")
    assert (await new_batch(client, payer, run["id"])).status_code == 409
    assert (await client.post(f"/v1/runs/{run['id']}/cancel", headers=payer)).status_code == 409

    # Nothing was paid twice: the database holds one paid payment per line…
    counts = (
        await db.execute(
            text(
                "SELECT entitlement_id, count(*) FILTER (WHERE status = 'paid') AS paid,"
                " count(*) AS attempts FROM benefits.payment GROUP BY 1 ORDER BY 1"
            )
        )
    ).all()
    assert [(c.paid, c.attempts) for c in counts] == [(1, 1), (1, 2), (1, 1)]
    # …and refuses a second, whatever the code does.
    with pytest.raises(IntegrityError, match="uq_payment_paid"):
        async with db.begin_nested():
            await db.execute(
                text(
                    "INSERT INTO benefits.payment (batch_id, entitlement_id, amount, status,"
                    " bank_reference) VALUES (:batch, :line, 100, 'paid', 'BK-X')"
                ),
                {"batch": second["id"], "line": lines[0]},
            )

    # The ledger of the person whose first payment failed.
    member = next(r for r in rows if int(r["line_id"]) == lines[1])
    member_id = await db.scalar(
        text("SELECT member_id FROM benefits.entitlement WHERE id = :id"), {"id": lines[1]}
    )
    ledger = (await client.get(f"/v1/persons/{member_id}/payments", headers=payer)).json()
    assert [
        (e["program"], e["period"], e["status"], e["bank_reference"]) for e in ledger["entries"]
    ] == [("pension", "2020", "paid", "BK-002")]
    assert (ledger["entitled_amount"], ledger["paid_amount"]) == ("100.00", "100.00")
    assert member["name"]

    stats = await client.get(
        "/v1/stats/entitlements", params={"program": "pension", "level": "town"}, headers=payer
    )
    assert stats.json() == [
        {
            "program": "pension",
            "period": "2020",
            "division_code": AIYE,
            "eligible_persons": 3,
            "paid_persons": 3,
            "entitled_amount": "300.00",
            "paid_amount": "300.00",
            "recovery_amount": "0.00",
        }
    ]


async def test_a_line_is_never_in_two_open_batches(
    db: AsyncSession, client: AsyncClient, token: Any
) -> None:
    run = await approved_pension_run(client, token, db, persons=1)
    payer = token(Role.benefits_officer, subject="payer")
    batch = (await new_batch(client, payer, run["id"])).json()
    line = await db.scalar(
        text("SELECT entitlement_id FROM benefits.payment WHERE batch_id = :b"), {"b": batch["id"]}
    )
    with pytest.raises(IntegrityError, match="uq_payment_pending"):
        async with db.begin_nested():
            other = uuid.uuid4()
            await db.execute(
                text(
                    "INSERT INTO benefits.payment_batch (id, run_id, lines, amount, created_by)"
                    " VALUES (:id, :run, 1, 100, 'x')"
                ),
                {"id": other, "run": run["id"]},
            )
            await db.execute(
                text(
                    "INSERT INTO benefits.payment (batch_id, entitlement_id, amount)"
                    " VALUES (:b, :l, 100)"
                ),
                {"b": other, "l": line},
            )


async def test_payments_refusals(client: AsyncClient, token: Any, db: AsyncSession) -> None:
    payer = token(Role.benefits_officer, subject="payer")
    await add_policy(db)
    await add_person(db, await add_household(db))
    unapproved = await computed_run(
        client, token(Role.benefits_officer, subject="maker"), "pension", "2020"
    )
    not_yet = await new_batch(client, payer, unapproved["id"])
    assert not_yet.status_code == 409 and not_yet.json()["run_status"] == "computed"
    missing_key = await client.post("/v1/batches", json={"run_id": unapproved["id"]}, headers=payer)
    assert missing_key.status_code == 422
    assert missing_key.json()["errors"][0]["field"] == "Idempotency-Key"
    unknown = await client.get(f"/v1/batches/{uuid.uuid4()}", headers=payer)
    assert unknown.status_code == 404
    nobody = await client.get(f"/v1/persons/{uuid.uuid4()}/payments", headers=payer)
    assert nobody.status_code == 404

    approved = await client.post(
        f"/v1/runs/{unapproved['id']}/approve",
        headers=token(Role.district_officer, subject="checker"),
    )
    batch = (await new_batch(client, payer, approved.json()["id"])).json()
    for body, field in [
        (b"line,result\n1,paid\n", "header"),
        (result_file(("x", "paid", "BK", "")), "rows.0.line_id"),
        (result_file((1, "lost", "BK", "")), "rows.0.status"),
        (result_file((1, "paid", "", "")), "rows.0.bank_reference"),
        (result_file((1, "failed", "", "")), "rows.0.reason"),
        (result_file((1, "paid", "A", ""), (1, "paid", "A", "")), "rows.1.line_id"),
        (b"\xff\xfe", "body"),
        (result_file(), "body"),
    ]:
        response = await upload(client, payer, batch["id"], body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field


async def test_subsidy_recoveries_are_never_sent_to_the_bank(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    await add_policy(db)
    maker, checker = (
        token(Role.benefits_officer, subject="maker"),
        token(Role.district_officer, subject="checker"),
    )
    household = await add_household(db)
    member = await add_person(
        db, household, disability_grade=1, disability_certified_on=date(2019, 1, 1)
    )
    q1 = await computed_run(client, maker, "nursing_subsidy", "2020-Q1")
    await client.post(f"/v1/runs/{q1['id']}/approve", headers=checker)
    await db.execute(
        text(
            "UPDATE benefits.person SET deceased_on = '2020-01-10', version = 2"
            " WHERE member_id = :m"
        ),
        {"m": member},
    )
    q2 = await computed_run(client, maker, "nursing_subsidy", "2020-Q2")
    assert (q2["payable_amount"], q2["recovery_amount"]) == ("0.00", "-200.00")
    approved = await client.post(f"/v1/runs/{q2['id']}/approve", headers=checker)
    # Nothing to pay out: approving it settles it.
    assert approved.json()["status"] == "paid"
    assert (await new_batch(client, maker, q2["id"])).status_code == 409
    ledger = (await client.get(f"/v1/persons/{member}/payments", headers=maker)).json()
    assert [(e["period"], e["kind"], e["amount"], e["status"]) for e in ledger["entries"]] == [
        ("2020-Q1", "due", "300.00", "unpaid"),
        ("2020-Q2", "recovery", "-200.00", "to_recover"),
    ]
    assert ledger["recovery_amount"] == "-200.00"


async def runs_counted(client: AsyncClient) -> Counter[tuple[str, ...]]:
    return await counted(client, "tuopin_runs_total", "program", "outcome")


async def test_runs_are_counted_by_program_and_step(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    maker, checker = (
        token(Role.benefits_officer, subject="maker"),
        token(Role.district_officer, subject="checker"),
    )
    before = await runs_counted(client)

    pension = await approved_pension_run(client, token, db, persons=2)
    # The live run found again is not a new one; a refused step is no step.
    assert (await create_run(client, maker, "pension", "2020")).status_code == 200
    refused = await client.post(f"/v1/runs/{pension['id']}/approve", headers=checker)
    assert refused.status_code == 409
    batch = (await new_batch(client, maker, pension["id"])).json()
    lines = (
        await db.scalars(
            text("SELECT entitlement_id FROM benefits.payment WHERE batch_id = :b"),
            {"b": batch["id"]},
        )
    ).all()
    paid = result_file(*((line, "paid", f"BK-{line}", "") for line in lines))
    assert (await upload(client, maker, batch["id"], paid)).json()["run_status"] == "paid"
    paid_at = (await client.get(f"/v1/runs/{pension['id']}", headers=maker)).json()["paid_at"]
    # The same file again: the run was already paid, and stays paid as of then.
    again = (await upload(client, maker, batch["id"], paid)).json()
    assert (again["applied"], again["run_status"]) == (0, "paid")
    run = (await client.get(f"/v1/runs/{pension['id']}", headers=maker)).json()
    assert run["paid_at"] == paid_at

    # Nobody disabled: nothing to pay, paid as soon as it is approved.
    empty = await computed_run(client, maker, "nursing_subsidy", "2020-Q1")
    approved = await client.post(f"/v1/runs/{empty['id']}/approve", headers=checker)
    assert approved.json()["status"] == "paid"

    dropped = await computed_run(client, maker, "living_subsidy", "2020-Q1")
    recomputed = await client.post(f"/v1/runs/{dropped['id']}/compute", headers=maker)
    assert recomputed.status_code == 200
    cancelled = await client.post(f"/v1/runs/{dropped['id']}/cancel", headers=maker)
    assert cancelled.status_code == 200

    assert (await runs_counted(client)) - before == Counter(
        {
            ("pension", "created"): 1,
            ("pension", "computed"): 1,
            ("pension", "approved"): 1,
            ("pension", "paid"): 1,
            ("nursing_subsidy", "created"): 1,
            ("nursing_subsidy", "computed"): 1,
            ("nursing_subsidy", "approved"): 1,
            ("nursing_subsidy", "paid"): 1,
            ("living_subsidy", "created"): 1,
            ("living_subsidy", "computed"): 2,
            ("living_subsidy", "cancelled"): 1,
        }
    )
