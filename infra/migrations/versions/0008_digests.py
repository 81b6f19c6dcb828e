"""Daily digests: each person's choice of mail notices (``digest_preference``) and the notices
held for their next digest (``digest_item``, kept once sent).

Revision ID: 0008_digests
Revises: 0007_slack_links
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_digests"  # named, not numbered alone: another 0008 may be written beside it
down_revision = "0007_slack_links"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create each table the database lacks (one `create_all` made may already have them)."""
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "digest_preference" not in have:
        op.create_table(
            "digest_preference",
            sa.Column("person", sa.String(254), primary_key=True),
            sa.Column("mode", sa.String(8), nullable=False),
            sa.Column("hour", sa.Integer, nullable=False),
            sa.Column("zone", sa.String(64), nullable=False),
            _when("changed_at"),
            sa.Column("changed_via", sa.String(16), nullable=False),
        )
    if "digest_item" not in have:
        op.create_table(
            "digest_item",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("person", sa.String(254), nullable=False, index=True),
            sa.Column("transition_id", sa.String(200), nullable=False),
            sa.Column("notice_id", sa.String(400), nullable=False),
            sa.Column("kind", sa.String(64), nullable=False),
            sa.Column("notice", sa.JSON, nullable=False),
            _when("held_at"),
            _when("sent_at", nullable=True),
        )


def downgrade() -> None:
    """Drop the digest tables."""
    op.drop_table("digest_item")
    op.drop_table("digest_preference")
