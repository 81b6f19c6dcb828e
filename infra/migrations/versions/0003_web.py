"""The web app's tables: sign-in sessions, single-use links and personal API tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create each table the database lacks (one `create_all` made may already have them)."""
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "web_session" not in have:
        op.create_table(
            "web_session",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("person", sa.String(254), nullable=False, index=True),
            sa.Column("via", sa.String(16), nullable=False),
            sa.Column("issuer", sa.String(500), nullable=True),
            sa.Column("subject", sa.String(254), nullable=True),
            sa.Column("csrf", sa.String(64), nullable=False),
            _when("created_at"),
            _when("expires_at"),
        )
    if "signin_link" not in have:
        op.create_table(
            "signin_link",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("address", sa.String(254), nullable=False, index=True),
            sa.Column("next_path", sa.String(500), nullable=False),
            _when("created_at"),
            _when("expires_at"),
            _when("used_at", nullable=True),
        )
    if "api_token" not in have:
        op.create_table(
            "api_token",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("owner", sa.String(254), nullable=False, index=True),
            sa.Column("name", sa.String(100), nullable=False),
            _when("created_at"),
            _when("last_used_at", nullable=True),
        )


def downgrade() -> None:
    """Drop the web app's tables."""
    for table in ("api_token", "signin_link", "web_session"):
        op.drop_table(table)
