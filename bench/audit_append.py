"""What an audit entry costs: per append, alone and under concurrent writers, and verification.

    .venv/bin/python -m bench.audit_append [--transactions 2000] [--writers 8] [--verify 50000]

Each measured transaction is what an audited action looks like to the database: one row of
its own (a scratch table) plus, in the audited run, one `append`, then the commit. The cost of
an append is the difference between the two runs — the chain head's UPDATE…RETURNING, the
entry's INSERT and the head's second UPDATE, and (with several writers) the wait for the head
row's lock, which every audited transaction takes last. Then a chain is built in bulk and
`verify_chain` walks it.

Runs on SQLite, and on PostgreSQL when KONBINI_TEST_DATABASE_URL names a server (a scratch
database is created and dropped). Results go to bench/audit-results.json; nothing is asserted
(STYLE 17) except that the chain verifies.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.stack import create_postgres_database, drop_postgres_database
from server.audit.log import EntryFields, append, canonical_details, write_entries
from server.audit.verify import verify_chain
from server.db.engine import make_engine, upgrade

RESULTS = Path(__file__).with_name("audit-results.json")
AT = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _transactions(engine: Engine, count: int, *, audited: bool, writer: str) -> None:
    for i in range(count):
        with Session(engine) as db:
            db.execute(
                sa.text("INSERT INTO bench_action (writer, n) VALUES (:w, :n)"),
                {"w": writer, "n": i},
            )
            if audited:
                append(
                    db,
                    event="issuance.issued",
                    actor=writer,
                    subject=f"{writer}-{i}",
                    municipality_code="131016",
                    details={"kind": "juminhyo", "fee_yen": "200"},
                    at=AT,
                )
            db.commit()


def _timed(work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _concurrent(engine: Engine, writers: int, per_writer: int, *, audited: bool) -> float:
    threads = [
        threading.Thread(
            target=_transactions,
            args=(engine, per_writer),
            kwargs={"audited": audited, "writer": f"W{w}-{audited}"},
        )
        for w in range(writers)
    ]

    def run() -> None:
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    return _timed(run)


def _bulk_chain(engine: Engine, total: int) -> None:
    details = canonical_details({"kind": "juminhyo"})
    batch = 5_000
    for start in range(0, total, batch):
        entries = [
            EntryFields(AT, "issuance.issued", "K1", f"iss-{start + i}", "131016", details)
            for i in range(min(batch, total - start))
        ]
        with Session(engine) as db:
            write_entries(db.connection(), entries)
            db.commit()


def measure(url: str, transactions: int, writers: int, verify_entries: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bench_action (writer VARCHAR(32), n INTEGER)"))
    _transactions(engine, 50, audited=True, writer="warm")  # connections, statement caches
    plain = _timed(lambda: _transactions(engine, transactions, audited=False, writer="plain"))
    audited = _timed(lambda: _transactions(engine, transactions, audited=True, writer="audit"))
    per_writer = transactions // writers
    plain_c = _concurrent(engine, writers, per_writer, audited=False)
    audited_c = _concurrent(engine, writers, per_writer, audited=True)
    _bulk_chain(engine, verify_entries)
    start = time.perf_counter()
    report = verify_chain(engine)
    verify_s = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"chain does not verify: {report.problems[:3]}")
    engine.dispose()
    n_conc = per_writer * writers
    return {
        "transactions": transactions,
        "one_writer_ms_per_tx_plain": round(plain / transactions * 1000, 3),
        "one_writer_ms_per_tx_audited": round(audited / transactions * 1000, 3),
        "one_writer_ms_per_append": round((audited - plain) / transactions * 1000, 3),
        "writers": writers,
        "concurrent_tx_per_s_plain": round(n_conc / plain_c, 1),
        "concurrent_tx_per_s_audited": round(n_conc / audited_c, 1),
        "verify_entries": report.entries,
        "verify_entries_per_s": round(report.entries / verify_s),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--verify", type=int, default=50_000)
    args = parser.parse_args(argv)
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs["sqlite"] = measure(
            f"sqlite:///{Path(tmp) / 'audit.db'}", args.transactions, args.writers, args.verify
        )
    pg = os.environ.get("KONBINI_TEST_DATABASE_URL", "")
    if pg:
        admin = sa.engine.make_url(pg).set(database="postgres")
        url = create_postgres_database(
            admin.render_as_string(hide_password=False), prefix="konbini_audit_bench"
        )
        try:
            runs["postgres"] = measure(url, args.transactions, args.writers, args.verify)
        finally:
            drop_postgres_database(url)
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
