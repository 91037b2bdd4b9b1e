"""audit log: hash-chained entries and the one-row chain head

Revision ID: 0007a
Revises: 0006
Create Date: 2026-11-26 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.models

revision = '0007a'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entries',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('details', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('entry_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_event_at', ['event', 'at'], unique=False)
        batch_op.create_index('ix_audit_entries_municipality_at', ['municipality_code', 'at'], unique=False)
        batch_op.create_index('ix_audit_entries_subject', ['subject'], unique=False)

    head = op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The one row every append updates; an empty log's head is the genesis hash.
    op.bulk_insert(head, [{'id': 1, 'seq': 0, 'head_hash': '0' * 64}])


def downgrade() -> None:
    op.drop_table('audit_chain_head')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_subject')
        batch_op.drop_index('ix_audit_entries_municipality_at')
        batch_op.drop_index('ix_audit_entries_event_at')
    op.drop_table('audit_entries')
