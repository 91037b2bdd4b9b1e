"""Several issuance-center processes on one port, so that one machine uses all its cores.

CPython runs one thread of Python at a time, so one server process keeps one core busy however
many gRPC threads it has. `serve_processes(config, n)` starts `n` worker processes; each builds
its own center with `create_server` (its own database engine, renderer and revocation checker)
and binds the same host and port with SO_REUSEPORT, and the kernel spreads incoming connections
over them. Workers share nothing but the database, exactly like centers on several machines
behind a load balancer: the scale-out path is more processes here, then more machines on one
PostgreSQL (docs/performance.md).

The parent only supervises: it runs the migrations once before any worker starts, restarts a
worker that dies (a few times a minute at most, then gives up and stops the rest), and passes
SIGTERM/SIGINT on to every worker, which drain and stop as `serve` does. Worker 0 alone runs
the expiry sweeper. A SIGKILLed parent takes its workers along (`die_with_parent`). Workers are
spawned, not forked: gRPC's core must not be forked once started.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing as mp
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path

from server.config import ServerConfig

log = logging.getLogger(__name__)

RESTARTS_PER_MINUTE = 5
STOP_GRACE_S = 10.0


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def reserved_port(host: str, port: int) -> Iterator[int]:
    """Hold `port` (0: a free one) with SO_REUSEPORT until the workers have bound it.

    The socket never listens, so it takes no connections; holding it keeps another program
    from taking a port 0 pick between choosing it and the workers binding it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        yield int(sock.getsockname()[1])


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when its parent dies (Linux).

    A supervisor that is SIGKILLed runs no cleanup, so without this its workers would keep
    serving as orphans, holding the port. SIGKILL, because a killed supervisor means a killed
    center: the workers go the same way, as a single-process center would. The parent may
    already have died before this call; then the signal never comes, so check and exit.
    (The kernel signals on the exit of the parent *thread* that started the worker:
    `serve_processes` starts and restarts workers from the thread that called it.)
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        log.warning("cannot ask to die with the supervisor; a killed supervisor leaves workers")
        return
    if os.getppid() != parent_pid:
        os._exit(1)


def _worker(config: ServerConfig, index: int, port_file: str, parent_pid: int) -> None:
    """Entry point of one worker process: a whole center, stopped by SIGTERM."""
    die_with_parent(parent_pid)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s w{index} %(name)s: %(message)s",
    )
    for noisy in ("alembic", "fontTools"):  # fontTools logs every subset at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from server import app

    # One expiry sweeper is enough for the whole center: worker 0 (and its restarts) runs it.
    # The supervisor has migrated the database before starting any worker.
    app.serve(config, port_file=port_file, reuse_port=True, sweep=index == 0, migrate=False)


@dataclasses.dataclass
class _Slot:
    index: int
    process: BaseProcess
    port_file: Path
    restarts: list[float] = dataclasses.field(default_factory=list)


def serve_processes(
    config: ServerConfig,
    processes: int,
    *,
    port_file: str | None = None,
    ready: Callable[[int], None] | None = None,
) -> int:
    """Run `processes` workers on `config.host:config.port` until SIGTERM/SIGINT; exit code.

    `ready(port)` is called (and `port_file` written) once every worker listens.
    """
    if processes < 1:
        raise ValueError("processes must be at least 1")
    from server.db.engine import make_engine, upgrade

    engine = make_engine(config.database_url)
    try:
        upgrade(engine)  # once, before any worker: concurrent migrations would race
    finally:
        engine.dispose()

    ctx = mp.get_context("spawn")
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda _s, _f: stop.set())
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    tmp = tempfile.TemporaryDirectory(prefix="konbini-workers-")
    slots: list[_Slot] = []
    failed = False
    try:
        with contextlib.ExitStack() as held:
            port = held.enter_context(reserved_port(config.host, config.port))
            shared = dataclasses.replace(config, port=port)
            if config.tls and shared.effective_api_port == 0:  # every worker picks the same one
                api_port = held.enter_context(reserved_port(config.host, 0))
                shared = dataclasses.replace(shared, api_port=api_port)

            def start(index: int) -> _Slot:
                ready_file = Path(tmp.name) / f"worker-{index}.port"
                ready_file.unlink(missing_ok=True)
                proc = ctx.Process(
                    target=_worker,
                    args=(shared, index, str(ready_file), os.getpid()),
                    name=f"konbini-center-{index}",
                    daemon=False,
                )
                proc.start()
                return _Slot(index, proc, ready_file)

            slots = [start(i) for i in range(processes)]
            _wait_ready(slots, stop)
        if stop.is_set():
            return 0
        log.info("%d issuance-center workers listening on %s:%d", processes, config.host, port)
        if port_file:
            Path(port_file).write_text(str(port))
        if ready is not None:
            ready(port)
        while not stop.wait(0.5):
            for i, slot in enumerate(slots):
                if slot.process.is_alive():
                    continue
                now = time.monotonic()
                slot.restarts = [t for t in slot.restarts if now - t < 60] + [now]
                log.error("worker %d exited with %s; restarting", slot.index, slot.process.exitcode)
                if len(slot.restarts) > RESTARTS_PER_MINUTE:
                    log.error("worker %d keeps dying; stopping the center", slot.index)
                    failed = True
                    stop.set()
                    break
                history = slot.restarts
                slots[i] = start(slot.index)
                slots[i].restarts = history
        return 1 if failed else 0
    finally:
        _stop_all(slots)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        tmp.cleanup()


def _wait_ready(slots: list[_Slot], stop: threading.Event, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        if all(s.port_file.exists() and s.port_file.read_text().strip() for s in slots):
            return
        dead = [s.index for s in slots if not s.process.is_alive()]
        if dead:
            raise RuntimeError(f"worker(s) {dead} exited during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not start listening in time")
        time.sleep(0.05)


def _stop_all(slots: list[_Slot]) -> None:
    """SIGTERM to every worker, then wait; SIGKILL whoever is still there after the grace."""
    for slot in slots:
        if slot.process.is_alive() and slot.process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for slot in slots:
        slot.process.join(max(0.0, deadline - time.monotonic()))
        if slot.process.is_alive():
            log.warning("worker %d did not stop in time; killing it", slot.index)
            slot.process.kill()
            slot.process.join(5)


def main(argv: list[str] | None = None) -> int:
    """`python -m server.multiproc --processes N`: settings from KONBINI_* as for `serve`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m server.multiproc", description=__doc__)
    parser.add_argument("--processes", type=int, default=available_cores())
    parser.add_argument("--port", type=int)
    parser.add_argument("--port-file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = ServerConfig.from_env(port=args.port)
    return serve_processes(config, args.processes, port_file=args.port_file)


if __name__ == "__main__":
    raise SystemExit(main())
