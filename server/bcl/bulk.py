"""Executing one statement for many rows, fast: compiled once, then straight to the driver.

SQLAlchemy's executemany builds and processes a parameter dictionary per row, which costs
several times the database's own work for the narrow, many-row statements of an upload. Here
the statement is compiled once for the connection's dialect; each row's values go through the
same bind processors SQLAlchemy would apply (dates for SQLite, UTC datetimes, …) and then to
the DBAPI cursor's executemany in the connection's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


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
        defaults: dict[str, Any] = {}  # values fixed in the statement itself
        processors: dict[str, Callable[[Any], Any] | None] = {}
        for bind, name in compiled.bind_names.items():
            if not bind.required:
                defaults[name] = bind.effective_value
            processors[name] = bind.type.bind_processor(dialect)
        names = list(compiled.positiontup or ()) if compiled.positional else list(processors)
        self._plan = [(n, n in defaults, defaults.get(n), processors[n]) for n in names]
        self._positional = bool(compiled.positional)

    def execute(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        names = [p[0] for p in self._plan]
        params: list[Any] = []
        for row in rows:
            values = []
            for name, fixed, default, proc in self._plan:
                v = row[name] if not fixed or name in row else default
                values.append(v if proc is None or v is None else proc(v))
            params.append(tuple(values) if self._positional else dict(zip(names, values)))  # noqa: B905
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self._sql, params)
        finally:
            cursor.close()
