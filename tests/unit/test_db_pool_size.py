"""A center's PostgreSQL pool keeps a connection for each of its RPC threads (`make_engine`'s
`pool_size`). Connections beyond the kept ones are closed when returned, and a new backend
starts without the prepared statements its predecessor had, so a pool smaller than the threads
that use it would open and close connections all through a load."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from server.config import ServerConfig
from server.db.engine import DEFAULT_POOL_SIZE, make_engine
from tests.databases import PG_URL, fresh_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="KONBINI_TEST_DATABASE_URL not set"),
]

# What `create_server` asks for: a connection for each RPC thread, and one for the sweeper.
THREADS = ServerConfig.max_workers + 1


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_postgres("konbini_pool") as url:
        yield url


def _connections_opened(engine: sa.Engine, rounds: int) -> int:
    """Backends opened while `THREADS` threads use a connection at once, `rounds` times."""
    opened = [0]
    sa.event.listen(engine, "connect", lambda *_: opened.__setitem__(0, opened[0] + 1))
    for _ in range(rounds):
        all_in = threading.Barrier(THREADS)

        def use(all_in: threading.Barrier = all_in) -> None:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                all_in.wait(timeout=30)  # every thread holds its connection at the same time

        threads = [threading.Thread(target=use) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return opened[0]


def test_a_center_sized_pool_opens_each_threads_connection_once(url: str) -> None:
    engine = make_engine(url, pool_size=THREADS)
    try:
        assert _connections_opened(engine, rounds=3) == THREADS
    finally:
        engine.dispose()


def test_the_default_pool_reopens_what_it_cannot_keep(url: str) -> None:
    # The reason for the above: without it the connections beyond the default are new each time.
    assert THREADS > DEFAULT_POOL_SIZE
    engine = make_engine(url)
    try:
        extra = THREADS - DEFAULT_POOL_SIZE
        assert _connections_opened(engine, rounds=3) == DEFAULT_POOL_SIZE + 3 * extra
    finally:
        engine.dispose()
