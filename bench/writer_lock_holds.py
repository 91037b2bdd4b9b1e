"""How long each RPC's write transactions hold the SQLite writer lock, p50 and p99.

All SQLite writers of the center take turns on one lock (`server.db.engine._WriterLock`), so
the time a write holds it bounds issuances per second whatever the cores. This runs
`bench.sql_count.measure` (an in-process center, kiosk sessions one at a time) with the
engine's opt-in recorder on (`record_writer_lock_holds`); sessions run one at a time, so the
holds between the end of one RPC and the end of the next belong to that RPC, and no hold
includes a wait for another writer or a neighbour's CPU in this process.

    python -m bench.writer_lock_holds --sessions 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import bench.sql_count as sql_count
from bench.stack import Stack, prepare
from server.db.engine import record_writer_lock_holds


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(stack: Stack, prepared: Any, *, sessions: int) -> dict[str, Any]:
    guard = threading.Lock()
    pending: list[float] = []
    holds: defaultdict[str, list[float]] = defaultdict(list)  # RPC -> hold of each write
    per_call: defaultdict[str, list[float]] = defaultdict(list)  # RPC -> sum of its holds
    kiosk_channel = getattr(sql_count, "kiosk_channel")  # noqa: B009 (not re-exported)

    def on_hold(seconds: float) -> None:
        with guard:
            pending.append(seconds)

    # Until the warm-up session's last call (EndSession, or the print report that ended it):
    # its holds are dropped.
    warm = [True]

    def channel(target: str, on_rpc: Any) -> Any:
        def on_rpc_with_holds(method: str, *args: Any) -> None:
            with guard:
                taken = pending[:]
                pending.clear()
            name = method.rsplit("/", 1)[-1]
            if warm[0]:
                warm[0] = name not in ("EndSession", "ReportPrintResult")
                on_rpc(method, *args)
                return
            holds[name].extend(taken)
            per_call[name].append(sum(taken))
            on_rpc(method, *args)

        return kiosk_channel(target, on_rpc_with_holds)

    setattr(sql_count, "kiosk_channel", channel)  # noqa: B010
    record_writer_lock_holds(on_hold)
    try:
        result = sql_count.measure(stack, prepared, sessions=sessions)
    finally:
        record_writer_lock_holds(None)
        setattr(sql_count, "kiosk_channel", kiosk_channel)  # noqa: B010
    out: dict[str, Any] = {}
    for name in sorted(per_call):
        writes = holds[name]
        row: dict[str, Any] = {"calls": len(per_call[name]), "writes": len(writes)}
        if writes:
            ms = [s * 1e3 for s in writes]
            row |= {
                "hold_ms_p50": round(statistics.median(ms), 3),
                "hold_ms_p99": round(_percentile(ms, 0.99), 3),
                "hold_ms_mean": round(statistics.fmean(ms), 3),
                "held_ms_per_call": round(sum(ms) / len(per_call[name]), 3),
            }
        out[name] = row
    total = sum(sum(v) for v in holds.values()) * 1e3
    return {
        "sessions": sessions,
        "issued": result["issued"],
        "held_ms_per_session": round(total / sessions, 2),
        "per_rpc": out,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.writer_lock_holds", description=__doc__)
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--households", type=int, default=20, help="per municipality (3 of them)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="konbini-holds-") as tmp:
        state = Path(tmp)
        prepared = prepare(
            state, f"sqlite:///{state / 'center.db'}", households=args.households, kiosks=2
        )
        with Stack(prepared, processes=1) as stack:
            result = measure(stack, prepared, sessions=args.sessions)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
