"""claims: what only one process may do (a job's firing, the answer to one command)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Why: replicas share one database and each runs the schedule and serves
/meta-ai. A scheduled poll or digest, and the answer to one command, must
happen once however many processes see it: the first to insert the row with
its key (``digest@2026-12-01T09:00:00+00:00``, ``discord:<interaction id>``)
does it, the others find the key taken. Rows are bookkeeping, pruned after a
few days. Self-contained: a new table, no change to existing ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("claims")
