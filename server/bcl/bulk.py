"""Executing one statement for many rows, fast: compiled once, then straight to the driver.

SQLAlchemy's executemany builds and processes a parameter dictionary per row, which costs
several times the database's own work for the narrow, many-row statements of an upload. Here
the statement is compiled once for the connection's dialect; each row's values go through the
same bind processors SQLAlchemy would apply (dates for SQLite, UTC datetimes, …) and then to
the DBAPI cursor's executemany in the connection's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from operator import itemgetter
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine


class BulkStatement:
    def __init__(
        self, conn: Connection, statement: ClauseElement, keys: Sequence[str] = ()
    ) -> None:
        """`keys`: the columns an INSERT … VALUES sets (each row supplies them)."""
        dialect = conn.dialect
        compiled = cast(
            SQLCompiler, statement.compile(dialect=dialect, column_keys=list(keys) or None)
        )
        self._conn = conn
        self._sql = str(compiled)
        self._defaults: dict[str, Any] = {}  # values fixed in the statement itself
        processors: dict[str, Callable[[Any], Any] | None] = {}
        for bind, name in compiled.bind_names.items():
            if not bind.required:
                self._defaults[name] = bind.effective_value
            processors[name] = _processor(bind.type, dialect)
        self._names = list(compiled.positiontup or ()) if compiled.positional else list(processors)
        self._get = itemgetter(*self._names)
        self._processors = [(i, p) for i, n in enumerate(self._names) if (p := processors[n])]
        self._positional = bool(compiled.positional)

    def execute(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        defaults, get, processors = self._defaults, self._get, self._processors
        single = len(self._names) == 1
        params: list[Any] = []
        for row in rows:
            got = get({**defaults, **row} if defaults else row)
            values = [got] if single else list(got)
            for i, proc in processors:
                if values[i] is not None:
                    values[i] = proc(values[i])
            params.append(
                tuple(values) if self._positional else dict(zip(self._names, values, strict=True))
            )
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self._sql, params)
        finally:
            cursor.close()


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    if dialect.name == "sqlite":
        # sqlite3 stores a bool as 0/1 itself, and SQLAlchemy stores a DATE as its ISO text:
        # the same values without SQLAlchemy's per-value checks and formatting.
        if type(type_) is sa.Boolean:
            return None
        if type(type_) is sa.Date:
            return date.isoformat
    return type_.bind_processor(dialect)


def raw_rows(
    conn: Connection, statement: ClauseElement, *, batch: int = 5000
) -> Iterator[Sequence[Any]]:
    """The rows of a SELECT as the driver returns them, without SQLAlchemy's result types.

    For writing many rows out: strings, ints, None and dates (as date objects on PostgreSQL,
    as ISO text on SQLite) print the same through the csv module; cast booleans to integers
    in the statement so that both backends give 0 and 1.
    """
    dialect = conn.dialect
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    params = {name: bind.effective_value for bind, name in compiled.bind_names.items()}
    processors = {
        name: _processor(bind.type, dialect) for bind, name in compiled.bind_names.items()
    }
    for name, proc in processors.items():
        if proc is not None and params[name] is not None:
            params[name] = proc(params[name])
    args: Any = (
        tuple(params[n] for n in compiled.positiontup or ()) if compiled.positional else params
    )
    driver = conn.connection.dbapi_connection
    assert driver is not None
    # psycopg reads a whole result into memory unless the cursor is a named, server-side one.
    cursor = (
        driver.cursor(name=f"bcl_rows_{uuid.uuid4().hex}")
        if dialect.name == "postgresql"
        else driver.cursor()
    )
    try:
        cursor.execute(str(compiled), args)
        while chunk := cursor.fetchmany(batch):
            yield from chunk
    finally:
        cursor.close()
