"""A simple residents file for e-review batch matching and benchmarks (until BCL defines one).

Format: UTF-8 CSV as RFC 4180 has it (CRLF line ends, fields quoted when needed), one header
line naming exactly the fields of `server.bcl.records.ResidentRecord` in declaration order,
then one resident per line. Dates are
ISO 8601 (1980-05-03), booleans `true` / `false`, 性別 `男` / `女`, empty strings for absent
旧氏 and 方書. Households are contiguous (a household's members one after another, head first),
which is how `iter_residents` and the database export write them; readers do not rely on it
except the evaluation-set generator, which samples whole households.

Reading and writing both stream: a million residents pass through without being held.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from server.bcl.records import ResidentRecord, Sex
from server.bcl.synthetic import DEFAULT_CODE, iter_residents

FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ResidentRecord))
_DATES = frozenset({"birth_date", "became_resident_on", "address_set_on"})
_BOOLS = frozenset({"is_household_head", "suppressed"})


class ResidentsFileError(ValueError):
    """The residents file is not in the documented format; `line` is 1-based."""

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def to_row(record: ResidentRecord) -> list[str]:
    out: list[str] = []
    for name in FIELDS:
        value = getattr(record, name)
        if isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, date):
            out.append(value.isoformat())
        elif isinstance(value, Sex):
            out.append(value.value)
        else:
            out.append(str(value))
    return out


def from_row(row: list[str], *, line: int = 0) -> ResidentRecord:
    if len(row) != len(FIELDS):
        raise ResidentsFileError(f"expected {len(FIELDS)} columns, got {len(row)}", line=line)
    values: dict[str, object] = {}
    try:
        for name, text in zip(FIELDS, row, strict=True):
            if name in _DATES:
                values[name] = date.fromisoformat(text)
            elif name in _BOOLS:
                if text not in ("true", "false"):
                    raise ValueError(f"{name} must be true or false, not {text!r}")
                values[name] = text == "true"
            elif name == "sex":
                values[name] = Sex(text)
            else:
                values[name] = text
        return ResidentRecord(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ResidentsFileError(str(exc), line=line) from exc


def write_residents(out: TextIO, records: Iterable[ResidentRecord]) -> int:
    """Write the header and `records`; returns how many residents were written."""
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; quotes any CR or LF in a field
    writer.writerow(FIELDS)
    n = 0
    for record in records:
        writer.writerow(to_row(record))
        n += 1
    return n


def read_residents(source: TextIO) -> Iterator[ResidentRecord]:
    """Residents from an open residents file, one at a time."""
    reader = csv.reader(source)
    rows = _rows(reader)
    header = next(rows, None)
    if header is None:
        raise ResidentsFileError("the file is empty", line=1)
    if tuple(header) != FIELDS:
        raise ResidentsFileError(f"header must be {','.join(FIELDS)}", line=1)
    for row in rows:
        yield from_row(row, line=reader.line_num)


def _rows(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; what the csv module refuses (a huge field, a NUL) is a format error."""
    while True:
        try:
            row: list[str] = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ResidentsFileError(f"CSV syntax: {exc}", line=max(reader.line_num, 1)) from exc
        yield row


def iter_residents_file(path: Path) -> Iterator[ResidentRecord]:
    with path.open(encoding="utf-8", newline="") as f:
        yield from read_residents(f)


def generate_residents_file(
    path: Path,
    *,
    seed: int,
    residents: int,
    code: str = DEFAULT_CODE,
    prefecture: str = "東京都",
    name: str = "千代田区",
) -> int:
    """Stream a synthetic municipality of about `residents` people (whole households) to `path`.

    Households are drawn until the count is reached; nothing is kept in memory.
    """
    if residents < 0:
        raise ValueError("residents must not be negative")

    def people() -> Iterator[ResidentRecord]:
        written = 0
        # Ask for more households than can be needed; stop when the count is reached.
        for household in iter_residents(
            seed=seed, households=residents + 1, code=code, prefecture=prefecture, name=name
        ):
            if written >= residents:
                return
            yield from household.members
            written += len(household.members)

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        return write_residents(f, people())
