"""BCL upload speed: a generated municipality uploaded over loopback gRPC, in rows per second.

    .venv/bin/python -m bench.bcl_upload                        # 100,000 residents
    .venv/bin/python -m bench.bcl_upload --residents 100000,1000000

For each size the municipality is generated once (`clients.bcl.generate`); then, on SQLite and
on PostgreSQL when KONBINI_TEST_DATABASE_URL names a server (a scratch database is created and
dropped), a BCL server runs in this process and the client uploads through loopback gRPC:

1. the first full upload into an empty municipality (every row inserted),
2. the same full upload again (every row an update, the registers replaced),
3. a difference: 1% of households move, 0.2% leave (kept as a full export of the result),
4. a restore of generation 1 (the uploaded files, byte for byte — checked).

Rows are every data row of every file (residents, serials, seals, images, tax, 戸籍, 附票).
Wall time includes the client reading and hashing the files, the stream, spooling, validation,
the transaction and keeping the compressed copy. CPU time is this process's (client and server
share it), and the load average is recorded: on a busy machine wall time says little alone.
Results go to bench/bcl-results.json (a run replaces the figures of the sizes and databases it
measured and keeps the others); nothing is asserted (STYLE 17).
"""

from __future__ import annotations

import argparse
import csv
import filecmp
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import grpc
import psycopg
import sqlalchemy as sa

from clients.bcl.client import BclClient, upload_files
from clients.bcl.generate import generate_dataset
from clients.bcl.onboard import join_municipality
from server.bcl.csvformat import DELETIONS, RESIDENTS
from server.bcl.servicer import create_bcl_server
from server.bcl.upload import BclSettings, BclUploads
from server.common.clock import system_clock
from server.db.engine import make_engine, upgrade
from server.municipal.staff import StaffDesk

RESULTS = Path(__file__).with_name("bcl-results.json")
CODE = "131016"
SEED = 2026
T = TypeVar("T")


@dataclass
class Step:
    name: str
    wall_s: float
    cpu_s: float
    rows: int
    bytes: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s else 0.0

    @property
    def rows_per_cpu_s(self) -> float:
        """What one core does: the figure that holds on a shared, busy machine."""
        return self.rows / self.cpu_s if self.cpu_s else 0.0


