"""Settlement operations over gRPC, and the files they write.

`run_settle` closes a month and writes every statement (CSV, Japanese PDF, PNG charts) under
`out/<month>/`; the other `run_*` functions submit an operator report, reconcile, write a
fiscal-year report, read statistics and take back a copy. Each takes a channel, so tests drive
them in-process; `clients.settlement.cli` maps the `konbini` subcommands onto them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import grpc
from konbini.settlement.v1 import settlement_pb2 as pb
from konbini.settlement.v1 import settlement_pb2_grpc

from clients.settlement import render
from server.settlement import protoconv as conv
from server.settlement.ledger import MonthClose
from server.settlement.periods import Month
from server.settlement.reconcile import Reconciliation, parse_report_csv
from server.settlement.statements import FiscalYearReport, Statistics

TIMEOUT_S = 120.0


def _stub(channel: grpc.Channel) -> settlement_pb2_grpc.SettlementServiceStub:
    return settlement_pb2_grpc.SettlementServiceStub(channel)


@dataclass
class Written:
    """The files a command wrote, in order."""

    files: list[Path] = field(default_factory=list)

    def write(self, path: Path, data: bytes | str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        self.files.append(path)

    def charts(self, stem: Path, charts: dict[str, bytes]) -> None:
        for name, png in charts.items():
            self.write(stem.with_name(f"{stem.name}-{name}.png"), png)


@dataclass
class SettleResult:
    close: MonthClose
    written: Written = field(default_factory=Written)
    lines: list[str] = field(default_factory=list)  # the summary printed to the terminal
    differences: int = 0

    @property
    def files(self) -> list[Path]:
        return self.written.files


def run_settle(
    channel: grpc.Channel,
    month: str,
    out: Path,
    *,
    font_path: Path = render.DEFAULT_FONT,
    created_at: datetime | None = None,
) -> SettleResult:
    """Close `month`, then write every municipality's and operator's statement, the
    reconciliation of each operator, and the national view, under `out/<month>/`."""
    stub = _stub(channel)
    close = conv.month_close_from_proto(
        stub.CloseMonth(pb.CloseMonthRequest(month=month), timeout=TIMEOUT_S)
    )
    pinned = created_at or close.closed_at
    fy = Month.parse(month).fiscal_year
    result = SettleResult(close)
    folder = out / close.month

    national = conv.statistics_from_proto(
        stub.GetStatistics(pb.StatisticsRequest(fiscal_year=fy), timeout=TIMEOUT_S)
    )
    charts = render.charts_for(national, font_path=font_path)
    result.written.charts(folder / f"national-{close.month}", charts)
    result.written.write(
        folder / f"national-{close.month}.pdf",
        render.national_pdf(close, national, charts, font_path=font_path),
    )

    result.lines.append(
        f"{'municipality':<28} {'copies':>8} {'fees':>12} {'commission':>11} "
        f"{'remittance':>12} {'BCL fee':>11} {'contrib.':>11}"
    )
    for code in close.municipality_codes:
        s = conv.municipality_statement_from_proto(
            stub.GetMunicipalityStatement(
                pb.MunicipalityStatementRequest(municipality_code=code, month=month),
                timeout=TIMEOUT_S,
            )
        )
        stats = conv.statistics_from_proto(
            stub.GetStatistics(
                pb.StatisticsRequest(fiscal_year=fy, municipality_code=code), timeout=TIMEOUT_S
            )
        )
        stem = folder / f"municipality-{code}-{close.month}"
        charts = render.charts_for(stats, font_path=font_path)
        result.written.charts(stem, charts)
        result.written.write(stem.with_suffix(".csv"), render.municipality_statement_csv(s))
        result.written.write(
            stem.with_suffix(".pdf"),
            render.municipality_statement_pdf(s, charts, created_at=pinned, font_path=font_path),
        )
        t = s.total
        result.lines.append(
            f"{s.municipality_name[:12]:<12}{code:>16} {t.copies:>8,} {t.fees_yen:>12,} "
            f"{t.commission_yen:>11,} {t.net_remittance_yen:>12,} {t.bcl_fee_yen:>11,} "
            f"{s.contribution_yen:>11,}"
        )

    result.lines.append(f"{'operator':<28} {'copies':>8} {'remittance':>12} {'differences':>12}")
    for op in close.operator_ids:
        o = conv.operator_statement_from_proto(
            stub.GetOperatorStatement(
                pb.OperatorStatementRequest(operator_id=op, month=month), timeout=TIMEOUT_S
            )
        )
        recon = _reconcile(stub, month, op)
        stem = folder / f"operator-{op}-{close.month}"
        result.written.write(stem.with_suffix(".csv"), render.operator_statement_csv(o))
        result.written.write(
            stem.with_suffix(".pdf"),
            render.operator_statement_pdf(o, recon, created_at=pinned, font_path=font_path),
        )
        result.written.write(
            folder / f"reconciliation-{op}-{close.month}.csv",
            render.reconciliation_csv(recon),
        )
        result.differences += len(recon.differences)
        t = o.total
        result.lines.append(
            f"{op:<28} {t.copies:>8,} {t.net_remittance_yen:>12,} {len(recon.differences):>12}"
        )
    state = "closed now" if close.newly_closed else "already closed"
    result.lines.insert(
        0,
        f"{close.month} {state}: {close.entry_count:,} entries, {close.line_count:,} lines, "
        f"digest {close.digest[:16]}…",
    )
    return result


def _reconcile(
    stub: settlement_pb2_grpc.SettlementServiceStub, month: str, operator_id: str
) -> Reconciliation:
    return conv.reconciliation_from_proto(
        stub.Reconcile(pb.ReconcileRequest(month=month, operator_id=operator_id), timeout=TIMEOUT_S)
    )


def run_operator_report(channel: grpc.Channel, csv_text: str) -> int:
    rows = parse_report_csv(csv_text)
    response = _stub(channel).SubmitOperatorReport(
        pb.SubmitOperatorReportRequest(rows=[conv.report_row_to_proto(r) for r in rows]),
        timeout=TIMEOUT_S,
    )
    return int(response.rows_stored)


def run_reconcile(channel: grpc.Channel, month: str, operator_id: str = "") -> Reconciliation:
    return _reconcile(_stub(channel), month, operator_id)


def run_fiscal_year_report(
    channel: grpc.Channel,
    municipality_code: str,
    fiscal_year: int,
    out: Path,
    *,
    created_at: datetime,
    font_path: Path = render.DEFAULT_FONT,
) -> tuple[FiscalYearReport, list[Path]]:
    stub = _stub(channel)
    report = conv.fiscal_year_report_from_proto(
        stub.GetFiscalYearReport(
            pb.FiscalYearReportRequest(
                municipality_code=municipality_code, fiscal_year=fiscal_year
            ),
            timeout=TIMEOUT_S,
        )
    )
    stats = conv.statistics_from_proto(
        stub.GetStatistics(
            pb.StatisticsRequest(fiscal_year=fiscal_year, municipality_code=municipality_code),
            timeout=TIMEOUT_S,
        )
    )
    charts = render.charts_for(stats, font_path=font_path)
    written = Written()
    stem = out / f"fiscal-year-{municipality_code}-{fiscal_year}"
    written.charts(stem, charts)
    written.write(stem.with_suffix(".csv"), render.fiscal_year_csv(report))
    written.write(
        stem.with_suffix(".pdf"),
        render.fiscal_year_pdf(report, charts, created_at=created_at, font_path=font_path),
    )
    return report, written.files


def run_statistics(
    channel: grpc.Channel, fiscal_year: int, municipality_code: str = ""
) -> Statistics:
    return conv.statistics_from_proto(
        _stub(channel).GetStatistics(
            pb.StatisticsRequest(fiscal_year=fiscal_year, municipality_code=municipality_code),
            timeout=TIMEOUT_S,
        )
    )


def run_correct_copy(
    channel: grpc.Channel, issuance_id: str, reason: str
) -> pb.CorrectCopyResponse:
    response: pb.CorrectCopyResponse = _stub(channel).CorrectCopy(
        pb.CorrectCopyRequest(issuance_id=issuance_id, reason=reason), timeout=TIMEOUT_S
    )
    return response
