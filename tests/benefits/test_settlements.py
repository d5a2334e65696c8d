"""One-stop medical settlement through the API: the hand-worked figures of the rules'
tests, the year-to-date ledger across claims, reversal, idempotency, access, stats.

Patients are projection rows written here with SQL (person, household, status
history), as the registry's feed would leave them; the policy set is saved
through ``POST /v1/policies``.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy.exc
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.benefits.conftest import DISTRICT
from tests.benefits.test_settlement_rules import WORKED_EXAMPLES, Worked
from tuopin_benefits.settlement import rules
from tuopin_benefits.settlement.parameters import to_rules
from tuopin_shared.contracts import medical as wire
from tuopin_shared.contracts.auth import Permission, Role
from tuopin_shared.contracts.benefits import MedicalParameters, PolicyParameters
from tuopin_shared.contracts.identity import make_resident_id, mask_resident_id
from tuopin_shared.kit.auth import mint_token
from tuopin_shared.kit.settings import CommonSettings

VILLAGE = "510303100001"
OTHER_TOWN_VILLAGE = "510303101001"
INSTITUTION = "H51030300001"
OTHER_INSTITUTION = "H51030300002"
PATH = "/v1/medical/settlements"

_people = itertools.count(1)
_status_ids = itertools.count(9_000_000_000)
_keys = itertools.count(1)


# ---------------------------------------------------------------- helpers


async def add_patient(
    connection: AsyncConnection,
    *,
    status: str = "registered_poor",
    dibao: bool = False,
    tekun: bool = False,
    division: str = VILLAGE,
    history: list[tuple[str, date]] | None = None,
) -> str:
    """A person in the projection, with a household and its status history; their ID number."""
    n = next(_people)
    resident_id = make_resident_id("510303", date(1950, 1, 1) + timedelta(days=n // 900), n % 900)
    household_id, member_id = uuid.uuid4(), uuid.uuid4()
    await connection.execute(
        text(
            "INSERT INTO benefits.household (household_id, division_code, status, version)"
            " VALUES (:id, :division, :status, 1)"
        ),
        {"id": household_id, "division": division, "status": status},
    )
    for changed_to, effective_on in history or [(status, date(2016, 1, 1))]:
        await connection.execute(
            text(
                "INSERT INTO benefits.household_status (id, household_id, status, effective_on)"
                " VALUES (:id, :household, :status, :on)"
            ),
            {
                "id": next(_status_ids),
                "household": household_id,
                "status": changed_to,
                "on": effective_on,
            },
        )
    await connection.execute(
        text(
            "INSERT INTO benefits.person (member_id, household_id, resident_id, name, birth_date,"
            " school_stage, resident_pension_enrolled, employee_pension_enrolled, dibao, tekun,"
            " work_injury_care_allowance, version)"
            " VALUES (:member, :household, :resident_id, 'patient', :born, 'none', true, false,"
            " :dibao, :tekun, false, 1)"
        ),
        {
            "member": member_id,
            "household": household_id,
            "resident_id": resident_id,
            "born": date(1950, 1, 1),
            "dibao": dibao,
            "tekun": tekun,
        },
    )
    return resident_id


def claim_body(resident_id: str, /, **overrides: Any) -> dict[str, Any]:
    body = {
        "institution_code": INSTITUTION,
        "claim_number": f"ZY-{uuid.uuid4().hex[:12]}",
        "resident_id": resident_id,
        "institution_level": "county",
        "in_county": True,
        "care_type": "inpatient",
        "admitted_on": "2020-05-02",
        "discharged_on": "2020-05-12",
        "total_cost": "120000.00",
        "in_policy_cost": "100000.00",
    }
    body.update(overrides)
    return body


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{next(_keys)}-{uuid.uuid4().hex[:8]}"}


@pytest.fixture
def institution(common_settings: CommonSettings) -> Callable[..., dict[str, str]]:
    """Headers of a hospital billing system's token."""

    def make(code: str = INSTITUTION, pii: bool = True) -> dict[str, str]:
        jwt = mint_token(
            common_settings,
            subject=f"his-{code}",
            roles=[Role.medical_institution],
            division=DISTRICT,
            permissions=[Permission.pii] if pii else [],
            institution=code,
        )
        return {"Authorization": f"Bearer {jwt}"}

    return make


