"""`read_session` and `write_session`: which transactions take SQLite's write lock.

A write session starts BEGIN IMMEDIATE, so a read-then-write holds the lock from its first
statement; a read session starts a deferred BEGIN, so under WAL it reads while a writer holds
the lock, and it refuses to write at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.db.engine import (
    ReadOnlyTransaction,
    make_engine,
    read_row,
    read_session,
    write_session,
)

_TABLE = sa.table("notes", sa.column("id", sa.Integer), sa.column("text", sa.String))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.exec_driver_sql("INSERT INTO notes (id, text) VALUES (1, 'kept')")
    yield engine
    engine.dispose()


def _begins(engine: Engine) -> list[str]:
    seen: list[str] = []

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", on_statement)
    return seen


def test_a_write_session_begins_immediate_and_a_read_session_deferred(engine: Engine) -> None:
    begins = _begins(engine)
    with write_session(engine) as db:
        db.execute(sa.select(_TABLE.c.text))
    with read_session(engine) as db:
        db.execute(sa.select(_TABLE.c.text))
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


def test_a_read_session_reads_while_a_writer_holds_the_lock(engine: Engine) -> None:
    with write_session(engine) as writer:
        writer.execute(sa.insert(_TABLE).values(id=2, text="uncommitted"))
        with read_session(engine) as reader:  # BEGIN IMMEDIATE here would wait for the writer
            texts = reader.execute(sa.select(_TABLE.c.text)).scalars().all()
        writer.commit()
    assert texts == ["kept"]


def test_a_read_session_refuses_to_write_and_nothing_is_written(engine: Engine) -> None:
    with read_session(engine) as db, pytest.raises(ReadOnlyTransaction):
        db.execute(sa.update(_TABLE).values(text="changed"))
    with read_session(engine) as db:
        assert db.execute(sa.select(_TABLE.c.text)).scalar_one() == "kept"


def test_a_plain_engine_connection_still_writes_after_read_sessions(engine: Engine) -> None:
    # The read-only option belongs to the read session's connections, not to the pool.
    with read_session(engine) as db:
        db.execute(sa.select(_TABLE.c.text))
    with write_session(engine) as db:
        db.execute(sa.update(_TABLE).values(text="changed"))
        db.commit()
    with engine.connect() as conn:
        assert conn.execute(sa.select(_TABLE.c.text)).scalar_one() == "changed"


def test_read_row_runs_its_one_select_without_begin_and_leaves_no_transaction_open(
    engine: Engine,
) -> None:
    begins = _begins(engine)
    row = read_row(engine, sa.select(_TABLE.c.text).where(_TABLE.c.id == 1), {})
    assert row is not None and row.text == "kept"
    assert begins == []
    with engine.connect() as conn:  # the pool's one connection: its read did not stay open
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None and not dbapi_conn.in_transaction


def test_read_row_reads_while_a_writer_holds_the_lock_and_sees_its_commit(
    engine: Engine,
) -> None:
    text = sa.select(_TABLE.c.text).where(_TABLE.c.id == 1)
    with write_session(engine) as writer:
        writer.execute(sa.update(_TABLE).values(text="changed"))
        row = read_row(engine, text, {})  # BEGIN IMMEDIATE here would wait for the writer
        assert row is not None and row.text == "kept"
        writer.commit()
    row = read_row(engine, text, {})
    assert row is not None and row.text == "changed"


def test_read_row_refuses_to_write(engine: Engine) -> None:
    with pytest.raises(ReadOnlyTransaction):
        read_row(engine, sa.update(_TABLE).values(text="changed"), {})
    row = read_row(engine, sa.select(_TABLE.c.text), {})
    assert row is not None and row.text == "kept"


def test_a_write_session_after_read_row_still_begins_immediate(engine: Engine) -> None:
    # The no-BEGIN option belongs to read_row's connections, not to the pool.
    read_row(engine, sa.select(_TABLE.c.text), {})
    begins = _begins(engine)
    with write_session(engine) as db:
        db.execute(sa.update(_TABLE).values(text="changed"))
        db.commit()
    with read_session(engine) as db:
        db.execute(sa.select(_TABLE.c.text))
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]
