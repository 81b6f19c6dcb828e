"""A web session keeps the groups the identity provider listed for the person at sign-in, so the
web app can tell the program office (``BPO_PROGRAM_OFFICE``) by group.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``web_session.groups`` unless a `create_all` already made it."""
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("web_session")}
    if "groups" not in have:
        op.add_column("web_session", sa.Column("groups", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("web_session") as batch:
        batch.drop_column("groups")