@pytest.fixture
async def medical(
    benefits_app: FastAPI, client: AsyncClient, token: Callable[..., dict[str, str]]
) -> AsyncIterator[AsyncClient]:
    """The client, with the default policy set in force for the district in 2020."""
    await save_policy(client, token)
    yield client


async def save_policy(
    client: AsyncClient, token: Callable[..., dict[str, str]], **medical_parameters: Any
) -> None:
    response = await client.post(
        "/v1/policies",
        json={
            "district_code": "510303",
            "year": 2020,
            "parameters": {"medical": medical_parameters},
        },
        headers=token(Role.district_officer),
    )
    assert response.status_code == 201, response.text


async def settle(
    client: AsyncClient, headers: dict[str, str], body: dict[str, Any], **extra: str
) -> Response:
    return await client.post(PATH, json=body, headers={**headers, **key(), **extra})


async def ledger(connection: AsyncConnection, resident_id: str) -> dict[str, str]:
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
    return {k: str(v) for k, v in row.items()}


def split(settlement: dict[str, Any]) -> tuple[str, ...]:
    return (
        settlement["basic_insurance"],
        settlement["critical_illness"],
        settlement["medical_assistance"],
        settlement["poverty_top_up"],
        settlement["personal_payment"],
    )


def zero_ytd() -> dict[str, str]:
    return {
        "basic_paid": "0.00",
        "critical_illness_self_pay_base": "0.00",
        "critical_illness_paid": "0.00",
        "assistance_paid": "0.00",
    }


# ---------------------------------------------------------------- worked examples


@pytest.mark.parametrize("example", WORKED_EXAMPLES, ids=[e.name for e in WORKED_EXAMPLES])
async def test_worked_example_through_the_api(
    example: Worked,
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
) -> None:
    c = example.claim
    resident_id = await add_patient(
        connection,
        status="registered_poor" if c.registered_poor else "monitored",
        dibao=c.dibao,
        tekun=c.tekun,
    )
    body = claim_body(
        resident_id,
        institution_level=c.institution_level.value,
        in_county=c.in_county,
        care_type=c.care_type.value,
        total_cost=str(c.total_cost),
        in_policy_cost=str(c.in_policy_cost),
    )

    response = await settle(medical, institution(), body)

    assert response.status_code == 201, response.text
    settlement = response.json()
    *parts, share = example.split
    assert split(settlement) == tuple(parts)
    assert settlement["personal_share"] == share
    assert sum(Decimal(x) for x in split(settlement)) == Decimal(body["total_cost"])
    assert settlement["deposit_required"] is example.deposit_required
    deductible, ratio, critical_deductible = example.terms
    trace = settlement["trace"]
    assert Decimal(trace["deductible"]) == Decimal(deductible)
    assert Decimal(trace["ratio"]) == Decimal(ratio)
    if critical_deductible is None:
        assert trace["critical_illness_deductible"] is None
    else:
        assert Decimal(trace["critical_illness_deductible"]) == Decimal(critical_deductible)
    assert trace["year_to_date_before"] == zero_ytd()
    assert trace["caps_hit"] == []
    assert settlement["patient"]["registered_poor"] is c.registered_poor
    assert settlement["status"] == "settled"
    assert settlement["policy"]["version"] == 1
    assert response.headers["Location"] == f"{PATH}/{settlement['id']}"


