"""py-spy over the center's worker processes during a load run, summarised as text.

`py-spy record --format raw` writes one line per distinct stack with its sample count; the
summary lists where the samples are (own time, by function) and which functions they pass
through (inclusive time), which is what "what limited it" needs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

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
