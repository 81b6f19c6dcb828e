"""The audit trail: one row per decision, reading, phase change, escalation or notification.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the audit table."""
    # Databases made before migrations existed already hold the table: adopt it as it is.
    if sa.inspect(op.get_bind()).has_table("audit_record"):
        return
    op.create_table(
        "audit_record",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("event_id", sa.String(400), nullable=False),
        sa.Column("transition_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("gate", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(254), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_record_event_id", "audit_record", ["event_id"], unique=True)
    op.create_index("ix_audit_record_transition_id", "audit_record", ["transition_id"])
    op.create_index("ix_audit_record_kind", "audit_record", ["kind"])


def downgrade() -> None:
    """Drop the audit table."""
    op.drop_table("audit_record")
