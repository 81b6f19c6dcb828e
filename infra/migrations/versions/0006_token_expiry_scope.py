"""Personal API tokens expire and carry a scope: ``api_token.expires_at`` and ``api_token.scope``.
Tokens made before this revision get ``decide`` (what they could do) and expire 90 days from the
migration, so none stays valid for ever.

Revision ID: 0006_api_tokens
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0006_api_tokens"  # named, not numbered alone: another 0006 may be written beside it
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns unless a `create_all` already made them; give existing tokens their expiry."""
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("api_token")}
    if "scope" not in have:
        op.add_column("api_token", sa.Column("scope", sa.String(16), nullable=False, server_default="decide"))
    if "expires_at" not in have:
        op.add_column("api_token", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    token = sa.table("api_token", sa.column("expires_at", sa.DateTime(timezone=True)))
    later = datetime.now(UTC) + timedelta(days=90)
    op.execute(token.update().where(token.c.expires_at.is_(None)).values(expires_at=later))


def downgrade() -> None:
    """Drop the columns (the tokens then never expire again)."""
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scope")
