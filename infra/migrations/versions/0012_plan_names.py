"""The web app's names of each transition's phases and gates (``plan_names``), as last read from
its plan: after a restart, the inbox names what it lists without asking Temporal for every plan.

Revision ID: 0012_plan_names
Revises: 0011_analytics_projection
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_plan_names"
down_revision = "0011_analytics_projection"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table unless the database has it (one `create_all` made may already have it);
    the web app fills it as it reads plans."""
    if "plan_names" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "plan_names",
        sa.Column("transition_id", sa.String(250), primary_key=True),
        sa.Column("first_run", sa.String(64), nullable=False, server_default=""),
        sa.Column("phases", sa.JSON, nullable=False),
        sa.Column("gates", sa.JSON, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the kept names (each plan is read again when listed)."""
    op.drop_table("plan_names")
