"""ndjson ledgers: an import job's file may be NDJSON

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A few rows per import ever run: checking them again under the lock is instant.
    op.drop_constraint(op.f("ck_import_job_format"), "import_job", type_="check", schema="registry")
    op.create_check_constraint(
        op.f("ck_import_job_format"),
        "import_job",
        "format IN ('csv', 'xlsx', 'ndjson')",
        schema="registry",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_import_job_format"), "import_job", type_="check", schema="registry")
    # Fails, leaving everything as it was, while an NDJSON job is on record.
    op.create_check_constraint(
        op.f("ck_import_job_format"), "import_job", "format IN ('csv', 'xlsx')", schema="registry"
    )
