"""A workstream's id (``PROGRAM/KEY``) is up to 241 characters (`models.constants.TRANSITION_ID`):
the tables that hold transition ids take 250, not 200 (on PostgreSQL a longer id failed the
write; SQLite never held a string to its length).

Revision ID: 0013_transition_id_width
Revises: 0012_plan_names
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_transition_id_width"
down_revision = "0012_plan_names"
branch_labels = None
depends_on = None

TABLES = ("audit_record", "audit_head", "evidence_check", "digest_item", "analytics_projection")


def upgrade() -> None:
    """Widen each table's ``transition_id`` (PostgreSQL; SQLite does not hold lengths)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "transition_id", type_=sa.String(250), existing_type=sa.String(200))


def downgrade() -> None:
    """Narrow them again (fails while a longer id is stored)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "transition_id", type_=sa.String(200), existing_type=sa.String(250))
