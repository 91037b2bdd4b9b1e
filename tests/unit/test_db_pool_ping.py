"""PostgreSQL's pool pings a connection only when it can matter (`server.db.engine`).

`pool_pre_ping` sent a round trip at every checkout; `make_engine` now pings a pooled connection
only when it was idle for more than `PING_AFTER_IDLE_S`, when a statement on it failed, or when
its socket already holds the server's goodbye. A backend killed while its connection sits in
the pool is replaced at the next checkout, and the caller sees no error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.db import engine as engine_module
from server.db.engine import make_engine, read_row
from tests.databases import PG_URL, fresh_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="KONBINI_TEST_DATABASE_URL not set"),
]

_PID = sa.text("SELECT pg_backend_pid()")


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_postgres("konbini_ping") as url:
        yield url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _count_pings(engine: Engine) -> list[int]:
    pings = [0]
    ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings[0] += 1
        return ping(dbapi_conn)

    setattr(engine.dialect, "do_ping", counted)  # noqa: B010 (a method on an instance)
    return pings


def _terminate(url: str, pid: int) -> None:
    """Ends backend `pid` from another connection and waits until it is gone."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
            alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p")
            while conn.execute(alive, {"p": pid}).scalar():
                conn.execute(sa.text("SELECT pg_sleep(0.01)"))
    finally:
        admin.dispose()


def _one_pooled_connection_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid = conn.execute(_PID).scalar_one()
    assert isinstance(pid, int)
    return pid


def test_back_to_back_checkouts_are_not_pinged(engine: Engine) -> None:
    pings = _count_pings(engine)
    for _ in range(20):
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT 1"))
        assert read_row(engine, sa.text("SELECT 1"), {}) is not None
    assert pings[0] == 0


def test_a_backend_killed_while_idle_in_the_pool_is_replaced_without_an_error(
    url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Idle for far less than the threshold: only the socket (the server's goodbye) tells.
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)
    pings = _count_pings(engine)
    pid = _one_pooled_connection_pid(engine)
    _terminate(url, pid)
    with engine.begin() as conn:
        new_pid = conn.execute(_PID).scalar_one()
    assert new_pid != pid
    assert pings[0] == 1
    # read_row (the resolver's read, in autocommit) takes the same path.
    _terminate(url, new_pid)
    row = read_row(engine, _PID, {})
    assert row is not None and row[0] not in (pid, new_pid)


def test_a_connection_idle_past_the_threshold_is_pinged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _one_pooled_connection_pid(engine)
    pings = _count_pings(engine)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    assert _one_pooled_connection_pid(engine) == pid  # alive: kept after its ping
    assert pings[0] == 1


def test_a_connection_whose_statement_failed_is_pinged_once_at_its_next_checkout(
    engine: Engine,
) -> None:
    _one_pooled_connection_pid(engine)
    pings = _count_pings(engine)
    with pytest.raises(sa.exc.DataError), engine.connect() as conn:
        conn.execute(sa.text("SELECT 1 / 0"))
    _one_pooled_connection_pid(engine)
    _one_pooled_connection_pid(engine)
    assert pings[0] == 1


def test_without_the_check_the_killed_connection_fails_its_caller(url: str) -> None:
    # The scenario above is real: a pool that never pings hands out the dead connection.
    plain = sa.create_engine(url, pool_size=1)
    try:
        pid = _one_pooled_connection_pid(plain)
        _terminate(url, pid)
        with pytest.raises(sa.exc.OperationalError), plain.connect() as conn:
            conn.execute(_PID)
    finally:
        plain.dispose()
