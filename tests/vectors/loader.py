"""The one loader for test vectors under `tests/vectors/` (STYLE 13).

Each vector family is a folder with a README.md giving the provenance of its bytes. A vector is
named by its path relative to `tests/vectors/`; `.json` is assumed when no suffix is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS_DIR = Path(__file__).resolve().parent


def vector_path(name: str) -> Path:
    """The file of vector `name`, e.g. `jpki_apdu/select_read_verify` (must exist)."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"vector name {name!r} must be a path inside tests/vectors")
    if not relative.suffix:
        relative = relative.with_suffix(".json")
    path = VECTORS_DIR / relative
    if not path.is_file():
        raise FileNotFoundError(f"no test vector {name!r} at {path}")
    return path


def load_vector(name: str) -> Any:
    """A JSON vector parsed, any other vector as raw bytes."""
    path = vector_path(name)
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    return path.read_bytes()
