"""`konbini demo` from the outside: separate processes, real ports, PDFs on disk."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pypdf

from server.bcl.synthetic import generate_municipality
from server.common.clock import JST

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_a_juminhyo_with_the_residents_japanese_name(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "clients.cli",
            "demo",
            "--output",
            str(out),
            "--state",
            str(tmp_path / "state"),
            "--seed",
            "2026",
            "--households",
            "12",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    pdfs = sorted(out.glob("juminhyo-*.pdf"))
    assert len(pdfs) == 1, run.stdout
    text = "".join(
        p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdfs[0].read_bytes())).pages
    )
    assert "住民票の写し" in text
    muni = generate_municipality(
        seed=2026, households=12, today=datetime.now(UTC).astimezone(JST).date()
    )
    printed = [r for r in muni.residents if r.family_name in text and r.given_name in text]
    assert printed, "no resident's name found in the printed 住民票"
    assert "wrong_pin 残り2回" in run.stdout
    assert "settlement 131016" in run.stdout
    # The demo stops what it started: no server or authority is left behind.
    assert (
        "konbini"
        not in subprocess.run(
            ["pgrep", "-af", str(tmp_path)], capture_output=True, text=True
        ).stdout
    )
