"""policy sets and the registry projection

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:03:08.504784
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_position",
        sa.Column("feed", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Text(), nullable=False),
        sa.Column("events_applied", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_feed_position")),
        schema="benefits",
    )
    op.create_table(
        "household",
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("lifted_out_year", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_household")),
        schema="benefits",
    )
    op.create_index(
        op.f("ix_household_division_code"),
        "household",
        ["division_code"],
        unique=False,
        schema="benefits",
    )
    op.create_table(
        "household_status",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_status")),
        schema="benefits",
    )
    op.create_index(
        op.f("ix_household_status_household_id"),
        "household_status",
        ["household_id"],
        unique=False,
        schema="benefits",
    )
    op.create_table(
        "person",
        sa.Column("member_id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("resident_id", sa.CHAR(length=18), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("deceased_on", sa.Date(), nullable=True),
        sa.Column("disability_grade", sa.SmallInteger(), nullable=True),
        sa.Column("disability_certified_on", sa.Date(), nullable=True),
        sa.Column("school_stage", sa.String(length=30), nullable=False),
        sa.Column("resident_pension_enrolled", sa.Boolean(), nullable=False),
        sa.Column("employee_pension_enrolled", sa.Boolean(), nullable=False),
        sa.Column("dibao", sa.Boolean(), nullable=False),
        sa.Column("tekun", sa.Boolean(), nullable=False),
        sa.Column("work_injury_care_allowance", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_person")),
        sa.UniqueConstraint("resident_id", name=op.f("uq_person_resident_id")),
        schema="benefits",
    )
    op.create_index(
        op.f("ix_person_household_id"), "person", ["household_id"], unique=False, schema="benefits"
    )
    op.create_table(
        "policy_set",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("district_code", sa.CHAR(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "sources", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_policy_set_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_set")),
        sa.UniqueConstraint(
            "district_code",
            "year",
            "version",
            name=op.f("uq_policy_set_district_code_year_version"),
        ),
        schema="benefits",
    )


def downgrade() -> None:
    op.drop_table("policy_set", schema="benefits")
    op.drop_index(op.f("ix_person_household_id"), table_name="person", schema="benefits")
    op.drop_table("person", schema="benefits")
    op.drop_index(
        op.f("ix_household_status_household_id"), table_name="household_status", schema="benefits"
    )
    op.drop_table("household_status", schema="benefits")
    op.drop_index(op.f("ix_household_division_code"), table_name="household", schema="benefits")
    op.drop_table("household", schema="benefits")
    op.drop_table("feed_position", schema="benefits")
