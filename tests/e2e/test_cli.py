"""The parts run by hand, as README's "Running the parts yourself" describes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def konbini(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clients.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(path: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        assert proc.poll() is None, f"{proc.args!r} exited early"
        time.sleep(0.05)
    raise TimeoutError(path)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    state = tmp_path / "var"
    db = f"sqlite:///{state / 'konbini.db'}"
    assert konbini("authority", "init", "--state", str(state / "authority")).returncode == 0
    seeded = konbini(
        "seed",
        "--database-url",
        db,
        "--authority-state",
        str(state / "authority"),
        "--cards-dir",
        str(state / "cards"),
        "--households",
        "4",
        "--seed",
        "11",
    )
    assert seeded.returncode == 0, seeded.stderr
    procs = []
    try:
        auth = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clients.cli",
                "authority",
                "serve",
                "--state",
                str(state / "authority"),
                "--port",
                "0",
                "--port-file",
                str(state / "a.port"),
            ],
            cwd=ROOT,
        )
        procs.append(auth)
        auth_port = wait_for(state / "a.port", auth)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clients.cli",
                "serve",
                "--database-url",
                db,
                "--port",
                "0",
                "--port-file",
                str(state / "s.port"),
                "--trust-anchor",
                str(state / "authority" / "auth-ca.pem"),
                "--authority-url",
                f"http://127.0.0.1:{auth_port}",
                "--revocation",
                "crl",
                "--insecure-demo",  # plaintext, kiosks named by a header
            ],
            cwd=ROOT,
        )
        procs.append(server)
        yield state, f"127.0.0.1:{wait_for(state / 's.port', server)}"
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=20)


def test_kiosk_command_prints_a_certificate_and_settlement_counts_it(
    running: tuple[Path, str], tmp_path: Path
) -> None:
    state, target = running
    card_file = sorted((state / "cards").glob("*.json"))[0]
    pin = json.loads(card_file.read_text())["auth_pin"]
    out = tmp_path / "out"
    visit = konbini(
        "kiosk",
        "--server",
        target,
        "--kiosk-id",
        "K13101601",
        "--card",
        str(card_file),
        "--pin",
        pin,
        "--certificate",
        "juminhyo",
        "--subjects",
        "household",
        "--head-and-relationship",
        "--out",
        str(out),
    )
    assert visit.returncode == 0, visit.stdout + visit.stderr
    assert "issued" in visit.stdout
    assert len(list(out.glob("juminhyo-*.pdf"))) == 1
    month = visit.stdout.split("交付番号 ")[1][:6]
    issued = konbini(
        "access", "issue", "--kind", "national_operator", "--name", "e2e",
        "--database-url", f"sqlite:///{state / 'konbini.db'}",
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.split("token    ")[1].split()[0]
    without = konbini(
        "settlement", "--server", target, "--municipality", "131016", "--month", "2026-01"
    )
    assert without.returncode == 2 and "UNAUTHENTICATED CREDENTIALS_MISSING" in without.stdout
    summary = konbini(
        "settlement",
        "--server",
        target,
        "--municipality",
        "131016",
        "--month",
        f"{month[:4]}-{month[4:]}",
        "--token",
        token,
    )
    assert summary.returncode == 0, summary.stderr
    assert "total 1 copies, voided 0" in summary.stdout


def test_kiosk_command_exits_nonzero_and_says_why_on_a_wrong_pin(
    running: tuple[Path, str], tmp_path: Path
) -> None:
    state, target = running
    card_file = sorted((state / "cards").glob("*.json"))[0]
    pin = json.loads(card_file.read_text())["auth_pin"]
    wrong = "0000" if pin != "0000" else "1111"
    visit = konbini(
        "kiosk",
        "--server",
        target,
        "--kiosk-id",
        "K13101601",
        "--card",
        str(card_file),
        "--pin",
        wrong,
        "--out",
        str(tmp_path),
    )
    assert visit.returncode == 1
    assert "wrong_pin" in visit.stdout


def test_staff_suppression_from_the_command_line_stops_that_residents_kiosk_visit(
    running: tuple[Path, str], tmp_path: Path
) -> None:
    state, target = running
    db = f"sqlite:///{state / 'konbini.db'}"
    added = konbini(
        "municipality",
        "add-staff",
        "--database-url",
        db,
        "--municipality",
        "131016",
        "--name",
        "住民課",
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    card_file = sorted((state / "cards").glob("*.json"))[-1]
    resident_id = card_file.stem
    suppressed = konbini(
        "staff", "--server", target, "--token", token, "suppress", "--resident", resident_id
    )
    assert suppressed.returncode == 0, suppressed.stdout + suppressed.stderr
    pin = json.loads(card_file.read_text())["auth_pin"]
    visit = konbini(
        "kiosk",
        "--server",
        target,
        "--kiosk-id",
        "K13101601",
        "--card",
        str(card_file),
        "--pin",
        pin,
        "--out",
        str(tmp_path),
    )
    assert visit.returncode == 1
    assert "not_available" in visit.stdout
    refused = konbini("staff", "--server", target, "--token", "wrong", "suppressions")
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stdout
