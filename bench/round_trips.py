"""Round trips per kiosk session that `bench.sql_count` does not see: pool pings, and on
PostgreSQL the database server's own CPU per session.

`bench.sql_count` counts the statements SQLAlchemy runs; a connection's liveness ping at
checkout goes to the driver directly, and psycopg sends its own BEGIN. This runs the same
measurement (`bench.sql_count.measure`, sessions one at a time) and adds, per session after the
warm-up one: connection checkouts, pings (every call of the dialect's `do_ping`), and on
PostgreSQL the CPU of the backends serving this run's database (psutil; the server's shared
processes, e.g. the WAL writer, are left out, as neighbours' sessions would be in them).

    python -m bench.round_trips --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python -m bench.round_trips             # SQLite (no pings there; checkouts and statements)
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]
import sqlalchemy as sa

import bench.sql_count as sql_count
from bench.stack import Stack, create_postgres_database, drop_postgres_database, prepare
from server.app import Center


def backend_cpu_s(database: str) -> float:
    """CPU seconds so far of the PostgreSQL backends connected to `database` (by their title)."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or ())
        if not cmdline.startswith("postgres: ") or f" {database} " not in cmdline:
            continue
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
    return total


class _Counts:
    def __init__(self, database: str | None) -> None:
        self.database = database
        self.checkouts = 0
        self.pings = 0
        self.marks: list[dict[str, float]] = []

    def instrument(self, center: Center) -> Center:
        engine = center.engine
        ping = engine.dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            self.pings += 1
            return ping(dbapi_connection)

        def on_checkout(*_args: Any) -> None:
            self.checkouts += 1

        engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
        sa.event.listen(engine.pool, "checkout", on_checkout)
        return center

    def mark(self) -> None:
        self.marks.append(
            {
                "checkouts": self.checkouts,
                "pings": self.pings,
                "backend_cpu_s": backend_cpu_s(self.database) if self.database else 0.0,
            }
        )


def measure(stack: Stack, prepared: Any, *, sessions: int, database: str | None) -> dict[str, Any]:
    counts = _Counts(database)
    create_server = getattr(sql_count, "create_server")  # noqa: B009 (not re-exported)
    kiosk_class: type[Any] = getattr(sql_count, "Kiosk")  # noqa: B009

    class MarkingKiosk(kiosk_class):  # type: ignore[misc]
        def session(self, rng: random.Random) -> Any:
            out = super().session(rng)
            counts.mark()  # after the warm-up session, then after each measured one
            return out

    def instrumented(config: Any) -> Center:
        return counts.instrument(create_server(config))

    setattr(sql_count, "create_server", instrumented)  # noqa: B010
    setattr(sql_count, "Kiosk", MarkingKiosk)  # noqa: B010
    try:
        result = sql_count.measure(stack, prepared, sessions=sessions)
    finally:
        setattr(sql_count, "create_server", create_server)  # noqa: B010
        setattr(sql_count, "Kiosk", kiosk_class)  # noqa: B010
    first, last = counts.marks[0], counts.marks[-1]
    result["per_session"]["checkouts"] = round(
        (last["checkouts"] - first["checkouts"]) / sessions, 1
    )
    result["per_session"]["pings"] = round((last["pings"] - first["pings"]) / sessions, 1)
    if database:
        cpu = last["backend_cpu_s"] - first["backend_cpu_s"]
        result["postgres_backend_cpu_ms_per_session"] = round(cpu * 1e3 / sessions, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.round_trips", description=__doc__)
    p.add_argument("--postgres", metavar="ADMIN_URL", help="a fresh database on this server")
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--households", type=int, default=20, help="per municipality (3 of them)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="konbini-roundtrips-") as tmp:
        state = Path(tmp)
        url = f"sqlite:///{state / 'center.db'}"
        database = None
        if args.postgres:
            url = create_postgres_database(args.postgres)
            database = sa.engine.make_url(url).database
        try:
            prepared = prepare(state, url, households=args.households, kiosks=2)
            with Stack(prepared, processes=1) as stack:
                result = measure(stack, prepared, sessions=args.sessions, database=database)
        finally:
            if args.postgres:
                drop_postgres_database(url)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
