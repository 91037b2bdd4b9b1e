"""SQLite writers queue on the file's writer lock (`server.db.engine._WriterLock`) before BEGIN
IMMEDIATE, in the kernel, instead of polling in SQLite's busy handler.

The engines here run with busy_timeout 0, so any two writers that reached BEGIN IMMEDIATE at
once would fail with SQLITE_BUSY at once: only the writer lock can make them take turns. The
lock is let go of when the database has ended the transaction, whichever way it ends (commit,
rollback, a failed BEGIN, a connection closed or invalidated while holding it), and read
sessions never take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.db import engine as engine_module
from server.db.conflicts import is_transaction_conflict
from server.db.engine import make_engine, read_session, write_session

_COUNTER = sa.table("counter", sa.column("id", sa.Integer), sa.column("n", sa.Integer))
PROCESSES = 2
THREADS = 4
PER_THREAD = 25


def _engine(url: str) -> Engine:
    """`make_engine`'s engine with SQLite's busy handler off: a writer that finds the write
    lock taken fails at once instead of waiting."""
    engine = make_engine(url)

    def no_busy_handler(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    sa.event.listen(engine, "connect", no_busy_handler)
    return engine


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter (id, n) VALUES (1, 0)")
    engine.dispose()
    return path


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    engine = _engine(f"sqlite:///{db_path}")
    yield engine
    engine.dispose()


def _increment(engine: Engine, times: int) -> None:
    """Read-modify-write: the update is lost if another writer ran between the two."""
    for _ in range(times):
        with write_session(engine) as db:
            n = db.execute(sa.select(_COUNTER.c.n).where(_COUNTER.c.id == 1)).scalar_one()
            db.execute(sa.update(_COUNTER).where(_COUNTER.c.id == 1).values(n=n + 1))
            db.commit()


def _increment_from_threads(url: str, threads: int, times: int) -> None:
    """A process of its own: `threads` writers; exits non-zero if any of them failed."""
    engine = _engine(url)
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            _increment(engine, times)
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    engine.dispose()
    if failures:
        raise SystemExit(f"{len(failures)} writers failed, first: {failures[0]!r}")


def _count(engine: Engine) -> int:
    with read_session(engine) as db:
        return int(db.execute(sa.select(_COUNTER.c.n)).scalar_one())


def _lock_is_free(db_path: Path) -> bool:
    """Neither a thread of this process nor any process holds the file's writer lock."""
    lock = engine_module._writer_lock(str(db_path))
    if lock._mutex.locked():
        return False
    fd = os.open(f"{os.path.realpath(db_path)}.writer", os.O_RDONLY)  # its own open file
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing lets go of a flock taken on it
    return True


@pytest.fixture
def other_process_holds_the_lock(db_path: Path) -> Iterator[None]:
    """The flock held on an open file of its own, as another process holding it would."""
    fd = os.open(f"{db_path}.writer", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)


def test_writers_in_two_processes_take_turns_without_busy_or_a_lost_update(
    db_path: Path, engine: Engine
) -> None:
    url = f"sqlite:///{db_path}"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_increment_from_threads, args=(url, THREADS, PER_THREAD))
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    _increment(engine, PER_THREAD)  # and this process beside them
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    assert _count(engine) == (PROCESSES * THREADS + 1) * PER_THREAD
    assert _lock_is_free(db_path)


