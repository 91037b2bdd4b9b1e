"""Database engines and schema migration.

SQLite (a file) is the embedded default; any SQLAlchemy URL works by configuration, and the
production-shaped path is PostgreSQL. The schema is always created by running the Alembic
migrations, never by `create_all`, so a database on disk and one in a test are the same shape.

Sessions say whether they write. `write_session` is the default shape (a plain `Session` is
one): on SQLite its transaction starts with BEGIN IMMEDIATE, so a transaction that reads and
then writes holds the write lock from its first statement and two of them cannot deadlock on
the upgrade from a read lock. `read_session` starts a deferred BEGIN: under WAL it takes no
lock at all, so the many read-only transactions of a kiosk session (the gate, menus) never
queue behind writers. A read session refuses any statement that could write
(`ReadOnlyTransaction`), so a read that grows a write cannot silently lose the IMMEDIATE.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_READ_ONLY = "konbini_read_only"  # an execution option of the connections of `read_session`
# Statements a read-only transaction may run; anything else could write.
_READ_VERBS = frozenset({"SELECT", "BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SHOW", "SET"})


class ReadOnlyTransaction(RuntimeError):
    """A statement that may write was run in a `read_session`: a bug, use `write_session`."""


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine with the connection settings this service relies on."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        # Threads of the gRPC pool share the file; writers wait instead of failing at once.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            raise ValueError("use a SQLite file, not :memory: (several connections must share it)")
        db_path = sa.engine.make_url(url).database
        if db_path:
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 10
        kwargs["max_overflow"] = 20
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control so that every
        # transaction that may write starts with BEGIN IMMEDIATE and a read-then-write cannot
        # deadlock, and only the read-only ones (`read_session`) are deferred.
        sa.event.listen(engine, "begin", _sqlite_begin)
    sa.event.listen(engine, "before_cursor_execute", _refuse_writes_when_read_only)
    return engine


def write_session(engine: Engine, **kwargs: Any) -> Session:
    """A session whose transaction may write (SQLite: BEGIN IMMEDIATE)."""
    return Session(engine, **kwargs)


def read_session(engine: Engine, **kwargs: Any) -> Session:
    """A session that only reads (SQLite: a deferred BEGIN, no lock); writes are refused."""
    return Session(_read_only(engine), **kwargs)


_read_only_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _read_only(engine: Engine) -> Engine:
    # The option engine shares the pool and the event listeners; made once per engine.
    found = _read_only_engines.get(engine)
    if found is None:
        found = _read_only_engines[engine] = engine.execution_options(**{_READ_ONLY: True})
    return found


def _is_read_only(conn: sa.Connection) -> bool:
    return bool(conn.get_execution_options().get(_READ_ONLY))


def _refuse_writes_when_read_only(
    conn: sa.Connection, _cursor: Any, statement: str, *_args: Any
) -> None:
    if not _is_read_only(conn):
        return
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    if verb not in _READ_VERBS:
        raise ReadOnlyTransaction(f"{verb} in a read-only session; use write_session")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN" if _is_read_only(conn) else "BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to `revision` by running the migrations on this engine."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
