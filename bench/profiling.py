"""Where the CPU goes: py-spy over the center's workers, and CPU per session on both sides.

`py-spy record --format raw` writes one line per distinct stack with its sample count; the
summary lists where the samples are (own time, by function) and which functions they pass
through (inclusive time), which is what "what limited it" needs.

`session_cpu` (`python -m bench.profiling`) is the repeatable figure for framework overhead:
CPU time of one center worker and of the load generator per complete kiosk session, split
by the worker's threads, with no load run's contention for the two cores in it:

    python -m bench.profiling --sessions 400 --kiosks 2          # SQLite
    python -m bench.profiling --kiosks 16 --pool 4               # 16 kiosks, 4 gRPC threads
    KONBINI_GC_THRESHOLD=0 python -m bench.profiling             # Python's own GC settings
    python -m bench.profiling --spy var/worker.raw               # and where (py-spy)
    python -m bench.profiling --client-spy var/load.raw          # where the load's CPU goes
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def start(pid: int, out: Path, seconds: float, rate: int = 97) -> subprocess.Popen[bytes] | None:
    """Sample `pid` (and its native frames off) for `seconds`; None when py-spy is missing."""
    beside = Path(sys.executable).parent / "py-spy"  # installed into the venv by pip
    exe = str(beside) if beside.exists() else shutil.which("py-spy")
    if exe is None:
        return None
    return subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    file = m["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m['func']} ({file})"


def summarise(paths: list[Path], top: int = 15) -> dict[str, object]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [_short(f) for f in stack.split(";") if f.strip()]
            # The idle gRPC pool threads wait in C; py-spy --idle is off, so they are absent.
            if not frames:
                continue
            total += n
            own[frames[-1]] += n
            for f in set(frames):
                inclusive[f] += n
    if not total:
        return {"samples": 0}

    def share(c: Counter[str]) -> list[str]:
        return [f"{100 * v / total:5.1f}%  {k}" for k, v in c.most_common(top)]

    return {"samples": total, "own": share(own), "inclusive": share(inclusive)}


def _worker_processes(center_pid: int) -> list[Any]:
    import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]

    center = psutil.Process(center_pid)
    return [p for p in center.children() if "spawn_main" in " ".join(p.cmdline())]


def _thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of `pid` by its kernel name and id (/proc, clock ticks)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[f"{comm}/{tid}"] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _cpu_s(procs: list[Any]) -> float:
    total = 0.0
    for p in procs:
        t = p.cpu_times()
        total += t.user + t.system
    return float(total)


def session_cpu(
    *,
    sessions: int = 200,
    kiosks: int = 2,
    database_url: str | None = None,
    spy: Path | None = None,
    pool: int = 16,
    client_spy: Path | None = None,
) -> dict[str, Any]:
    """CPU per complete kiosk session on both sides of the wire, on a quiet or a busy machine.

    One center worker process (as `bench.stack` runs it) and the authority; `kiosks` threads
    of this process run `sessions` sessions in all, back to back, after a warm-up. The center
    worker's and this process's CPU time (user + system) over them, divided by the sessions:
    CPU time, not wall time, so the neighbours' load moves it little. With `spy`, py-spy
    records the center worker into that raw file meanwhile; with `client_spy`, this process
    (the kiosks, the emulated cards and printers, grpc's threads).
    """
    import os
    import random
    import tempfile
    import threading
    import time

    from bench.stack import Stack, prepare
    from load.scenario import Kiosk, kiosk_channel, split

    with tempfile.TemporaryDirectory(prefix="konbini-cpu-") as tmp:
        state = Path(tmp)
        url = database_url or f"sqlite:///{state / 'center.db'}"
        prepared = prepare(state, url, households=20, kiosks=max(2, kiosks), bcl_residents=0)
        manifest = prepared.manifest
        with Stack(prepared, processes=1, workers_per_process=pool) as stack:
            assert stack.center is not None and stack.authority is not None
            workers = _worker_processes(stack.center.pid)
            built = [
                Kiosk(kid, kiosk_channel(stack.target), manifest, share)
                for kid, share in zip(
                    manifest.kiosk_ids, split(manifest.residents, kiosks), strict=False
                )
            ]
            for kiosk in built:
                kiosk.insert_all_cards()
            outcomes: list[str] = []
            errors: Counter[str] = Counter()
            lock = threading.Lock()

            def run(kiosk: Kiosk, n: int, count: int) -> None:
                rng = random.Random(n)
                for _ in range(count):
                    r = kiosk.session(rng)
                    with lock:
                        outcomes.append(r.outcome.value)
                        if not r.expected:
                            errors[r.error[:120]] += 1

            def all_run(per_kiosk: int) -> None:
                threads = [
                    threading.Thread(target=run, args=(k, n, per_kiosk))
                    for n, k in enumerate(built)
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

            all_run(5)  # warm-up: connections, caches, first renders
            outcomes.clear()
            per_kiosk = max(1, sessions // kiosks)
            proc = start(workers[0].pid, spy, 3600) if spy else None
            client_proc = start(os.getpid(), client_spy, 3600) if client_spy else None
            threads0 = _thread_cpu(workers[0].pid)
            client_threads0 = _thread_cpu(os.getpid())
            center0, client0, wall0 = _cpu_s(workers), time.process_time(), time.monotonic()
            all_run(per_kiosk)
            center1, client1, wall1 = _cpu_s(workers), time.process_time(), time.monotonic()
            threads1 = _thread_cpu(workers[0].pid)
            client_threads1 = _thread_cpu(os.getpid())
            for recorder in (proc, client_proc):
                if recorder is not None:
                    recorder.send_signal(2)  # SIGINT: py-spy writes what it has
                    recorder.wait(60)
            for kiosk in built:
                kiosk.channel.close()
    n = len(outcomes)
    return {
        "sessions": n,
        "issued": outcomes.count("issued"),
        "errors": dict(errors),
        "kiosks": kiosks,
        "center_cpu_ms_per_session": round(1e3 * (center1 - center0) / n, 2),
        "client_cpu_ms_per_session": round(1e3 * (client1 - client0) / n, 2),
        "wall_ms_per_session": round(1e3 * (wall1 - wall0) / n, 1),
        # The worker's threads by kernel name (gRPC's pool threads are all "python3"; its
        # poller and C-core threads have their own names): ms per session, busiest first.
        "center_threads_ms_per_session": _per_thread(threads0, threads1, n),
        # The load generator's threads that outlive the run: grpc's own ("event_engine",
        # which read the responses off the sockets, and timers) and this one. The kiosk
        # threads, and any thread grpc starts per call, have ended: they are only in the total.
        "client_threads_ms_per_session": _per_thread(client_threads0, client_threads1, n),
    }


def _per_thread(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    spent = ((name, round(1e3 * (t - before.get(name, 0.0)) / n, 2)) for name, t in after.items())
    return dict(sorted(((k, v) for k, v in spent if v > 0), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m bench.profiling", description=session_cpu.__doc__)
    p.add_argument("--sessions", type=int, default=200)
    p.add_argument("--kiosks", type=int, default=2)
    p.add_argument("--database-url", help="default: SQLite in a temporary directory")
    p.add_argument("--pool", type=int, default=16, help="the center's gRPC threads")
    p.add_argument("--spy", type=Path, help="py-spy raw output of the center worker")
    p.add_argument("--client-spy", type=Path, help="py-spy raw output of the load generator")
    args = p.parse_args(argv)
    result = session_cpu(
        sessions=args.sessions,
        kiosks=args.kiosks,
        database_url=args.database_url,
        spy=args.spy,
        pool=args.pool,
        client_spy=args.client_spy,
    )
    if args.spy:
        result["profile"] = summarise([args.spy], top=25)
    if args.client_spy:
        result["client_profile"] = summarise([args.client_spy], top=25)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
