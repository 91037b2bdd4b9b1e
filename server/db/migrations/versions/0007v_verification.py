"""verification: published municipal seal keys

Revision ID: 0007v
Revises: 0006
Create Date: 2026-11-26 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.models

revision = '0007v'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('seal_keys',
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('public_key_der', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipalities.code'], ),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.create_index(op.f('ix_seal_keys_municipality_code'), 'seal_keys', ['municipality_code'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_seal_keys_municipality_code'), table_name='seal_keys')
    op.drop_table('seal_keys')
