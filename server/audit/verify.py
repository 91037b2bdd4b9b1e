"""Walking the audit chain: every changed, removed, reordered or added entry, named by seq.

The walk streams the entries in seq order (keyset pages, so a log of millions of entries needs
no more memory than one page) and checks, for each entry:

- its seq follows the last one (a gap is a removed entry: `missing`);
- its hash recomputed from its fields is the stored one (`altered`);
- its prev_hash is the hash of the entry before it (`chain_broken`: the entry before was
  replaced by one with a recomputed hash, or entries were moved).

Then the tail: the chain-head row records the last seq and hash every append wrote, so a
removed last entry shows as `truncated` — unless whoever removed it also rewrote the head.
Signed anchors (`server.audit.anchor`) written elsewhere close that gap up to the last anchor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.audit.log import EntryFields, entry_hash
from server.audit.models import GENESIS_HASH, HEAD_ROW_ID, AuditChainHead, AuditEntry

PAGE = 5_000


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str  # missing | altered | chain_broken | truncated | beyond_head | head_mismatch | anchor
    message: str


@dataclass(frozen=True)
class Anchor:
    """A head recorded outside the database (already checked for its signature)."""

    seq: int
    entry_hash: str


@dataclass
class Report:
    entries: int = 0
    last_seq: int = 0
    head_seq: int = 0
    anchors_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad_seqs(self) -> list[int]:
        return sorted({p.seq for p in self.problems})


def _pages(engine: Engine) -> Iterator[Sequence[sa.Row[tuple[object, ...]]]]:
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    after = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(table).where(table.c.seq > after).order_by(table.c.seq).limit(PAGE)
            ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].seq


def verify_chain(engine: Engine, anchors: Sequence[Anchor] = ()) -> Report:
    report = Report()
    wanted = {a.seq: a for a in anchors}
    seen_anchor_hashes: dict[int, str] = {}
    expected_seq = 1
    prev_hash = GENESIS_HASH
    prev_altered = False
    for rows in _pages(engine):
        for row in rows:
            seq = int(row.seq)
            if seq > expected_seq:
                span = (
                    f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
                )
                for gone in range(expected_seq, seq):
                    report.problems.append(Problem(gone, "missing", f"entry {span} removed"))
            fields = EntryFields(
                at=row.at,
                event=row.event,
                actor=row.actor,
                subject=row.subject,
                municipality_code=row.municipality_code,
                details=row.details,
            )
            recomputed = entry_hash(seq, row.prev_hash, fields)
            if recomputed != row.entry_hash:
                report.problems.append(
                    Problem(seq, "altered", f"entry {seq}: its fields do not match its hash")
                )
            # A link into an entry already named as altered says nothing new.
            elif seq == expected_seq and row.prev_hash != prev_hash and not prev_altered:
                report.problems.append(
                    Problem(
                        seq,
                        "chain_broken",
                        f"entry {seq} does not follow entry {seq - 1}: one of them was "
                        "replaced or moved",
                    )
                )
            prev_altered = recomputed != row.entry_hash
            if seq in wanted:
                seen_anchor_hashes[seq] = row.entry_hash
            prev_hash = row.entry_hash
            expected_seq = seq + 1
            report.entries += 1
            report.last_seq = seq
    _check_head(engine, report, prev_hash)
    for anchor in anchors:
        report.anchors_checked += 1
        found = seen_anchor_hashes.get(anchor.seq)
        if found is None:
            if anchor.seq > report.last_seq:
                report.problems.append(
                    Problem(
                        report.last_seq + 1,
                        "truncated",
                        f"an anchor records entry {anchor.seq}, the log ends at "
                        f"{report.last_seq}: entries {report.last_seq + 1}..{anchor.seq} removed",
                    )
                )
            # else: the anchored entry is missing, already reported as such
        elif found != anchor.entry_hash:
            report.problems.append(
                Problem(
                    anchor.seq,
                    "anchor",
                    f"entry {anchor.seq} is not the one anchored: the chain was rewritten "
                    "up to here",
                )
            )
    report.problems.sort(key=lambda p: (p.seq, p.kind))
    return report


def _check_head(engine: Engine, report: Report, last_hash: str) -> None:
    head = AuditChainHead.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        row = conn.execute(sa.select(head).where(head.c.id == HEAD_ROW_ID)).one_or_none()
    if row is None:
        report.problems.append(Problem(0, "head_mismatch", "the chain-head row is missing"))
        return
    report.head_seq = int(row.seq)
    last = report.last_seq
    if row.seq > last:
        span = f"{last + 1}" if row.seq == last + 1 else f"{last + 1}..{row.seq}"
        report.problems.append(
            Problem(
                last + 1, "truncated", f"the head records entry {row.seq}: entry {span} removed"
            )
        )
    elif row.seq < last:
        report.problems.append(
            Problem(row.seq + 1, "beyond_head", f"entries {row.seq + 1}..{last} were not appended")
        )
    elif row.head_hash != last_hash:
        report.problems.append(
            Problem(last, "head_mismatch", f"entry {last} is not the one the head records")
        )
