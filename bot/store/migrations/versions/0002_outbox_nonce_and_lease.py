"""outbox: random idempotency nonce and a delivery lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Why: the idempotency key was ``mad-<row id>``, which repeats in every new
database (a reinstall, a second bot posting to the same Discord channel) and
could make a platform drop a genuine message as a duplicate. New messages get a
random ``nonce``; rows stored before this revision keep their old key, so a
message in flight across the upgrade is still recognised.

``claimed_by`` / ``claimed_until`` let two processes share one outbox (the
scheduler in ``run`` and a manual ``meta-ai-digest digest``) without both
sending the same message.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable columns; existing rows keep NULL (old key, no lease)."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nonce", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("nonce")
