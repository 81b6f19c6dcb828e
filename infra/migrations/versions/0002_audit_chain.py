"""The audit trail as a hash chain: position, previous hash and hash on every row, how the actor
was known and the command's signature; rows already there are chained in the order they happened.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


COLUMNS = (
    sa.Column("via", sa.String(16), nullable=True),
    sa.Column("signature", sa.String(200), nullable=True),
    sa.Column("position", sa.Integer(), nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("hash", sa.String(64), nullable=True),
)


def upgrade() -> None:
    """Add the chain's columns and head table, then chain every transition's existing rows.

    A database that `SQLModel.metadata.create_all` made already has them: it is adopted as it is.
    """
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns("audit_record")}
    missing = [c for c in COLUMNS if c.name not in have]
    if missing:
        with op.batch_alter_table("audit_record") as batch:
            for column in missing:
                batch.add_column(column)
    if "ix_audit_record_chain" not in {i["name"] for i in inspector.get_indexes("audit_record")}:
        op.create_index("ix_audit_record_chain", "audit_record", ["transition_id", "position"], unique=True)
    if not inspector.has_table("audit_head"):
        op.create_table(
            "audit_head",
            sa.Column("transition_id", sa.String(200), primary_key=True),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
        )
    _chain_existing_rows()


def _chain_existing_rows() -> None:
    from sqlmodel import Session, select

    from infra.audit import read_trail
    from infra.chain import GENESIS, row_hash
    from models.tables import AuditHead, AuditRecord

    bind = op.get_bind()
    with Session(bind=bind) as session:
        ids = session.exec(select(AuditRecord.transition_id).distinct()).all()
        for transition_id in ids:
            prev, position = GENESIS, 0
            rows = read_trail(transition_id, session=session)
            if all(row.hash for row in rows):
                continue
            for row in rows:
                position += 1
                row.position, row.prev_hash = position, prev
                row.hash = prev = row_hash(row)
                session.add(row)
            session.add(AuditHead(transition_id=transition_id, position=position, hash=prev))
        session.commit()  # joins the migration's transaction, which commits it


def downgrade() -> None:
    """Drop the chain."""
    op.drop_table("audit_head")
    op.drop_index("ix_audit_record_chain", "audit_record")
    with op.batch_alter_table("audit_record") as batch:
        for column in COLUMNS:
            batch.drop_column(column.name)
