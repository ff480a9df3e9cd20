"""feeds: where each came from, and feeds added at run time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Why: feeds can be added and removed at run time (`feeds add`, `feeds import`,
`/meta-ai add`), so they live in the database where every replica sees them.
`source` says where a row came from: "config" (the config file lists it; every
existing row) or "added". An added feed keeps its `topic`, who added it and
when, its site address and its OPML category; a removed one keeps its row (and
its items and stories) with `removed_at` set, so it can be added back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=20), nullable=False, server_default="config")
        )
        batch_op.add_column(
            sa.Column("topic", sa.String(length=20), nullable=False, server_default="rules")
        )
        batch_op.add_column(sa.Column("site_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("category", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("added_by", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("added_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Feeds added at run time become ordinary rows again; the config decides what is polled.
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        for column in (
            "removed_at",
            "added_at",
            "added_by",
            "category",
            "site_url",
            "topic",
            "source",
        ):
            batch_op.drop_column(column)
