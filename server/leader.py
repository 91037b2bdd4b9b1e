"""Which process of a center runs the expiry sweeper: one in the whole deployment.

On one machine `server/multiproc.py` gives the sweeper to worker 0. Several machines sharing one
PostgreSQL each have a worker 0, so there the sweeper also needs the database's word:
`SweepLeadership.held()` takes a session-level advisory lock on a connection of its own and
keeps it while the connection lives. If the leader dies or loses its connection, PostgreSQL
drops the lock and the next candidate to ask takes it over within one sweep interval. SQLite is
one machine by nature, so there every candidate that asks leads (worker 0 alone asks).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

# pg_advisory_lock keys are one bigint per database; this one is "konbini sweeper".
SWEEPER_LOCK_KEY = 0x6B6F6E62696E6931


class SweepLeadership:
    def __init__(self, engine: Engine, *, key: int = SWEEPER_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._conn: Connection | None = None

    @property
    def needs_lock(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def held(self) -> bool:
        """Lead now? Takes the lock when free; False while another process holds it."""
        if not self.needs_lock:
            return True
        if self._conn is not None:
            try:  # still our session, so still our lock?
                self._conn.execute(sa.text("SELECT 1"))
                self._conn.commit()
                return True
            except sa.exc.DBAPIError:
                log.warning("the sweeper's lock connection was lost; asking for the lock again")
                self._drop()
        conn = self._engine.connect()
        try:
            got = bool(
                conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key}).scalar()
            )
            conn.commit()  # the lock is the session's; leave no transaction open
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        log.info("this process now runs the expiry sweeper")
        self._conn = conn
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
        except sa.exc.DBAPIError:
            pass  # a lost connection has released it already
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never back to the pool with a lock on it
                conn.close()
            except sa.exc.DBAPIError:
                pass
