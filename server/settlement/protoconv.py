"""Settlement values ↔ protobuf messages, both ways.

The servicer sends statements with the `*_to_proto` functions; the `konbini settle` client
turns them back into the same frozen dataclasses with `*_from_proto` and renders those, so the
CSV and PDF writers never see generated code (STYLE 5). A Hypothesis test holds the two
directions to a round trip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from konbini.settlement.v1 import settlement_pb2 as pb

from server.common.protoconv import timestamp
from server.settlement.counter_hours import CounterHours
from server.settlement.ledger import MonthClose
from server.settlement.reconcile import (
    CountDifference,
    DifferenceKind,
    Reconciliation,
    ReportedCount,
)
from server.settlement.statements import (
    Cell,
    Count,
    FiscalYearReport,
    MonthPoint,
    MonthTotals,
    MunicipalityStatement,
    OperatorStatement,
    Statistics,
    VoidRecord,
)


def _ts(dt: datetime | None) -> Timestamp | None:
    return None if dt is None else timestamp(dt)


def _dt(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def _same_fields(value: object, record: type[Any]) -> dict[str, Any]:
    """The fields of the dataclass `record`, read from `value`: the dataclass itself or its
    message, for records whose message carries the same scalar fields under the same names
    (a field the message lacks fails at once, in either direction)."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(record)}


# -- cells and statements ---------------------------------------------------------------------


def cell_to_proto(c: Cell) -> pb.SettlementCell:
    return pb.SettlementCell(**_same_fields(c, Cell))


def cell_from_proto(m: pb.SettlementCell) -> Cell:
    return Cell(**_same_fields(m, Cell))


def municipality_statement_to_proto(s: MunicipalityStatement) -> pb.MunicipalityStatement:
    return pb.MunicipalityStatement(
        month=s.month,
        municipality_code=s.municipality_code,
        municipality_name=s.municipality_name,
        backend=s.backend,
        closed=s.closed_at is not None,
        closed_at=_ts(s.closed_at),
        cells=[cell_to_proto(c) for c in s.cells],
        contribution_yen=s.contribution_yen,
        bcl_billed_yen=s.bcl_billed_yen,
        voided_copies=s.voided_copies,
    )


def municipality_statement_from_proto(m: pb.MunicipalityStatement) -> MunicipalityStatement:
    return MunicipalityStatement(
        month=m.month,
        municipality_code=m.municipality_code,
        municipality_name=m.municipality_name,
        backend=m.backend,
        closed_at=_dt(m.closed_at) if m.closed else None,
        cells=tuple(cell_from_proto(c) for c in m.cells),
        contribution_yen=m.contribution_yen,
        bcl_billed_yen=m.bcl_billed_yen,
        voided_copies=m.voided_copies,
    )


def operator_statement_to_proto(s: OperatorStatement) -> pb.OperatorStatement:
    return pb.OperatorStatement(
        month=s.month,
        operator_id=s.operator_id,
        operator_name=s.operator_name,
        closed=s.closed_at is not None,
        closed_at=_ts(s.closed_at),
        cells=[cell_to_proto(c) for c in s.cells],
    )


def operator_statement_from_proto(m: pb.OperatorStatement) -> OperatorStatement:
    return OperatorStatement(
        month=m.month,
        operator_id=m.operator_id,
        operator_name=m.operator_name,
        closed_at=_dt(m.closed_at) if m.closed else None,
        cells=tuple(cell_from_proto(c) for c in m.cells),
    )


# -- fiscal year and statistics ---------------------------------------------------------------


def month_totals_to_proto(t: MonthTotals) -> pb.MonthTotals:
    return pb.MonthTotals(**_same_fields(t, MonthTotals), total_cost_yen=t.total_cost_yen)


def month_totals_from_proto(m: pb.MonthTotals) -> MonthTotals:
    return MonthTotals(**_same_fields(m, MonthTotals))


def _counts_to_proto(counts: tuple[Count, ...]) -> list[pb.CopyCount]:
    return [pb.CopyCount(key=c.key, copies=c.copies) for c in counts]


def _counts_from_proto(counts: Iterable[pb.CopyCount]) -> tuple[Count, ...]:
    return tuple(Count(c.key, c.copies) for c in counts)


def fiscal_year_report_to_proto(r: FiscalYearReport) -> pb.FiscalYearReport:
    return pb.FiscalYearReport(
        municipality_code=r.municipality_code,
        municipality_name=r.municipality_name,
        fiscal_year=r.fiscal_year,
        backend=r.backend,
        municipality_class=r.municipality_class,
        months=[month_totals_to_proto(m) for m in r.months],
        total=month_totals_to_proto(r.total),
        copies_by_kind=_counts_to_proto(r.copies_by_kind),
    )


def fiscal_year_report_from_proto(m: pb.FiscalYearReport) -> FiscalYearReport:
    return FiscalYearReport(
        municipality_code=m.municipality_code,
        municipality_name=m.municipality_name,
        fiscal_year=m.fiscal_year,
        backend=m.backend,
        municipality_class=m.municipality_class,
        months=tuple(month_totals_from_proto(x) for x in m.months),
        copies_by_kind=_counts_from_proto(m.copies_by_kind),
    )


