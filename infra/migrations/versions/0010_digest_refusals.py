"""A digest refused for good (``digest_item.refused_at``, ``refused_why``): its items are kept
refused, with the mail server's answer, and never tried again.

Revision ID: 0010_digest_refusals
Revises: 0009_digest_claims
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_digest_refusals"  # named, not numbered alone: another 0010 may be written beside it
down_revision = "0009_digest_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add each refusal column the table lacks (one `create_all` made may already have them)."""
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("digest_item")}
    if "refused_at" not in have:
        op.add_column("digest_item", sa.Column("refused_at", sa.DateTime(timezone=True), nullable=True))
    if "refused_why" not in have:
        op.add_column("digest_item", sa.Column("refused_why", sa.String(200), nullable=True))


def downgrade() -> None:
    """Drop the refusal columns (in batch: SQLite rebuilds the table to drop a column)."""
    with op.batch_alter_table("digest_item") as batch:
        batch.drop_column("refused_why")
        batch.drop_column("refused_at")