@dataclass
class Run:
    database: str
    residents: int
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    def time(self, name: str, rows: int, size: int, work: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        value = work()
        step = Step(name, time.perf_counter() - wall, time.process_time() - cpu, rows, size)
        self.steps.append(step)
        print(
            f"  {self.database:<10} {self.residents:>9,} {name:<16} {step.wall_s:>8.2f} s wall"
            f" {step.cpu_s:>8.2f} s cpu {step.rows_per_s:>10,.0f} rows/s"
            f" ({step.rows_per_cpu_s:,.0f} per cpu-s)",
            flush=True,
        )
        return value


def data_rows(directory: Path) -> int:
    total = 0
    for path in upload_files(directory):
        with open(path, encoding="utf-8", newline="") as f:
            total += sum(1 for _ in csv.reader(f)) - 1
    return total


def size_of(directory: Path) -> int:
    return sum(p.stat().st_size for p in upload_files(directory))


def make_difference(full: Path, out: Path) -> int:
    """1% of households move to a new address, 0.2% leave: residents.csv and deletions.csv."""
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    with (
        open(full / RESIDENTS.name, encoding="utf-8", newline="") as src,
        open(out / RESIDENTS.name, "w", encoding="utf-8", newline="") as moved,
        open(out / DELETIONS.name, "w", encoding="utf-8", newline="") as gone,
    ):
        reader = csv.reader(src)
        header = next(reader)
        household, address = header.index("household_id"), header.index("address")
        resident = header.index("resident_id")
        w_moved, w_gone = (
            csv.writer(moved, lineterminator="\n"),
            csv.writer(gone, lineterminator="\n"),
        )
        w_moved.writerow(header)
        w_gone.writerow(DELETIONS.header)
        for fields in reader:
            h = int(fields[household])
            if h % 100 == 7:
                fields[address] = "東京都千代田区九段南一丁目2番1号"
                w_moved.writerow(fields)
                rows += 1
            elif h % 500 == 3:
                w_gone.writerow([fields[resident], "転出", "2026-03-31"])
                rows += 1
    return rows


@contextmanager
def sqlite_url(work: Path) -> Iterator[str]:
    yield f"sqlite:///{work / 'bench.db'}"


@contextmanager
def postgres_url(admin_url: str) -> Iterator[str]:
    admin = sa.engine.make_url(admin_url)
    name = f"konbini_bcl_bench_{uuid.uuid4().hex[:10]}"
    conninfo = (
        f"host={admin.host} port={admin.port or 5432} user={admin.username} dbname={admin.database}"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_backend(database: str, url: str, data: Path, diff: Path, work: Path, residents: int) -> Run:
    run = Run(database, residents)
    run.facts["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    engine = make_engine(url)
    upgrade(engine)
    join_municipality(engine, code=CODE, prefecture="東京都", name="千代田区")
    uploads = BclUploads(engine, BclSettings(data_dir=work / f"bcl-{database}"), clock=system_clock)
    server, port = create_bcl_server(uploads, insecure=True)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    _, token = StaffDesk(engine, clock=system_clock).create_account(CODE, "bench")
    client = BclClient(channel, CODE, token=token)
    rows, size = data_rows(data), size_of(data)
    diff_rows, diff_size = make_difference(data, diff), size_of(diff)
    try:
        for name in ("full (insert)", "full (update)"):
            result = run.time(name, rows, size, lambda: client.upload(upload_files(data)))
            assert result.generation is not None, result.errors[:5]
        result = run.time(
            "difference",
            diff_rows,
            diff_size,
            lambda: client.upload(upload_files(diff), difference=True),
        )
        assert result.generation is not None, result.errors[:5]
        out = work / f"restored-{database}"
        run.time("restore gen 1", rows, size, lambda: client.restore(out, number=1))
        names = [p.name for p in upload_files(data)]
        _, mismatch, errors = filecmp.cmpfiles(data, out, names, shallow=False)
        run.facts["restore_byte_identical"] = not mismatch and not errors
        run.facts["kept_bytes_gzip"] = sum(
            p.stat().st_size for p in (work / f"bcl-{database}").rglob("*.gz")
        )
    finally:
        channel.close()
        server.stop(grace=None).wait()
        engine.dispose()
    run.facts["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    run.facts["peak_rss_mb_so_far"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return run


def merged(report: dict[str, Any]) -> dict[str, Any]:
    """This run's results over those of earlier runs of other sizes or databases."""
    if not RESULTS.is_file():
        return report
    earlier = json.loads(RESULTS.read_text(encoding="utf-8"))
    mine = {(r["database"], r["residents"]) for r in report["runs"]}
    kept = [r for r in earlier.get("runs", []) if (r["database"], r["residents"]) not in mine]
    generated = {**earlier.get("generated", {}), **report["generated"]}
    return {**report, "generated": generated, "runs": kept + report["runs"]}


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        return out.stdout.strip()
    except OSError:
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", default="100000", help="sizes, comma-separated")
    parser.add_argument("--postgres-url", default=os.environ.get("KONBINI_TEST_DATABASE_URL", ""))
    parser.add_argument("--only", default="sqlite,postgres", help="sqlite, postgres")
    parser.add_argument("--work", help="keep the data here instead of a temporary directory")
    args = parser.parse_args()
    sizes = [int(s) for s in args.residents.split(",")]
    backends = set(args.only.split(","))
    load_before = os.getloadavg()
    runs: list[Run] = []
    generated: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bcl-bench-", dir=args.work) as tmp:
        for residents in sizes:
            work = Path(tmp) / str(residents)
            data = work / "municipality"
            wall, cpu = time.perf_counter(), time.process_time()
            generate_dataset(data, residents=residents, seed=SEED)
            generated[residents] = {
                "wall_s": round(time.perf_counter() - wall, 2),
                "cpu_s": round(time.process_time() - cpu, 2),
                "rows": data_rows(data),
                "bytes": size_of(data),
            }
            print(f"generated {residents:,} residents: {generated[residents]}", flush=True)
            if "sqlite" in backends:
                with sqlite_url(work) as url:
                    runs.append(run_backend("sqlite", url, data, work / "diff", work, residents))
            if "postgres" in backends and args.postgres_url:
                with postgres_url(args.postgres_url) as url:
                    runs.append(
                        run_backend("postgresql", url, data, work / "diff", work, residents)
                    )
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {
        "benchmark": "bcl_upload",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "peak_rss_mb": round(peak_rss_mb),
        "generated": {str(k): v for k, v in generated.items()},
        "runs": [
            {
                "database": r.database,
                "residents": r.residents,
                "steps": [
                    {
                        "step": s.name,
                        "wall_s": round(s.wall_s, 3),
                        "cpu_s": round(s.cpu_s, 3),
                        "rows": s.rows,
                        "bytes": s.bytes,
                        "rows_per_s": round(s.rows_per_s),
                        "rows_per_cpu_s": round(s.rows_per_cpu_s),
                        "residents_per_s": round(r.residents / s.wall_s)
                        if s.name.startswith("full")
                        else None,
                    }
                    for s in r.steps
                ],
                **r.facts,
            }
            for r in runs
        ],
    }
    RESULTS.write_text(json.dumps(merged(report), indent=2, ensure_ascii=False) + "\n", "utf-8")
    print()
    head = ("database", "residents", "step", "rows", "wall s", "cpu s", "rows/s", "rows/cpu-s")
    print("{:<11} {:>10} {:<16} {:>10} {:>8} {:>8} {:>9} {:>10}".format(*head))
    for r in runs:
        for s in r.steps:
            print(
                f"{r.database:<11} {r.residents:>10,} {s.name:<16} {s.rows:>10,} "
                f"{s.wall_s:>8.2f} {s.cpu_s:>8.2f} {s.rows_per_s:>9,.0f} {s.rows_per_cpu_s:>10,.0f}"
            )
    print(f"\nload average {load_before} → {os.getloadavg()}; peak RSS {peak_rss_mb:,.0f} MB")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
