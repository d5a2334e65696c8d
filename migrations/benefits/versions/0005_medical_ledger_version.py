"""medical ledger version: settlements write without holding the patient's row

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every change of a patient's year-to-date sums moves the version on; a
    # settlement computed from the sums at one version is stored only if the row
    # is still at it. Not the settlement count: a reversal brings that back down.
    op.add_column(
        "medical_year_to_date",
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        schema="benefits",
    )


def downgrade() -> None:
    op.drop_column("medical_year_to_date", "version", schema="benefits")
