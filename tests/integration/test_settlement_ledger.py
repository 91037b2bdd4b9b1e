"""The ledger behind real kiosk visits, over loopback gRPC, on SQLite and PostgreSQL.

Copies are issued through the whole center (card, PIN, challenge, reservation, print), so the
ledger hook runs inside the issuance desk's own transactions. The settlement RPCs are served
here with the bench's frozen clock, so that closing a month does not depend on today's date.

Tests share one center per module and may run in any order (or on other xdist workers):
none assumes which months are closed; each reads the month its copies were posted in.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import timedelta
from pathlib import Path

import grpc
import pypdf
import pytest
from konbini.issuance.v1 import issuance_pb2
from konbini.settlement.v1 import settlement_pb2 as pb
from konbini.settlement.v1 import settlement_pb2_grpc

from clients.errors import decode_error
from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from clients.settlement import cli as settlement_cli
from clients.settlement import settle
from hardware_sim.printer import KioskPrinter, PrinterFault
from server.common.clock import JST
from server.grpc_errors import DomainErrorInterceptor
from server.settlement import protoconv as conv
from server.settlement.desk import SettlementDesk
from server.settlement.queries import SettlementQueries
from server.settlement.servicer import SettlementServicer
from tests.integration.conftest import Bench
from tests.integration.test_kiosk_visits import (
    download,
    issuance_stub,
    md,
    reserve_one,
    session_for,
)


@pytest.fixture(scope="module")
def channel(bench: Bench) -> Iterator[grpc.Channel]:
    """Settlement served with the bench's clock, on the bench's database."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=[DomainErrorInterceptor()]
    )
    engine = bench.center.engine
    settlement_pb2_grpc.add_SettlementServiceServicer_to_server(
        SettlementServicer(SettlementQueries(engine), SettlementDesk(engine, clock=bench.clock)),
        server,
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield ch
    finally:
        ch.close()
        server.stop(grace=None).wait()


def stub(channel: grpc.Channel) -> settlement_pb2_grpc.SettlementServiceStub:
    return settlement_pb2_grpc.SettlementServiceStub(channel)


def issuance_id(bench: Bench, issue_number: str) -> str:
    [(iid,)] = bench.sql("SELECT id FROM issuances WHERE issue_number = :n", n=issue_number)
    return str(iid)


def entries_of(bench: Bench, iid: str) -> list[tuple[object, ...]]:
    return bench.sql(
        "SELECT id, kind, month, copies, after_hours, other_municipality FROM ledger_entries"
        " WHERE issuance_id = :i ORDER BY id",
        i=iid,
    )


def statement(channel: grpc.Channel, bench: Bench, month: str) -> pb.MunicipalityStatement:
    return stub(channel).GetMunicipalityStatement(
        pb.MunicipalityStatementRequest(municipality_code=bench.seeded.profile.code, month=month)
    )


def issue(bench: Bench, kiosk_id: str | None = None) -> str:
    me = bench.take()
    outcome = bench.terminal(kiosk_id=kiosk_id).visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    return issuance_id(bench, outcome.issue_number)


def test_an_issued_copy_posts_one_balanced_entry(bench: Bench, channel: grpc.Channel) -> None:
    iid = issue(bench)
    [(entry_id, kind, month, copies, _, other)] = entries_of(bench, iid)
    assert (kind, copies, bool(other)) == ("copy_issued", 1, False)
    [(total,)] = bench.sql(
        "SELECT SUM(amount_yen) FROM ledger_lines WHERE entry_id = :e", e=entry_id
    )
    assert total == 0
    fee = bench.seeded.profile.fees["juminhyo"]
    s = conv.municipality_statement_from_proto(statement(channel, bench, str(month)))
    assert s.total.copies >= 1 and s.total.fees_yen >= fee
    assert s.total.net_remittance_yen == s.total.fees_yen - s.total.commission_yen
    assert s.total.bcl_fee_yen == 180 * s.total.copies  # the seeded municipality uses BCL


def test_a_retried_copy_with_the_same_idempotency_key_is_counted_once(
    bench: Bench, channel: grpc.Channel
) -> None:
    me = bench.take()
    token = session_for(bench, me)
    rid = reserve_one(bench, token)
    h1, _ = download(bench, token, rid, "ledger-key-1")
    h2, _ = download(bench, token, rid, "ledger-key-1")
    assert h1.issuance_id == h2.issuance_id
    report = issuance_pb2.ReportPrintResultRequest(
        session_token=token,
        issuance_id=h1.issuance_id,
        outcome=issuance_pb2.PRINT_OUTCOME_PRINTED,
        pages_printed=h1.page_count,
    )
    for _ in range(3):
        issuance_stub(bench).ReportPrintResult(report, metadata=md(bench.kiosk_id))
    assert [e[1] for e in entries_of(bench, h1.issuance_id)] == ["copy_issued"]


def test_a_failed_print_is_only_in_the_void_log(bench: Bench, channel: grpc.Channel) -> None:
    me = bench.take()
    printer = KioskPrinter("P1")
    printer.inject_mid_job(PrinterFault.JAM)  # strikes while printing: the fee was paid
    outcome = bench.terminal(printer).visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.PRINT_FAILED
    iid = issuance_id(bench, outcome.issue_number)
    assert entries_of(bench, iid) == []
    month = bench.clock.now.astimezone(JST).strftime("%Y-%m")
    voided = stub(channel).ListVoidedCopies(
        pb.ListVoidedCopiesRequest(municipality_code=bench.seeded.profile.code, month=month)
    )
    mine = [v for v in voided.voided if v.issuance_id == iid]
    assert len(mine) == 1 and mine[0].from_state == "printing"
    assert mine[0].refunded_yen == bench.seeded.profile.fees["juminhyo"]


def test_month_close_statements_reconciliation_and_corrections(
    bench: Bench, channel: grpc.Channel, restore_clock: None, tmp_path: Path
) -> None:
    code = bench.seeded.profile.code
    # A kiosk of the same operator standing in another municipality (他市区町村).
    elsewhere = "K13102901"
    if not bench.sql("SELECT 1 FROM kiosks WHERE kiosk_id = :k", k=elsewhere):
        bench.sql_write(
            "INSERT INTO kiosks (kiosk_id, operator_id, store_name, municipality_code, active)"
            " VALUES (:k, 'seven', 'セブン-イレブン 中央区店', '131024', :t)",
            k=elsewhere,
            t=True,
        )
    month_start = bench.clock.now.astimezone(JST).replace(day=1, hour=0, minute=0)
    # Copies at 19:00 JST on a weekday: after counter hours. Other tests' copies may be here too.
    bench.clock.now = month_start + timedelta(days=9, hours=19)
    evening = issue(bench)
    abroad = issue(bench, kiosk_id=elsewhere)
    [evening_entry] = entries_of(bench, evening)
    [abroad_entry] = entries_of(bench, abroad)
    month = str(evening_entry[2])
    assert bool(evening_entry[4]) is True and bool(abroad_entry[5]) is True

    # The operator reports its counts, one of them wrong.
    recorded = settle.run_reconcile(channel, month, "seven")
    counts = {(d.municipality_code, d.certificate_kind): d.recorded for d in recorded.differences}
    csv_text = "operator_id,month,municipality_code,certificate_kind,copies\n" + "".join(
        f"seven,{month},{muni},{kind},{n + (1 if muni == code else 0)}\n"
        for (muni, kind), n in sorted(counts.items())
    )
    assert settle.run_operator_report(channel, csv_text) == len(counts)

    # The month ends; `konbini settle` closes it and writes every statement.
    y, m = (int(x) for x in month.split("-"))
    bench.clock.now = (month_start + timedelta(days=40)).replace(day=1, hour=9)
    result = settle.run_settle(channel, month, tmp_path)
    assert result.close.month == month and code in result.close.municipality_codes
    assert "seven" in result.close.operator_ids
    names = {p.name for p in result.files}
    for expected in (
        f"municipality-{code}-{month}.pdf",
        f"municipality-{code}-{month}.csv",
        f"municipality-{code}-{month}-monthly.png",
        f"operator-seven-{month}.pdf",
        f"reconciliation-seven-{month}.csv",
        f"national-{month}.pdf",
    ):
        assert expected in names
    pdf = (tmp_path / month / f"municipality-{code}-{month}.pdf").read_bytes()
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "月次精算書" in text and bench.seeded.profile.name in text and f"{y}年{m}月" in text
    # Settling again changes nothing: the same close, byte-identical statements.
    again = settle.run_settle(channel, month, tmp_path / "again")
    assert not again.close.newly_closed and again.close.digest == result.close.digest
    assert (tmp_path / "again" / month / f"municipality-{code}-{month}.pdf").read_bytes() == pdf

    # Reconciliation lists the wrong cell with both numbers.
    recon = settle.run_reconcile(channel, month, "seven")
    wrong = [d for d in recon.differences if d.municipality_code == code]
    assert len(wrong) == 1 and wrong[0].reported == wrong[0].recorded + 1
    assert recon.reports_received == ("seven",)

    # A copy of the closed month taken back: the correction lands in the open month.
    closed_before = statement(channel, bench, month)
    correction = stub(channel).CorrectCopy(
        pb.CorrectCopyRequest(issuance_id=evening, reason="誤交付")
    )
    assert correction.month > month and correction.newly_posted
    assert statement(channel, bench, month) == closed_before
    later = conv.municipality_statement_from_proto(statement(channel, bench, correction.month))
    assert later.closed_at is None and later.total.copies <= 0

    # The open month cannot be closed before it ends.
    with pytest.raises(grpc.RpcError) as err:
        stub(channel).CloseMonth(pb.CloseMonthRequest(month=correction.month))
    assert decode_error(err.value).reason == "MONTH_NOT_OVER"

    report, files = settle.run_fiscal_year_report(
        channel, code, y if m >= 4 else y - 1, tmp_path, created_at=bench.clock.now
    )
    assert report.total.contribution_yen > 0  # posted by the first close of the year
    assert any(f.suffix == ".pdf" for f in files)


def test_settlement_refusals_are_domain_errors(bench: Bench, channel: grpc.Channel) -> None:
    s = stub(channel)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: s.CloseMonth(pb.CloseMonthRequest(month="2026-13")), "INVALID_ARGUMENT"),
        (
            lambda: s.GetMunicipalityStatement(
                pb.MunicipalityStatementRequest(municipality_code="999999", month="2026-04")
            ),
            "MUNICIPALITY_NOT_FOUND",
        ),
        (
            lambda: s.GetOperatorStatement(
                pb.OperatorStatementRequest(operator_id="nobody", month="2026-04")
            ),
            "OPERATOR_NOT_FOUND",
        ),
        (
            lambda: s.CorrectCopy(pb.CorrectCopyRequest(issuance_id="nope", reason="x")),
            "COPY_NOT_SETTLED",
        ),
        (
            lambda: s.SubmitOperatorReport(
                pb.SubmitOperatorReportRequest(
                    rows=[
                        pb.OperatorReportRow(
                            operator_id="seven",
                            month="2026-04",
                            municipality_code="13101",
                            certificate_kind="juminhyo",
                        )
                    ]
                )
            ),
            "INVALID_ARGUMENT",
        ),
        (lambda: s.GetStatistics(pb.StatisticsRequest(fiscal_year=0)), "INVALID_ARGUMENT"),
    ]
    for call, reason in cases:
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert decode_error(err.value).reason == reason


def test_counter_hours_round_trip_over_grpc(bench: Bench, channel: grpc.Channel) -> None:
    code = bench.seeded.profile.code
    s = stub(channel)
    default = s.GetCounterHours(pb.GetCounterHoursRequest(municipality_code=code))
    assert (default.opens, default.closes, list(default.weekdays)) == (
        "08:30",
        "17:15",
        [1, 2, 3, 4, 5],
    )
    with pytest.raises(grpc.RpcError) as err:
        s.SetCounterHours(pb.CounterHours(municipality_code=code, opens="18:00", closes="09:00"))
    assert decode_error(err.value).code is grpc.StatusCode.INVALID_ARGUMENT


def test_the_cli_subcommands_register() -> None:
    parser = argparse.ArgumentParser(prog="konbini")
    settlement_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["settle", "--month", "2026-04", "--out", "x"])
    assert (args.month, args.out, args.func) == ("2026-04", "x", settlement_cli._cmd_settle)
    args = parser.parse_args(["reconcile", "--month", "2026-04", "--operator", "seven"])
    assert args.operator == "seven"