async def test_poor_county_stay_answer_has_what_a_receipt_and_an_auditor_need(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    resident_id = await add_patient(connection)

    response = await settle(medical, institution(), claim_body(resident_id))

    settlement = response.json()
    assert split(settlement) == ("84830.00", "4985.50", "7129.15", "11055.35", "12000.00")
    assert settlement["personal_share"] == "0.1000"
    assert settlement["resident_id"] == resident_id
    trace = settlement["trace"]
    assert trace["critical_illness_tiers"] == [
        {
            "lower": "0.00",
            "upper": "50000.00",
            "ratio": "0.65",
            "base": "7670.00",
            "amount": "4985.50",
        }
    ]
    assert trace["personal_payment_limit"] == "12000.00"
    assert trace["personal_share_cap"] == "0.10"
    assert trace["year_to_date_after"] == {
        "basic_paid": "84830.00",
        "critical_illness_self_pay_base": "15170.00",
        "critical_illness_paid": "4985.50",
        "assistance_paid": "7129.15",
    }
    assert (
        "no deposit: registered poor patient treated in county (treat first, pay later)"
        in trace["notes"]
    )
    assert settlement["deposit_required"] is False
    assert await ledger(connection, resident_id) == {
        **trace["year_to_date_after"],
        "settlements": "1",
    }
    # A later read gives the same document the institution got.
    read = await medical.get(f"{PATH}/{settlement['id']}", headers=institution())
    assert read.json() == settlement


# ---------------------------------------------------------------- the 10% cap


@pytest.mark.parametrize(
    ("total", "in_policy", "top_up", "personal", "share"),
    [
        # 10% of 955.00 exactly without a top-up (see the rules' tests)
        ("955.00", "900.00", "0.00", "95.50", "0.1000"),
        # a fen above: the fund pays that fen
        ("955.00", "899.99", "0.01", "95.50", "0.1000"),
        # 10% of 955.05 is 95.505: the limit is rounded down to 95.50, never up
        # (95.50 / 955.05 = 0.09999…, shown to 4 places)
        ("955.05", "900.00", "0.05", "95.50", "0.1000"),
    ],
)
async def test_personal_share_cap_on_its_boundary(
    total: str,
    in_policy: str,
    top_up: str,
    personal: str,
    share: str,
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
) -> None:
    resident_id = await add_patient(connection)
    body = claim_body(
        resident_id, care_type="chronic_outpatient", total_cost=total, in_policy_cost=in_policy
    )

    settlement = (await settle(medical, institution(), body)).json()

    assert (settlement["poverty_top_up"], settlement["personal_payment"]) == (top_up, personal)
    assert settlement["personal_share"] == share
    assert Decimal(personal) <= Decimal(total) * Decimal("0.10")


async def test_out_of_county_stay_gets_no_top_up_and_asks_a_deposit(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    resident_id = await add_patient(connection)
    body = claim_body(resident_id, institution_level="provincial", in_county=False)

    settlement = (await settle(medical, institution(), body)).json()

    assert split(settlement) == ("59280.00", "21593.00", "13388.90", "0.00", "25738.10")
    assert settlement["personal_share"] == "0.2145"
    assert settlement["deposit_required"] is True
    assert settlement["trace"]["personal_payment_limit"] is None
    assert "no top-up: it applies only to care in county" in settlement["trace"]["notes"]


async def test_status_on_the_discharge_date_decides_the_category(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    # Registered in June 2020: a stay discharged in May is settled as not poor.
    resident_id = await add_patient(
        connection, history=[("monitored", date(2016, 1, 1)), ("registered_poor", date(2020, 6, 1))]
    )

    may = (await settle(medical, institution(), claim_body(resident_id))).json()
    june = (
        await settle(
            medical,
            institution(),
            claim_body(resident_id, admitted_on="2020-06-02", discharged_on="2020-06-10"),
        )
    ).json()

    assert (may["patient"]["household_status"], may["patient"]["registered_poor"]) == (
        "monitored",
        False,
    )
    assert may["poverty_top_up"] == "0.00"
    assert (june["patient"]["household_status"], june["patient"]["registered_poor"]) == (
        "registered_poor",
        True,
    )
    assert june["personal_share"] == "0.1000"


# ---------------------------------------------------------------- year to date


async def test_critical_illness_deductible_crossed_across_two_claims(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    resident_id = await add_patient(connection, status="monitored")
    # First stay: basic (58400 - 400) x 80% = 46400.00, self-pay 12000.00, below 15000.
    first = (
        await settle(
            medical,
            institution(),
            claim_body(resident_id, total_cost="60000.00", in_policy_cost="58400.00"),
        )
    ).json()
    # Second stay: self-pay 20320.00; the year's base 12000 -> 32320, 17320 above the
    # deductible x 60% = 10392.00 (the rules' hand-worked example, YTD from the ledger).
    second = (
        await settle(
            medical,
            institution(),
            claim_body(resident_id, admitted_on="2020-07-01", discharged_on="2020-07-20"),
        )
    ).json()

    assert split(first) == ("46400.00", "0.00", "0.00", "0.00", "13600.00")
    assert (
        second["trace"]["year_to_date_before"]
        == first["trace"]["year_to_date_after"]
        == {
            "basic_paid": "46400.00",
            "critical_illness_self_pay_base": "12000.00",
            "critical_illness_paid": "0.00",
            "assistance_paid": "0.00",
        }
    )
    assert split(second) == ("79680.00", "10392.00", "0.00", "0.00", "29928.00")
    assert "critical-illness deductible 15000.00 crossed in this claim" in second["trace"]["notes"]
    assert await ledger(connection, resident_id) == {
        "basic_paid": "126080.00",
        "critical_illness_self_pay_base": "32320.00",
        "critical_illness_paid": "10392.00",
        "assistance_paid": "0.00",
        "settlements": "2",
    }


async def test_assistance_annual_cap_across_claims(
    client: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
    token: Callable[..., dict[str, str]],
) -> None:
    # The cap is data: a district that set it at 2,000 for the year.
    await save_policy(client, token, assistance_annual_cap="2000.00")
    resident_id = await add_patient(connection, status="monitored", dibao=True)
    body = {"total_cost": "10000.00", "in_policy_cost": "9000.00"}

    first = (await settle(client, institution(), claim_body(resident_id, **body))).json()
    second = (await settle(client, institution(), claim_body(resident_id, **body))).json()
    third = (await settle(client, institution(), claim_body(resident_id, **body))).json()

    # 2120.00 x 70% = 1484.00; then only 516.00 is left of the cap; then nothing.
    assert [s["medical_assistance"] for s in (first, second, third)] == [
        "1484.00",
        "516.00",
        "0.00",
    ]
    assert [s["personal_payment"] for s in (first, second, third)] == [
        "1636.00",
        "2604.00",
        "3120.00",
    ]
    assert first["trace"]["caps_hit"] == []
    assert second["trace"]["caps_hit"] == third["trace"]["caps_hit"] == ["medical_assistance"]
    assert (await ledger(connection, resident_id))["assistance_paid"] == "2000.00"


async def test_reversal_restores_the_year_to_date_and_a_new_claim_applies_again(
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
    token: Callable[..., dict[str, str]],
) -> None:
    resident_id = await add_patient(connection, status="monitored")
    wrong = (
        await settle(
            medical,
            institution(),
            claim_body(resident_id, total_cost="60000.00", in_policy_cost="58400.00"),
        )
    ).json()
    assert (await ledger(connection, resident_id))["basic_paid"] == "46400.00"

    reversal_key = key()
    reversed_ = await medical.post(
        f"{PATH}/{wrong['id']}/reversal",
        json={"reason": "wrong in-policy cost"},
        headers={**institution(), **reversal_key},
    )

    assert reversed_.status_code == 200, reversed_.text
    undone = reversed_.json()
    assert undone["status"] == "reversed"
    assert undone["reversal"]["reason"] == "wrong in-policy cost"
    assert split(undone) == split(wrong)  # the settlement is kept as it was paid
    assert await ledger(connection, resident_id) == {**zero_ytd(), "settlements": "0"}
    # A retry of the reversal gets the same answer; another reversal is refused.
    retry = await medical.post(
        f"{PATH}/{wrong['id']}/reversal",
        json={"reason": "wrong in-policy cost"},
        headers={**institution(), **reversal_key},
    )
    assert (retry.status_code, retry.content) == (200, reversed_.content)
    again = await medical.post(
        f"{PATH}/{wrong['id']}/reversal",
        json={"reason": "wrong in-policy cost"},
        headers={**token(Role.benefits_officer), **key()},
    )
    assert again.status_code == 409

    corrected = (
        await settle(
            medical,
            institution(),
            claim_body(resident_id, total_cost="60000.00", in_policy_cost="50400.00"),
        )
    ).json()

    # (50400 - 400) x 80% = 40000.00 on a clean year.
    assert corrected["trace"]["year_to_date_before"] == zero_ytd()
    assert corrected["basic_insurance"] == "40000.00"
    assert await ledger(connection, resident_id) == {
        "basic_paid": "40000.00",
        "critical_illness_self_pay_base": "10400.00",
        "critical_illness_paid": "0.00",
        "assistance_paid": "0.00",
        "settlements": "1",
    }
    read = (await medical.get(f"{PATH}/{wrong['id']}", headers=institution())).json()
    assert read == undone


async def test_reversal_of_an_earlier_claim_leaves_later_ones_as_paid(
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
    token: Callable[..., dict[str, str]],
) -> None:
    resident_id = await add_patient(connection, status="monitored")
    first = (
        await settle(
            medical,
            institution(),
            claim_body(resident_id, total_cost="60000.00", in_policy_cost="58400.00"),
        )
    ).json()
    second = (await settle(medical, institution(), claim_body(resident_id))).json()

    response = await medical.post(
        f"{PATH}/{first['id']}/reversal",
        json={"reason": "duplicate bill"},
        headers={**token(Role.benefits_officer), **key()},
    )

    assert response.status_code == 200, response.text
    # Only the first claim's effects leave; the second stays as it was paid.
    assert await ledger(connection, resident_id) == {
        "basic_paid": "79680.00",
        "critical_illness_self_pay_base": "20320.00",
        "critical_illness_paid": "10392.00",
        "assistance_paid": "0.00",
        "settlements": "1",
    }
    assert second["critical_illness"] == "10392.00"


# ---------------------------------------------------------------- idempotency


async def test_same_key_replays_the_first_answer_and_another_body_is_422(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    resident_id = await add_patient(connection)
    body = claim_body(resident_id)
    headers = {**institution(), **key()}

    first = await medical.post(PATH, json=body, headers=headers)
    # The same figures written differently are the same request.
    retry = await medical.post(
        PATH, json={**body, "total_cost": "120000", "in_policy_cost": 100000}, headers=headers
    )
    other = await medical.post(PATH, json={**body, "in_policy_cost": "90000.00"}, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["Location"] == first.headers["Location"]
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert other.json()["errors"][0]["location"] == "header"
    assert (await ledger(connection, resident_id))["settlements"] == "1"


async def test_claim_number_reused_with_another_body_is_409_and_with_the_same_replays(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    resident_id = await add_patient(connection)
    body = claim_body(resident_id)

    first = await settle(medical, institution(), body)
    same = await settle(medical, institution(), body)
    changed = await settle(medical, institution(), {**body, "total_cost": "130000.00"})

    assert (same.status_code, same.content) == (201, first.content)
    assert changed.status_code == 409
    assert changed.json()["errors"][0]["field"] == "claim_number"
    assert (await ledger(connection, resident_id))["settlements"] == "1"
    # Another institution may use the same number for its own claim.
    other = await settle(
        medical, institution(OTHER_INSTITUTION), {**body, "institution_code": OTHER_INSTITUTION}
    )
    assert other.status_code == 201


async def test_idempotency_key_is_required(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    resident_id = await add_patient(connection)

    response = await medical.post(PATH, json=claim_body(resident_id), headers=institution())

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


# ---------------------------------------------------------------- access


async def test_institution_settles_and_reads_only_its_own(
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
    token: Callable[..., dict[str, str]],
) -> None:
    resident_id = await add_patient(connection)
    own = (await settle(medical, institution(), claim_body(resident_id))).json()

    for_another = await settle(
        medical, institution(), claim_body(resident_id, institution_code=OTHER_INSTITUTION)
    )
    read_by_another = await medical.get(
        f"{PATH}/{own['id']}", headers=institution(OTHER_INSTITUTION)
    )
    reversed_by_another = await medical.post(
        f"{PATH}/{own['id']}/reversal",
        json={"reason": "not ours"},
        headers={**institution(OTHER_INSTITUTION), **key()},
    )
    listed_by_another = await medical.get(
        PATH, params={"resident_id": resident_id}, headers=institution(OTHER_INSTITUTION)
    )
    by_officer = await medical.get(f"{PATH}/{own['id']}", headers=token(Role.benefits_officer))
    out_of_scope = await medical.get(
        f"{PATH}/{own['id']}", headers=token(Role.auditor, division="510303101")
    )
    officer_settling = await settle(medical, token(Role.benefits_officer), claim_body(resident_id))

    assert for_another.status_code == 403
    assert for_another.json()["errors"][0]["field"] == "institution_code"
    assert read_by_another.status_code == 404
    assert reversed_by_another.status_code == 404
    assert listed_by_another.json() == {"items": [], "next_cursor": None}
    assert by_officer.status_code == 200
    assert out_of_scope.status_code == 404
    assert officer_settling.status_code == 403


async def test_resident_id_masked_without_pii_and_unmasked_reads_audited(
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
    token: Callable[..., dict[str, str]],
) -> None:
    resident_id = await add_patient(connection)
    headers = {**institution(pii=False), **key()}
    body = claim_body(resident_id)

    created = await medical.post(PATH, json=body, headers=headers)
    replayed = await medical.post(PATH, json=body, headers=headers)
    settlement_id = created.json()["id"]
    masked_read = await medical.get(f"{PATH}/{settlement_id}", headers=token(Role.auditor))
    unmasked_read = await medical.get(
        f"{PATH}/{settlement_id}", headers=token(Role.auditor, pii=True)
    )

    masked = mask_resident_id(resident_id)
    assert created.json()["resident_id"] == masked
    assert replayed.content == created.content
    assert masked_read.json()["resident_id"] == masked
    assert unmasked_read.json()["resident_id"] == resident_id
    actions = (
        await connection.execute(
            text(
                "SELECT action FROM benefits.audit_log WHERE entity = 'medical_settlement'"
                " AND entity_id = :id ORDER BY id"
            ),
            {"id": settlement_id},
        )
    ).scalars()
    assert list(actions) == ["create", "read_pii"]


# ---------------------------------------------------------------- refused claims


async def test_unknown_resident_id_is_422_naming_the_field(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    stranger = make_resident_id("510304", date(1970, 1, 1), 1)

    response = await settle(medical, institution(), claim_body(stranger))

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "location": "body",
            "field": "resident_id",
            "message": "no person with this resident ID number in the register",
            "code": "unknown_resident_id",
        }
    ]
    stored = await connection.scalar(text("SELECT count(*) FROM benefits.medical_settlement"))
    assert stored == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"total_cost": "900.00", "in_policy_cost": "1000.00"}, "in_policy_cost"),
        ({"total_cost": "100.005"}, "total_cost"),
        ({"total_cost": "-1.00"}, "total_cost"),
        ({"admitted_on": "2020-05-20"}, "discharged_on"),
        ({"care_type": "dental"}, "care_type"),
        ({"resident_id": "510303198506091231"}, "resident_id"),
        ({"claim_number": "has space"}, "claim_number"),
    ],
)
async def test_bad_claims_are_422_naming_the_field(
    overrides: dict[str, str],
    field: str,
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
) -> None:
    resident_id = await add_patient(connection)

    response = await settle(medical, institution(), claim_body(resident_id, **overrides))

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_no_policy_in_force_is_422(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    resident_id = await add_patient(connection)

    response = await settle(
        medical,
        institution(),
        claim_body(resident_id, admitted_on="2019-05-02", discharged_on="2019-05-12"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "no_policy_in_force"


async def test_the_database_refuses_parts_that_do_not_sum_to_the_total(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    resident_id = await add_patient(connection)
    settlement = (await settle(medical, institution(), claim_body(resident_id))).json()

    savepoint = await connection.begin_nested()
    with pytest.raises(sqlalchemy.exc.IntegrityError, match="parts_sum_to_total"):
        await connection.execute(
            text(
                "UPDATE benefits.medical_settlement SET personal_payment = personal_payment"
                " + 0.01 WHERE id = :id"
            ),
            {"id": settlement["id"]},
        )
    await savepoint.rollback()
    savepoint = await connection.begin_nested()
    with pytest.raises(sqlalchemy.exc.IntegrityError, match="amounts_not_negative"):
        await connection.execute(
            text(
                "UPDATE benefits.medical_settlement SET poverty_top_up = -1,"
                " personal_payment = personal_payment + 1 WHERE id = :id"
            ),
            {"id": settlement["id"]},
        )
    await savepoint.rollback()


# ---------------------------------------------------------------- lists and stats


async def test_lists_by_patient_and_by_institution_page_by_discharge_date(
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
    token: Callable[..., dict[str, str]],
) -> None:
    resident_id = await add_patient(connection)
    other = await add_patient(connection)
    days = ["2020-03-05", "2020-01-10", "2020-02-20"]
    for day in days:
        body = claim_body(
            resident_id,
            admitted_on=day,
            discharged_on=day,
            care_type="chronic_outpatient",
            total_cost="2000.00",
            in_policy_cost="1800.00",
        )
        assert (await settle(medical, institution(), body)).status_code == 201
    await settle(medical, institution(), claim_body(other))

    first = await medical.get(
        PATH, params={"resident_id": resident_id, "limit": 2}, headers=token(Role.auditor)
    )
    second = await medical.get(
        PATH,
        params={"resident_id": resident_id, "limit": 2, "cursor": first.json()["next_cursor"]},
        headers=token(Role.auditor),
    )
    by_institution = await medical.get(
        PATH,
        params={
            "institution": INSTITUTION,
            "discharged_from": "2020-02-01",
            "discharged_to": "2020-04-30",
        },
        headers=institution(),
    )

    listed = [s["discharged_on"] for s in first.json()["items"] + second.json()["items"]]
    assert listed == sorted(days)
    assert second.json()["next_cursor"] is None
    assert all(s["resident_id"] == mask_resident_id(resident_id) for s in first.json()["items"])
    assert [s["discharged_on"] for s in by_institution.json()["items"]] == [
        "2020-02-20",
        "2020-03-05",
    ]


async def test_stats_by_division_and_month_and_no_in_county_poor_share_above_the_cap(
    medical: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
    token: Callable[..., dict[str, str]],
) -> None:
    poor = await add_patient(connection)
    other_poor = await add_patient(connection, division=OTHER_TOWN_VILLAGE)
    not_poor = await add_patient(connection, status="monitored")
    await settle(medical, institution(), claim_body(poor))  # 10% exactly
    chronic = {
        "care_type": "chronic_outpatient",
        "total_cost": "955.05",
        "in_policy_cost": "900.00",
    }
    await settle(medical, institution(), claim_body(other_poor, **chronic))
    await settle(medical, institution(), claim_body(not_poor))  # 0.3094
    # Out of county: above 10%, but the cap does not apply there.
    await settle(medical, institution(), claim_body(poor, in_county=False, claim_number="OUT-1"))
    reversed_ = (await settle(medical, institution(), claim_body(not_poor))).json()
    await medical.post(
        f"{PATH}/{reversed_['id']}/reversal",
        json={"reason": "test"},
        headers={**token(Role.benefits_officer), **key()},
    )

    response = await medical.get(
        "/v1/stats/medical", params={"month": "2020-05"}, headers=token(Role.auditor)
    )

    assert response.status_code == 200, response.text
    stats = response.json()
    total = stats["total"]
    assert (total["settlements"], total["reversed"]) == (4, 1)
    assert total["in_county_poor_settlements"] == 2
    assert total["in_county_poor_above_cap"] == 0
    assert total["max_personal_share"] == "0.3094"
    aiye = next(r for r in stats["rows"] if r["division_code"] == "510303100000")
    assert (aiye["month"], aiye["settlements"], aiye["reversed"]) == ("2020-05", 3, 1)
    other_town = next(r for r in stats["rows"] if r["division_code"] == "510303101000")
    assert other_town["max_personal_share"] == "0.1000"
    june = await medical.get(
        "/v1/stats/medical", params={"month": "2020-06"}, headers=token(Role.auditor)
    )
    assert june.json()["total"]["settlements"] == 0
    village_officer = await medical.get(
        "/v1/stats/medical",
        params={"division": "510303"},
        headers=token(Role.benefits_officer, division="510303101"),
    )
    assert village_officer.status_code == 404
    bad_month = await medical.get(
        "/v1/stats/medical", params={"month": "2020-13"}, headers=token(Role.auditor)
    )
    assert bad_month.status_code == 422
    assert bad_month.json()["errors"][0]["field"] == "month"


# ---------------------------------------------------------------- parameters


def test_wire_parameters_convert_to_the_rules_figures() -> None:
    assert {f.name for f in fields(rules.MedicalParameters)} == set(MedicalParameters.model_fields)
    assert to_rules(MedicalParameters()) == rules.default_parameters()


def test_wire_enums_spell_the_rules_values() -> None:
    assert [e.value for e in wire.InstitutionLevel] == [e.value for e in rules.InstitutionLevel]
    assert [e.value for e in wire.CareType] == [e.value for e in rules.CareType]
    assert [e.value for e in wire.AnnualCap] == [e.value for e in rules.AnnualCap]


async def test_parameters_the_rules_refuse_are_422_not_500(
    client: AsyncClient,
    connection: AsyncConnection,
    institution: Callable[..., dict[str, str]],
    token: Callable[..., dict[str, str]],
) -> None:
    # Saving refuses such a set now; one saved before that check (accepted field
    # by field, refused as a whole: tiers must increase) is still in force.
    await save_policy(client, token)
    bad = PolicyParameters().model_dump(mode="json")
    bad["medical"]["critical_illness_tiers"] = [
        {"up_to": "50000.00", "ratio": "0.60"},
        {"up_to": "40000.00", "ratio": "0.70"},
        {"up_to": None, "ratio": "0.80"},
    ]
    await connection.execute(
        text(
            "INSERT INTO benefits.policy_set (district_code, year, version, parameters,"
            " created_by) SELECT district_code, year, version + 1, CAST(:parameters AS jsonb),"
            " 'before the check' FROM benefits.policy_set"
            " WHERE district_code = '510303000000' AND year = 2020"
            " ORDER BY version DESC LIMIT 1"
        ),
        {"parameters": json.dumps(bad)},
    )
    resident_id = await add_patient(connection)

    response = await settle(client, institution(), claim_body(resident_id))

    assert response.status_code == 422
    assert "increasing" in response.json()["detail"]
    assert await ledger_rows(connection, resident_id) == 0


async def ledger_rows(connection: AsyncConnection, resident_id: str) -> int:
    return int(
        await connection.scalar(
            text(
                "SELECT count(*) FROM benefits.medical_year_to_date y"
                " JOIN benefits.person p ON p.member_id = y.person_id"
                " WHERE p.resident_id = :rid"
            ),
            {"rid": resident_id},
        )
        or 0
    )


def _counter(metrics_text: str, line_start: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_settlements_and_reversals_are_counted_in_metrics(
    medical: AsyncClient, connection: AsyncConnection, institution: Callable[..., dict[str, str]]
) -> None:
    settled = 'tuopin_settlements_total{outcome="settled"}'
    reversed_ = 'tuopin_settlements_total{outcome="reversed"}'
    before = (await medical.get("/metrics")).text
    resident_id = await add_patient(connection)
    created = (await settle(medical, institution(), claim_body(resident_id))).json()
    replay_key = key()
    await medical.post(
        PATH,
        json=claim_body(resident_id, claim_number="M-2"),
        headers={**institution(), **replay_key},
    )
    # A replay of the same request is the first answer again, not a second settlement.
    await medical.post(
        PATH,
        json=claim_body(resident_id, claim_number="M-2"),
        headers={**institution(), **replay_key},
    )
    reversal = await medical.post(
        f"{PATH}/{created['id']}/reversal",
        json={"reason": "wrong ward"},
        headers={**institution(), **key()},
    )
    assert reversal.status_code == 200, reversal.text
    after = (await medical.get("/metrics")).text
    assert _counter(after, settled) - _counter(before, settled) == 2
    assert _counter(after, reversed_) - _counter(before, reversed_) == 1
