"""SQLite writers: queued by SQLite's busy handler alone, or by the writer lock, in the same run.

    .venv/bin/python -m bench.sqlite_writers [--duration 10] [--processes 2] [--threads 8]
        [--work-ms 4] [--rounds 2] [--variants busy,lock]

The center's workers on SQLite are processes of threads whose write transactions all want the
file's one write lock. SQLite's busy handler makes a writer that finds it taken sleep and try
again, in steps growing to 100 ms; `server.db.engine._WriterLock` queues writers in the kernel
(a per-process lock, then `flock` on `<db>.writer`) before BEGIN IMMEDIATE. This runs both on
the same workload: `--processes` processes × `--threads` threads, each looping a write
transaction shaped like the center's (a reservation, an issue that stores a PDF-sized blob, a
print report that posts ledger lines; each reads a few rows, writes one or a few and appends to
an audit chain whose single head row every writer updates) and then `--work-ms` of Python CPU
outside any transaction, standing in for the rest of an RPC (the PDF, gRPC, the ORM). Every
run starts from a copy of the same prefilled database.

Variants: `busy` (busy handler only: `make_engine(..., writer_lock=False)`), `lock` (today's
`make_engine`), and `lock+<pragma>` for the PRAGMAs looked at for the center (cache_size,
mmap_size, temp_store, wal_autocheckpoint). Variants are interleaved, `--rounds` times, so a
neighbour's load falls on all alike. Figures per run: transactions/s, p50/p99 of one
transaction's wall time from asking for a session to the end of COMMIT (the lock wait
included), CPU per transaction of the writer processes (`--work-ms` included), how many cores
the whole machine kept busy, errors. Results go to bench/sqlite-writers-results.json; nothing
is asserted (STYLE 17).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.db.engine import make_engine, write_session

RESULTS = Path(__file__).with_name("sqlite-writers-results.json")  # one report per settings
PREFILL_SESSIONS = 20_000
BLOB = bytes(random.Random(7).randbytes(24_000))  # about one stored copy (a one-page PDF)


@dataclass(frozen=True)
class Variant:
    name: str
    writer_lock: bool
    pragmas: tuple[tuple[str, str], ...] = ()


VARIANTS = {
    v.name: v
    for v in (
        Variant("busy", writer_lock=False),
        Variant("lock", writer_lock=True),
        Variant("lock+cache_size", True, (("cache_size", "-16000"),)),  # 16 MB (default 2 MB)
        Variant("lock+mmap_size", True, (("mmap_size", str(256 << 20)),)),
        Variant("lock+temp_store", True, (("temp_store", "MEMORY"),)),
        Variant("lock+wal_autocheckpoint", True, (("wal_autocheckpoint", "10000"),)),
    )
}

_SCHEMA = (
    "CREATE TABLE kiosk_session (id INTEGER PRIMARY KEY, kiosk TEXT NOT NULL, resident TEXT"
    " NOT NULL, state TEXT NOT NULL, copies INTEGER NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE issuance (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES"
    " kiosk_session (id), kind TEXT NOT NULL, state TEXT NOT NULL, fee_yen INTEGER NOT NULL,"
    " pdf BLOB, updated_at TEXT NOT NULL)",
    "CREATE INDEX ix_issuance_session ON issuance (session_id)",
    "CREATE TABLE ledger_line (id INTEGER PRIMARY KEY, issuance_id INTEGER NOT NULL REFERENCES"
    " issuance (id), account TEXT NOT NULL, amount_yen INTEGER NOT NULL)",
    "CREATE INDEX ix_ledger_issuance ON ledger_line (issuance_id)",
    "CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL)",
    "CREATE TABLE audit_entry (seq INTEGER PRIMARY KEY, event TEXT NOT NULL, subject TEXT NOT"
    " NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
)


def _prefill(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for statement in _SCHEMA:
            conn.exec_driver_sql(statement)
        conn.execute(
            sa.text(
                "INSERT INTO kiosk_session (id, kiosk, resident, state, copies, updated_at)"
                " VALUES (:id, :k, :r, 'ended', 1, '2026-11-26T00:00:00')"
            ),
            [{"id": i, "k": f"K{i % 64}", "r": f"R{i}"} for i in range(1, PREFILL_SESSIONS + 1)],
        )
        conn.execute(
            sa.text(
                "INSERT INTO issuance (id, session_id, kind, state, fee_yen, pdf, updated_at)"
                " VALUES (:id, :id, 'juminhyo', 'issued', 200, :pdf, '2026-11-26T00:00:00')"
            ),
            [{"id": i, "pdf": BLOB[: 2_000 + i % 1_000]} for i in range(1, PREFILL_SESSIONS + 1)],
        )
        conn.exec_driver_sql("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'genesis')")
    engine.dispose()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # outside any transaction


def _audit(db: Any, event: str, subject: str) -> None:
    seq, prev = db.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
    digest = f"{hash((prev, event, subject)) & 0xFFFFFFFFFFFF:012x}"
    db.execute(
        sa.text(
            "INSERT INTO audit_entry (seq, event, subject, prev_hash, hash)"
            " VALUES (:s, :e, :sub, :p, :h)"
        ),
        {"s": seq + 1, "e": event, "sub": subject, "p": prev, "h": digest},
    )
    db.execute(
        sa.text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
        {"s": seq + 1, "h": digest},
    )


def _transaction(engine: Engine, rng: random.Random, kind: int) -> None:
    """One write transaction of one of three shapes, each ending in an audit append."""
    session_id = rng.randint(1, PREFILL_SESSIONS)
    with write_session(engine) as db:
        if kind == 0:  # Reserve
            db.execute(
                sa.text("SELECT id, state, copies FROM kiosk_session WHERE id = :i"),
                {"i": session_id},
            ).one()
            db.execute(
                sa.text("SELECT count(*) FROM issuance WHERE session_id = :i"), {"i": session_id}
            ).scalar_one()
            new_id = db.execute(
                sa.text(
                    "INSERT INTO issuance (session_id, kind, state, fee_yen, updated_at) VALUES"
                    " (:i, 'juminhyo', 'reserved', 200, '2026-11-26T01:00:00') RETURNING id"
                ),
                {"i": session_id},
            ).scalar_one()
            db.execute(
                sa.text("UPDATE kiosk_session SET copies = copies + 1 WHERE id = :i"),
                {"i": session_id},
            )
            _audit(db, "issuance.reserved", str(new_id))
        elif kind == 1:  # Issue: claim the copy and store its PDF
            db.execute(
                sa.text("SELECT id, state, session_id FROM issuance WHERE id = :i"),
                {"i": session_id},
            ).one()
            db.execute(
                sa.text("UPDATE issuance SET state = 'printing', pdf = :pdf WHERE id = :i"),
                {"i": session_id, "pdf": BLOB},
            )
            _audit(db, "issuance.printing", str(session_id))
        else:  # ReportPrintResult: issued, and the fee posted
            db.execute(
                sa.text("SELECT id, state, fee_yen FROM issuance WHERE id = :i"),
                {"i": session_id},
            ).one()
            db.execute(
                sa.text("UPDATE issuance SET state = 'issued' WHERE id = :i"), {"i": session_id}
            )
            db.execute(
                sa.text(
                    "INSERT INTO ledger_line (issuance_id, account, amount_yen) VALUES"
                    " (:i, 'cash', 200), (:i, 'fee', -200), (:i, 'municipality', 120),"
                    " (:i, 'operator', 80), (:i, 'clearing', -200)"
                ),
                {"i": session_id},
            )
            _audit(db, "issuance.issued", str(session_id))
        db.commit()


def _work(ms: float) -> None:
    """`ms` of this thread's CPU in Python, outside any transaction (the rest of an RPC)."""
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        sum(range(300))


