"""A digest run's claim on the items it mails (``digest_item.claimed_by``, ``claimed_at``): two
runs at once never mail the same items.

Revision ID: 0009_digest_claims
Revises: 0008_digests
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_digest_claims"  # named, not numbered alone: another 0009 may be written beside it
down_revision = "0008_digests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add each claim column the table lacks (one `create_all` made may already have them)."""
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("digest_item")}
    if "claimed_by" not in have:
        op.add_column("digest_item", sa.Column("claimed_by", sa.String(32), nullable=True))
    if "claimed_at" not in have:
        op.add_column("digest_item", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the claim columns (in batch: SQLite rebuilds the table to drop a column)."""
    with op.batch_alter_table("digest_item") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
