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

On SQLite, writers also queue in the kernel before BEGIN IMMEDIATE (`_WriterLock`): a
per-process lock for the database file, then an exclusive `flock` on a file beside it
(`<db>.writer`), both blocking, let go of right after the database ends the transaction. SQLite's
own busy handler sleeps in growing steps (up to 100 ms) between attempts, so writers from
several threads and processes queued by polling, leaving the cores idle while the lock was free;
the kernel hands the lock to the next waiter when it is let go. Every program that opens the
file through `make_engine` (the center's workers, the CLI, a BCL upload) takes the same lock;
busy_timeout stays as the safety net for anything else that writes the file.

The WAL is copied into the database file (a checkpoint) after the writer lock is let go of:
every `CHECKPOINT_EVERY_COMMITS` write transactions of a process, the writer that committed the
last of them runs a PASSIVE checkpoint on its connection once it has let go, beside the next
writer. SQLite's own checkpoint ran inside the COMMIT that took the WAL past 1,000 pages, so
inside our hold, and with `synchronous=NORMAL` a checkpoint is two fsyncs (the WAL, then the
database file): 7-35 ms on this machine's disk every ~10 kiosk sessions, during which every
writer of every process waited. SQLite's own still runs, past `WAL_AUTOCHECKPOINT_PAGES`: a
checkpoint beside writers cannot always catch up with them, and the WAL starts again from its
beginning only once it has been copied whole, so now and then one inside a commit lets it.
Durability is unchanged: commits are not synced (`synchronous=NORMAL`: a power cut or an OS
crash can lose the last commits, never corrupt the file; a crash of the process loses nothing
committed), checkpoints are, wherever they run.

Deleted content is zeroed with `secure_delete=FAST`: in the pages a change writes anyway, not
in the pages it frees. Debian's SQLite is built with secure_delete on, which wrote every page of
a printed copy's PDF (~20 pages) again, as zeros, into the WAL when the PDF is cleared: 19 of
the 107 pages a kiosk session wrote. The freed pages keep their old bytes until reused (the
next copy's PDF takes them from the free list); the PDF's own pages were in the WAL anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import Engine
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_READ_ONLY = "konbini_read_only"  # an execution option of the connections of `read_session`
_NO_BEGIN = "konbini_no_begin"  # and of `read_row`'s on SQLite: its one SELECT runs without BEGIN
# Statements a read-only transaction may run; anything else could write.
_READ_VERBS = frozenset({"SELECT", "BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SHOW", "SET"})
# psycopg: idle inside a transaction that has not failed (`_end_reads_with_commit`).
_PG_IN_TRANSACTION = TransactionStatus.INTRANS
# How long a SQLite writer waits for the write lock (ours, then SQLite's busy handler).
BUSY_TIMEOUT_S = 30
# SQLite writers under the writer lock: a PASSIVE checkpoint after letting go, every this many
# commits of a process (a kiosk session commits 6 write transactions, ~107 WAL pages)...
CHECKPOINT_EVERY_COMMITS = 128
# ...and SQLite's own, inside a commit, only when the WAL has grown past this many pages
# (SQLite's default is 1,000, what writers without the lock keep).
WAL_AUTOCHECKPOINT_PAGES = 4000


class ReadOnlyTransaction(RuntimeError):
    """A statement that may write was run in a `read_session`: a bug, use `write_session`."""


DEFAULT_POOL_SIZE = 10


def make_engine(
    url: str, *, echo: bool = False, writer_lock: bool = True, pool_size: int | None = None
) -> Engine:
    """An engine with the connection settings this service relies on.

    `writer_lock` (SQLite only): queue writers on the file's `_WriterLock`; False leaves them to
    SQLite's busy handler alone, as before (for `bench.sqlite_writers`, which compares both).
    `pool_size` (server databases): connections kept open, at least `DEFAULT_POOL_SIZE`; a
    center passes its RPC threads, so that every thread finds a kept connection. Beyond it up to
    20 more are opened for a burst and closed when returned, and a new PostgreSQL connection
    starts with no prepared statements, so a pool smaller than its users churns them."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    lock: _WriterLock | None = None
    if url.startswith("sqlite"):
        # Threads of the gRPC pool share the file; writers wait instead of failing at once.
        kwargs["connect_args"] = {
            "check_same_thread": False,
            "timeout": BUSY_TIMEOUT_S,
            "factory": _SQLiteConnection,
        }
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            raise ValueError("use a SQLite file, not :memory: (several connections must share it)")
        db_path = sa.engine.make_url(url).database
        if db_path:
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            if writer_lock and not db_path.startswith("file:"):  # a URI filename: busy handler only
                lock = _writer_lock(db_path)
    else:
        kwargs["pool_size"] = max(DEFAULT_POOL_SIZE, pool_size or 0)
        kwargs["max_overflow"] = 20
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name != "sqlite":
        _ping_when_it_can_matter(engine)
    if engine.dialect.driver == "psycopg":
        sa.event.listen(engine, "rollback", _end_reads_with_commit)
    if engine.dialect.name == "sqlite":

        def on_connect(dbapi_conn: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_conn)
            if isinstance(dbapi_conn, _SQLiteConnection) and lock is not None:
                dbapi_conn.writer_lock = lock
                dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")

        sa.event.listen(engine, "connect", on_connect)
        # pysqlite's own transaction handling defers BEGIN; take control so that every
        # transaction that may write starts with BEGIN IMMEDIATE and a read-then-write cannot
        # deadlock, and only the read-only ones (`read_session`) are deferred.
        sa.event.listen(engine, "begin", _sqlite_begin)
    sa.event.listen(engine, "before_cursor_execute", _refuse_writes_when_read_only)
    return engine


# A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0
_RETURNED = "konbini_returned"  # pool record info: monotonic time the connection came back
_SUSPECT = "konbini_suspect"  # pool record info: a statement on it failed since its last ping


def _ping_when_it_can_matter(engine: Engine) -> None:
    """Pessimistic disconnect handling that pays its round trip only when it can matter.

    `pool_pre_ping` pinged at every checkout, a `;` round trip per transaction (16 per kiosk
    session). A connection is pinged here only when it was idle in the pool for more than
    `PING_AFTER_IDLE_S`, when a statement on it failed since, or when its socket already holds
    something (a server that ends a connection — a restart, a crash, `pg_terminate_backend` —
    sends its goodbye or closes the socket, which a zero-timeout poll sees without a round
    trip). A failed ping invalidates the pool as `pool_pre_ping` does (the pool replaces this
    connection and every one as old at their checkout); the caller gets a new connection and
    no error. What no check before use can see (a connection lost mid-transaction, or dropped
    by the network without a word within the last second) fails at its statement as before,
    and invalidates the pool then."""
    dialect = engine.dialect

    def on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    def on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        info = record.info
        returned = info.get(_RETURNED)
        if returned is None:
            return  # new from connect, or never handed out yet: nothing to check
        if (
            not info.pop(_SUSPECT, False)
            and time.monotonic() - returned <= PING_AFTER_IDLE_S
            and _socket_quiet(dbapi_conn)
        ):
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_conn, None):
                raise sa.exc.InvalidatePoolError() from exc
            raise

    def on_error(context: sa.engine.ExceptionContext) -> None:
        conn = context.connection
        if conn is None or conn.invalidated or conn.closed:
            return
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            conn.connection.info[_SUSPECT] = True

    sa.event.listen(engine.pool, "checkin", on_checkin)
    sa.event.listen(engine.pool, "checkout", on_checkout)
    sa.event.listen(engine, "handle_error", on_error)


def _socket_quiet(dbapi_conn: Any) -> bool:
    """Whether an idle pooled connection is open with nothing waiting on its socket: after a
    transaction ends nothing more is owed to the client, so anything readable (a server's
    goodbye, the end of the stream) or an error means it is worth a ping."""
    if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
        return False
    try:
        poller = select.poll()
        poller.register(dbapi_conn.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except Exception:  # closed under us (the driver's own error, or a bad descriptor)
        return False


def _end_reads_with_commit(conn: sa.Connection) -> None:
    """psycopg forgets every prepared statement of a connection at a ROLLBACK (DEALLOCATE ALL),
    in case the transaction changed the schema they refer to, and prepares a statement only at
    its 5th execution on a connection: the ROLLBACK that closes a `read_session` (the menu's,
    once per kiosk session) made it forget them all before any came back 5 times, so
    PostgreSQL parsed and planned every statement of a session. A transaction that could not
    write ends the same by COMMIT, which keeps them; SQLAlchemy's ROLLBACK then finds no
    transaction and sends nothing. A transaction that failed (or a write session) still rolls
    back as before."""
    if not _is_read_only(conn) or conn.invalidated:
        return
    dbapi_conn = conn.connection.dbapi_connection
    if dbapi_conn is None or dbapi_conn.info.transaction_status != _PG_IN_TRANSACTION:
        return
    with contextlib.suppress(conn.dialect.loaded_dbapi.Error):
        dbapi_conn.commit()  # if it fails, the ROLLBACK that follows deals with the connection


def write_session(engine: Engine, **kwargs: Any) -> Session:
    """A session whose transaction may write (SQLite: BEGIN IMMEDIATE)."""
    return Session(engine, **kwargs)


def read_session(engine: Engine, **kwargs: Any) -> Session:
    """A session that only reads (SQLite: a deferred BEGIN, no lock); writes are refused."""
    return Session(_read_only(engine), **kwargs)


def read_row(
    engine: Engine, statement: sa.Executable, params: dict[str, Any]
) -> sa.Row[Any] | None:
    """The first row of one read-only statement, which needs no transaction of its own: one
    statement alone reads one consistent snapshot. On PostgreSQL it runs in autocommit (no
    BEGIN and ROLLBACK round trips); on SQLite without BEGIN (pysqlite in autocommit: the
    statement's own read transaction, no lock under WAL, ended when its cursor is closed, which
    `first()` does). Writes are refused; several statements that must agree: `read_session`."""
    with _single_read(engine).connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn.execute(statement, params).first()


def among_bound(
    column: sa.ColumnElement[Any] | sa.orm.Mapped[Any], name: str, *, one: bool
) -> sa.ColumnElement[bool]:
    """`column` among the values bound as `name`: with `one` a single value (an equality),
    else a list (an expanding IN). SQLAlchemy rewrites an expanding IN for its values at every
    execution, where an equality is compiled once, so a statement built for the usual case of
    one value (`one`) keeps its compiled form; `bound_values` gives the matching parameter."""
    if one:
        return column == sa.bindparam(name)
    return column.in_(sa.bindparam(name, expanding=True))


def bound_values(values: list[Any]) -> Any:
    """The parameter for `among_bound(..., one=len(values) == 1)`: the value alone, or the list."""
    return values[0] if len(values) == 1 else values


_read_only_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_single_read_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _read_only(engine: Engine) -> Engine:
    # The option engine shares the pool and the event listeners; made once per engine.
    found = _read_only_engines.get(engine)
    if found is None:
        found = _read_only_engines[engine] = engine.execution_options(**{_READ_ONLY: True})
    return found


def _single_read(engine: Engine) -> Engine:
    # `read_row`'s: read-only, and on SQLite no BEGIN (`_sqlite_begin`).
    found = _single_read_engines.get(engine)
    if found is None:
        options = {_READ_ONLY: True, _NO_BEGIN: True}
        found = _single_read_engines[engine] = engine.execution_options(**options)
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


def _sqlite_pragmas(dbapi_conn: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA secure_delete=FAST")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cur.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    if _is_read_only(conn):
        if conn.get_execution_options().get(_NO_BEGIN):
            return  # `read_row`: one statement in pysqlite's autocommit, its own snapshot
        conn.exec_driver_sql("BEGIN")  # deferred: under WAL no lock, so not ours either
        return
    dbapi_conn = conn.connection.dbapi_connection
    if not isinstance(dbapi_conn, _SQLiteConnection):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    dbapi_conn.take_writer_lock()
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        dbapi_conn.let_go_if_ended()  # BEGIN failed: no transaction holds it
        raise


# Opt-in (benchmarks): told the seconds each SQLite write transaction held the writer lock.
_hold_listener: Callable[[float], None] | None = None


def record_writer_lock_holds(listener: Callable[[float], None] | None) -> None:
    """Call `listener`, in the thread that lets go, with the seconds each write transaction of
    this process held its SQLite file's writer lock (from taking it, before BEGIN IMMEDIATE,
    until the transaction ended); None stops. Off by default, and then no clock is read. For
    `bench.writer_lock_holds`, which says which write to shorten."""
    global _hold_listener
    _hold_listener = listener


class _SQLiteConnection(sqlite3.Connection):
    """pysqlite's connection, holding its file's `_WriterLock` from before BEGIN IMMEDIATE until
    the database has ended that transaction: SQLAlchemy's `commit` and `rollback` events come
    before the DBAPI call, and the pool's `checkin` only when the connection goes back, so the
    lock is let go of here, after `commit()`, `rollback()` (also the pool's reset) or `close()`
    (also an invalidated connection) returns — exactly once, by whichever comes first. A commit
    whose turn it is checkpoints the WAL after letting go (`_WriterLock.count_commit`)."""

    writer_lock: _WriterLock | None = None  # the file's, set on connect; None: busy handler only
    _held: _WriterLock | None = None
    _held_since: float | None = None  # perf_counter at taking it, only while holds are recorded

    def take_writer_lock(self) -> None:
        lock = self.writer_lock
        if lock is None or self._held is not None:
            return
        if not lock.acquire(BUSY_TIMEOUT_S):
            orig = sqlite3.OperationalError("database is locked")  # what SQLite says at timeout
            orig.sqlite_errorcode = sqlite3.SQLITE_BUSY
            orig.sqlite_errorname = "SQLITE_BUSY"
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, orig)
        self._held = lock
        if _hold_listener is not None:
            self._held_since = time.perf_counter()

    def let_go_if_ended(self, *, committed: bool = False) -> bool:
        """Let go if the transaction has ended; whether a checkpoint is due (`committed`)."""
        if self._held is None:
            return False
        try:
            ended = not self.in_transaction
        except sqlite3.ProgrammingError:  # closed: its transaction is gone
            ended = True
        if not ended:
            return False
        return self._let_go(committed=committed)

    def _let_go(self, *, committed: bool = False) -> bool:
        held, self._held = self._held, None
        if held is None:
            return False
        due = committed and held.count_commit()  # still held: the count is the lock's
        held.release()
        since, self._held_since = self._held_since, None
        listener = _hold_listener
        if since is not None and listener is not None:
            listener(time.perf_counter() - since)
        return due

    def commit(self) -> None:
        try:
            super().commit()
        except BaseException:
            self.let_go_if_ended()  # a failed COMMIT leaves the transaction, and the lock, open
            raise
        if self.let_go_if_ended(committed=True):
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy the WAL into the database file as far as readers allow, beside other writers
        (PASSIVE never waits, nor takes the write lock). A failure costs nothing committed:
        the next turn, or SQLite's own checkpoint, copies what this one did not."""
        with contextlib.suppress(sqlite3.Error):
            self.execute("PRAGMA wal_checkpoint(PASSIVE)").close()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.let_go_if_ended()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go()

    def __del__(self) -> None:  # dropped without close(): SQLite rolls back, so let go too
        self._let_go()


class _WriterLock:
    """One writer at a time on one SQLite file across threads and processes, queued in the
    kernel: a `threading.Lock` orders this process's writers, then an exclusive `flock` on
    `<db>.writer` orders the processes (the kernel drops it if a process dies). Neither blocking
    call takes a timeout, so the `flock` wait runs in a helper thread while the writer waits
    for it with one; a writer that gives up leaves the helper to let go of the lock as soon as
    it gets it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._reset()

    def _reset(self) -> None:
        self._commits = 0  # since this process's last checkpoint turn; counted while held
        self._mutex = threading.Lock()
        self._fd = -1
        self._close_fd: weakref.finalize[[int], _WriterLock] | None = None
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._helper: threading.Thread | None = None
        self._helper_state = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        """Whether this thread got the lock within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        if not self._mutex.acquire(timeout=timeout):
            return False
        try:
            if self._fd < 0:
                self._fd = _open_lock_file(self.path + ".writer")
                self._close_fd = weakref.finalize(self, os.close, self._fd)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass  # another process writes: wait in the kernel
            request = _Request()
            self._ask_helper(request)
        except BaseException:
            self._mutex.release()
            raise
        if request.done.wait(max(0.0, deadline - time.monotonic())) or not request.abandon():
            if request.error is not None:
                self._mutex.release()
                raise request.error
            return True
        return False  # the helper lets go when the kernel grants it

    def count_commit(self) -> bool:
        """Count a committed write transaction of the holder; whether it is the one that
        checkpoints (every `CHECKPOINT_EVERY_COMMITS`). Called while holding the lock."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY_COMMITS:
            return False
        self._commits = 0
        return True

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def _ask_helper(self, request: _Request) -> None:
        with self._helper_state:
            self._requests.put(request)
            if self._helper is None:
                self._helper = threading.Thread(
                    target=self._serve, name=f"sqlite-writer-lock {self.path}", daemon=True
                )
                self._helper.start()

    def _serve(self) -> None:
        while True:
            try:
                request = self._requests.get(timeout=10)
            except queue.Empty:
                with self._helper_state:  # idle: end, unless a request came meanwhile
                    if self._requests.empty():
                        self._helper = None
                        return
                continue
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError as exc:
                request.error = exc
                if not request.grant():
                    self._mutex.release()
                continue
            if not request.grant():
                self.release()


class _Request:
    """One wait for the `flock`, granted by the helper or abandoned by the writer: whichever
    comes first decides who lets go of the lock."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: OSError | None = None
        self._decided = threading.Lock()
        self._abandoned = False
        self._granted = False

    def grant(self) -> bool:
        with self._decided:
            if self._abandoned:
                return False
            self._granted = True
        self.done.set()
        return True

    def abandon(self) -> bool:
        with self._decided:
            if self._granted:
                return False
            self._abandoned = True
            return True


def _open_lock_file(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except PermissionError:  # another user's file: flock needs no write access
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


# One lock per database file per process, shared by every engine on that file.
_writer_locks: weakref.WeakValueDictionary[str, _WriterLock] = weakref.WeakValueDictionary()
_writer_locks_guard = threading.Lock()


def _writer_lock(db_path: str) -> _WriterLock:
    path = os.path.realpath(db_path)
    with _writer_locks_guard:
        found = _writer_locks.get(path)
        if found is None:
            found = _writer_locks[path] = _WriterLock(path)
        return found


def _forget_writer_locks_after_fork() -> None:
    # A forked child shares the parent's open lock files (and so its flocks) and may have
    # copied a mutex held by a parent thread: it starts afresh, leaving the parent's files be.
    global _writer_locks_guard
    _writer_locks_guard = threading.Lock()
    for lock in list(_writer_locks.values()):
        if lock._close_fd is not None:
            lock._close_fd()  # this copy only: the parent's flock stays until it lets go
        lock._reset()


os.register_at_fork(after_in_child=_forget_writer_locks_after_fork)


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
