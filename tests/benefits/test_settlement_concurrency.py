"""Settlements of one patient at the same moment never compute on the same sums:
a settlement is stored only if the patient's year-to-date sums are still the
ones it read, and one that lost that race is computed again holding the row.

These need real commits (a request that waits for another's lock sees what the
other committed), so they run on a database of their own, through the app with
its own connections. The races are forced, not hoped for: a second connection
holds the contested row or key while the settlement is between its read and
its write.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from tests.benefits import test_settlements as settlements_test
from tests.benefits.conftest import DISTRICT
from tests.benefits.test_settlements import INSTITUTION, PATH, add_patient, claim_body, key, split
from tests.conftest import client_for
from tuopin_benefits.main import create_app
from tuopin_benefits.policies import service as policies
from tuopin_benefits.settings import BenefitsSettings
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.contracts.benefits import PolicySetInput
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings, Environment


@pytest.fixture(scope="module")
async def engine(committing_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(committing_database_url)
    async with engine.begin() as connection, AsyncSession(bind=connection) as session:
        await policies.create(session, PolicySetInput(district_code="510303", year=2020), "test")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def app(committing_database_url: str, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    common = CommonSettings(database_url=committing_database_url, environment=Environment.test)
    app = create_app(common=common, settings=BenefitsSettings(sync_interval_seconds=0))
    app.state.test_common = common
    async with app.router.lifespan_context(app):
        yield app


def headers(app: FastAPI) -> dict[str, str]:
    jwt = mint_token(
        app.state.test_common,
        subject="his",
        roles=[Role.medical_institution],
        division=DISTRICT,
        permissions=[Permission.pii],
        institution=INSTITUTION,
    )
    return {"Authorization": f"Bearer {jwt}"}


async def new_patient(engine: AsyncEngine, **kwargs: Any) -> str:
    async with engine.begin() as connection:
        return await add_patient(connection, **kwargs)


async def ledger(engine: AsyncEngine, resident_id: str) -> dict[str, Decimal]:
    async with engine.connect() as connection:
        row = (
            (
                await connection.execute(
                    text(
                        "SELECT y.basic_paid, y.critical_illness_self_pay_base,"
                        " y.critical_illness_paid, y.assistance_paid, y.settlements"
                        " FROM benefits.medical_year_to_date y"
                        " JOIN benefits.person p ON p.member_id = y.person_id"
                        " WHERE p.resident_id = :rid AND y.year = 2020"
                    ),
                    {"rid": resident_id},
                )
            )
            .mappings()
            .one()
        )
    return dict(row)


async def at_once(app: FastAPI, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST the claims at the same moment, alternating between two clients."""
    auth = headers(app)
    async with client_for(app) as one, client_for(app) as two:
        clients: list[AsyncClient] = [one, two]
        responses = await asyncio.gather(
            *(
                clients[i % 2].post(PATH, json=body, headers={**auth, **key()})
                for i, body in enumerate(bodies)
            )
        )
    assert [r.status_code for r in responses] == [201] * len(bodies), [r.text for r in responses]
    return [r.json() for r in responses]


def ytd(values: dict[str, str]) -> dict[str, Decimal]:
    return {name: Decimal(amount) for name, amount in values.items()}


async def test_two_settlements_at_once_share_the_basic_insurance_cap(
    app: FastAPI, engine: AsyncEngine
) -> None:
    resident_id = await new_patient(engine, status="monitored")
    # Each stay alone would get (100000 - 400) x 80% = 79680.00 from basic
    # insurance; two on the same stale sums would get 159360.00, above the
    # 150,000 annual cap. Serialised, the second gets the 70320.00 left.
    first, second = await at_once(app, [claim_body(resident_id), claim_body(resident_id)])

    earlier, later = sorted(
        (first, second), key=lambda s: Decimal(s["trace"]["year_to_date_before"]["basic_paid"])
    )
    assert earlier["trace"]["year_to_date_before"]["basic_paid"] == "0.00"
    assert later["trace"]["year_to_date_before"] == earlier["trace"]["year_to_date_after"]
    assert (earlier["basic_insurance"], later["basic_insurance"]) == ("79680.00", "70320.00")
    assert later["trace"]["caps_hit"] == ["basic_insurance"]
    sums = await ledger(engine, resident_id)
    assert sums["basic_paid"] == Decimal("150000.00")
    assert ytd(later["trace"]["year_to_date_after"]) == {
        k: v for k, v in sums.items() if k != "settlements"
    }
    assert sums["settlements"] == 2


