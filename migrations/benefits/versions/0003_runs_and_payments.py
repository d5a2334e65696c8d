"""runs and payments

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROGRAMS = "program IN ('pension', 'nursing_subsidy', 'living_subsidy')"


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("actor", "operation", "key", name=op.f("pk_idempotency_key")),
        schema="benefits",
    )
    op.create_table(
        "run",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("program", sa.String(length=30), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("district_code", sa.CHAR(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="draft", nullable=False),
        sa.Column("arrears_from", sa.Date(), nullable=True),
        sa.Column("policy_set_id", sa.UUID(), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("feed_position", sa.Text(), nullable=True),
        sa.Column("inputs_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inputs_age_seconds", sa.Integer(), nullable=True),
        sa.Column("inputs_stale", sa.Boolean(), nullable=True),
        sa.Column("persons", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lines", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "payable_amount", sa.Numeric(precision=12, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "recovery_amount", sa.Numeric(precision=12, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "paid_amount", sa.Numeric(precision=12, scale=2), server_default="0", nullable=False
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("computed_by", sa.String(length=200), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("period ~ '^[0-9]{4}(-Q[1-4])?$'", name=op.f("ck_run_period")),
        sa.CheckConstraint(_PROGRAMS, name=op.f("ck_run_program")),
        sa.CheckConstraint(
            "status IN ('draft', 'computed', 'approved', 'paid', 'cancelled')",
            name=op.f("ck_run_status"),
        ),
        sa.CheckConstraint(
            "approved_by IS NULL OR (approved_by <> created_by AND approved_by <> computed_by)",
            name=op.f("ck_run_four_eyes"),
        ),
        sa.CheckConstraint(
            "paid_amount >= 0 AND paid_amount <= payable_amount", name=op.f("ck_run_paid_amount")
        ),
        sa.CheckConstraint("payable_amount >= 0", name=op.f("ck_run_payable_amount")),
        sa.CheckConstraint("recovery_amount <= 0", name=op.f("ck_run_recovery_amount")),
        sa.ForeignKeyConstraint(
            ["policy_set_id"],
            ["benefits.policy_set.id"],
            name=op.f("fk_run_policy_set_id_policy_set"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run")),
        schema="benefits",
    )
    # One live run per program, period and district, whatever races.
    op.create_index(
        "uq_run_live",
        "run",
        ["program", "period", "district_code"],
        unique=True,
        schema="benefits",
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_table(
        "entitlement",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("program", sa.String(length=30), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("months", postgresql.ARRAY(sa.Date()), nullable=True),
        sa.Column(
            "month_amounts", postgresql.ARRAY(sa.Numeric(precision=12, scale=2)), nullable=True
        ),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("rule", sa.String(length=60), nullable=False),
        sa.Column("policy_set_id", sa.UUID(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("inputs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint(
            "(kind = 'recovery') = (amount < 0)", name=op.f("ck_entitlement_recovery_negative")
        ),
        sa.CheckConstraint(
            "kind IN ('due', 'arrears', 'recovery')", name=op.f("ck_entitlement_kind")
        ),
        sa.CheckConstraint(
            "program <> 'pension' OR (kind = 'due' AND months IS NULL AND period = year::text)",
            name=op.f("ck_entitlement_pension_yearly"),
        ),
        sa.CheckConstraint(_PROGRAMS, name=op.f("ck_entitlement_program")),
        sa.CheckConstraint(
            "(months IS NULL) = (month_amounts IS NULL)"
            " AND cardinality(months) = cardinality(month_amounts)",
            name=op.f("ck_entitlement_months_match"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_entitlement_amount_not_zero")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlement")),
        # One line per person, program, period, kind and year: one pension per person and year.
        sa.UniqueConstraint(
            "member_id",
            "program",
            "period",
            "kind",
            "year",
            name=op.f("uq_entitlement_member_id_program_period_kind_year"),
        ),
        schema="benefits",
    )
    op.create_index(
        "ix_entitlement_run_id_id", "entitlement", ["run_id", "id"], unique=False, schema="benefits"
    )
    op.create_table(
        "payment_batch",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_payment_batch_status")),
        sa.CheckConstraint("lines > 0 AND amount > 0", name=op.f("ck_payment_batch_not_empty")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["benefits.run.id"], name=op.f("fk_payment_batch_run_id_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_batch")),
        schema="benefits",
    )
    op.create_index(
        op.f("ix_payment_batch_run_id"),
        "payment_batch",
        ["run_id"],
        unique=False,
        schema="benefits",
    )
    op.create_table(
        "payment",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("entitlement_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("bank_reference", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("resulted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status <> 'paid' OR bank_reference IS NOT NULL", name=op.f("ck_payment_paid_reference")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'failed')", name=op.f("ck_payment_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_amount_positive")),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["benefits.payment_batch.id"],
            name=op.f("fk_payment_batch_id_payment_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["benefits.entitlement.id"],
            name=op.f("fk_payment_entitlement_id_entitlement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint(
            "batch_id", "entitlement_id", name=op.f("uq_payment_batch_id_entitlement_id")
        ),
        schema="benefits",
    )
    op.create_index(
        op.f("ix_payment_entitlement_id"),
        "payment",
        ["entitlement_id"],
        unique=False,
        schema="benefits",
    )
    # Nothing is paid twice: one paid payment per line, one batch waiting per line.
    op.create_index(
        "uq_payment_paid",
        "payment",
        ["entitlement_id"],
        unique=True,
        schema="benefits",
        postgresql_where=sa.text("status = 'paid'"),
    )
    op.create_index(
        "uq_payment_pending",
        "payment",
        ["entitlement_id"],
        unique=True,
        schema="benefits",
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("uq_payment_pending", table_name="payment", schema="benefits")
    op.drop_index("uq_payment_paid", table_name="payment", schema="benefits")
    op.drop_index(op.f("ix_payment_entitlement_id"), table_name="payment", schema="benefits")
    op.drop_table("payment", schema="benefits")
    op.drop_index(op.f("ix_payment_batch_run_id"), table_name="payment_batch", schema="benefits")
    op.drop_table("payment_batch", schema="benefits")
    op.drop_index("ix_entitlement_run_id_id", table_name="entitlement", schema="benefits")
    op.drop_table("entitlement", schema="benefits")
    op.drop_index("uq_run_live", table_name="run", schema="benefits")
    op.drop_table("run", schema="benefits")
    op.drop_table("idempotency_key", schema="benefits")
