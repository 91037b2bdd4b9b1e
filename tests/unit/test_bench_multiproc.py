"""server/multiproc.py: N centers on one port, supervised, stopped by SIGTERM (as processes)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.common.clock import system_clock
from server.multiproc import reserved_port
from tests.pki import test_authority

REPO = Path(__file__).resolve().parents[2]


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.05)
    raise TimeoutError(path)


def test_a_reserved_port_can_be_shared_by_reuse_port_sockets() -> None:
    with reserved_port("127.0.0.1", 0) as port, socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", port))
        other.listen()
        assert other.getsockname()[1] == port


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is Linux and BSD")
def test_two_workers_serve_one_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    authority = test_authority(system_clock)
    anchor = tmp_path / "auth-ca.pem"
    anchor.write_bytes(authority.auth_ca_cert.public_bytes(serialization.Encoding.PEM))
    port_file = tmp_path / "port"
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'protos'}",
        "KONBINI_DATABASE_URL": f"sqlite:///{tmp_path / 'center.db'}",
        "KONBINI_TRUST_ANCHOR": str(anchor),
        "KONBINI_AUTHORITY_URL": "http://127.0.0.1:9",
        "KONBINI_PORT": "0",
        "KONBINI_WORKERS": "2",
        "KONBINI_INSECURE": "1",  # plaintext on loopback (the demo mode)
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.multiproc",
            "--processes",
            "2",
            "--port-file",
            str(port_file),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        port = _wait_for(port_file, proc)
        # Several connections (one per channel, not shared): every one is served.
        for _ in range(4):
            with grpc.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
            ) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=10
                )
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _center_env(tmp_path: Path) -> dict[str, str]:
    authority = test_authority(system_clock)
    anchor = tmp_path / "auth-ca.pem"
    anchor.write_bytes(authority.auth_ca_cert.public_bytes(serialization.Encoding.PEM))
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'protos'}",
        "KONBINI_DATABASE_URL": f"sqlite:///{tmp_path / 'center.db'}",
        "KONBINI_TRUST_ANCHOR": str(anchor),
        "KONBINI_AUTHORITY_URL": "http://127.0.0.1:9",
        "KONBINI_WORKERS": "2",
        "KONBINI_INSECURE": "1",  # plaintext on loopback (the demo mode)
    }


def _children(pid: int) -> list[int]:
    """Live child processes of `pid`, from /proc (the tests run without psutil)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _running(pid: int) -> bool:
    """Exists and is not a zombie (an exited process its new parent has not reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_a_sigkilled_supervisor_takes_its_workers_along(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clients.cli",
            "serve",
            "--processes",
            "2",
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        cwd=REPO,
        env=_center_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    workers: list[int] = []
    try:
        port = _wait_for(port_file, proc)
        workers = [c for c in _children(proc.pid) if "spawn_main" in _cmdline(c)]
        assert len(workers) == 2
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=10
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 15
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [w for w in workers if _running(w)] == [], "workers outlived their supervisor"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for w in workers:
            if _running(w):
                os.kill(w, signal.SIGKILL)
