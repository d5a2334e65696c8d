"""One-stop medical settlement around the pure rules: who the patient is, which
policy applies, the year-to-date ledger, idempotency, reversal and reads.

Every write here is whole or nothing. A settlement is stored by one statement
that commits on its own (see ``repository``); a reversal runs in the request's
unit of work, which commits when the endpoint returns. A refused request raises
and leaves nothing behind.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from asyncpg import UniqueViolationError
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_benefits.settlement import idempotency, parameters, repository, rules, views
from tuopin_shared.contracts.auth import Role
from tuopin_shared.contracts.medical import Settlement, SettlementClaim, SettlementReversalInput
from tuopin_shared.kit import database as kit_database
from tuopin_shared.kit import metrics
from tuopin_shared.kit.auth import Principal
from tuopin_shared.kit.database import Reads
from tuopin_shared.kit.errors import Conflict, Forbidden, NotFound, Unprocessable, field_error

SETTLEMENTS = metrics.counter(
    "tuopin_settlements_total", "Medical settlements written, by outcome.", ["outcome"]
)


@dataclass(frozen=True)
class Answer:
    """A write's answer as first given: its status and its canonical (unmasked) body."""

    status_code: int
    body: str
    settlement_id: uuid.UUID
    replayed: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def may_see(principal: Principal, institution_code: str, division_code: str) -> bool:
    """An institution sees its own settlements; officers those of patients in their division."""
    if principal.has_role(Role.medical_institution):
        return principal.institution is not None and principal.institution == institution_code
    return principal.covers(division_code)


def _claim_number_reused() -> Conflict:
    return Conflict(
        "this claim number was already settled with other figures; a correction is a "
        "reversal of that settlement plus a claim under a new number",
        errors=[
            field_error(
                "claim_number", "already settled with another request", "claim_number_reused"
            )
        ],
    )


def _replay(prepared: repository.Prepared, digest: str) -> Answer | None:
    """The first answer when this key or claim number was already carried out."""
    if prepared["key_operation"] is not None:
        if prepared["key_request_hash"] != digest:
            raise idempotency.key_reused()
        return Answer(
            prepared["key_status_code"],
            prepared["key_response_body"],
            prepared["key_settlement_id"],
            replayed=True,
        )
    if prepared["claim_request_hash"] is not None:
        if prepared["claim_request_hash"] != digest:
            raise _claim_number_reused()
        # The same claim sent again under a new key (a billing system that lost
        # its key after a crash): the claim number makes it the same request.
        return Answer(
            201, prepared["claim_response_body"], prepared["claim_settlement_id"], replayed=True
        )
    return None


def _refuse_patient(prepared: repository.Prepared, claim: SettlementClaim) -> None:
    if not prepared.known_patient:
        # The projection holds everyone in the district's register; a patient
        # outside it is settled by their own district's system, not here.
        raise Unprocessable(
            "the patient is not in this district's register",
            errors=[
                field_error(
                    "resident_id",
                    "no person with this resident ID number in the register",
                    "unknown_resident_id",
                )
            ],
        )
    deceased_on: date | None = prepared["deceased_on"]
    if deceased_on is not None and deceased_on < claim.admitted_on:
        raise Unprocessable(
            errors=[
                field_error(
                    "admitted_on",
                    f"the register records the patient's death on {deceased_on}, "
                    "before this admission",
                    "after_death",
                )
            ]
        )
    if prepared["policy_set_id"] is None:
        raise Unprocessable(
            f"no policy set in force for the patient's district in {claim.discharged_on.year}; "
            "an officer must save one first",
            errors=[
                field_error(
                    "discharged_on",
                    f"no medical parameters in force for {claim.discharged_on.year}",
                    "no_policy_in_force",
                )
            ],
        )


def _parameters(prepared: repository.Prepared) -> rules.MedicalParameters:
    try:
        return parameters.for_policy_set(prepared["policy_set_id"], prepared["medical"])
    except ValueError as exc:
        # Saved by an officer and accepted field by field, yet refused as a whole
        # (tiers out of order, a deductible with a third decimal place).
        raise Unprocessable(
            f"the policy set in force (version {prepared['policy_version']}) has medical "
            f"parameters the settlement rules refuse: {exc}; an officer must save a corrected "
            "version"
        ) from None


