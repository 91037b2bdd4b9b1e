"""How many SQL statements and transactions one complete kiosk session costs the center.

A diagnostic beside the load figures: the profiles put most of the center's overhead in the
database layer, and this says how many round trips that is. A center is built in this process
with `create_server` on the stack's database and authority, the engine's statement and
transaction events are counted, and sessions of the usual mix run against it one at a time.
Sessions run one at a time, so the statements between the end of one RPC and the end of the
next belong to that RPC: `per_rpc` splits the session's cost by method.

    python -m bench.sql_count                       # SQLite, 40 sessions
    python -m bench.sql_count --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
        # a fresh database on that server, dropped afterwards
    python -m bench.sql_count --trace               # also print one session's statements
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bench.stack import (
    Prepared,
    Stack,
    create_postgres_database,
    drop_postgres_database,
    prepare,
)
from hardware_sim.authority.ca import AUTH_CA_CERT_FILE
from load.scenario import Kiosk, kiosk_channel
from server.app import create_server
from server.config import ServerConfig


def measure(
    stack: Stack, prepared: Prepared, *, sessions: int = 40, trace: bool = False
) -> dict[str, Any]:
    config = ServerConfig(
        trust_anchor_path=prepared.state / "authority" / AUTH_CA_CERT_FILE,
        authority_url=stack.authority_url,
        database_url=prepared.database_url,
        port=0,
        revocation_mode=stack.revocation,  # type: ignore[arg-type]
    )
    if "kiosk_hours" in ServerConfig.__dataclass_fields__:
        config = replace(config, kiosk_hours="00:00-24:00")
    if "insecure" in ServerConfig.__dataclass_fields__:  # plaintext, kiosks named by a header
        config = replace(config, insecure=True)
    center = create_server(config)
    counts: Counter[str] = Counter()
    pending: Counter[str] = Counter()  # since the last RPC ended
    per_rpc: Counter[str] = Counter()
    lines: list[str] = []

    def on_statement(_conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        counts[verb] += 1
        counts["statements"] += 1
        pending["statements"] += 1
        if statement.startswith("BEGIN IMMEDIATE"):  # SQLite: a transaction that may write
            counts["write_transactions"] += 1
            pending["write_transactions"] += 1
        if trace:
            lines.append("    " + " ".join(statement.split())[:160])

    def on_begin(_conn: Connection) -> None:
        counts["transactions"] += 1
        pending["transactions"] += 1
        if trace:
            lines.append("    -- begin")

    cpu_mark = [_rpc_thread_cpu()]

    def on_rpc(method: str, _ms: float, _size: int, _exc: BaseException | None) -> None:
        name = method.rsplit("/", 1)[-1]
        per_rpc[f"{name} calls"] += 1
        now_cpu = _rpc_thread_cpu()
        spent = sum(t - cpu_mark[0].get(i, 0.0) for i, t in now_cpu.items())
        per_rpc[f"{name} cpu_us"] += round(spent * 1e6)
        cpu_mark[0] = now_cpu
        for key, value in pending.items():
            per_rpc[f"{name} {key}"] += value
        pending.clear()
        if trace:
            lines.append(f"  ^ {name}")

    sa.event.listen(center.engine, "after_cursor_execute", on_statement)
    sa.event.listen(center.engine, "begin", on_begin)
    center.server.start()
    manifest = prepared.manifest
    channel = kiosk_channel(f"127.0.0.1:{center.port}", on_rpc)
    try:
        kiosk = Kiosk(manifest.kiosk_ids[-1], channel, manifest, manifest.residents[:50])
        rng = random.Random(3)
        kiosk.session(rng)  # warm (first connection, caches)
        counts.clear()
        per_rpc.clear()
        pending.clear()
        issued = 0
        cpu_before = _rpc_thread_cpu()
        for n in range(sessions):
            if n == 1:
                trace = False
            issued += kiosk.session(rng).outcome.value == "issued"
        cpu_after = _rpc_thread_cpu()
    finally:
        channel.close()
        center.server.stop(grace=None).wait()
        center.engine.dispose()
    if lines:
        print("\n".join(lines), file=sys.stderr)
    per = {k: round(v / sessions, 1) for k, v in sorted(counts.items())}
    rpcs = {
        k.replace("cpu_us", "cpu_ms"): round(v / sessions / (1e3 if k.endswith("cpu_us") else 1), 2)
        for k, v in sorted(per_rpc.items())
    }
    cpu_s = sum(t - cpu_before.get(i, 0.0) for i, t in cpu_after.items())
    return {
        "sessions": sessions,
        "issued": issued,
        # CPU of the center's RPC threads only (not the emulated kiosk in this process): one
        # session at a time, so no lock waits and no neighbours' load in it.
        "rpc_thread_cpu_ms_per_session": round(cpu_s * 1e3 / sessions, 1),
        "per_session": per,
        "per_rpc": rpcs,
    }


def _rpc_thread_cpu() -> dict[int, float]:
    """CPU seconds so far of each gRPC pool thread of this process (`rpc` name prefix)."""
    ids = {t.native_id for t in threading.enumerate() if t.name.startswith("rpc")}
    return {t.id: t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ids}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sql_count", description=__doc__)
    p.add_argument("--database-url", help="default: SQLite in a temporary directory")
    p.add_argument("--postgres", metavar="ADMIN_URL", help="a fresh database on this server")
    p.add_argument("--sessions", type=int, default=40)
    p.add_argument("--households", type=int, default=20, help="per municipality (3 of them)")
    p.add_argument("--revocation", choices=["ocsp", "crl"], default="ocsp")
    p.add_argument("--trace", action="store_true", help="print the first session's statements")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="konbini-sqlcount-") as tmp:
        state = Path(tmp)
        url = args.database_url or f"sqlite:///{state / 'center.db'}"
        if args.postgres:
            url = create_postgres_database(args.postgres)
        try:
            prepared = prepare(state, url, households=args.households, kiosks=2)
            with Stack(prepared, processes=1, revocation=args.revocation) as stack:
                result = measure(stack, prepared, sessions=args.sessions, trace=args.trace)
        finally:
            if args.postgres:
                drop_postgres_database(url)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
