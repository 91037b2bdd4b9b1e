"""Monthly close of a large city: 120,000 issued copies in one month, closed and reported.

    .venv/bin/python -m bench.settlement [--copies 120000] [--month 2026-04]

The copies (Yokohama's scale: 116,785 in February 2026) are inserted straight into the tables
in bulk — issuances, the copy register and the journal, built by the ledger's own entry
builder — not through gRPC; a fifth are printed at kiosks of two neighbouring municipalities,
which issue 4,000 copies each of their own. Then the month is closed and each reading is
timed once: the close (contributions, totals, digest), the city's statement, an operator's
statement and reconciliation against its report, the statistics, the fiscal-year report, the
statement files (CSV, charts, PDF), and a full balance check of the journal.

Runs on SQLite, and on PostgreSQL when KONBINI_TEST_DATABASE_URL names a server (a scratch
database is created and dropped). Results go to bench/settlement-results.json; nothing is
asserted (STYLE 17) except that the figures add up, which makes a fast wrong answer visible.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import psycopg
import sqlalchemy as sa
from sqlmodel import Session

from bench.settlement_data import (
    OPERATORS,
    add_municipality,
    bulk_issue,
    month_of_copies,
)
from clients.settlement import render
from server.common.clock import FrozenClock
from server.db.engine import make_engine, upgrade
from server.settlement.desk import SettlementDesk
from server.settlement.ledger import unbalanced_entries
from server.settlement.periods import Month
from server.settlement.reconcile import ReportedCount

RESULTS = Path(__file__).with_name("settlement-results.json")
T = TypeVar("T")


@dataclass
class Timings:
    database: str
    steps: dict[str, float] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)

    def time(self, name: str, work: Callable[[], T]) -> T:
        start = time.perf_counter()
        value = work()
        self.steps[name] = round(time.perf_counter() - start, 3)
        print(f"  {name:<28} {self.steps[name]:>8.3f} s", flush=True)
        return value


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="settlement-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_url(admin_url: str) -> Iterator[str]:
    admin = sa.engine.make_url(admin_url)
    conninfo = (
        f"host={admin.host} port={admin.port or 5432} user={admin.username} dbname={admin.database}"
    )
    name = f"konbini_settlement_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, database: str, *, copies: int, month: Month, out: Path) -> Timings:
    t = Timings(database)
    print(f"{database}: {copies:,} copies of a large city in {month}", flush=True)
    engine = make_engine(url)
    t.time("migrate", lambda: upgrade(engine))
    with Session(engine) as db:
        city = add_municipality(
            db, first_five="14100", name="横浜市", population=3_770_000, designated_city=True
        )
        kawasaki = add_municipality(
            db, first_five="14130", name="川崎市", population=1_550_000, designated_city=True
        )
        town = add_municipality(db, first_five="14341", name="葉山町", population=30_000)
        db.commit()
    neighbours = [kawasaki, town]
    specs = list(month_of_copies(city, month, copies, seed=1, elsewhere=neighbours))
    for i, n in enumerate(neighbours):
        specs += month_of_copies(n, month, 4_000, seed=2 + i, elsewhere=[city])
    t.time("bulk insert", lambda: bulk_issue(engine, specs))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    clock = FrozenClock(month.end() + timedelta(hours=9))
    desk = SettlementDesk(engine, clock=clock)
    seven = OPERATORS[0][0]

    # The operator's own counts, one cell off by one, for the reconciliation.
    recorded = desk.reconcile(str(month), seven)
    report = [
        ReportedCount(
            seven, str(month), d.municipality_code, d.certificate_kind, d.recorded + (i == 0)
        )
        for i, d in enumerate(recorded.differences)
    ]
    desk.submit_operator_report(report)

    close = t.time("close month", lambda: desk.close_month(str(month)))
    statement = t.time(
        "municipality statement", lambda: desk.municipality_statement(city.code, str(month))
    )
    op = t.time("operator statement", lambda: desk.operator_statement(seven, str(month)))
    recon = t.time("reconciliation", lambda: desk.reconcile(str(month), seven))
    stats = t.time("statistics (city)", lambda: desk.statistics(month.fiscal_year, city.code))
    t.time("statistics (national)", lambda: desk.statistics(month.fiscal_year))
    fy = t.time("fiscal-year report", lambda: desk.fiscal_year_report(city.code, month.fiscal_year))
    csv_text = t.time("statement CSV", lambda: render.municipality_statement_csv(statement))
    charts = t.time("statement charts (4 PNG)", lambda: render.charts_for(stats))
    pdf = t.time(
        "statement PDF",
        lambda: render.municipality_statement_pdf(statement, charts, created_at=close.closed_at),
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / f"municipality-{city.code}-{month}.pdf").write_bytes(pdf)
    (out / f"municipality-{city.code}-{month}.csv").write_text(csv_text, encoding="utf-8")

    def balanced() -> bool:
        with Session(engine) as db:
            return unbalanced_entries(db) == []

    ok = t.time("balance check (all entries)", balanced)
    intact = t.time("closed-month digest check", lambda: desk.closed_month_intact(str(month)))

    total = statement.total
    t.facts = {
        "city_copies": total.copies,
        "city_fees_yen": total.fees_yen,
        "city_commission_yen": total.commission_yen,
        "city_bcl_fee_yen": total.bcl_fee_yen,
        "city_net_remittance_yen": total.net_remittance_yen,
        "city_contribution_yen": statement.contribution_yen,
        "city_after_hours_share": round(stats.after_hours_share, 4),
        "city_other_municipality_share": round(stats.other_municipality_share, 4),
        "journal_entries": close.entry_count,
        "journal_lines": close.line_count,
        "operator_copies": op.total.copies,
        "reconciliation_differences": len(recon.differences),
        "fiscal_year_total_cost_yen": fy.total.total_cost_yen,
        "balanced": ok,
        "closed_month_intact": intact,
        "pdf_bytes": len(pdf),
    }
    # A fast wrong answer is no answer: the figures must add up.
    assert total.copies == copies, total
    assert total.fees_yen == 300 * copies and total.bcl_fee_yen == 180 * copies
    assert total.net_remittance_yen == total.fees_yen - total.commission_yen
    assert ok and intact and len(recon.differences) == 1
    engine.dispose()
    return t


def machine() -> dict[str, object]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in load],
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sa.__version__,
    }


def table(results: list[Timings]) -> str:
    names = list(results[0].steps)
    head = f"{'step':<30}" + "".join(f"{r.database:>12}" for r in results)
    lines = [head, "-" * len(head)]
    for name in names:
        lines.append(
            f"{name:<30}" + "".join(f"{r.steps.get(name, float('nan')):>11.3f}s" for r in results)
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--copies", type=int, default=120_000)
    parser.add_argument("--month", default="2026-04")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--files", default=str(Path(tempfile.gettempdir()) / "settlement-bench"))
    args = parser.parse_args(argv)
    month = Month.parse(args.month)
    before = machine()
    results: list[Timings] = []
    with sqlite_url() as url:
        results.append(run(url, "sqlite", copies=args.copies, month=month, out=Path(args.files)))
    pg = os.environ.get("KONBINI_TEST_DATABASE_URL", "")
    if pg:
        with postgres_url(pg) as url:
            results.append(
                run(url, "postgresql", copies=args.copies, month=month, out=Path(args.files))
            )
    else:
        print("KONBINI_TEST_DATABASE_URL not set: PostgreSQL skipped", file=sys.stderr)
    document = {
        "benchmark": "settlement monthly close of a large city",
        "command": " ".join(["python -m bench.settlement", *(argv or sys.argv[1:])]),
        "postgresql": "measured" if pg else "skipped: KONBINI_TEST_DATABASE_URL not set",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "copies": args.copies,
        "month": str(month),
        "machine": before,
        # Other work on a shared machine slows every step alike; read the figures against it.
        "load_average_after": machine()["load_average"],
        "results": {r.database: {"seconds": r.steps, "facts": r.facts} for r in results},
    }
    Path(args.out).write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    print()
    print(table(results))
    print(f"\nwritten to {args.out}; statement files in {args.files}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
