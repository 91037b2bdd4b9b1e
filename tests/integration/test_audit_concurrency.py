"""Many writers, one chain: appends from threads and from separate processes, on SQLite and
PostgreSQL, give seq 1..N without a gap or a fork, and the chain verifies.

Each writer runs real transactions of its own (a row of its own table is the "action"); one in
five rolls back, and its entry must leave no trace and no gap.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from server.audit.log import append
from server.audit.verify import verify_chain
from server.db.engine import make_engine, upgrade
from tests.databases import BACKENDS, fresh_postgres

AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
PER_WRITER = 40


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
        upgrade(make_engine(url))
        yield url
        return
    with fresh_postgres("konbini_audit") as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


def _write(url: str, writer: str, count: int) -> None:
    """`count` transactions, each an action (a row) plus its audit entry; every 5th rolls back."""
    engine = make_engine(url)
    try:
        for i in range(count):
            with Session(engine) as db:
                db.execute(
                    sa.text("INSERT INTO audit_probe (writer, n) VALUES (:w, :n)"),
                    {"w": writer, "n": i},
                )
                append(db, event="test.append", actor=writer, subject=f"{writer}-{i}", at=AT)
                if i % 5 == 4:
                    db.rollback()
                else:
                    db.commit()
    finally:
        engine.dispose()


def _probe_table(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE audit_probe (writer VARCHAR(32), n INTEGER)"))
    engine.dispose()


def _check(url: str, writers: list[str]) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        seqs = [r[0] for r in conn.execute(sa.text("SELECT seq FROM audit_entries ORDER BY seq"))]
        actors = Counter(r[0] for r in conn.execute(sa.text("SELECT actor FROM audit_entries")))
        probes = Counter(r[0] for r in conn.execute(sa.text("SELECT writer FROM audit_probe")))
    committed = PER_WRITER - PER_WRITER // 5
    assert seqs == list(range(1, len(writers) * committed + 1))
    assert actors == {w: committed for w in writers}
    assert probes == actors  # every action has its entry, and no entry outlives its action
    report = verify_chain(engine)
    assert report.ok, report.problems[:5]
    engine.dispose()


def test_threads_appending_at_once_make_one_gap_free_chain(database_url: str) -> None:
    _probe_table(database_url)
    writers = [f"T{i}" for i in range(8)]
    threads = [threading.Thread(target=_write, args=(database_url, w, PER_WRITER)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check(database_url, writers)


def test_processes_appending_at_once_make_one_gap_free_chain(database_url: str) -> None:
    _probe_table(database_url)
    writers = [f"P{i}" for i in range(4)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write, args=(database_url, w, PER_WRITER)) for w in writers]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    _check(database_url, writers)
