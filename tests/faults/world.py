"""The world a fault test runs in: a JPKI authority answering OCSP over HTTP, a seeded database
with kiosks of their own, and the center as a real subprocess (`python -m clients.cli serve`).

The center runs on the wall clock (it is another process), so the authority does too; the CA
material of the test PKI is valid for decades. Kiosks are named by the plaintext header (the
mTLS path is exercised by tests/integration); what is tested here is the books.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlmodel import Session

from clients.seeding import DEMO_OPERATORS, seed_municipality
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.card.credentials import CardCredentials
from server.common.clock import JST
from server.db.engine import make_engine, upgrade
from server.db.models import Kiosk

REPO = Path(__file__).resolve().parents[2]
CODE = "131016"


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass(frozen=True)
class Seeded:
    database_url: str
    kiosk_ids: tuple[str, ...]
    cards: tuple[CardCredentials, ...]  # residents who may get their own 住民票 at a kiosk


def seed(
    database_url: str, authority: JpkiAuthority, *, kiosks: int, households: int = 8
) -> Seeded:
    """Schema, one municipality with cards, and `kiosks` terminals of its own."""
    now = datetime.now(UTC)
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        seeded = seed_municipality(
            engine,
            authority,
            seed=11,
            households=households,
            today=now.astimezone(JST).date(),
            now=now,
            code=CODE,
        )
        ids = []
        with Session(engine) as db:
            for n in range(kiosks):
                operator_id, operator_name = DEMO_OPERATORS[n % len(DEMO_OPERATORS)]
                kiosk_id = f"FK{CODE}{n:02d}"
                db.add(
                    Kiosk(
                        kiosk_id=kiosk_id,
                        operator_id=operator_id,
                        store_name=f"{operator_name} 障害試験{n}号店",
                        municipality_code=CODE,
                    )
                )
                ids.append(kiosk_id)
            db.commit()
    finally:
        engine.dispose()
    suppressed = {r.household_id for r in seeded.residents if r.suppressed}
    cards = tuple(
        seeded.cards[r.resident_id]
        for r in seeded.residents
        if r.resident_id in seeded.cards and r.household_id not in suppressed
    )
    assert cards, "the seeded municipality has no resident who can use a kiosk"
    return Seeded(database_url, tuple(ids), cards)


def write_anchor(authority: JpkiAuthority, directory: Path) -> Path:
    path = directory / "auth-ca.der"
    path.write_bytes(authority.auth_ca_cert.public_bytes(serialization.Encoding.DER))
    return path


@dataclass
class CenterProcess:
    """The issuance center as a subprocess on a fixed port, to be killed and started again."""

    database_url: str
    trust_anchor: Path
    authority_url: str
    port: int
    workdir: Path
    settings: Mapping[str, str] = field(default_factory=dict)  # more KONBINI_* variables
    starts: int = 0
    kills: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "center.log"

    def start(self, **settings: str) -> None:
        """Start (after a kill or a stop) and wait until it answers health checks."""
        assert self._proc is None or self._proc.poll() is not None, "already running"
        port_file = self.workdir / "center.port"
        port_file.unlink(missing_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "protos")]),
            "KONBINI_DATABASE_URL": self.database_url,
            "KONBINI_TRUST_ANCHOR": str(self.trust_anchor),
            "KONBINI_AUTHORITY_URL": self.authority_url,
            "KONBINI_PORT": str(self.port),
            "KONBINI_KIOSK_HOURS": "00:00-24:00",  # the run may happen at any hour
            "KONBINI_WORKERS": "8",
            "KONBINI_EREVIEW_CLIENTS": str(self.workdir / "ereview-clients.json"),
            "KONBINI_INSECURE": "1",  # plaintext loopback, kiosks named by a header
            **self.settings,
            **settings,
        }
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts + 1}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "clients.cli", "serve", "--port-file", str(port_file)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C of pytest is not its business
                preexec_fn=_die_with_parent,  # but a killed test run takes it along
            )
        self.starts += 1
        deadline = time.monotonic() + 120
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._proc.poll() is not None:
                raise RuntimeError(f"the center exited with {self._proc.returncode}; {self.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the center did not start; see {self.log}")
            time.sleep(0.05)
        with grpc.insecure_channel(self.target) as channel:
            health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=30, wait_for_ready=True
            )

    def kill(self) -> None:
        """SIGKILL: no drain, no cleanup, whatever was in flight is cut."""
        proc = self._proc
        assert proc is not None and proc.poll() is None, "not running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        self.kills += 1

    def stop(self) -> None:
        """SIGTERM, as an operator would; SIGKILL if it does not stop in time."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
