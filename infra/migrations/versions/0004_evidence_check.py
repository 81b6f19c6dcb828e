"""The last check of each pinned evidence, so pages show a verdict without fetching anything.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table unless the database has it (one `create_all` made may already)."""
    if "evidence_check" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "evidence_check",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("transition_id", sa.String(200), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("now_sha256", sa.String(64), nullable=True),
        sa.Column("now_size", sa.Integer(), nullable=True),
        sa.Column("problem", sa.String(500), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("evidence_check")
