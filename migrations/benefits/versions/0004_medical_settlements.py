"""medical settlements: settlements, the year-to-date ledger, idempotency keys

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "medical_settlement",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("institution_code", sa.String(length=40), nullable=False),
        sa.Column("claim_number", sa.String(length=64), nullable=False),
        sa.Column("institution_level", sa.String(length=12), nullable=False),
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("resident_id", sa.CHAR(length=18), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("household_status", sa.String(length=30), nullable=True),
        sa.Column("registered_poor", sa.Boolean(), nullable=False),
        sa.Column("dibao", sa.Boolean(), nullable=False),
        sa.Column("tekun", sa.Boolean(), nullable=False),
        sa.Column("in_county", sa.Boolean(), nullable=False),
        sa.Column("care_type", sa.String(length=20), nullable=False),
        sa.Column("admitted_on", sa.Date(), nullable=False),
        sa.Column("discharged_on", sa.Date(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("policy_set_id", sa.UUID(), nullable=False),
        sa.Column("total_cost", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("in_policy_cost", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("basic_insurance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("critical_illness", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("medical_assistance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("poverty_top_up", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("personal_payment", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("personal_share", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("personal_share_cap", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("critical_illness_base_added", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("deposit_required", sa.Boolean(), nullable=False),
        sa.Column("trace", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("settled_by", sa.String(length=200), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversed_by", sa.String(length=200), nullable=True),
        sa.Column("reversal_reason", sa.String(length=500), nullable=True),
        sa.Column("reversal_response_body", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(status = 'settled' AND reversed_at IS NULL) OR (status = 'reversed' AND reversed_at IS NOT NULL)",
            name=op.f("ck_medical_settlement_status_matches_reversal"),
        ),
        sa.CheckConstraint(
            "care_type IN ('inpatient', 'chronic_outpatient', 'general_outpatient')",
            name=op.f("ck_medical_settlement_care_type_known"),
        ),
        sa.CheckConstraint(
            "institution_level IN ('township', 'county', 'municipal', 'provincial')",
            name=op.f("ck_medical_settlement_institution_level_known"),
        ),
        sa.CheckConstraint(
            "admitted_on <= discharged_on",
            name=op.f("ck_medical_settlement_admitted_before_discharge"),
        ),
        sa.CheckConstraint(
            "basic_insurance + critical_illness + medical_assistance + poverty_top_up + personal_payment = total_cost",
            name=op.f("ck_medical_settlement_parts_sum_to_total"),
        ),
        sa.CheckConstraint(
            "critical_illness_base_added >= 0",
            name=op.f("ck_medical_settlement_base_added_not_negative"),
        ),
        sa.CheckConstraint(
            "in_policy_cost <= total_cost",
            name=op.f("ck_medical_settlement_in_policy_within_total"),
        ),
        sa.CheckConstraint(
            "personal_share BETWEEN 0 AND 1",
            name=op.f("ck_medical_settlement_personal_share_fraction"),
        ),
        sa.CheckConstraint(
            "personal_share_cap BETWEEN 0 AND 1",
            name=op.f("ck_medical_settlement_personal_share_cap_fraction"),
        ),
        sa.CheckConstraint(
            "total_cost >= 0 AND in_policy_cost >= 0 AND basic_insurance >= 0 AND critical_illness >= 0 AND medical_assistance >= 0 AND poverty_top_up >= 0 AND personal_payment >= 0",
            name=op.f("ck_medical_settlement_amounts_not_negative"),
        ),
        sa.CheckConstraint(
            "year = EXTRACT(YEAR FROM discharged_on)",
            name=op.f("ck_medical_settlement_year_of_discharge"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_set_id"],
            ["benefits.policy_set.id"],
            name=op.f("fk_medical_settlement_policy_set_id_policy_set"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_settlement")),
        sa.UniqueConstraint(
            "institution_code",
            "claim_number",
            name=op.f("uq_medical_settlement_institution_code_claim_number"),
        ),
        schema="benefits",
    )
    op.create_index(
        op.f("ix_medical_settlement_discharged_on_division_code"),
        "medical_settlement",
        ["discharged_on", "division_code"],
        unique=False,
        schema="benefits",
    )
    op.create_index(
        op.f("ix_medical_settlement_institution_code_discharged_on_id"),
        "medical_settlement",
        ["institution_code", "discharged_on", "id"],
        unique=False,
        schema="benefits",
    )
    op.create_index(
        op.f("ix_medical_settlement_resident_id_discharged_on_id"),
        "medical_settlement",
        ["resident_id", "discharged_on", "id"],
        unique=False,
        schema="benefits",
    )
    op.create_table(
        "medical_year_to_date",
        sa.Column("person_id", sa.UUID(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column(
            "basic_paid", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "critical_illness_self_pay_base",
            sa.Numeric(precision=14, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "critical_illness_paid",
            sa.Numeric(precision=14, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "assistance_paid", sa.Numeric(precision=14, scale=2), server_default="0", nullable=False
        ),
        sa.Column("settlements", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "basic_paid >= 0 AND critical_illness_self_pay_base >= 0 AND critical_illness_paid >= 0 AND assistance_paid >= 0 AND settlements >= 0",
            name=op.f("ck_medical_year_to_date_sums_not_negative"),
        ),
        sa.PrimaryKeyConstraint("person_id", "year", name=op.f("pk_medical_year_to_date")),
        schema="benefits",
    )
    op.create_table(
        "medical_idempotency_key",
        sa.Column("owner", sa.String(length=250), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=10), nullable=False),
        sa.Column("request_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("settlement_id", sa.UUID(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "operation IN ('settle', 'reverse')",
            name=op.f("ck_medical_idempotency_key_operation_known"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["benefits.medical_settlement.id"],
            name=op.f("fk_medical_idempotency_key_settlement_id_medical_settlement"),
        ),
        sa.PrimaryKeyConstraint("owner", "key", name=op.f("pk_medical_idempotency_key")),
        schema="benefits",
    )


def downgrade() -> None:
    op.drop_table("medical_idempotency_key", schema="benefits")
    op.drop_table("medical_year_to_date", schema="benefits")
    op.drop_index(
        op.f("ix_medical_settlement_resident_id_discharged_on_id"),
        table_name="medical_settlement",
        schema="benefits",
    )
    op.drop_index(
        op.f("ix_medical_settlement_institution_code_discharged_on_id"),
        table_name="medical_settlement",
        schema="benefits",
    )
    op.drop_index(
        op.f("ix_medical_settlement_discharged_on_division_code"),
        table_name="medical_settlement",
        schema="benefits",
    )
    op.drop_table("medical_settlement", schema="benefits")
