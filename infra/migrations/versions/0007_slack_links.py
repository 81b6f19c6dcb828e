"""Slack users linked to people (``slack_link``, rows kept when undone) and the one-time links
offered in Slack to bind them (``slack_link_token``).

Revision ID: 0007_slack_links
Revises: 0006_api_tokens
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_slack_links"  # named, not numbered alone: another 0007 may be written beside it
down_revision = "0006_api_tokens"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create each table the database lacks (one `create_all` made may already have them)."""
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "slack_link" not in have:
        op.create_table(
            "slack_link",
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("team", sa.String(32), nullable=False, index=True),
            sa.Column("user", sa.String(32), nullable=False, index=True),
            sa.Column("person", sa.String(254), nullable=False, index=True),
            _when("linked_at"),
            sa.Column("linked_via", sa.String(16), nullable=False),
            _when("unlinked_at", nullable=True),
        )
    if "slack_link_token" not in have:
        op.create_table(
            "slack_link_token",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("team", sa.String(32), nullable=False),
            sa.Column("user", sa.String(32), nullable=False),
            _when("created_at"),
            _when("expires_at"),
            _when("used_at", nullable=True),
        )


def downgrade() -> None:
    """Drop the Slack tables."""
    op.drop_table("slack_link_token")
    op.drop_table("slack_link")
