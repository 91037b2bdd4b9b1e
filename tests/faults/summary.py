"""The figures of the fault tests, gathered in `tests/faults/last-run.json` (not committed).

Each test records what it injected and what it checked under its own name; the latest record of
every test is kept, and the totals are recomputed over them. Tests run in several pytest-xdist
workers at once, so the file is rewritten under an exclusive lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SUMMARY = Path(__file__).resolve().parent / "last-run.json"
_LOCK = SUMMARY.with_name(".last-run.lock")

TOTALLED = ("faults_injected", "copies_checked", "ledger_differences", "seconds")


def record(test: str, figures: Mapping[str, Any]) -> None:
    """Store `figures` (JSON-able; the keys in TOTALLED are summed) as `test`'s latest run."""
    with _LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data: dict[str, Any] = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
        except json.JSONDecodeError:
            data = {}
        tests: dict[str, Any] = data.get("tests", {})
        tests[test] = {"finished_at": datetime.now(UTC).isoformat(timespec="seconds"), **figures}
        totals = {k: sum(t.get(k, 0) for t in tests.values()) for k in TOTALLED}
        totals["seconds"] = round(totals["seconds"], 1)
        out = {"totals": totals, "tests": dict(sorted(tests.items()))}
        tmp = SUMMARY.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(SUMMARY)