def _writer_process(
    url: str,
    variant: Variant,
    threads: int,
    duration: float,
    work_ms: float,
    seed: int,
    ready: Barrier,
    out: Any,
) -> None:
    engine = make_engine(url, writer_lock=variant.writer_lock)
    if variant.pragmas:

        def pragmas(dbapi_conn: Any, _record: Any) -> None:
            for name, value in variant.pragmas:
                dbapi_conn.execute(f"PRAGMA {name}={value}")

        sa.event.listen(engine, "connect", pragmas)
    for k in range(threads):  # connections open, statement caches warm
        _transaction(engine, random.Random(seed * 100 + k), k % 3)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready.wait()
    end = time.monotonic() + duration
    cpu0 = time.process_time()

    def loop(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        mine: list[float] = []
        while True:
            _work(work_ms)
            start = time.monotonic()
            if start >= end:
                break
            try:
                _transaction(engine, rng, rng.randrange(3))
            except Exception as exc:
                with lock:
                    errors.append(repr(exc)[:200])
                continue
            done = time.monotonic()
            if done <= end:
                mine.append((done - start) * 1000)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    cpu = time.process_time() - cpu0
    engine.dispose()
    out.put({"latencies_ms": latencies, "errors": errors, "cpu_s": cpu})


def _busy_s() -> float:
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def run_once(
    template: Path, work: Path, variant: Variant, args: argparse.Namespace
) -> dict[str, Any]:
    db = work / f"{variant.name}.db"
    for suffix in ("", "-wal", "-shm", ".writer"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, db)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(args.processes + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_writer_process,
            args=(
                f"sqlite:///{db}",
                variant,
                args.threads,
                args.duration,
                args.work_ms,
                p,
                ready,
                out,
            ),
        )
        for p in range(args.processes)
    ]
    for p in procs:
        p.start()
    ready.wait()
    busy0, t0 = _busy_s(), time.monotonic()
    time.sleep(args.duration)
    busy1, t1 = _busy_s(), time.monotonic()
    parts = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for part in parts for x in part["latencies_ms"]]
    errors = [e for part in parts for e in part["errors"]]
    cpu = sum(part["cpu_s"] for part in parts)
    n = len(latencies)
    return {
        "variant": variant.name,
        "transactions": n,
        "transactions_per_s": round(n / args.duration, 1),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies, default=0.0), 1),
        "cpu_ms_per_transaction": round(cpu / n * 1000, 3) if n else None,
        "machine_busy_cores": round((busy1 - busy0) / (t1 - t0), 2),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by.setdefault(r["variant"], []).append(r)
    keys = (
        "transactions_per_s",
        "p50_ms",
        "p99_ms",
        "cpu_ms_per_transaction",
        "machine_busy_cores",
    )
    return {
        name: {k: round(statistics.median(r[k] for r in rs if r[k] is not None), 2) for k in keys}
        | {"errors": sum(r["errors"] for r in rs), "runs": len(rs)}
        for name, rs in by.items()
    }


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        return out.stdout.strip()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="per process")
    parser.add_argument("--work-ms", type=float, default=4.0, help="CPU between transactions")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default="busy,lock", help=",".join(VARIANTS))
    args = parser.parse_args(argv)
    variants = [VARIANTS[name] for name in args.variants.split(",")]
    runs: list[dict[str, Any]] = []
    load_before = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = work / "template.db"
        _prefill(template)
        for r in range(args.rounds):
            order = variants if r % 2 == 0 else variants[::-1]
            for variant in order:
                result = run_once(template, work, variant, args) | {"round": r}
                print(json.dumps(result), flush=True)
                runs.append(result)
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "command": "python -m bench.sqlite_writers "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {
            "processes": args.processes,
            "threads_per_process": args.threads,
            "duration_s": args.duration,
            "work_ms": args.work_ms,
            "rounds": args.rounds,
            "prefill_sessions": PREFILL_SESSIONS,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "variants": [v.name for v in variants],
        "summary": _summary(runs),
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(merged(report), indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    return 0


def merged(report: dict[str, Any]) -> dict[str, Any]:
    """The results file with `report` in place of an earlier one of the same settings."""
    earlier: list[dict[str, Any]] = []
    if RESULTS.exists():
        earlier = json.loads(RESULTS.read_text(encoding="utf-8")).get("reports", [])
    key = ("settings", "variants")
    kept = [r for r in earlier if [r.get(k) for k in key] != [report.get(k) for k in key]]
    return {"reports": [*kept, report]}


if __name__ == "__main__":
    raise SystemExit(main())
