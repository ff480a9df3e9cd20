"""subscriptions: each channel its own filter, schedule and form; what each was posted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Why: a team wants research in one channel, a weekly digest for leadership and breaking
news in a third (issue 23). Subscriptions live in the database, so every replica sees
the ones made in chat; ``subscription_posts`` records each story posted to each
subscription, its primary key making that post happen once across replicas.
Self-contained: two new tables, no change to existing ones.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adapter", sa.String(length=100), nullable=False),
        sa.Column("destination", sa.String(length=500), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("min_outlets", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=10), nullable=False),
        sa.Column("alerts", sa.Boolean(), nullable=False),
        sa.Column("alert_words", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_alert_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("adapter", "destination", name="uq_subscriptions_channel"),
    )
    op.create_table(
        "subscription_posts",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sources_announced", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["digest_id"], ["digests.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("subscription_id", "story_id"),
    )


def downgrade() -> None:
    op.drop_table("subscription_posts")
    op.drop_table("subscriptions")
