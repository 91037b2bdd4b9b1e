"""Which database errors mean "another transaction got there first", and retrying those.

Two requests that change the same rows at once can end with the database refusing one of them:
a unique key the other just took, a deadlock it broke, a serialization failure (PostgreSQL
under REPEATABLE READ or SERIALIZABLE), a lock it would not wait for. None of these is a bug or
an outage: the request may simply be sent again, which is what gRPC's ABORTED says
(`server.grpc_errors` maps them so, reason `TRANSACTION_CONFLICT`). Any other integrity error
(a foreign key, a NOT NULL) is a bug and stays INTERNAL.

`retry_on_conflict` runs an operation again a bounded number of times when it is idempotent,
so that the caller never sees such a conflict at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from server.common.errors import Aborted

T = TypeVar("T")

# PostgreSQL SQLSTATEs: unique_violation, serialization_failure, deadlock_detected,
# lock_not_available.
_PG_CONFLICTS = frozenset({"23505", "40001", "40P01", "55P03"})
# SQLite extended result codes by name: a unique or primary key taken meanwhile.
_SQLITE_CONFLICTS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


class TransactionConflict(Aborted):
    """A concurrent request changed the same data first; sending this one again is safe."""

    reason = "TRANSACTION_CONFLICT"


def is_transaction_conflict(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing a transaction because of a concurrent one."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if isinstance(sqlstate, str):
        return sqlstate in _PG_CONFLICTS
    return getattr(orig, "sqlite_errorname", None) in _SQLITE_CONFLICTS


def conflict_error() -> TransactionConflict:
    return TransactionConflict(
        "a concurrent request changed the same data first; send the request again"
    )


def retry_on_conflict(operation: Callable[[], T], *, attempts: int = 3) -> T:
    """Run an idempotent `operation` (one whole transaction) again when a concurrent one made
    the database refuse it; after `attempts` refusals, `TransactionConflict`."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for _ in range(attempts):
        try:
            return operation()
        except DBAPIError as exc:
            if not is_transaction_conflict(exc):
                raise
            last = exc
    raise conflict_error() from last