async def test_many_settlements_at_once_form_one_chain_of_year_to_date_sums(
    app: FastAPI, engine: AsyncEngine
) -> None:
    resident_id = await new_patient(engine)
    bodies = [
        claim_body(resident_id, total_cost="30000.00", in_policy_cost="28000.00") for _ in range(8)
    ]

    settlements = await at_once(app, bodies)

    # Each settlement started from the sums the one before it left: ordered by
    # what they started from, every "before" is the previous "after".
    chain = sorted(
        settlements,
        key=lambda s: Decimal(s["trace"]["year_to_date_before"]["critical_illness_self_pay_base"]),
    )
    assert chain[0]["trace"]["year_to_date_before"]["critical_illness_self_pay_base"] == "0.00"
    for previous, current in itertools.pairwise(chain):
        assert current["trace"]["year_to_date_before"] == previous["trace"]["year_to_date_after"]
    sums = await ledger(engine, resident_id)
    assert ytd(chain[-1]["trace"]["year_to_date_after"]) == {
        k: v for k, v in sums.items() if k != "settlements"
    }
    assert sums["settlements"] == len(bodies)
    assert sums["basic_paid"] == sum(Decimal(s["basic_insurance"]) for s in settlements)
    assert sums["assistance_paid"] == sum(Decimal(s["medical_assistance"]) for s in settlements)
    for settlement in settlements:
        assert sum(Decimal(x) for x in split(settlement)) == Decimal("30000.00")
        assert Decimal(settlement["personal_payment"]) <= Decimal("3000.00")  # 10% at most


async def post(app: FastAPI, body: dict[str, Any]) -> Any:
    async with client_for(app) as client:
        return await client.post(PATH, json=body, headers={**headers(app), **key()})


async def holding(transaction_of: AsyncConnection) -> str:
    """The id of the transaction this connection is in (one that has written)."""
    return str(await transaction_of.scalar(text("SELECT pg_current_xact_id()::text")))


async def blocked_by(engine: AsyncEngine, xid: str) -> None:
    """Return once some session waits for the transaction ``xid`` to end.

    The lock table is read live (unlike pg_stat_activity, which a transaction
    reads once), and waiting for this transaction, not any, tells which of the
    settlement's statements has reached its write.
    """
    async with engine.connect() as connection:
        for _ in range(500):
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    " AND locktype = 'transactionid' AND transactionid::text = :xid"
                ),
                {"xid": xid},
            )
            if waiting:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"the settlement never waited for transaction {xid}")


_MOVE_SUMS = text(
    "UPDATE benefits.medical_year_to_date y"
    "   SET basic_paid = y.basic_paid + 50000, settlements = y.settlements + 1"
    "  FROM benefits.person p"
    " WHERE p.member_id = y.person_id AND p.resident_id = :rid AND y.year = 2020"
)

_FIRST_SUMS = text(
    "INSERT INTO benefits.medical_year_to_date"
    " (person_id, year, basic_paid, settlements)"
    " SELECT member_id, 2020, 50000, 1 FROM benefits.person WHERE resident_id = :rid"
)


@pytest.mark.parametrize("earlier", ["a settlement before", "none before"])
async def test_a_settlement_whose_sums_moved_before_its_write_is_computed_again(
    app: FastAPI, engine: AsyncEngine, earlier: str
) -> None:
    resident_id = await new_patient(engine, status="monitored")
    if earlier == "a settlement before":
        first = (await post(app, claim_body(resident_id))).json()
        assert first["basic_insurance"] == "79680.00"
    before = Decimal("79680.00") if earlier == "a settlement before" else Decimal(0)

    # Another settlement of this patient is being stored (it has moved the
    # sums, or created the year's row, and not yet committed) while this one
    # reads and computes: this one reads the old sums and its write waits.
    async with engine.connect() as other:
        transaction = await other.begin()
        await other.execute(_MOVE_SUMS if before else _FIRST_SUMS, {"rid": resident_id})
        xid = await holding(other)
        settling = asyncio.create_task(post(app, claim_body(resident_id)))
        await blocked_by(engine, xid)
        await transaction.commit()
    response = await settling

    assert response.status_code == 201, response.text
    settlement = response.json()
    # Computed on the sums the other left, not the ones it first read: the
    # 150,000 basic-insurance cap holds across the three.
    moved = before + Decimal("50000.00")
    assert Decimal(settlement["trace"]["year_to_date_before"]["basic_paid"]) == moved
    assert Decimal(settlement["basic_insurance"]) == min(
        Decimal("79680.00"), Decimal("150000.00") - moved
    )
    sums = await ledger(engine, resident_id)
    assert sums["basic_paid"] == moved + Decimal(settlement["basic_insurance"])
    assert ytd(settlement["trace"]["year_to_date_after"]) == {
        k: v for k, v in sums.items() if k != "settlements"
    }


