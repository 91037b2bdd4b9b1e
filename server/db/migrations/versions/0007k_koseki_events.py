"""戸籍事項 and 身分事項 of uploaded 戸籍 (koseki_events.csv), and their count per generation

Revision ID: 0007k
Revises: 0006
Create Date: 2026-11-26 01:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007k'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bcl_koseki_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('koseki_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('member_no', sa.Integer(), nullable=False),
    sa.Column('event_no', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('notified_on', sa.Date(), nullable=True),
    sa.Column('notifier', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('place', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('partner_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('adoptive_father', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('adoptive_mother', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('from_koseki', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('to_koseki', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipalities.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('municipality_code', 'koseki_id', 'member_no', 'event_no',
                        name='uq_bcl_koseki_events_event')
    )
    with op.batch_alter_table('bcl_generations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('koseki_events', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade() -> None:
    with op.batch_alter_table('bcl_generations', schema=None) as batch_op:
        batch_op.drop_column('koseki_events')
    op.drop_table('bcl_koseki_events')
