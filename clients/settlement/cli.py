"""`konbini` subcommands for settlement, talking to the center over gRPC.

    konbini settle --month 2026-04 [--out settlement-output]   close the month, write statements
    konbini operator-report --csv counts.csv                     submit an operator's counts
    konbini reconcile --month 2026-04 [--operator seven]         list every difference
    konbini fiscal-year-report --municipality 131016 --fiscal-year 2026 [--out DIR]
    konbini settlement-stats --fiscal-year 2026 [--municipality 131016]
    konbini correct-copy --issuance-id ID --reason TEXT          take back a wrongly issued copy

`register(subparsers)` adds them to the main parser; each `run_*` function takes a channel,
so tests drive them without a process.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from konbini.settlement.v1 import settlement_pb2 as pb
from konbini.settlement.v1 import settlement_pb2_grpc

from clients.settlement import render
from server.settlement import protoconv as conv
from server.settlement.ledger import MonthClose
from server.settlement.periods import Month
from server.settlement.reconcile import Reconciliation, parse_report_csv
from server.settlement.statements import FiscalYearReport

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


# -- argparse --------------------------------------------------------------------------------


def _with_channel(args: argparse.Namespace, work: Callable[[grpc.Channel], int]) -> int:
    with grpc.insecure_channel(args.server) as channel:
        return work(channel)


def _cmd_settle(args: argparse.Namespace) -> int:
    def work(channel: grpc.Channel) -> int:
        result = run_settle(channel, args.month, Path(args.out), font_path=Path(args.font))
        print(*result.lines, sep="\n")
        print(f"{len(result.files)} files under {Path(args.out) / result.close.month}")
        return 0

    return _with_channel(args, work)


def _cmd_operator_report(args: argparse.Namespace) -> int:
    text = Path(args.csv).read_text(encoding="utf-8")
    stored = _with_channel(args, lambda ch: run_operator_report(ch, text))
    print(f"{stored} rows stored")
    return 0


def _cmd_reconcile(args: argparse.Namespace) -> int:
    r = _with_channel_value(args, lambda ch: run_reconcile(ch, args.month, args.operator))
    print(render.reconciliation_csv(r), end="")
    print(
        f"# {len(r.differences)} differences, {r.matched_cells} cells agree; "
        f"reported {r.reported_copies:,}, recorded {r.recorded_copies:,}; "
        f"reports from: {', '.join(r.reports_received) or 'none'}"
    )
    return 0 if r.agrees else 1


def _with_channel_value(args: argparse.Namespace, work: Callable[[grpc.Channel], Any]) -> Any:
    with grpc.insecure_channel(args.server) as channel:
        return work(channel)


def _cmd_fiscal_year(args: argparse.Namespace) -> int:
    from server.common.clock import system_clock

    report, files = _with_channel_value(
        args,
        lambda ch: run_fiscal_year_report(
            ch,
            args.municipality,
            args.fiscal_year,
            Path(args.out),
            created_at=system_clock(),
            font_path=Path(args.font),
        ),
    )
    t = report.total
    print(
        f"{report.municipality_name} {report.fiscal_year}年度: {t.copies:,} copies, "
        f"fees {t.fees_yen:,}円, total cost {t.total_cost_yen:,}円 = BCL {t.bcl_fee_yen:,} "
        f"+ contribution {t.contribution_yen:,} + commission {t.commission_yen:,}"
    )
    print(f"{len(files)} files under {args.out}")
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    def work(channel: grpc.Channel) -> int:
        s = conv.statistics_from_proto(
            _stub(channel).GetStatistics(
                pb.StatisticsRequest(
                    fiscal_year=args.fiscal_year, municipality_code=args.municipality
                ),
                timeout=TIMEOUT_S,
            )
        )
        print(f"{s.fiscal_year}年度 {s.municipality_code or '全国'}: {s.copies:,} copies")
        for p in s.months:
            print(f"  {p.month} {p.copies:>10,} copies  {p.participating_municipalities:>5}団体")
        for c in s.by_kind:
            print(f"  {render.kind_label(c.key)} {c.copies:,}")
        for c in s.by_operator:
            print(f"  {c.key} {c.copies:,}")
        print(f"  時間外 {render.percent(s.after_hours_share)}")
        print(f"  他市区町村 {render.percent(s.other_municipality_share)}")
        return 0

    return _with_channel(args, work)


def _cmd_correct(args: argparse.Namespace) -> int:
    def work(channel: grpc.Channel) -> int:
        r = _stub(channel).CorrectCopy(
            pb.CorrectCopyRequest(issuance_id=args.issuance_id, reason=args.reason),
            timeout=TIMEOUT_S,
        )
        state = "posted" if r.newly_posted else "already posted"
        print(f"correction {state} in {r.month} (entry {r.entry_id}), refund {r.refunded_yen}円")
        return 0

    return _with_channel(args, work)


def register(sub: Any) -> None:
    """Add the settlement subcommands to `konbini`'s subparsers."""

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.add_argument("--server", default="127.0.0.1:50051")
        return p

    s = add("settle", "close a month and write every statement (CSV, PDF, PNG)")
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--out", default="settlement-output")
    s.add_argument("--font", default=str(render.DEFAULT_FONT))
    s.set_defaults(func=_cmd_settle)

    r = add("operator-report", "submit an operator's counts (CSV)")
    r.add_argument(
        "--csv", required=True, help="operator_id,month,municipality_code,certificate_kind,copies"
    )
    r.set_defaults(func=_cmd_operator_report)

    c = add("reconcile", "operator counts against the center's records")
    c.add_argument("--month", required=True)
    c.add_argument("--operator", default="", help="one operator (default: all)")
    c.set_defaults(func=_cmd_reconcile)

    f = add("fiscal-year-report", "a municipality's fiscal year: cost against fees")
    f.add_argument("--municipality", required=True)
    f.add_argument("--fiscal-year", type=int, required=True)
    f.add_argument("--out", default="settlement-output")
    f.add_argument("--font", default=str(render.DEFAULT_FONT))
    f.set_defaults(func=_cmd_fiscal_year)

    t = add("settlement-stats", "copies per month, kind and operator; 時間外 and 他市区町村 shares")
    t.add_argument("--fiscal-year", type=int, required=True)
    t.add_argument("--municipality", default="", help="default: national")
    t.set_defaults(func=_cmd_stats)

    x = add("correct-copy", "take back a wrongly issued copy (posted in the open month)")
    x.add_argument("--issuance-id", required=True)
    x.add_argument("--reason", required=True)
    x.set_defaults(func=_cmd_correct)
