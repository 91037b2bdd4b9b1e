"""Throwaway PostgreSQL clusters for fault tests: initdb in a temporary directory, one port each.

The machine's shared cluster (port 5432) is never restarted or killed here: other suites use
it. Each fault that needs a database to die gets a cluster of its own, run as the `postgres`
user when the tests run as root (PostgreSQL refuses to run as root), listening on 127.0.0.1
only, with its socket in its own directory. `fsync=off` is safe for what is simulated here (a
process killed or stopped; the kernel still holds the data) and saves seconds per test.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
PG_STANDBY = REPO / "tools" / "pg_standby.sh"


def pg_bin_dir() -> Path | None:
    """Where initdb and pg_ctl live, or None when PostgreSQL is not installed."""
    env = os.environ.get("PG_BIN")
    candidates = [env] if env else []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout
        candidates.append(out.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    return None


def unavailable_reason() -> str | None:
    """Why throwaway clusters cannot run here, or None."""
    if pg_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run the cluster as"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def run_as_owner(argv: list[str], *, timeout: float = 120) -> str:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    done = subprocess.run(
        _as_owner(argv), capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass
class Cluster:
    """One PostgreSQL instance in `datadir`, listening on 127.0.0.1:`port`."""

    root: Path  # the temporary directory: data, log, socket
    datadir: Path
    port: int
    name: str = "east"
    _bin: Path = field(default_factory=lambda: pg_bin_dir() or Path("/nonexistent"))

    @property
    def log(self) -> Path:
        return self.root / f"{self.name}.log"

    def _pg_ctl(self, *args: str, timeout: float = 120) -> None:
        run_as_owner([str(self._bin / "pg_ctl"), "-D", str(self.datadir), *args], timeout=timeout)

    def start(self) -> None:
        self._pg_ctl("-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are terminated, a clean shutdown. `immediate`: a crash, as if the
        machine lost power for PostgreSQL (recovery from WAL at the next start)."""
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-l", str(self.log), "-w", "-t", "60", "restart")

    def running(self) -> bool:
        try:
            self._pg_ctl("status", timeout=10)
        except RuntimeError:
            return False
        return True

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=5"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def query(self, sql: str, dbname: str = "postgres") -> list[tuple[object, ...]]:
        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(sql)
            return list(cur.fetchall()) if cur.description is not None else []

    def wait_until_accepting(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.query("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def standby_script(self) -> Path:
        """tools/pg_standby.sh, copied beside the clusters: the postgres user runs it, and the
        checkout may sit where that user cannot read (a root-only temporary directory)."""
        script = self.root / PG_STANDBY.name
        if not script.exists():
            shutil.copyfile(PG_STANDBY, script)
            script.chmod(0o755)
        return script

    def clone_standby(self, name: str = "west") -> Cluster:
        """A streaming-replication standby of this cluster, made by tools/pg_standby.sh."""
        port = free_port()
        datadir = self.root / f"{name}-data"
        run_as_owner(
            [
                str(self.standby_script()),
                "clone",
                "--primary",
                f"127.0.0.1:{self.port}",
                "--datadir",
                str(datadir),
                "--port",
                str(port),
                "--name",
                name,
            ]
        )
        return Cluster(self.root, datadir, port, name)

    def require_sync(self, standby: Cluster) -> None:
        run_as_owner(
            [
                str(self.standby_script()),
                "require-sync",
                "--primary",
                f"127.0.0.1:{self.port}",
                "--name",
                standby.name,
            ]
        )

    def promote(self) -> None:
        run_as_owner([str(self.standby_script()), "promote", "--datadir", str(self.datadir)])


def new_cluster(name: str = "east") -> Cluster:
    """initdb a fresh cluster in a new temporary directory and start it."""
    bin_dir = pg_bin_dir()
    assert bin_dir is not None, unavailable_reason()
    root = Path(tempfile.mkdtemp(prefix="konbini-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    datadir = root / f"{name}-data"
    run_as_owner(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]
    )
    port = free_port()
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{root}'",
        "fsync": "off",
        "max_connections": "200",
        "wal_level": "replica",
        "max_wal_senders": "4",
        "max_replication_slots": "4",
        "log_min_messages": "warning",
    }
    conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
    run_as_owner(["sh", "-c", f"cat >> '{datadir}/postgresql.conf' <<'EOF'\n{conf}EOF\n"])
    cluster = Cluster(root, datadir, port, name)
    cluster.start()
    return cluster


def remove_cluster(*clusters: Cluster) -> None:
    """Stop every instance under the clusters' directories (standbys included) as a crash,
    nothing being worth keeping, and delete the directories."""
    bin_dir = pg_bin_dir()
    assert bin_dir is not None
    for root in {c.root for c in clusters}:
        for pid_file in root.glob("*/postmaster.pid"):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                run_as_owner(
                    [
                        str(bin_dir / "pg_ctl"),
                        "-D",
                        str(pid_file.parent),
                        "-m",
                        "immediate",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                    ],
                    timeout=60,
                )
        shutil.rmtree(root, ignore_errors=True)
