"""Reconciliation (交付通数確認): the operator's own counts against the center's records.

Each month a kiosk operator reports how many copies it printed, per municipality and
certificate kind. The report is a CSV with exactly this header and one row per cell:

    operator_id,month,municipality_code,certificate_kind,copies
    seven,2026-04,131016,juminhyo,1520

One report covers one operator and one month; submitting again replaces it. The center counts
the copies it recorded as issued (ISSUED transitions, by the month they were printed in Japan
time; a later correction does not unprint a copy, so it is not subtracted) and lists every cell
where the two disagree, with both numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, func, select

from server.common.errors import InvalidArgument
from server.db.models import Operator
from server.issuance.states import Channel
from server.settlement.errors import OperatorNotFound
from server.settlement.ledger import EntryKind
from server.settlement.models import LedgerEntry, OperatorReportedCount
from server.settlement.periods import Month

REPORT_COLUMNS = ("operator_id", "month", "municipality_code", "certificate_kind", "copies")
MAX_REPORT_ROWS = 100_000
_OPERATOR_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_CODE = re.compile(r"^\d{6}$")

CellKey = tuple[str, str, str]  # operator_id, municipality_code, certificate_kind


@dataclass(frozen=True)
class ReportedCount:
    """One row of an operator's report."""

    operator_id: str
    month: str
    municipality_code: str
    certificate_kind: str
    copies: int

    def __post_init__(self) -> None:
        if not _OPERATOR_ID.match(self.operator_id):
            raise InvalidArgument(
                "operator_id must be 1-32 letters, digits, _ or -", field="operator_id"
            )
        Month.parse(self.month)
        if not _CODE.match(self.municipality_code):
            raise InvalidArgument("municipality_code must be 6 digits", field="municipality_code")
        if not _KIND.match(self.certificate_kind):
            raise InvalidArgument(
                "certificate_kind must be a lower-case identifier", field="certificate_kind"
            )
        if not 0 <= self.copies < 10**9:
            raise InvalidArgument("copies must be a non-negative count", field="copies")

    @property
    def key(self) -> CellKey:
        return (self.operator_id, self.municipality_code, self.certificate_kind)


