"""Batch matching for municipality staff: an applications CSV against a residents file.

Input columns: application_id, municipality_code, name, name_kana, birth_date (ISO or era
form), address. Output columns: application_id, outcome (match / no_match / review),
resident_id, score, reasons — the reason codes, then each field that was not written exactly
as registered, as ``field:status[:rule+rule]`` (e.g. ``name:variant_matched:kanji_variant``).

A row that cannot be matched as written (an unreadable birth date, another municipality)
goes to review with its reason; one bad row never stops the batch. With `workers` > 1 the
index is built once and shared with forked workers (copy-on-write), each matching a slice.
"""

from __future__ import annotations

import csv
import multiprocessing
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from server.ereview.matcher import Matcher
from server.ereview.model import (
    Application,
    DeclaredPerson,
    FieldStatus,
    MatchResult,
    Outcome,
    Reason,
)
from server.ereview.normalize import parse_date

INPUT_COLUMNS = (
    "application_id",
    "municipality_code",
    "name",
    "name_kana",
    "birth_date",
    "address",
)
OUTPUT_COLUMNS = ("application_id", "outcome", "resident_id", "score", "reasons")
OTHER_MUNICIPALITY = "OTHER_MUNICIPALITY"
INVALID_ROW = "INVALID_ROW"


class ApplicationsFileError(ValueError):
    pass


@dataclass(frozen=True)
class BatchStats:
    applications: int
    matches: int
    no_matches: int
    reviews: int
    seconds: float  # matching only, not reading the residents

    @property
    def per_second(self) -> float:
        return self.applications / self.seconds if self.seconds > 0 else 0.0


def read_applications(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in INPUT_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ApplicationsFileError(f"applications file lacks columns: {', '.join(missing)}")
        yield from reader


def describe(result: MatchResult) -> str:
    """The reasons column: reason codes, then fields not written exactly as registered."""
    parts = [r.value for r in result.reasons]
    for f in result.fields:
        if f.status in (FieldStatus.MATCHED, FieldStatus.NOT_FOUND):
            continue
        rules = "+".join(r.value for r in f.rules)
        parts.append(f"{f.field.value}:{f.status.value}" + (f":{rules}" if rules else ""))
    return ";".join(parts)


def match_row(matcher: Matcher, row: dict[str, str], municipality: str | None) -> list[str]:
    app_id = row.get("application_id", "")
    code = row.get("municipality_code", "")
    if municipality is not None and code != municipality:
        return [app_id, Outcome.REVIEW.value, "", "0", OTHER_MUNICIPALITY]
    birth = row.get("birth_date", "")
    try:
        if birth.strip():
            parse_date(birth)
    except ValueError:
        return [app_id, Outcome.REVIEW.value, "", "0", Reason.INVALID_BIRTH_DATE.value]
    try:
        application = Application(
            code,
            DeclaredPerson(row.get("name", ""), row.get("name_kana", ""), birth),
            row.get("address", ""),
            application_id=app_id,
        )
    except ValueError:
        return [app_id, Outcome.REVIEW.value, "", "0", INVALID_ROW]
    result = matcher.match(application)
    resident = result.resident.resident_id if result.resident is not None else ""
    return [app_id, result.outcome.value, resident, f"{result.score:.4f}", describe(result)]


# The forked workers find the matcher here (set in the parent just before forking).
_WORKER_MATCHER: Matcher | None = None


def _work(args: tuple[list[dict[str, str]], str | None]) -> list[list[str]]:
    rows, municipality = args
    assert _WORKER_MATCHER is not None
    return [match_row(_WORKER_MATCHER, row, municipality) for row in rows]


def _chunks(rows: Iterable[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    chunk: list[dict[str, str]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def match_file(
    matcher: Matcher,
    applications: Path,
    out: Path,
    *,
    municipality: str | None = None,
    workers: int = 1,
) -> BatchStats:
    """Match every row of `applications` and write the results to `out`, in input order."""
    global _WORKER_MATCHER
    if workers < 1:
        raise ValueError("workers must be positive")
    counts = {o.value: 0 for o in Outcome}
    start = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(OUTPUT_COLUMNS)
        rows = read_applications(applications)
        if workers == 1:
            results: Iterable[list[list[str]]] = (
                [match_row(matcher, row, municipality) for row in chunk]
                for chunk in _chunks(rows, 1000)
            )
            for chunk_rows in results:
                for r in chunk_rows:
                    counts[r[1]] += 1
                writer.writerows(chunk_rows)
        else:
            _WORKER_MATCHER = matcher
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    jobs = ((chunk, municipality) for chunk in _chunks(rows, 500))
                    for chunk_rows in pool.imap(_work, jobs):
                        for r in chunk_rows:
                            counts[r[1]] += 1
                        writer.writerows(chunk_rows)
            finally:
                _WORKER_MATCHER = None
    seconds = time.perf_counter() - start
    return BatchStats(
        applications=sum(counts.values()),
        matches=counts[Outcome.MATCH.value],
        no_matches=counts[Outcome.NO_MATCH.value],
        reviews=counts[Outcome.REVIEW.value],
        seconds=seconds,
    )


def read_predictions(path: Path) -> dict[str, tuple[str, str]]:
    """application_id → (outcome, resident_id) from a batch output file."""
    with path.open(encoding="utf-8", newline="") as f:
        return {r["application_id"]: (r["outcome"], r["resident_id"]) for r in csv.DictReader(f)}
