"""PostgreSQL keeps a connection's prepared statements across read sessions (`server.db.engine`).

psycopg prepares a statement at its 5th execution on a connection and forgets all of them at
any ROLLBACK. A `read_session` cannot write, so it ends by COMMIT, which keeps them; a write
session or a failed transaction still rolls back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.db.engine import make_engine, read_session, write_session
from tests.databases import PG_URL, fresh_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="KONBINI_TEST_DATABASE_URL not set"),
]

_NOTES = sa.table("notes", sa.column("id", sa.Integer), sa.column("text", sa.String))
_READ = sa.select(_NOTES.c.text).where(_NOTES.c.id == sa.bindparam("id"))
_PREPARED = sa.text(
    "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT notes.text%'"
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with fresh_postgres("konbini_prepared") as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
            conn.exec_driver_sql("INSERT INTO notes (id, text) VALUES (1, 'kept')")
        yield engine
        engine.dispose()


def _prepared_on_the_pooled_connection(engine: Engine) -> int:
    # Sessions one after another reuse the pool's one connection: this is its count.
    with engine.connect() as conn:
        count = conn.execute(_PREPARED).scalar_one()
    assert isinstance(count, int)
    return count


def test_read_sessions_keep_the_connections_prepared_statements(engine: Engine) -> None:
    for _ in range(8):
        with read_session(engine) as db:
            assert db.execute(_READ, {"id": 1}).scalar_one() == "kept"
    assert isinstance(engine.pool, sa.QueuePool) and engine.pool.checkedin() == 1
    assert _prepared_on_the_pooled_connection(engine) == 1


def test_a_read_session_that_failed_still_rolls_back(engine: Engine) -> None:
    rollbacks: list[int] = []
    sa.event.listen(engine, "rollback", lambda _conn: rollbacks.append(1))
    with read_session(engine) as db, pytest.raises(sa.exc.ProgrammingError):
        db.execute(sa.text("SELECT no_such_column FROM notes"))
    assert rollbacks == [1]
    with read_session(engine) as db:  # the connection went back to the pool usable
        assert db.execute(_READ, {"id": 1}).scalar_one() == "kept"


def test_a_write_session_closed_without_commit_still_discards_its_writes(engine: Engine) -> None:
    with write_session(engine) as db:
        db.execute(sa.update(_NOTES).where(_NOTES.c.id == 1).values(text="lost"))
    with read_session(engine) as db:
        assert db.execute(_READ, {"id": 1}).scalar_one() == "kept"