async def settle(
    database: Reads,
    principal: Principal,
    claim: SettlementClaim,
    key: str,
    request_id: str | None,
) -> Answer:
    """Settle a claim across every payer, or give the first answer again.

    Optimistic first: read, compute without any lock held, store if the
    patient's sums did not move meanwhile (two round trips, each its own
    commit). A settlement that lost that race is computed again inside a
    transaction holding the patient's row, so it cannot lose twice.
    """
    if principal.institution is None or claim.institution_code != principal.institution:
        raise Forbidden(
            "an institution settles its own claims only: institution_code must be the "
            "token's institution",
            errors=[
                field_error(
                    "institution_code", "not the token's institution", "institution_mismatch"
                )
            ],
        )
    attempt = _Attempt(
        principal=principal,
        claim=claim,
        key=key,
        request_id=request_id,
        owner=idempotency.owner(principal),
        digest=idempotency.request_hash("settle", claim.model_dump(mode="json")),
    )
    async with database.connection() as connection:
        driver = await kit_database.driver(connection)
        try:
            answer = await attempt.run(driver)
            if answer is None:
                async with driver.transaction():
                    await repository.lock_ledger_for_settlement(driver, attempt.lookup)
                    answer = await attempt.run(driver)
        except UniqueViolationError as exc:
            if exc.constraint_name not in (repository.CLAIM_NUMBER_TAKEN, repository.KEY_TAKEN):
                raise
            # The claim number or key was committed by another request since the
            # read (the failed statement, or the transaction around it, wrote
            # nothing): read again, and that request's answer, or a refusal, is
            # this one's.
            answer = _replay(
                await repository.read_settlement(driver, attempt.lookup), attempt.digest
            )
            if answer is None:
                raise RuntimeError("a unique conflict with nothing behind it") from exc
        if answer is None:
            raise RuntimeError("the patient's year-to-date row moved while locked")
        if not answer.replayed:  # stored, and committed by now on either path
            SETTLEMENTS.labels(outcome="settled").inc()
        return answer


@dataclass
class _Attempt:
    principal: Principal
    claim: SettlementClaim
    key: str
    request_id: str | None
    owner: str
    digest: str

    @property
    def lookup(self) -> repository.Lookup:
        return repository.Lookup(
            resident_id=self.claim.resident_id,
            discharged_on=self.claim.discharged_on,
            owner=self.owner,
            key=self.key,
            institution_code=self.claim.institution_code,
            claim_number=self.claim.claim_number,
        )

    async def run(self, driver: Any) -> Answer | None:
        """The answer, or None when the patient's sums moved between read and write.

        Raises UniqueViolationError when the claim number or key was committed by
        another request between read and write.
        """
        prepared = await repository.read_settlement(driver, self.lookup)
        replay = _replay(prepared, self.digest)
        if replay is not None:
            return replay
        _refuse_patient(prepared, self.claim)
        values = _settlement_values(prepared, self.claim, self.principal, self.digest)
        stored = await repository.store_settlement(
            driver,
            {
                **values,
                **{f"read_{name}": prepared[name] for name in repository.LEDGER_FIELDS},
                "owner": self.owner,
                "key": self.key,
                "actor": self.principal.subject,
                "roles": ",".join(sorted(self.principal.roles)),
                "request_id": self.request_id,
                "audit_details": json.dumps(
                    {
                        "institution_code": self.claim.institution_code,
                        "claim_number": self.claim.claim_number,
                    }
                ),
            },
        )
        if not stored:
            return None
        return Answer(201, values["response_body"], values["id"])


