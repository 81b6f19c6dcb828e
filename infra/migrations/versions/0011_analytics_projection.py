"""The portfolio's analytics projection (``analytics_projection``): a row per transition, its
trail folded and its plan's facts, kept up by the projector.

Revision ID: 0011_analytics_projection
Revises: 0010_digest_refusals
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_analytics_projection"
down_revision = "0010_digest_refusals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table unless the database has it (one `create_all` made may already have it);
    the projector fills it from the trail on its first run."""
    if "analytics_projection" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "analytics_projection",
        sa.Column("transition_id", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("shape", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("fold", sa.JSON, nullable=False),
        sa.Column("facts", sa.JSON, nullable=True),
        sa.Column("facts_due", sa.Boolean, nullable=False),
        sa.Column("client", sa.String(200), nullable=True, index=True),
        sa.Column("provider", sa.String(200), nullable=True, index=True),
    )


def downgrade() -> None:
    """Drop the projection (the trail it was folded from stays)."""
    op.drop_table("analytics_projection")
