"""`konbini` subcommands for settlement, talking to the center over gRPC.

    konbini settle --month 2026-04 [--out settlement-output]   close the month, write statements
    konbini operator-report --csv counts.csv                     submit an operator's counts
    konbini reconcile --month 2026-04 [--operator seven]         list every difference
    konbini fiscal-year-report --municipality 131016 --fiscal-year 2026 [--out DIR]
    konbini settlement-stats --fiscal-year 2026 [--municipality 131016]
    konbini correct-copy --issuance-id ID --reason TEXT          take back a wrongly issued copy

`register(subparsers)` adds them to the main parser; the work is done by the `run_*`
functions of `clients.settlement.settle`, which take a channel (tests drive them in-process).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from clients.credentials import add_arguments as add_credentials
from server.config import DEFAULT_FONT

if TYPE_CHECKING:
    import grpc

T = TypeVar("T")

# Building the parser must stay cheap for every `konbini` command: the gRPC stubs, the ledger
# and the renderers (matplotlib, fpdf2) are imported only by the command that needs them.


def _with_channel(args: argparse.Namespace, work: Callable[[grpc.Channel], T]) -> T:
    from clients.credentials import channel_of

    with channel_of(args, with_token=True) as channel:
        return work(channel)


def _cmd_settle(args: argparse.Namespace) -> int:
    from clients.settlement.settle import run_settle

    result = _with_channel(
        args, lambda ch: run_settle(ch, args.month, Path(args.out), font_path=Path(args.font))
    )
    print(*result.lines, sep="\n")
    print(f"{len(result.files)} files under {Path(args.out) / result.close.month}")
    return 0


def _cmd_operator_report(args: argparse.Namespace) -> int:
    from clients.settlement.settle import run_operator_report

    text = Path(args.csv).read_text(encoding="utf-8")
    stored = _with_channel(args, lambda ch: run_operator_report(ch, text))
    print(f"{stored} rows stored")
    return 0


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from clients.settlement.render import reconciliation_csv
    from clients.settlement.settle import run_reconcile

    r = _with_channel(args, lambda ch: run_reconcile(ch, args.month, args.operator))
    print(reconciliation_csv(r), end="")
    print(
        f"# {len(r.differences)} differences, {r.matched_cells} cells agree; "
        f"reported {r.reported_copies:,}, recorded {r.recorded_copies:,}; "
        f"reports from: {', '.join(r.reports_received) or 'none'}"
    )
    return 0 if r.agrees else 1


def _cmd_fiscal_year(args: argparse.Namespace) -> int:
    from clients.settlement.settle import run_fiscal_year_report
    from server.common.clock import system_clock

    report, files = _with_channel(
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
    from clients.settlement.render import kind_label, percent
    from clients.settlement.settle import run_statistics

    s = _with_channel(args, lambda ch: run_statistics(ch, args.fiscal_year, args.municipality))
    print(f"{s.fiscal_year}年度 {s.municipality_code or '全国'}: {s.copies:,} copies")
    for p in s.months:
        print(f"  {p.month} {p.copies:>10,} copies  {p.participating_municipalities:>5}団体")
    for c in s.by_kind:
        print(f"  {kind_label(c.key)} {c.copies:,}")
    for c in s.by_operator:
        print(f"  {c.key} {c.copies:,}")
    print(f"  時間外 {percent(s.after_hours_share)}")
    print(f"  他市区町村 {percent(s.other_municipality_share)}")
    print(f"  らくらく窓口 {s.counter_copies:,} copies")
    return 0


def _cmd_correct(args: argparse.Namespace) -> int:
    from clients.settlement.settle import run_correct_copy

    r = _with_channel(args, lambda ch: run_correct_copy(ch, args.issuance_id, args.reason))
    state = "posted" if r.newly_posted else "already posted"
    print(f"correction {state} in {r.month} (entry {r.entry_id}), refund {r.refunded_yen}円")
    return 0


def register(sub: Any) -> None:
    """Add the settlement subcommands to `konbini`'s subparsers."""

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.add_argument("--server", default="127.0.0.1:50051")
        add_credentials(p)  # the national operator's token; staff for their own statements
        return p

    s = add("settle", "close a month and write every statement (CSV, PDF, PNG)")
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--out", default="settlement-output")
    s.add_argument("--font", default=str(DEFAULT_FONT))
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
    f.add_argument("--font", default=str(DEFAULT_FONT))
    f.set_defaults(func=_cmd_fiscal_year)

    t = add("settlement-stats", "copies per month, kind and operator; 時間外 and 他市区町村 shares")
    t.add_argument("--fiscal-year", type=int, required=True)
    t.add_argument("--municipality", default="", help="default: national")
    t.set_defaults(func=_cmd_stats)

    x = add("correct-copy", "take back a wrongly issued copy (posted in the open month)")
    x.add_argument("--issuance-id", required=True)
    x.add_argument("--reason", required=True)
    x.set_defaults(func=_cmd_correct)
