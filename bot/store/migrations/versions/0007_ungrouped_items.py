"""items: a partial index of kept items still without a story

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Why: a poll stores its items in committed batches and groups them afterwards, so a fault
in between (a dead worker, a dropped connection, a full disk, a kill) leaves kept items
without a story. Every poll cycle now looks for such items and groups them; this index
holds exactly those rows (normally none), so looking costs nothing however many items
are stored. Self-contained: an index, no data changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_items_ungrouped",
        "items",
        ["published_at", "id"],
        sqlite_where=sa.text("kept AND story_id IS NULL"),
        postgresql_where=sa.text("kept AND story_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_items_ungrouped", table_name="items")
