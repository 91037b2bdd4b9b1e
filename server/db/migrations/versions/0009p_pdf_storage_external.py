"""PostgreSQL stores a copy's PDF out of line without trying to compress it.

The PDF (~80 KB) is deflate-compressed already, yet TOAST's default (EXTENDED) ran pglz over
every copy stored, found nothing to gain and kept the bytes as they were: ~0.9 ms of the
server's CPU per copy for nothing. EXTERNAL keeps the same out-of-line storage, uncompressed.
Only the storage of new values changes; rows already written are left as they are. SQLite has
no such setting.

Revision ID: 0009p
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009p"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE issuances ALTER COLUMN pdf SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE issuances ALTER COLUMN pdf SET STORAGE EXTENDED")
