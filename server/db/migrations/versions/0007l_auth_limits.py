"""authentication attempt limits: one counter row per (scope, key, fixed window)

Revision ID: 0007l
Revises: 0006
Create Date: 2026-11-26 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.models

revision = '0007l'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('auth_attempt_windows',
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('window_start', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key', 'window_start')
    )


def downgrade() -> None:
    op.drop_table('auth_attempt_windows')
