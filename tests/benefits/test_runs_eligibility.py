"""Each eligibility edge of POLICY.md through the runs API and its set-based SQL."""

from __future__ import annotations

from datetime import date
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.benefits.test_runs_factories import (
    OTHER_DISTRICT_V1,
    add_household,
    add_person,
    add_policy,
    all_lines,
    by_member,
    computed_run,
    set_feed,
    update_person,
)
from tuopin_shared.contracts.auth import Role

REGISTERED = ("registered_poor", date(2016, 5, 1))


async def test_pension_eligibility_edges(client: AsyncClient, token: Any, db: AsyncSession) -> None:
    officer = token(Role.benefits_officer, subject="officer")
    await add_policy(db, pension={"lifted_out_keep_policy": False})
    await set_feed(db)
    poor = await add_household(db, REGISTERED)
    expected: dict[str, bool] = {}

    async def person(name: str, eligible: bool, household: Any = poor, **facts: Any) -> None:
        expected[name] = eligible
        names[str(await add_person(db, household, **facts))] = name

    names: dict[str, str] = {}
    await person("plain", True)
    await person("turns 16 on 31 Dec", True, born=date(2004, 12, 31))
    await person("turns 16 on 1 Jan next year", False, born=date(2005, 1, 1))
    await person("turns 60 on 1 Jan", False, born=date(1960, 1, 1))
    await person("turns 60 on 2 Jan", True, born=date(1960, 1, 2))
    await person("born 29 Feb, turns 60 in the year", True, born=date(1960, 2, 29))
    await person(
        "senior secondary student", False, born=date(2003, 6, 1), school_stage="senior_secondary"
    )
    await person("undergraduate", False, born=date(2000, 6, 1), school_stage="undergraduate")
    await person(
        "junior secondary at 16", True, born=date(2004, 3, 1), school_stage="junior_secondary"
    )
    await person("employee pension", False, employee_pension_enrolled=True)
    await person("not in resident pension", False, resident_pension_enrolled=False)
    await person("died 31 Dec before", False, deceased_on=date(2019, 12, 31))
    await person("died 1 Jan", True, deceased_on=date(2020, 1, 1))
    await person("died during the year", True, deceased_on=date(2020, 6, 30))

    lifted_before = await add_household(db, REGISTERED, ("lifted_out", date(2018, 12, 1)))
    await person("lifted out before the year", False, lifted_before)
    lifted_during = await add_household(db, REGISTERED, ("lifted_out", date(2020, 3, 1)))
    await person("lifted out during the year", True, lifted_during)
    edge = await add_household(db, ("monitored", date(2019, 5, 1)))
    await person("edge household", False, edge)
    await person("edge household, dibao", True, edge, dibao=True)
    await person("edge household, tekun", True, edge, tekun=True)
    await person(
        "grade 2", True, edge, disability_grade=2, disability_certified_on=date(2015, 1, 1)
    )
    await person(
        "grade 2 certified next year",
        False,
        edge,
        disability_grade=2,
        disability_certified_on=date(2021, 1, 5),
    )
    await person("grade 2 without a date", False, edge, disability_grade=2)
    await person(
        "grade 3", False, edge, disability_grade=3, disability_certified_on=date(2015, 1, 1)
    )
    newly = await add_household(
        db, ("monitored", date(2019, 5, 1)), ("newly_impoverished", date(2020, 12, 31))
    )
    await person("newly impoverished on 31 Dec", True, newly)
    same_day = await add_household(
        db, ("registered_poor", date(2019, 1, 1)), ("lifted_out", date(2019, 1, 1))
    )
    await person("registered and lifted out the same day", False, same_day)
    no_history = await add_household(db, current="returned_to_poverty")
    await person("no status history, current status poor", True, no_history)
    elsewhere = await add_household(db, REGISTERED, division=OTHER_DISTRICT_V1)
    await person("another district", False, elsewhere)

    run = await computed_run(client, officer, "pension", "2020")
    lines = await all_lines(client, officer, run["id"])
    paid = {names[line["member_id"]] for line in lines}
    assert paid == {name for name, eligible in expected.items() if eligible}
    assert {line["amount"] for line in lines} == {"100.00"}
    assert run["persons"] == run["lines"] == len(paid)
    assert run["payable_amount"] == f"{100 * len(paid)}.00"
    sample = next(
        line for line in lines if names[line["member_id"]] == "lifted out during the year"
    )
    assert sample["rule"] == "pension_contribution.v1"
    assert sample["inputs"]["household_statuses_in_year"] == ["registered_poor", "lifted_out"]
    assert sample["policy_version"] == run["policy_version"] == 1
    assert sample["months"] == [] and sample["kind"] == "due" and sample["status"] == "unpaid"

    # With the transition parameter, households lifted out keep the policy: recomputing
    # under the new version of the policy set picks them up.
    await add_policy(db, pension={"lifted_out_keep_policy": True})
    again = await client.post(f"/v1/runs/{run['id']}/compute", headers=officer)
    assert again.status_code == 200, again.text
    assert again.json()["policy_version"] == 2
    paid_again = {names[line["member_id"]] for line in await all_lines(client, officer, run["id"])}
    assert paid_again == paid | {
        "lifted out before the year",
        "registered and lifted out the same day",
    }


