"""`python -m bench` (`make bench`): every figure of the center, written to bench/results.json.

    python -m bench                      # 30 s load runs, SQLite and PostgreSQL, CRL of 1M
    python -m bench --duration 300       # the full five-minute runs
    python -m bench --only pdf,floor     # a subset: pdf, floor, sqlite, postgres, crl
    python -m bench --profile            # py-spy the center's workers during the load runs

PostgreSQL is used when reachable at --postgres-url (a fresh database is created and dropped);
otherwise that run is recorded as skipped. Other sections of an existing results file (other
teams' benchmarks) are kept; this harness writes the "center" section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from bench import floor, pdf_render, revocation, sql_count
from bench.load_run import LoadSettings, run_load
from bench.report import cpu_budget, table
from bench.stack import Stack, create_postgres_database, drop_postgres_database, prepare
from hardware_sim.authority.ca import AUTH_CA_CERT_FILE
from server.multiproc import available_cores

HERE = Path(__file__).resolve().parent
SECTIONS = ("pdf", "floor", "sqlite", "postgres", "crl")


def _commit() -> str:
    if os.environ.get("KONBINI_BENCH_COMMIT"):  # a tree exported with `git archive`
        return os.environ["KONBINI_BENCH_COMMIT"]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "server", "bench", "load", "clients"],
            cwd=HERE,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{'+dirty' if dirty else ''}"


def _load_section(
    name: str, database_url: str, args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    state = work / name
    # Kiosk sessions only: no BCL export to generate (the Locust scenarios upload one).
    prepared = prepare(
        state, database_url, households=args.households, kiosks=args.concurrency, bcl_residents=0
    )
    settings = LoadSettings(
        concurrency=args.concurrency,
        duration_s=args.duration,
        warmup_s=args.warmup,
        processes=args.load_processes,
    )
    profile_dir = HERE / "profiles" / name if args.profile else None
    with Stack(prepared, processes=args.processes, revocation=args.revocation) as stack:
        result = run_load(stack, prepared.manifest, settings, profile_dir=profile_dir)
        result["sql"] = sql_count.measure(stack, prepared)
        result["database"] = name
        result["revocation"] = args.revocation
        if name == "sqlite":  # the responder is the same for both databases: measure it once
            issuer = x509.load_pem_x509_certificate(
                (state / "authority" / AUTH_CA_CERT_FILE).read_bytes()
            )
            card = prepared.manifest.card(prepared.manifest.residents[0])
            cert = x509.load_der_x509_certificate(card.auth_cert_der)
            result["ocsp"] = revocation.measure_ocsp(stack.authority_url, issuer, cert)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--duration", type=float, default=30.0, help="counted seconds per load run")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=16, help="kiosks running sessions")
    p.add_argument(
        "--processes", type=int, default=available_cores(), help="center worker processes"
    )
    p.add_argument("--load-processes", type=int, default=2)
    p.add_argument("--revocation", choices=["ocsp", "crl"], default="ocsp")
    p.add_argument("--households", type=int, default=120, help="per municipality (3 of them)")
    p.add_argument("--crl-size", type=int, default=1_000_000)
    p.add_argument("--renders", type=int, default=200)
    p.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "KONBINI_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    p.add_argument("--only", default=",".join(SECTIONS))
    p.add_argument("--profile", action="store_true")
    p.add_argument("--out", default=str(HERE / "results.json"))
    args = p.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")

    out = Path(args.out)
    existing: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    center: dict[str, Any] = dict(existing.get("center", {}))
    center["run"] = {
        "commit": _commit(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
    }
    work = Path(tempfile.mkdtemp(prefix="konbini-bench-"))
    try:
        for section in wanted:
            started = time.monotonic()
            print(f"-- {section} ...", file=sys.stderr, flush=True)
            if section == "pdf":
                center["pdf"] = pdf_render.measure(renders=args.renders)
            elif section == "floor":
                center["floor"] = floor.measure()
            elif section == "sqlite":
                url = f"sqlite:///{work / 'sqlite' / 'center.db'}"
                center["load_sqlite"] = _load_section("sqlite", url, args, work)
            elif section == "postgres":
                try:
                    url = create_postgres_database(args.postgres_url)
                except Exception as exc:  # no server: say so in the results, do not fail
                    center["load_postgres"] = {"skipped": f"PostgreSQL unreachable: {exc}"}
                    continue
                try:
                    center["load_postgres"] = _load_section("postgres", url, args, work)
                finally:
                    drop_postgres_database(url)
            elif section == "crl":
                center["crl"] = revocation.measure_crl(revoked=args.crl_size)
            print(f"   {section}: {time.monotonic() - started:.0f} s", file=sys.stderr)
            key = {"sqlite": "load_sqlite", "postgres": "load_postgres"}.get(section, section)
            if isinstance(center.get(key), dict):  # a partial rerun keeps others' provenance
                center[key]["commit"] = center["run"]["commit"]
            existing["center"] = center
            out.write_text(json.dumps(existing, indent=1, ensure_ascii=False) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor_ms = center.get("floor", {}).get("floor_cpu_ms_per_issuance")
    for key in ("load_sqlite", "load_postgres"):
        run = center.get(key)
        budget = cpu_budget(run, floor_ms) if isinstance(run, dict) else None
        if budget is not None and run is not None:
            run["cpu_budget"] = budget
    existing["center"] = center
    out.write_text(json.dumps(existing, indent=1, ensure_ascii=False) + "\n")
    print(table(center))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
