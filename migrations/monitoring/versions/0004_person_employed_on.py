"""person: the date a change on the feed put a member into employment

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Members already in the projection keep NULL: the feed has no history to recover
    # when they found work, so only changes applied from now on are dated.
    op.add_column("person", sa.Column("employed_on", sa.Date(), nullable=True), schema="monitoring")


def downgrade() -> None:
    op.drop_column("person", "employed_on", schema="monitoring")
