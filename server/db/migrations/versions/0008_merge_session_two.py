"""Merge the schema branches that were built side by side: audit log, counter terminals,
戸籍 events, authentication limits, access tokens and seal keys.

Revision ID: 0008
Revises: 0007a, 0007c, 0007k, 0007l, 0007r, 0007v
"""

from __future__ import annotations

revision = "0008"
down_revision = ("0007a", "0007c", "0007k", "0007l", "0007r", "0007v")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # a merge point only: each branch created its own tables


def downgrade() -> None:
    pass
