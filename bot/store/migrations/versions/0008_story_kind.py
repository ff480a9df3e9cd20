"""stories: a kind (models, research, products, people, infrastructure, policy, deals)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Why: channels will subscribe to kinds of news (issue 23), and digests and `explain` show
each story's kind. The kind is recomputed whenever a story's articles change (with its
summary); stories stored before this revision have none until then, and show none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("kind")