def _settlement_values(
    prepared: repository.Prepared,
    claim: SettlementClaim,
    principal: Principal,
    digest: str,
) -> dict[str, Any]:
    """The settlement's columns, its answer included, from the claim and the sums read."""
    figures = _parameters(prepared)
    registered_poor = prepared["household_status"] in repository.REGISTERED_POOR_STATUSES
    before = rules.YearToDate(**repository.ledger_values(prepared.row))
    result = rules.settle(
        rules.Claim(
            institution_level=rules.InstitutionLevel(claim.institution_level.value),
            in_county=claim.in_county,
            care_type=rules.CareType(claim.care_type.value),
            total_cost=claim.total_cost,
            in_policy_cost=claim.in_policy_cost,
            registered_poor=registered_poor,
            dibao=prepared["dibao"],
            tekun=prepared["tekun"],
        ),
        figures,
        before,
    )
    trace = views.trace_of(result.trace, figures.personal_share_cap)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "status": "settled",
        "institution_code": claim.institution_code,
        "claim_number": claim.claim_number,
        "institution_level": claim.institution_level.value,
        "person_id": prepared["member_id"],
        "resident_id": claim.resident_id,
        "division_code": prepared["division_code"],
        "household_status": prepared["household_status"],
        "registered_poor": registered_poor,
        "dibao": prepared["dibao"],
        "tekun": prepared["tekun"],
        "in_county": claim.in_county,
        "care_type": claim.care_type.value,
        "admitted_on": claim.admitted_on,
        "discharged_on": claim.discharged_on,
        "year": claim.discharged_on.year,
        "policy_set_id": prepared["policy_set_id"],
        "policy_district_code": prepared["policy_district_code"],
        "policy_year": prepared["policy_year"],
        "policy_version": prepared["policy_version"],
        "total_cost": claim.total_cost,
        "in_policy_cost": claim.in_policy_cost,
        "basic_insurance": result.basic_insurance,
        "critical_illness": result.critical_illness,
        "medical_assistance": result.medical_assistance,
        "poverty_top_up": result.poverty_top_up,
        "personal_payment": result.personal_payment,
        "personal_share": result.personal_share,
        "personal_share_cap": figures.personal_share_cap,
        "critical_illness_base_added": result.ytd_delta.critical_illness_self_pay_base,
        "deposit_required": result.deposit_required,
        "trace": trace,
        "request_hash": digest,
        "settled_by": principal.subject,
        "settled_at": _now(),
        "reversed_at": None,
        "reversed_by": None,
        "reversal_reason": None,
    }
    values["response_body"] = views.settlement_view(values).model_dump_json()
    values["trace"] = trace.model_dump_json()
    return values


async def reverse(
    session: AsyncSession,
    principal: Principal,
    settlement_id: uuid.UUID,
    body: SettlementReversalInput,
    key: str,
    request_id: str | None,
) -> Answer:
    """Undo a settlement and its year-to-date effects, or give the first answer again."""
    owner = idempotency.owner(principal)
    digest = idempotency.request_hash(
        "reverse", body.model_dump(mode="json"), target=str(settlement_id)
    )
    replay = await _replay_reversal(session, owner, key, digest)
    if replay is not None:
        return replay
    target = await repository.reversal_target(session, settlement_id)
    if target is None or not may_see(
        principal, target["institution_code"], target["division_code"]
    ):
        raise NotFound(f"settlement {settlement_id} not found")
    # The patient's ledger lock serialises this reversal with their settlements
    # and with a retry of this same reversal; after it, reads see what they did.
    ledger = await repository.lock_ledger(session, target["person_id"], target["year"])
    replay = await _replay_reversal(session, owner, key, digest)
    if replay is not None:
        return replay
    row = await repository.settlement(session, settlement_id)
    assert row is not None  # settlements are never deleted
    if row["status"] != "settled":
        raise Conflict(
            f"settlement {settlement_id} was already reversed on {row['reversed_at']:%Y-%m-%d}"
        )
    after = rules.reverse(
        rules.YearToDate(**repository.ledger_values(ledger)), views.rules_settlement(row)
    )
    reversed_at = _now()
    answer = views.settlement_view(
        {
            **row,
            "status": "reversed",
            "reversed_at": reversed_at,
            "reversed_by": principal.subject,
            "reversal_reason": body.reason,
        }
    ).model_dump_json()
    await repository.store_reversal(
        session,
        {
            "id": settlement_id,
            "reversed_at": reversed_at,
            "reversed_by": principal.subject,
            "reason": body.reason,
            "response_body": answer,
            "person_id": target["person_id"],
            "year": target["year"],
            **{name: getattr(after, name) for name in repository.LEDGER_FIELDS},
            "owner": owner,
            "key": key,
            "request_hash": digest,
            "actor": principal.subject,
            "roles": ",".join(sorted(principal.roles)),
            "request_id": request_id,
            "audit_details": json.dumps({"reason": body.reason}),
        },
    )
    kit_database.after_commit(session, SETTLEMENTS.labels(outcome="reversed").inc)
    return Answer(200, answer, settlement_id)


async def _replay_reversal(
    session: AsyncSession, owner: str, key: str, digest: str
) -> Answer | None:
    used = await repository.used_key(session, owner, key)
    if used is None:
        return None
    if used["request_hash"] != digest:
        raise idempotency.key_reused()
    return Answer(used["status_code"], used["response_body"], used["settlement_id"], True)


async def get(
    database: repository.Database, principal: Principal, settlement_id: uuid.UUID
) -> Settlement:
    row = await repository.settlement(database, settlement_id)
    if row is None or not may_see(principal, row["institution_code"], row["division_code"]):
        raise NotFound(f"settlement {settlement_id} not found")
    return views.settlement_view(row)


def present(rows: list[Mapping[Any, Any]]) -> list[Settlement]:
    return [views.settlement_view(row) for row in rows]
