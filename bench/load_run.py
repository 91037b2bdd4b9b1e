"""Complete kiosk sessions against a running center: throughput, latency, errors, CPU, memory.

The load generator runs on the same machine as the center and the authority (its CPU counts
against the same two cores). It is `processes` spawned processes with `concurrency` kiosks in
all, each kiosk a thread with its own connection, printer and share of the cards, running
`load.scenario.Kiosk.session` back to back (a closed loop: a kiosk starts its next visit when
the last one ended). Every card is personalised (its key parsed) before the clock starts: a
card exists before a visit. All processes then start together; the first `warmup_s` are not
counted, then `duration_s` are. Counted sessions are those that ended inside the window.

CPU: user+system time of the center's worker processes over the window, divided by the copies
issued in it (`server_cpu_ms_per_issuance`); the authority's and the load generator's too, so
nothing is hidden. Memory: the center's workers' resident set, sampled, and each worker's
kernel-recorded peak (VmHWM).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import random
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]

from bench import profiling
from bench.report import quantile
from bench.stack import Stack
from load.scenario import Kiosk, Manifest, Mix, kiosk_channel, split


@dataclass(frozen=True)
class LoadSettings:
    concurrency: int = 16
    duration_s: float = 30.0
    warmup_s: float = 5.0
    processes: int = 2  # load-generator processes
    seed: int = 1

    def __post_init__(self) -> None:
        if self.concurrency < self.processes or self.processes < 1:
            raise ValueError("need at least one kiosk per load process")
        if self.duration_s <= 0 or self.warmup_s < 0:
            raise ValueError("duration must be positive, warm-up not negative")


Record = tuple[float, float, str, str, bool, str]  # ended_at, ms, outcome, injected, ok, error


def _generator(
    target: str,
    manifest_dir: str,
    kiosks: list[tuple[str, list[int]]],
    schedule: Any,  # multiprocessing Array('d', [start_at, stop_at]); 0 until all are ready
    seed: int,
    ready: Any,
    out: Any,
) -> None:
    """One load process: a thread per kiosk, records sent back when the run is over."""
    manifest = Manifest.load(Path(manifest_dir))
    records: list[Record] = []
    lock = threading.Lock()
    built = [
        Kiosk(kid, kiosk_channel(target), manifest, [manifest.residents[i] for i in share], Mix())
        for kid, share in kiosks
    ]
    for kiosk in built:
        kiosk.insert_all_cards()
    ready.put(len(built))

    def run(kiosk: Kiosk, n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        mine: list[Record] = []
        while schedule[0] == 0.0 or time.time() < schedule[0]:
            time.sleep(0.01)
        stop_at = schedule[1]
        while time.time() < stop_at:
            try:
                result = kiosk.session(rng)
                mine.append(
                    (
                        time.time(),
                        result.elapsed_ms,
                        result.outcome.value,
                        result.injected,
                        result.expected,
                        result.error,
                    )
                )
            except Exception as exc:  # a bug in the client must show as an error, not hang
                mine.append((time.time(), 0.0, "exception", "", False, repr(exc)))
        kiosk.channel.close()
        with lock:
            records.extend(mine)

    threads = [
        threading.Thread(target=run, args=(kiosk, n), daemon=True) for n, kiosk in enumerate(built)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(records)


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has spent not idle (all processes, all cores)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def _database_processes() -> list[psutil.Process]:
    """PostgreSQL's backends on this machine (none for SQLite, which runs in the workers)."""
    out = []
    for p in psutil.process_iter(["name"]):
        if p.info["name"] in ("postgres", "postmaster"):
            out.append(p)
    return out


