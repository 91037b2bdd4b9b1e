"""One expiry sweeper per deployment: the PostgreSQL advisory lock of `server.leader`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.db.engine import make_engine
from server.leader import SweepLeadership
from tests.databases import PG_URL, fresh_postgres


def test_on_sqlite_whoever_asks_leads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'center.db'}")
    try:
        first, second = SweepLeadership(engine), SweepLeadership(engine)
        assert first.held() and second.held()  # one machine: multiproc lets worker 0 alone ask
    finally:
        engine.dispose()


@pytest.fixture
def pg_engines() -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """Two engines (two "machines") on a scratch PostgreSQL database of this test."""
    if not PG_URL:
        pytest.skip("KONBINI_TEST_DATABASE_URL does not name a PostgreSQL server")
    with fresh_postgres("konbini_leader") as url:
        engines = (make_engine(url), make_engine(url))
        try:
            yield engines
        finally:
            for engine in engines:
                engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_one_leads_and_another_takes_over_when_it_stops(
    pg_engines: tuple[sa.Engine, sa.Engine],
) -> None:
    a, b = SweepLeadership(pg_engines[0]), SweepLeadership(pg_engines[1])
    assert a.held()
    assert not b.held()
    assert a.held()  # still its lock on the next round
    a.release()
    assert b.held()
    assert not a.held()
    b.release()


@pytest.mark.postgres
def test_on_postgresql_a_leader_whose_connection_dies_loses_the_lock(
    pg_engines: tuple[sa.Engine, sa.Engine],
) -> None:
    a, b = SweepLeadership(pg_engines[0]), SweepLeadership(pg_engines[1])
    assert a.held()
    with pg_engines[1].connect() as admin:  # the leader's session is cut (a crashed machine)
        admin.execute(
            sa.text(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d "
                "ON d.oid = l.database WHERE d.datname = current_database() "
                "AND l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()"
            )
        )
        admin.commit()
    assert b.held()  # PostgreSQL dropped the lock with the session
    assert not a.held()  # the old leader notices and does not sweep beside the new one
    b.release()
