"""The expiry sweep finds old challenges and sessions by an index on `expires_at`, which
replaces the unused index on `kiosk_id` of the same tables.

`Authenticator.purge_expired` deletes the challenges and kiosk sessions that expired over a day
ago, every sweep (30 s), in a write transaction: on SQLite inside the writer lock that every
writer of every center process waits for. With no index on `expires_at` each sweep read both
tables whole: 6-17 ms each on a database grown by 20,000 kiosk sessions, and a table kept for a
day holds millions of rows at the load the center is built for. No query filters either table
by `kiosk_id` (a challenge and a session are found by their own key), so its index only made
every insert write one more page; the `expires_at` one takes its place: the same pages written
per session, and a sweep reads only the rows it deletes.

On PostgreSQL the plain CREATE INDEX here blocks writes to both tables while it builds, so
sign-ins wait for it: on a center whose tables already hold millions of rows, run this upgrade
in a maintenance window. (CONCURRENTLY would not block them, but it cannot run inside a
transaction, and `server.db.engine.upgrade` runs every migration in one.)

Revision ID: 0010e
Revises: 0009p
"""

from __future__ import annotations

from alembic import op

revision = "0010e"
down_revision = "0009p"
branch_labels = None
depends_on = None

_TABLES = ("auth_challenges", "kiosk_sessions")


def upgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_kiosk_id", table_name=table)
        op.create_index(f"ix_{table}_expires_at", table, ["expires_at"])


def downgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_expires_at", table_name=table)
        op.create_index(f"ix_{table}_kiosk_id", table, ["kiosk_id"])