def statistics_to_proto(s: Statistics) -> pb.Statistics:
    return pb.Statistics(
        fiscal_year=s.fiscal_year,
        municipality_code=s.municipality_code,
        months=[
            pb.MonthPoint(
                month=p.month,
                copies=p.copies,
                participating_municipalities=p.participating_municipalities,
            )
            for p in s.months
        ],
        by_kind=_counts_to_proto(s.by_kind),
        by_operator=_counts_to_proto(s.by_operator),
        copies=s.copies,
        after_hours_copies=s.after_hours_copies,
        other_municipality_copies=s.other_municipality_copies,
        counter_copies=s.counter_copies,
    )


def statistics_from_proto(m: pb.Statistics) -> Statistics:
    return Statistics(
        fiscal_year=m.fiscal_year,
        municipality_code=m.municipality_code,
        months=tuple(
            MonthPoint(p.month, p.copies, p.participating_municipalities) for p in m.months
        ),
        by_kind=_counts_from_proto(m.by_kind),
        by_operator=_counts_from_proto(m.by_operator),
        copies=m.copies,
        after_hours_copies=m.after_hours_copies,
        other_municipality_copies=m.other_municipality_copies,
        counter_copies=m.counter_copies,
    )


# -- close, reconciliation, corrections, voids, hours -----------------------------------------


def month_close_to_proto(c: MonthClose) -> pb.MonthClose:
    return pb.MonthClose(
        month=c.month,
        closed_at=timestamp(c.closed_at),
        newly_closed=c.newly_closed,
        municipality_codes=list(c.municipality_codes),
        operator_ids=list(c.operator_ids),
        entry_count=c.entry_count,
        line_count=c.line_count,
        debit_total_yen=c.debit_total_yen,
        digest=c.digest,
    )


def month_close_from_proto(m: pb.MonthClose) -> MonthClose:
    return MonthClose(
        month=m.month,
        closed_at=_dt(m.closed_at),
        newly_closed=m.newly_closed,
        municipality_codes=tuple(m.municipality_codes),
        operator_ids=tuple(m.operator_ids),
        entry_count=m.entry_count,
        line_count=m.line_count,
        debit_total_yen=m.debit_total_yen,
        digest=m.digest,
    )


_DIFFERENCE_KINDS: dict[DifferenceKind, int] = {
    DifferenceKind.DIFFERENT: pb.DIFFERENCE_KIND_DIFFERENT,
    DifferenceKind.NOT_REPORTED: pb.DIFFERENCE_KIND_NOT_REPORTED,
    DifferenceKind.NOT_RECORDED: pb.DIFFERENCE_KIND_NOT_RECORDED,
}
_DIFFERENCE_KINDS_BACK = {v: k for k, v in _DIFFERENCE_KINDS.items()}


def reconciliation_to_proto(r: Reconciliation) -> pb.Reconciliation:
    return pb.Reconciliation(
        month=r.month,
        operator_id=r.operator_id,
        reports_received=list(r.reports_received),
        differences=[
            pb.CountDifference(
                operator_id=d.operator_id,
                municipality_code=d.municipality_code,
                certificate_kind=d.certificate_kind,
                reported=d.reported,
                recorded=d.recorded,
                kind=_DIFFERENCE_KINDS[d.kind],  # type: ignore[arg-type]
            )
            for d in r.differences
        ],
        matched_cells=r.matched_cells,
        reported_copies=r.reported_copies,
        recorded_copies=r.recorded_copies,
    )


def reconciliation_from_proto(m: pb.Reconciliation) -> Reconciliation:
    return Reconciliation(
        month=m.month,
        operator_id=m.operator_id,
        reports_received=tuple(m.reports_received),
        differences=tuple(
            CountDifference(
                d.operator_id,
                d.municipality_code,
                d.certificate_kind,
                reported=d.reported,
                recorded=d.recorded,
                kind=_DIFFERENCE_KINDS_BACK[d.kind],
            )
            for d in m.differences
        ),
        matched_cells=m.matched_cells,
        reported_copies=m.reported_copies,
        recorded_copies=m.recorded_copies,
    )


def report_row_to_proto(r: ReportedCount) -> pb.OperatorReportRow:
    return pb.OperatorReportRow(
        operator_id=r.operator_id,
        month=r.month,
        municipality_code=r.municipality_code,
        certificate_kind=r.certificate_kind,
        copies=r.copies,
    )


def report_row_from_proto(m: pb.OperatorReportRow) -> ReportedCount:
    """Checked as it is built: a malformed row is an InvalidArgument."""
    return ReportedCount(
        m.operator_id, m.month, m.municipality_code, m.certificate_kind, int(m.copies)
    )


def void_to_proto(v: VoidRecord) -> pb.VoidedCopy:
    return pb.VoidedCopy(
        issuance_id=v.issuance_id,
        issue_number=v.issue_number,
        voided_at=timestamp(v.voided_at),
        operator_id=v.operator_id,
        kiosk_id=v.kiosk_id,
        certificate_kind=v.certificate_kind,
        from_state=v.from_state,
        reason=v.reason,
        refunded_yen=v.refunded_yen,
    )


def counter_hours_to_proto(code: str, h: CounterHours) -> pb.CounterHours:
    return pb.CounterHours(
        municipality_code=code,
        opens=h.opens.strftime("%H:%M"),
        closes=h.closes.strftime("%H:%M"),
        weekdays=sorted(h.weekdays),
        closed_on_holidays=h.closed_on_holidays,
    )


def counter_hours_from_proto(m: pb.CounterHours) -> CounterHours:
    return CounterHours.from_text(
        opens=m.opens,
        closes=m.closes,
        weekdays="".join(str(d) if 1 <= d <= 9 else "x" for d in m.weekdays),
        closed_on_holidays=m.closed_on_holidays,
    )