def _peak_rss_mb(proc: psutil.Process) -> float:
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_load(
    stack: Stack, manifest: Manifest, settings: LoadSettings, *, profile_dir: Path | None = None
) -> dict[str, Any]:
    """Run the load against a started stack; returns the figures (see the module doc).

    With `profile_dir`, py-spy samples every center worker during the counted window.
    """
    assert stack.center is not None and stack.authority is not None
    center = psutil.Process(stack.center.pid)
    # The spawned workers, not multiprocessing's resource tracker (also a child).
    workers = [p for p in center.children() if "spawn_main" in " ".join(p.cmdline())]
    authority = psutil.Process(stack.authority.pid)
    kiosk_ids = manifest.kiosk_ids
    if settings.concurrency > len(kiosk_ids):
        raise ValueError(f"only {len(kiosk_ids)} kiosk terminals are registered")
    index = {r: i for i, r in enumerate(manifest.residents)}
    shares = split(manifest.residents, settings.concurrency)
    per_process: list[list[tuple[str, list[int]]]] = [[] for _ in range(settings.processes)]
    for n, share in enumerate(shares):
        per_process[n % settings.processes].append((kiosk_ids[n], [index[r] for r in share]))

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    ready = ctx.Queue()
    schedule = ctx.Array("d", [0.0, 0.0])
    gens = [
        ctx.Process(
            target=_generator,
            args=(
                stack.target,
                str(manifest.directory),
                kiosks,
                schedule,
                settings.seed + i,
                ready,
                queue,
            ),
            daemon=True,
        )
        for i, kiosks in enumerate(per_process)
    ]
    for g in gens:
        g.start()
    gen_procs = [psutil.Process(g.pid) for g in gens if g.pid is not None]
    for _ in gens:  # every card personalised and every kiosk built before the clock starts
        ready.get(timeout=600)
    start_at = time.time() + 1.0
    window_start = start_at + settings.warmup_s
    window_end = window_start + settings.duration_s
    schedule[1] = window_end
    schedule[0] = start_at

    rss_samples: list[float] = []

    def sample_rss() -> None:
        total = 0.0
        for w in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += w.memory_info().rss
        rss_samples.append(total / 2**20)

    while time.time() < window_start:
        sample_rss()
        time.sleep(0.25)
    cpu0 = (_cpu(workers), _cpu([authority]), _cpu(gen_procs), time.time())
    machine0, db0 = _machine_busy_s(), _cpu(_database_processes())
    spies = []
    profiles: list[Path] = []
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        for i, w in enumerate(workers):
            out = profile_dir / f"center-worker{i}.raw"
            spy = profiling.start(w.pid, out, settings.duration_s)
            if spy is not None:
                spies.append(spy)
                profiles.append(out)
    while time.time() < window_end:
        sample_rss()
        time.sleep(0.25)
    cpu1 = (_cpu(workers), _cpu([authority]), _cpu(gen_procs), time.time())
    machine1, db1 = _machine_busy_s(), _cpu(_database_processes())
    records: list[Record] = []
    for _ in gens:
        records.extend(queue.get(timeout=120))
    for g in gens:
        g.join(30)
    for spy in spies:
        spy.wait(60)

    window = cpu1[3] - cpu0[3]
    counted = [r for r in records if window_start <= r[0] <= window_end]
    issued = [r for r in counted if r[2] == "issued"]
    errors = [r for r in counted if not r[4]]
    latencies = sorted(r[1] for r in issued)
    outcomes = Counter(r[2] for r in counted)
    injected = Counter(r[3] for r in counted if r[3])
    server_cpu_s = cpu1[0] - cpu0[0]
    return {
        "concurrency": settings.concurrency,
        "duration_s": settings.duration_s,
        "warmup_s": settings.warmup_s,
        "center_processes": len(workers),
        "load_processes": settings.processes,
        "sessions": len(counted),
        "issued": len(issued),
        "issuances_per_s": round(len(issued) / window, 2),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(quantile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "errors": len(errors),
        "error_examples": sorted({r[5] for r in errors})[:5],
        "outcomes": dict(outcomes),
        "injected": dict(injected),
        "server_cpu_ms_per_issuance": round(1e3 * server_cpu_s / max(1, len(issued)), 2),
        "server_cpu_utilisation_cores": round(server_cpu_s / window, 2),
        "authority_cpu_ms_per_issuance": round(1e3 * (cpu1[1] - cpu0[1]) / max(1, len(issued)), 2),
        "loadgen_cpu_ms_per_session": round(1e3 * (cpu1[2] - cpu0[2]) / max(1, len(counted)), 2),
        "database_server_cpu_ms_per_issuance": round(1e3 * (db1 - db0) / max(1, len(issued)), 2),
        "machine_busy_cores": round((machine1 - machine0) / window, 2),
        # What other programs on this shared machine took meanwhile (py-spy included).
        "others_busy_cores": round(
            (
                (machine1 - machine0)
                - (cpu1[0] - cpu0[0])
                - (cpu1[1] - cpu0[1])
                - (cpu1[2] - cpu0[2])
                - (db1 - db0)
            )
            / window,
            2,
        ),
        "machine_cores": psutil.cpu_count(),
        "server_rss_mb_peak_sampled": round(max(rss_samples), 1) if rss_samples else None,
        "server_rss_mb_peak_per_worker": [round(_peak_rss_mb(w), 1) for w in workers],
        **({"profile": profiling.summarise(profiles)} if profiles else {}),
    }