_RENAME_CLAIM = text("UPDATE benefits.medical_settlement SET claim_number = :n WHERE id = :id")


async def ledger_rows(engine: AsyncEngine, resident_id: str) -> int:
    async with engine.connect() as connection:
        return await settlements_test.ledger_rows(connection, resident_id)


async def test_a_claim_number_committed_between_read_and_write_gives_that_answer(
    app: FastAPI, engine: AsyncEngine
) -> None:
    one, another = await new_patient(engine), await new_patient(engine)
    settled = (await post(app, claim_body(one))).json()
    contested = f"ZY-contested-{settled['id'][:8]}"

    # Another request is committing this claim number (for another patient,
    # with other figures) while this one reads and computes.
    async with engine.connect() as other:
        transaction = await other.begin()
        await other.execute(_RENAME_CLAIM, {"n": contested, "id": settled["id"]})
        xid = await holding(other)
        settling = asyncio.create_task(post(app, claim_body(another, claim_number=contested)))
        await blocked_by(engine, xid)
        await transaction.commit()
    response = await settling

    # The same claim number with other figures: refused, and nothing of it kept.
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == "claim_number"
    assert await ledger_rows(engine, another) == 0


async def test_a_claim_number_committed_while_the_recomputation_holds_the_row(
    app: FastAPI, engine: AsyncEngine
) -> None:
    patient, someone = await new_patient(engine, status="monitored"), await new_patient(engine)
    await post(app, claim_body(patient))
    settled = (await post(app, claim_body(someone))).json()
    contested = f"ZY-again-{settled['id'][:8]}"
    body = claim_body(patient, claim_number=contested)
    before = await ledger(engine, patient)

    # Two requests in flight: one moving this patient's sums, one committing the
    # same claim number. The settlement loses the race for the sums, is
    # recomputed holding the patient's row, and meets the claim number there.
    async with engine.connect() as sums, engine.connect() as claim:
        moving, claiming = await sums.begin(), await claim.begin()
        await sums.execute(_MOVE_SUMS, {"rid": patient})
        await claim.execute(_RENAME_CLAIM, {"n": contested, "id": settled["id"]})
        sums_xid, claim_xid = await holding(sums), await holding(claim)
        settling = asyncio.create_task(post(app, body))
        await blocked_by(engine, sums_xid)
        await moving.commit()
        await blocked_by(engine, claim_xid)
        await claiming.commit()
    response = await settling

    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == "claim_number"
    after = await ledger(engine, patient)
    assert after["basic_paid"] == before["basic_paid"] + Decimal("50000.00")  # the other's only
    assert after["settlements"] == before["settlements"] + 1


async def test_a_key_committed_between_read_and_write_gives_that_answer(
    app: FastAPI, engine: AsyncEngine
) -> None:
    one, another = await new_patient(engine), await new_patient(engine)
    taken = key()
    first = await post_with(app, claim_body(one), taken)
    assert first.status_code == 201, first.text

    # The same key, meanwhile being committed for this institution by the
    # request it belongs to, is in the settlement's write.
    async with engine.connect() as other:
        transaction = await other.begin()
        await other.execute(
            text(
                "UPDATE benefits.medical_idempotency_key SET key = :new"
                " WHERE owner = :owner AND key = :old"
            ),
            {
                "new": "meanwhile-" + taken["Idempotency-Key"],
                "owner": f"institution:{INSTITUTION}",
                "old": taken["Idempotency-Key"],
            },
        )
        xid = await holding(other)
        settling = asyncio.create_task(
            post_with(
                app,
                claim_body(another),
                {"Idempotency-Key": "meanwhile-" + taken["Idempotency-Key"]},
            )
        )
        await blocked_by(engine, xid)
        await transaction.commit()
    response = await settling

    # The key with another request: refused, and nothing of it kept.
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await ledger_rows(engine, another) == 0


async def post_with(app: FastAPI, body: dict[str, Any], idempotency: dict[str, str]) -> Any:
    async with client_for(app) as client:
        return await client.post(PATH, json=body, headers={**headers(app), **idempotency})
