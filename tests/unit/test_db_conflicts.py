"""Database conflicts: which errors mean "a concurrent transaction got there first", their
retry, and the status a caller sees (ABORTED, reason TRANSACTION_CONFLICT; a bug stays INTERNAL).

The errors are real ones, raised by SQLite and, when KONBINI_TEST_DATABASE_URL names a server,
by PostgreSQL (a unique key, a deadlock between two connections).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import ExitStack
from pathlib import Path

import grpc
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from clients.errors import decode_error
from server.db.conflicts import TransactionConflict, is_transaction_conflict, retry_on_conflict
from server.db.engine import make_engine
from server.grpc_errors import DomainErrorInterceptor
from tests.databases import BACKENDS, PG_URL, fresh_postgres

_SCHEMA = (
    "CREATE TABLE parents (id INTEGER PRIMARY KEY)",
    "CREATE TABLE keys (id INTEGER PRIMARY KEY, k VARCHAR(16) UNIQUE NOT NULL,"
    " parent INTEGER REFERENCES parents (id))",
    "INSERT INTO parents (id) VALUES (1), (2)",
    "INSERT INTO keys (id, k, parent) VALUES (1, 'taken', 1)",
)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'c.db'}"
        else:
            url = stack.enter_context(fresh_postgres("konbini_conflicts"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        with engine.begin() as conn:
            for statement in _SCHEMA:
                conn.exec_driver_sql(statement)
        yield engine


def _raised(engine: Engine, statement: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.exec_driver_sql(statement)
    return caught.value


def test_a_unique_key_taken_is_a_conflict(engine: Engine) -> None:
    err = _raised(engine, "INSERT INTO keys (id, k) VALUES (2, 'taken')")
    assert isinstance(err, IntegrityError) and is_transaction_conflict(err)


def test_a_primary_key_taken_is_a_conflict(engine: Engine) -> None:
    assert is_transaction_conflict(_raised(engine, "INSERT INTO keys (id, k) VALUES (1, 'new')"))


def test_a_missing_parent_or_a_null_is_a_bug_not_a_conflict(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:  # make_engine turns foreign keys on for every connection
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    missing = _raised(engine, "INSERT INTO keys (id, k, parent) VALUES (3, 'x', 99)")
    null = _raised(engine, "INSERT INTO keys (id, k) VALUES (4, NULL)")
    assert not is_transaction_conflict(missing)
    assert not is_transaction_conflict(null)
    assert not is_transaction_conflict(ValueError("not a database error"))


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="KONBINI_TEST_DATABASE_URL not set")
def test_a_deadlock_on_postgresql_is_a_conflict() -> None:
    with fresh_postgres("konbini_deadlock") as url:
        engine = make_engine(url)
        try:
            errors = _lock_in_opposite_orders(engine)
        finally:
            engine.dispose()
    [deadlock] = errors  # PostgreSQL broke the cycle by refusing one of them
    assert is_transaction_conflict(deadlock)


def _lock_in_opposite_orders(engine: Engine) -> list[BaseException]:
    """Two transactions each lock one row and then want the other's: what they raised."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE rows (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.exec_driver_sql("INSERT INTO rows VALUES (1, 0), (2, 0)")
    both_hold_one = threading.Barrier(2)
    errors: list[BaseException] = []

    def lock_in_order(first: int, second: int) -> None:
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"UPDATE rows SET n = n + 1 WHERE id = {first}")
                both_hold_one.wait()
                conn.exec_driver_sql(f"UPDATE rows SET n = n + 1 WHERE id = {second}")
        except DBAPIError as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=lock_in_order, args=(1, 2)),
        threading.Thread(target=lock_in_order, args=(2, 1)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _insert_once_taken(engine: Engine, refusals: int) -> Callable[[], str]:
    """An operation refused by a real unique violation `refusals` times, then done."""
    calls = iter(range(1_000))

    def operation() -> str:
        n = next(calls)
        key = "taken" if n < refusals else f"fresh-{n}"
        with engine.begin() as conn:
            conn.exec_driver_sql(f"INSERT INTO keys (id, k) VALUES ({100 + n}, '{key}')")
        return key

    return operation


def test_a_refused_idempotent_operation_runs_again_up_to_the_bound(engine: Engine) -> None:
    assert retry_on_conflict(_insert_once_taken(engine, 2), attempts=3) == "fresh-2"
    with pytest.raises(TransactionConflict) as gave_up:
        retry_on_conflict(_insert_once_taken(engine, 3), attempts=3)
    assert gave_up.value.error_reason == "TRANSACTION_CONFLICT"


def test_an_error_that_is_no_conflict_is_not_retried(engine: Engine) -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO keys (id, k) VALUES (200, NULL)")

    with pytest.raises(IntegrityError):
        retry_on_conflict(broken, attempts=3)
    assert calls == [1]


# -- what the caller sees ---------------------------------------------------------------------


@pytest.fixture
def probe(engine: Engine) -> Iterator[grpc.Channel]:
    """A gRPC server behind the center's error interceptor, whose methods run real statements."""
    statements = {
        "Conflict": "INSERT INTO keys (id, k) VALUES (300, 'taken')",
        "Bug": "INSERT INTO keys (id, k, parent) VALUES (301, 'y', 99)",
    }

    def handler(statement: str) -> grpc.RpcMethodHandler[bytes, bytes]:
        def run(_request: bytes, _context: grpc.ServicerContext) -> bytes:
            with engine.begin() as conn:
                conn.exec_driver_sql(statement)
            return b""

        return grpc.unary_unary_rpc_method_handler(run)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2), interceptors=[DomainErrorInterceptor()]
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Probe", {name: handler(sql) for name, sql in statements.items()}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel
    finally:
        channel.close()
        server.stop(grace=None).wait()


def _call(channel: grpc.Channel, method: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(f"/test.Probe/{method}", None, None)(b"")
    return caught.value


def test_a_conflict_reaches_the_caller_as_aborted_with_its_reason(probe: grpc.Channel) -> None:
    err = decode_error(_call(probe, "Conflict"))
    assert (err.code, err.reason) == (grpc.StatusCode.ABORTED, "TRANSACTION_CONFLICT")
    assert "again" in err.message


def test_a_bug_in_a_statement_stays_internal_with_no_detail(probe: grpc.Channel) -> None:
    err = decode_error(_call(probe, "Bug"))
    assert (err.code, err.reason, err.message) == (grpc.StatusCode.INTERNAL, "", "internal error")
