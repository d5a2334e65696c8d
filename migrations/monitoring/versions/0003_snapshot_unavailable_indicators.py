"""snapshot: the indicators a snapshot was taken without, and why

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing snapshots were taken with every indicator they could have: none missing.
    op.add_column(
        "snapshot",
        sa.Column(
            "unavailable",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        schema="monitoring",
    )


def downgrade() -> None:
    op.drop_column("snapshot", "unavailable", schema="monitoring")