def parse_report_csv(text: str) -> tuple[ReportedCount, ...]:
    """Rows of a report CSV; any malformed line is an InvalidArgument naming its line."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))  # tolerate a BOM from Excel
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != REPORT_COLUMNS:
        raise InvalidArgument(f"the first line must be {','.join(REPORT_COLUMNS)}", field="csv")
    rows: list[ReportedCount] = []
    for line, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(REPORT_COLUMNS):
            raise InvalidArgument(f"line {line}: expected 5 fields", field="csv")
        op, month, code, kind, copies = (f.strip() for f in fields)
        if not re.fullmatch(r"\d{1,9}", copies):
            raise InvalidArgument(f"line {line}: copies must be a whole number", field="csv")
        try:
            rows.append(ReportedCount(op, month, code, kind, int(copies)))
        except InvalidArgument as exc:
            raise InvalidArgument(f"line {line}: {exc.message}", field="csv") from None
        if len(rows) > MAX_REPORT_ROWS:
            raise InvalidArgument(f"a report holds at most {MAX_REPORT_ROWS} rows", field="csv")
    return tuple(rows)


def format_report_csv(rows: Iterable[ReportedCount]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for r in rows:
        writer.writerow((r.operator_id, r.month, r.municipality_code, r.certificate_kind, r.copies))
    return out.getvalue()


def check_report(rows: Sequence[ReportedCount]) -> tuple[str, Month]:
    """A report is one operator and one month, each cell once. Returns (operator, month)."""
    if not rows:
        raise InvalidArgument("the report has no rows", field="rows")
    operators = {r.operator_id for r in rows}
    months = {r.month for r in rows}
    if len(operators) != 1 or len(months) != 1:
        raise InvalidArgument("one report covers one operator and one month", field="rows")
    keys = [r.key for r in rows]
    if len(set(keys)) != len(keys):
        raise InvalidArgument("a municipality and kind appear twice", field="rows")
    return rows[0].operator_id, Month.parse(rows[0].month)


class DifferenceKind(StrEnum):
    DIFFERENT = "different"  # both counted, the numbers differ
    NOT_REPORTED = "not_reported"  # the center recorded copies the operator did not report
    NOT_RECORDED = "not_recorded"  # the operator reported copies the center has no record of


@dataclass(frozen=True)
class CountDifference:
    operator_id: str
    municipality_code: str
    certificate_kind: str
    reported: int
    recorded: int
    kind: DifferenceKind

    @property
    def difference(self) -> int:
        """Reported less recorded: positive when the operator counts more."""
        return self.reported - self.recorded


@dataclass(frozen=True)
class Reconciliation:
    month: str
    operator_id: str  # "" for every operator
    reports_received: tuple[str, ...]  # operators whose report for the month is in
    differences: tuple[CountDifference, ...]
    matched_cells: int
    reported_copies: int
    recorded_copies: int

    @property
    def agrees(self) -> bool:
        return not self.differences


def reconcile(
    month: Month,
    operator_id: str,
    *,
    reported: Mapping[CellKey, int],
    recorded: Mapping[CellKey, int],
    reports_received: Iterable[str],
) -> Reconciliation:
    """Every cell where the report and the records disagree (pure)."""
    received = tuple(sorted(set(reports_received)))
    differences: list[CountDifference] = []
    matched = 0
    for key in sorted(set(reported) | set(recorded)):
        rep, rec = reported.get(key), recorded.get(key)
        if (rep or 0) == (rec or 0):
            matched += 1
            continue
        if rep is None:
            kind = DifferenceKind.NOT_REPORTED
        elif rec is None:
            kind = DifferenceKind.NOT_RECORDED
        else:
            kind = DifferenceKind.DIFFERENT
        differences.append(CountDifference(*key, reported=rep or 0, recorded=rec or 0, kind=kind))
    return Reconciliation(
        month=str(month),
        operator_id=operator_id,
        reports_received=received,
        differences=tuple(differences),
        matched_cells=matched,
        reported_copies=sum(reported.values()),
        recorded_copies=sum(recorded.values()),
    )


# -- storage ---------------------------------------------------------------------------------


def store_report(db: Session, rows: Sequence[ReportedCount], *, now: datetime) -> int:
    """Replace the operator's report for the month with `rows`. Returns the rows stored."""
    operator_id, month = check_report(rows)
    if db.get(Operator, operator_id) is None:
        raise OperatorNotFound(f"no operator {operator_id}", metadata={"operator": operator_id})
    for old in db.exec(
        select(OperatorReportedCount)
        .where(OperatorReportedCount.operator_id == operator_id)
        .where(OperatorReportedCount.month == str(month))
    ).all():
        db.delete(old)
    db.flush()
    db.add_all(
        OperatorReportedCount(
            operator_id=r.operator_id,
            month=r.month,
            municipality_code=r.municipality_code,
            certificate_kind=r.certificate_kind,
            copies=r.copies,
            submitted_at=now,
        )
        for r in rows
    )
    return len(rows)


def reported_counts(db: Session, month: Month, operator_id: str) -> dict[CellKey, int]:
    r = OperatorReportedCount
    stmt = select(r).where(r.month == str(month))
    if operator_id:
        stmt = stmt.where(r.operator_id == operator_id)
    return {
        (x.operator_id, x.municipality_code, x.certificate_kind): x.copies
        for x in db.exec(stmt).all()
    }


def recorded_counts(db: Session, month: Month, operator_id: str) -> dict[CellKey, int]:
    """Copies the center recorded as printed in `month` (Japan time), per cell. Counter copies
    (らくらく窓口) are left out: no kiosk operator printed them, so none reports them."""
    e = LedgerEntry
    stmt = (
        select(e.operator_id, e.municipality_code, e.certificate_kind, func.count())
        .where(e.kind == EntryKind.COPY_ISSUED.value)
        .where(e.channel == Channel.KIOSK.value)
        .where(col(e.occurred_at) >= month.start())
        .where(col(e.occurred_at) < month.end())
        .group_by(col(e.operator_id), col(e.municipality_code), col(e.certificate_kind))
    )
    if operator_id:
        stmt = stmt.where(e.operator_id == operator_id)
    return {(op, muni, kind): int(n) for op, muni, kind, n in db.exec(stmt).all()}


def reconcile_month(db: Session, month: Month, operator_id: str = "") -> Reconciliation:
    if operator_id and db.get(Operator, operator_id) is None:
        raise OperatorNotFound(f"no operator {operator_id}", metadata={"operator": operator_id})
    reported = reported_counts(db, month, operator_id)
    received = {op for op, _, _ in reported}
    return reconcile(
        month,
        operator_id,
        reported=reported,
        recorded=recorded_counts(db, month, operator_id),
        reports_received=received,
    )