def test_threads_of_one_process_take_turns(db_path: Path, engine: Engine) -> None:
    workers = [threading.Thread(target=_increment, args=(engine, PER_THREAD)) for _ in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert _count(engine) == 8 * PER_THREAD
    assert _lock_is_free(db_path)


def test_a_write_session_holds_the_lock_until_commit_and_a_read_session_never_takes_it(
    db_path: Path, engine: Engine
) -> None:
    with write_session(engine) as writer:
        assert _lock_is_free(db_path)  # nothing run yet: no transaction
        writer.execute(sa.update(_COUNTER).values(n=5))
        assert not _lock_is_free(db_path)
        # On this very thread: a read session that took the lock would wait for itself.
        with read_session(engine) as reader:
            assert reader.execute(sa.select(_COUNTER.c.n)).scalar_one() == 0
        writer.commit()
        assert _lock_is_free(db_path)  # let go at COMMIT, not when the session closes
    assert _count(engine) == 5


def test_a_read_session_reads_while_another_process_holds_the_lock(
    engine: Engine, other_process_holds_the_lock: None
) -> None:
    assert _count(engine) == 0


def test_a_failed_transaction_lets_go(db_path: Path, engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), write_session(engine) as db:
        db.execute(sa.insert(_COUNTER).values(id=1, n=9))  # the primary key is taken
    assert _lock_is_free(db_path)
    with pytest.raises(ZeroDivisionError), write_session(engine) as db:
        db.execute(sa.update(_COUNTER).values(n=7))
        _ = 1 / 0
    assert _lock_is_free(db_path)
    assert _count(engine) == 0
    _increment(engine, 1)  # and the next writer goes ahead
    assert _count(engine) == 1


def test_a_rolled_back_transaction_lets_go(db_path: Path, engine: Engine) -> None:
    with write_session(engine) as db:
        db.execute(sa.update(_COUNTER).values(n=7))
        db.rollback()
        assert _lock_is_free(db_path)
    assert _count(engine) == 0


def test_a_begin_that_fails_lets_go(db_path: Path, engine: Engine) -> None:
    # Something outside `make_engine` (the sqlite3 shell, say) holds SQLite's own write lock.
    outsider = sqlite3.connect(db_path, isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sa.exc.OperationalError, match="locked"), write_session(engine) as db:
            db.execute(sa.update(_COUNTER).values(n=7))
        assert _lock_is_free(db_path)
    finally:
        outsider.rollback()
        outsider.close()
    _increment(engine, 1)
    assert _count(engine) == 1


def test_a_connection_invalidated_while_holding_the_lock_lets_go(
    db_path: Path, engine: Engine
) -> None:
    with engine.connect() as conn:
        conn.execute(sa.update(_COUNTER).values(n=7))
        assert not _lock_is_free(db_path)
        conn.invalidate()  # the pool closes the DBAPI connection
        assert _lock_is_free(db_path)
    assert _count(engine) == 0


def test_a_connection_closed_while_holding_the_lock_lets_go(db_path: Path, engine: Engine) -> None:
    # Closed under SQLAlchemy's feet: the session's own rollback then fails, as it always did.
    with pytest.raises(sa.exc.ProgrammingError), write_session(engine) as db:
        db.execute(sa.update(_COUNTER).values(n=7))
        dbapi_conn = db.connection().connection.dbapi_connection
        assert dbapi_conn is not None
        dbapi_conn.close()
        assert _lock_is_free(db_path)
    assert _count(engine) == 0


def test_a_writer_gives_up_like_a_busy_database_and_the_lock_is_let_go_later(
    db_path: Path,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fd = os.open(f"{db_path}.writer", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process writes, for longer than the timeout
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_S", 0.2)
    try:
        with pytest.raises(sa.exc.OperationalError) as raised, write_session(engine) as db:
            db.execute(sa.update(_COUNTER).values(n=7))
    finally:
        os.close(fd)
    orig = raised.value.orig
    assert isinstance(orig, sqlite3.OperationalError)
    assert (str(orig), orig.sqlite_errorname) == ("database is locked", "SQLITE_BUSY")
    assert not is_transaction_conflict(raised.value)  # an unavailable database, as before
    monkeypatch.undo()
    # The waiter that gave up still got the lock when the other process let go, and passed it on.
    _increment(engine, 1)
    assert _count(engine) == 1
    assert _lock_is_free(db_path)


def test_engines_on_one_file_share_the_lock_and_busy_handler_only_takes_none(
    db_path: Path, engine: Engine
) -> None:
    url = f"sqlite:///{db_path}"
    second = _engine(url)
    polling = make_engine(url, writer_lock=False)
    try:
        workers = [
            threading.Thread(target=_increment, args=(e, PER_THREAD)) for e in (engine, second)
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert _count(engine) == 2 * PER_THREAD
        with write_session(polling) as db:
            db.execute(sa.update(_COUNTER).values(n=0))
            assert _lock_is_free(db_path)
            db.commit()
    finally:
        second.dispose()
        polling.dispose()


def _take_turn_after_fork(db_path: str, checked: Any) -> None:
    lock = engine_module._writer_lock(db_path)  # the parent's, started afresh by the fork
    assert not lock._mutex.locked()  # not the parent's copy, locked at the fork
    assert not lock.acquire(0.2)  # the parent holds the flock: not shared with the parent
    checked.set()
    assert lock.acquire(60)  # once the parent lets go
    lock.release()


def test_a_forked_child_takes_the_lock_of_its_own(db_path: Path, engine: Engine) -> None:
    # SQLite's own rule: no transaction open across a fork; the writer lock may be held though,
    # by a thread of the parent that has not begun yet. A child that kept its copies would
    # either wait on a mutex nobody lets go of, or share the parent's flock.
    lock = engine_module._writer_lock(str(db_path))
    ctx = multiprocessing.get_context("fork")
    checked = ctx.Event()
    assert lock.acquire(30)
    try:
        child = ctx.Process(target=_take_turn_after_fork, args=(str(db_path), checked))
        child.start()
        checked.wait(timeout=60)
    finally:
        lock.release()
    child.join(timeout=120)
    assert child.exitcode == 0
    _increment(engine, 1)
    assert _lock_is_free(db_path)


def test_hold_times_are_recorded_only_when_asked_once_per_write_transaction(
    engine: Engine,
) -> None:
    holds: list[float] = []
    _increment(engine, 1)  # not recorded: off by default
    engine_module.record_writer_lock_holds(holds.append)
    try:
        _increment(engine, 2)  # two commits
        with write_session(engine) as db:  # a rollback lets go too
            db.execute(sa.update(_COUNTER).values(n=-1))
            db.rollback()
        with read_session(engine) as db:  # reads take no lock, so hold nothing
            db.execute(sa.select(_COUNTER.c.n))
        engine_module.read_row(engine, sa.select(_COUNTER.c.n), {})
    finally:
        engine_module.record_writer_lock_holds(None)
    _increment(engine, 1)
    assert len(holds) == 3
    assert all(h >= 0 for h in holds)


def _in_database_file(db_path: Path) -> int:
    """The counter as the database file itself holds it, the WAL left aside: what a checkpoint
    has copied there."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?immutable=1", uri=True)) as conn:
        return int(conn.execute("SELECT n FROM counter WHERE id = 1").fetchone()[0])


def test_every_nth_commit_checkpoints_the_wal_after_letting_go_of_the_lock(
    db_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "CHECKPOINT_EVERY_COMMITS", 3)
    lock_free_at_checkpoint: list[bool] = []
    checkpoint = engine_module._SQLiteConnection._checkpoint

    def watched(conn: engine_module._SQLiteConnection) -> None:
        lock_free_at_checkpoint.append(_lock_is_free(db_path))
        checkpoint(conn)

    monkeypatch.setattr(engine_module._SQLiteConnection, "_checkpoint", watched)
    monkeypatch.setattr(engine_module._writer_lock(str(db_path)), "_commits", 0)  # the fixture's
    _increment(engine, 2)
    with write_session(engine) as db:  # a rollback is no commit: not counted
        db.execute(sa.update(_COUNTER).values(n=-1))
        db.rollback()
    assert lock_free_at_checkpoint == []
    assert _in_database_file(db_path) == 0  # still only in the WAL
    _increment(engine, 1)
    assert lock_free_at_checkpoint == [True]
    assert _in_database_file(db_path) == 3
    _increment(engine, 3)
    assert lock_free_at_checkpoint == [True, True]
    assert _in_database_file(db_path) == 6
    assert _count(engine) == 6


def test_sqlite_checkpoints_inside_a_commit_only_past_a_longer_wal_under_the_writer_lock(
    db_path: Path,
) -> None:
    def autocheckpoint(engine: Engine) -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

    queued = make_engine(f"sqlite:///{db_path}")
    unqueued = make_engine(f"sqlite:///{db_path}", writer_lock=False)
    try:
        assert autocheckpoint(queued) == engine_module.WAL_AUTOCHECKPOINT_PAGES
        assert autocheckpoint(unqueued) == 1000  # SQLite's default: it checkpoints by itself
    finally:
        queued.dispose()
        unqueued.dispose()


def test_clearing_a_large_blob_frees_its_pages_without_writing_them_again(
    tmp_path: Path,
) -> None:
    # A printed copy's PDF (~80 KB) is cleared once final. With secure_delete on (Debian builds
    # SQLite so), each freed overflow page was written again as zeros into the WAL.
    path = tmp_path / "blob.db"
    engine = make_engine(f"sqlite:///{path}")
    wal = Path(f"{path}-wal")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE copies (id INTEGER PRIMARY KEY, pdf BLOB)")
            pdf = os.urandom(80_000)  # like a deflated PDF: nothing to compress
            conn.exec_driver_sql("INSERT INTO copies (id, pdf) VALUES (1, ?)", (pdf,))
        before = wal.stat().st_size
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE copies SET pdf = NULL WHERE id = 1")
        pages_written = (wal.stat().st_size - before) // (4096 + 24)  # WAL frame: header + page
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pdf FROM copies").scalar_one() is None
    finally:
        engine.dispose()
    assert 0 < pages_written <= 4  # the row's page and the free list's, not the PDF's ~20
