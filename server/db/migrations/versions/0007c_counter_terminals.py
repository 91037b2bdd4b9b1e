"""counter terminals (らくらく窓口), the issuance channel, per-municipality tax years

Revision ID: 0007c
Revises: 0006
Create Date: 2026-11-26 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.models

revision = '0007c'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('terminal_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                      server_default='kiosk')
        )
    with op.batch_alter_table('issuances', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                      server_default='kiosk')
        )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                      server_default='kiosk')
        )
    with op.batch_alter_table('municipalities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_fiscal_years', sa.Integer(), nullable=True))
    op.create_table('counter_receptions',
    sa.Column('issuance_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reception_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('terminal_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('printed_at', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('collect_by', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('handed_over_at', server.db.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('handed_over_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['issuance_id'], ['issuances.id'], ),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipalities.code'], ),
    sa.PrimaryKeyConstraint('issuance_id'),
    sa.UniqueConstraint('municipality_code', 'reception_number', name='uq_counter_receptions_number')
    )
    with op.batch_alter_table('counter_receptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_counter_receptions_collect_by'), ['collect_by'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('counter_receptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_counter_receptions_collect_by'))
    op.drop_table('counter_receptions')
    with op.batch_alter_table('municipalities', schema=None) as batch_op:
        batch_op.drop_column('tax_fiscal_years')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('channel')
    with op.batch_alter_table('issuances', schema=None) as batch_op:
        batch_op.drop_column('channel')
    with op.batch_alter_table('kiosks', schema=None) as batch_op:
        batch_op.drop_column('terminal_kind')
