"""feeds: the hash of the last document fetched

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Why: many servers ignore conditional GET and send the same document again; a
byte-identical body (same SHA-256) is not parsed again, and none of its entries
reaches the text stages. Existing rows keep NULL: their next document is parsed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("body_sha256")
