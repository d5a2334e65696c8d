"""ledger import jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:30:00.000000
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
        "import_job",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_by_roles", sa.String(length=200), nullable=False),
        sa.Column("division_code", sa.CHAR(length=12), nullable=False),
        sa.Column("can_see_pii", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("households_created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("members_created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')",
            name=op.f("ck_import_job_status"),
        ),
        sa.CheckConstraint(
            "stage IS NULL OR stage IN ('reading', 'checking', 'writing')",
            name=op.f("ck_import_job_stage"),
        ),
        sa.CheckConstraint("mode IN ('validate', 'commit')", name=op.f("ck_import_job_mode")),
        sa.CheckConstraint("format IN ('csv', 'xlsx')", name=op.f("ck_import_job_format")),
        sa.CheckConstraint(
            "rows_done >= 0 AND error_count >= 0 AND households_created >= 0 AND members_created >= 0",
            name=op.f("ck_import_job_counts_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_import_job_division_code"),
        "import_job",
        ["division_code"],
        unique=False,
        schema="registry",
    )
    op.create_index(
        op.f("ix_import_job_status"), "import_job", ["status"], unique=False, schema="registry"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_import_job_status"), table_name="import_job", schema="registry")
    op.drop_index(op.f("ix_import_job_division_code"), table_name="import_job", schema="registry")
    op.drop_table("import_job", schema="registry")