async def test_nursing_subsidy_months_arrears_and_recoveries(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    officer = token(Role.benefits_officer, subject="officer")
    await add_policy(db)
    await set_feed(db)
    poor = await add_household(db, REGISTERED)
    certified = {"disability_certified_on": date(2019, 5, 10)}
    names: dict[str, str] = {}

    async def person(name: str, **facts: Any) -> str:
        member = str(await add_person(db, poor, **facts))
        names[member] = name
        return member

    await person("grade 1", disability_grade=1, **certified)
    late_death = await person("dies in April, recorded late", disability_grade=1, **certified)
    retroactive = await person("certificate recorded after Q2")
    regraded = await person(
        "grade 2, re-certified grade 1 in August", disability_grade=2, **certified
    )
    await person(
        "grade 2 certified mid-quarter",
        disability_grade=2,
        disability_certified_on=date(2020, 8, 15),
    )
    await person(
        "certified on 1 July", disability_grade=1, disability_certified_on=date(2020, 7, 1)
    )
    await person("dies in August", disability_grade=1, deceased_on=date(2020, 8, 3), **certified)
    await person("tekun", disability_grade=1, tekun=True, **certified)
    await person(
        "work-injury care allowance",
        disability_grade=1,
        work_injury_care_allowance=True,
        **certified,
    )
    await person("grade 3", disability_grade=3, **certified)

    q2 = await computed_run(client, officer, "nursing_subsidy", "2020-Q2")
    q2_lines = by_member(await all_lines(client, officer, q2["id"]))
    assert {names[m] for m in q2_lines} == {
        "grade 1",
        "dies in April, recorded late",
        "grade 2, re-certified grade 1 in August",
        "dies in August",
    }
    assert q2_lines[late_death] == {
        "arrears": [("2020-01", "100.00"), ("2020-02", "100.00"), ("2020-03", "100.00")],
        "due": [("2020-04", "100.00"), ("2020-05", "100.00"), ("2020-06", "100.00")],
    }
    assert q2_lines[regraded]["due"] == [
        ("2020-04", "80.00"),
        ("2020-05", "80.00"),
        ("2020-06", "80.00"),
    ]

    # After Q2: a death recorded late, a certificate dated back, a new certificate.
    await update_person(db, late_death, deceased_on=date(2020, 4, 20))
    await update_person(
        db, retroactive, disability_grade=2, disability_certified_on=date(2020, 2, 10)
    )
    await update_person(db, regraded, disability_grade=1, disability_certified_on=date(2020, 8, 15))

    q3 = await computed_run(client, officer, "nursing_subsidy", "2020-Q3")
    q3_lines = {
        names[m]: kinds
        for m, kinds in by_member(await all_lines(client, officer, q3["id"])).items()
    }
    quarter = [("2020-07", "100.00"), ("2020-08", "100.00"), ("2020-09", "100.00")]
    assert q3_lines == {
        "grade 1": {"due": quarter},
        # The month of death is owed; the months after it, paid in Q2, are recovered.
        "dies in April, recorded late": {
            "recovery": [("2020-05", "-100.00"), ("2020-06", "-100.00")]
        },
        # Owed from the month after the certificate's date, back to March: arrears.
        "certificate recorded after Q2": {
            "arrears": [(f"2020-0{m}", "80.00") for m in (3, 4, 5, 6)],
            "due": [(f"2020-0{m}", "80.00") for m in (7, 8, 9)],
        },
        # The new grade counts from the month after its certificate; the months before
        # it are not known from current facts: paid ones stand, unpaid ones wait.
        "grade 2, re-certified grade 1 in August": {"due": [("2020-09", "100.00")]},
        "grade 2 certified mid-quarter": {"due": [("2020-09", "80.00")]},
        "certified on 1 July": {"due": [("2020-08", "100.00"), ("2020-09", "100.00")]},
        "dies in August": {"due": [("2020-07", "100.00"), ("2020-08", "100.00")]},
    }
    assert q3["payable_amount"] == "1440.00" and q3["recovery_amount"] == "-200.00"
    recovery = next(
        line
        for line in await all_lines(client, officer, q3["id"], kind="recovery")
        if line["member_id"] == late_death
    )
    assert recovery["status"] == "to_recover"
    assert recovery["inputs"]["deceased_on"] == "2020-04-20"
    assert recovery["inputs"]["person_version"] == 2


async def test_living_subsidy_follows_dibao_and_status_history(
    client: AsyncClient, token: Any, db: AsyncSession
) -> None:
    officer = token(Role.benefits_officer, subject="officer")
    await add_policy(db, pension={"lifted_out_keep_policy": False})
    await set_feed(db)
    grade = {"disability_grade": 3, "disability_certified_on": date(2019, 5, 10)}
    names: dict[str, str] = {}

    async def person(name: str, household: Any, **facts: Any) -> None:
        names[str(await add_person(db, household, **{**grade, **facts}))] = name

    await person("registered poor", await add_household(db, REGISTERED))
    edge = await add_household(db, ("monitored", date(2019, 3, 1)))
    await person("edge household", edge)
    await person("edge household, dibao", edge, dibao=True)
    await person("edge household, tekun and dibao", edge, dibao=True, tekun=True)
    await person(
        "newly impoverished on 20 May",
        await add_household(
            db, ("monitored", date(2019, 3, 1)), ("newly_impoverished", date(2020, 5, 20))
        ),
    )
    await person(
        "lifted out on 10 July",
        await add_household(db, REGISTERED, ("lifted_out", date(2020, 7, 10))),
    )
    await person(
        "grade 4 without a date",
        await add_household(db, REGISTERED),
        disability_grade=4,
        disability_certified_on=None,
    )

    run = await computed_run(client, officer, "living_subsidy", "2020-Q3")
    lines = {
        names[m]: kinds
        for m, kinds in by_member(await all_lines(client, officer, run["id"])).items()
    }
    month = "100.00"
    assert lines == {
        "registered poor": {
            "arrears": [(f"2020-0{m}", month) for m in range(1, 7)],
            "due": [(f"2020-0{m}", month) for m in (7, 8, 9)],
        },
        "edge household, dibao": {
            "arrears": [(f"2020-0{m}", month) for m in range(1, 7)],
            "due": [(f"2020-0{m}", month) for m in (7, 8, 9)],
        },
        # Owed from the month after the status date.
        "newly impoverished on 20 May": {
            "arrears": [("2020-06", month)],
            "due": [(f"2020-0{m}", month) for m in (7, 8, 9)],
        },
        # Without the transition parameter: owed through the month the status is lost.
        "lifted out on 10 July": {
            "arrears": [(f"2020-0{m}", month) for m in range(1, 7)],
            "due": [("2020-07", month)],
        },
    }
    line = next(
        line
        for line in await all_lines(client, officer, run["id"], kind="due")
        if names[line["member_id"]] == "lifted out on 10 July"
    )
    assert [h["status"] for h in line["inputs"]["household_status_history"]] == [
        "registered_poor",
        "lifted_out",
    ]
