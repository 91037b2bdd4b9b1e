"""Counter terminals (らくらく窓口) over loopback gRPC, SQLite and PostgreSQL.

A counter terminal is a registry row of kind "counter" standing in the town hall; the resident
goes through the kiosk screens on it, takes the 受付票 its own printer prints, and pays the clerk,
who hands over the certificate the counter printer put out (`HandOverCounterCopy`). Only then is
the copy ISSUED and its fee posted, to the municipality and without operator commission.
"""

from __future__ import annotations

import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import grpc
import pypdf
import pytest
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc
from konbini.settlement.v1 import settlement_pb2, settlement_pb2_grpc
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc
from sqlmodel import Session

from clients.errors import decode_error
from clients.kiosk.payment import EmulatedTill
from clients.kiosk.terminal import (
    CertificateChoice,
    KioskTerminal,
    Order,
    VisitOutcome,
    VisitStatus,
)
from hardware_sim.printer import KioskPrinter, PrinterFault
from server.bcl.records import IssuingBackend, ResidentRecord
from server.common.identity import KIOSK_ID_HEADER
from server.kiosks.registry import KioskRegistry, counter_operator_id
from server.municipal.staff import StaffDesk
from server.settlement.fees import BCL_ISSUING_FEE_YEN
from server.settlement.periods import Month
from server.settlement.reconcile import reconcile_month
from server.settlement.statements import statistics
from tests.integration.conftest import YOKOHAMA, Bench, add_yokohama
from tests.lost_reports import LoseReportsWhile

OTHER_TOWN = YOKOHAMA  # onboarded below; the bench's residents do not live there


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="module")
def counter_id(bench: Bench) -> str:
    """A らくらく窓口 terminal in the bench municipality's town hall."""
    terminal_id = f"C{bench.seeded.profile.code}01"
    registered = KioskRegistry(bench.center.engine).register_counter_terminal(
        terminal_id, municipality_code=bench.seeded.profile.code, location="市民課 窓口"
    )
    assert registered.terminal_kind == "counter"
    assert registered.operator_id == counter_operator_id(bench.seeded.profile.code)
    return terminal_id


@pytest.fixture(scope="module")
def other_town_counter_id(bench: Bench) -> str:
    add_yokohama(bench.center.engine)
    terminal_id = f"C{OTHER_TOWN}01"
    KioskRegistry(bench.center.engine).register_counter_terminal(
        terminal_id, municipality_code=OTHER_TOWN, location="区役所 戸籍課"
    )
    return terminal_id


@pytest.fixture(scope="module")
def staff_token(bench: Bench) -> str:
    _, token = StaffDesk(bench.center.engine, clock=bench.clock).create_account(
        bench.seeded.profile.code, "市民課 窓口"
    )
    return token


@pytest.fixture(scope="module")
def other_staff_token(bench: Bench, other_town_counter_id: str) -> str:
    _, token = StaffDesk(bench.center.engine, clock=bench.clock).create_account(
        OTHER_TOWN, "区民課"
    )
    return token


def staff(bench: Bench) -> staff_pb2_grpc.MunicipalityStaffServiceStub:
    channel = getattr(bench, "api_channel", None) or bench.channel
    return staff_pb2_grpc.MunicipalityStaffServiceStub(channel)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


class CounterDesk:
    """The terminal with its two printers: the 受付票 printer and the one behind the counter."""

    def __init__(self, bench: Bench, terminal_id: str) -> None:
        self.slips = KioskPrinter("SLIP1")
        self.counter = KioskPrinter("CP1")
        self.terminal = KioskTerminal(
            bench.channel_for(terminal_id),
            kiosk_id=terminal_id,
            printer=self.slips,
            counter_printer=self.counter,
        )


def visit_counter(
    bench: Bench, terminal_id: str, me: ResidentRecord
) -> tuple[CounterDesk, VisitOutcome]:
    desk = CounterDesk(bench, terminal_id)
    outcome = desk.terminal.visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    return desk, outcome


def issuance_of(bench: Bench, reception_number: str) -> tuple[str, str, str]:
    [(issuance_id, state, channel)] = bench.sql(
        "SELECT i.id, i.state, i.channel FROM issuances i"
        " JOIN counter_receptions r ON r.issuance_id = i.id WHERE r.reception_number = :n",
        n=reception_number,
    )
    return str(issuance_id), str(state), str(channel)


def charged(bench: Bench, issuance_id: str) -> list[tuple[object, ...]]:
    return bench.sql(
        "SELECT fee_yen, commission_yen, bcl_fee_yen, operator_id FROM settlement_entries"
        " WHERE issuance_id = :i",
        i=issuance_id,
    )


def fee_of_juminhyo(bench: Bench) -> int:
    [(fee,)] = bench.sql(
        "SELECT fee_yen FROM offerings WHERE municipality_code = :m AND kind = 'juminhyo'",
        m=bench.seeded.profile.code,
    )
    assert isinstance(fee, int)
    return fee


def test_counter_visit_prints_a_numbered_slip_and_the_copy_behind_the_counter_and_charges_nothing(
    bench: Bench, counter_id: str
) -> None:
    me = bench.take()
    desk, outcome = visit_counter(bench, counter_id, me)
    assert outcome.status is VisitStatus.AWAITING_HANDOVER, outcome
    assert re.fullmatch(r"\d{8}-\d{4}", outcome.reception_number)
    assert outcome.fee_due_yen == fee_of_juminhyo(bench)
    assert outcome.paid_yen == 0 and outcome.charged_yen == 0
    # The certificate came out of the counter printer, the slip out of the terminal's own.
    assert [d.pdf for d in desk.counter.printed] == [outcome.pdf]
    assert f"-{counter_id}-CP1-" in outcome.issue_number  # terminal and counter printer
    assert [d.pdf for d in desk.slips.printed] == [outcome.slip_pdf]
    slip = pdf_text(outcome.slip_pdf)
    assert "受付票" in slip and outcome.reception_number in slip
    assert "住民票の写し" in slip and f"{outcome.fee_due_yen:,}円" in slip
    # The slip names nobody: no name, no address, no issue number of the copy.
    for private in (me.family_name, me.given_name, me.address, outcome.issue_number):
        assert private not in slip
    issuance_id, state, channel = issuance_of(bench, outcome.reception_number)
    assert (state, channel) == ("awaiting_handover", "counter")
    assert charged(bench, issuance_id) == []


def test_hand_over_issues_the_copy_and_posts_the_fee_to_the_municipality_without_commission(
    bench: Bench, counter_id: str, staff_token: str
) -> None:
    me = bench.take()
    _, outcome = visit_counter(bench, counter_id, me)
    copy = staff(bench).HandOverCounterCopy(
        staff_pb2.HandOverCounterCopyRequest(reception_number=outcome.reception_number),
        metadata=bearer(staff_token),
    )
    fee = fee_of_juminhyo(bench)
    assert (copy.state, copy.fee_yen, copy.issue_number) == ("issued", fee, outcome.issue_number)
    assert copy.handed_over_by.startswith(f"S{bench.seeded.profile.code}-")
    issuance_id, state, _ = issuance_of(bench, outcome.reception_number)
    assert state == "issued"
    assert bench.sql(
        "SELECT actor FROM audit_entries WHERE subject = :i AND event = 'issuance.issued'",
        i=issuance_id,
    ) == [(copy.handed_over_by,)]  # the clerk, in the audit log
    bcl_fee = BCL_ISSUING_FEE_YEN if bench.seeded.profile.backend is IssuingBackend.BCL else 0
    assert charged(bench, issuance_id) == [
        (fee, 0, bcl_fee, counter_operator_id(bench.seeded.profile.code))
    ]
    lines = {
        str(account): amount
        for account, amount in bench.sql(
            "SELECT l.account, l.amount_yen FROM ledger_lines l"
            " JOIN ledger_entries e ON e.id = l.entry_id WHERE e.issuance_id = :i",
            i=issuance_id,
        )
    }
    assert lines.pop("counter_cash") == fee and lines.pop("fee_income") == -fee
    assert "commission_expense" not in lines and "operator_receivable" not in lines
    [(entry_channel,)] = bench.sql(
        "SELECT channel FROM ledger_entries WHERE issuance_id = :i", i=issuance_id
    )
    assert entry_channel == "counter"
    with Session(bench.center.engine) as db:  # what GetStatistics reports
        stats = statistics(db, 2026, bench.seeded.profile.code)
    assert stats.counter_copies >= 1
    operator_of_record = counter_operator_id(bench.seeded.profile.code)
    counted = {c.key: c.copies for c in stats.by_operator}
    assert counted[operator_of_record] == stats.counter_copies
    with Session(bench.center.engine) as db:  # no operator reports counter copies
        check = reconcile_month(db, Month.of(bench.clock.now))
    assert operator_of_record not in {d.operator_id for d in check.differences}


def test_the_monthly_summary_does_not_count_a_counter_fee_as_an_operator_remittance(
    bench: Bench, counter_id: str, staff_token: str
) -> None:
    """The fee of a counter copy is in the town hall's till: no operator collected it, so the
    summary's net remittance (what operators pass on) does not grow with it."""
    summary = settlement_pb2_grpc.SettlementServiceStub(bench.api_channel).MonthlySummary
    request = settlement_pb2.MonthlySummaryRequest(
        municipality_code=bench.seeded.profile.code, month=str(Month.of(bench.clock.now))
    )
    before = summary(request, metadata=bench.national)
    _, outcome = visit_counter(bench, counter_id, bench.take())
    staff(bench).HandOverCounterCopy(
        staff_pb2.HandOverCounterCopyRequest(reception_number=outcome.reception_number),
        metadata=bearer(staff_token),
    )
    after = summary(request, metadata=bench.national)
    assert after.total_copies == before.total_copies + 1
    assert after.total_fees_yen - before.total_fees_yen == fee_of_juminhyo(bench)
    assert after.total_commission_yen == before.total_commission_yen
    assert after.net_remittance_yen == before.net_remittance_yen


def test_a_second_hand_over_is_refused_and_charges_once(
    bench: Bench, counter_id: str, staff_token: str
) -> None:
    me = bench.take()
    _, outcome = visit_counter(bench, counter_id, me)
    request = staff_pb2.HandOverCounterCopyRequest(reception_number=outcome.reception_number)
    staff(bench).HandOverCounterCopy(request, metadata=bearer(staff_token))
    with pytest.raises(grpc.RpcError) as again:
        staff(bench).HandOverCounterCopy(request, metadata=bearer(staff_token))
    err = decode_error(again.value)
    assert (err.code, err.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ALREADY_HANDED_OVER")
    issuance_id, _, _ = issuance_of(bench, outcome.reception_number)
    assert len(charged(bench, issuance_id)) == 1
    [(entries,)] = bench.sql(
        "SELECT count(*) FROM ledger_entries WHERE issuance_id = :i", i=issuance_id
    )
    assert entries == 1


def test_staff_of_another_municipality_cannot_hand_over_or_see_the_copy(
    bench: Bench, counter_id: str, other_staff_token: str, staff_token: str
) -> None:
    me = bench.take()
    _, outcome = visit_counter(bench, counter_id, me)
    with pytest.raises(grpc.RpcError) as refused:
        staff(bench).HandOverCounterCopy(
            staff_pb2.HandOverCounterCopyRequest(reception_number=outcome.reception_number),
            metadata=bearer(other_staff_token),
        )
    err = decode_error(refused.value)
    assert err.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.reason == "COUNTER_OTHER_MUNICIPALITY"
    theirs = staff(bench).ListCounterCopies(
        staff_pb2.ListCounterCopiesRequest(), metadata=bearer(other_staff_token)
    )
    assert outcome.reception_number not in {c.reception_number for c in theirs.copies}
    ours = staff(bench).ListCounterCopies(
        staff_pb2.ListCounterCopiesRequest(), metadata=bearer(staff_token)
    )
    assert outcome.reception_number in {c.reception_number for c in ours.copies}
    issuance_id, state, _ = issuance_of(bench, outcome.reception_number)
    assert state == "awaiting_handover" and charged(bench, issuance_id) == []


def test_an_uncollected_copy_is_voided_after_the_timeout_with_no_fee(
    bench: Bench, counter_id: str, staff_token: str, restore_clock: None
) -> None:
    me = bench.take()
    _, outcome = visit_counter(bench, counter_id, me)
    issuance_id, _, _ = issuance_of(bench, outcome.reception_number)
    bench.clock.advance(timedelta(hours=3, minutes=59))
    bench.center.desk.void_expired()
    assert issuance_of(bench, outcome.reception_number)[1] == "awaiting_handover"
    bench.clock.advance(timedelta(minutes=2))  # past the 4 hours to collect it
    bench.center.desk.void_expired()
    assert issuance_of(bench, outcome.reception_number)[1] == "voided"
    assert charged(bench, issuance_id) == []
    [(from_state, refunded)] = bench.sql(
        "SELECT from_state, refunded_yen FROM voided_copies WHERE issuance_id = :i", i=issuance_id
    )
    assert (from_state, refunded) == ("awaiting_handover", 0)
    with pytest.raises(grpc.RpcError) as late:
        staff(bench).HandOverCounterCopy(
            staff_pb2.HandOverCounterCopyRequest(reception_number=outcome.reception_number),
            metadata=bearer(staff_token),
        )
    assert decode_error(late.value).reason == "RECEPTION_VOIDED"


def test_suppression_set_after_the_copy_printed_stops_the_hand_over_and_voids_it_free(
    bench: Bench, counter_id: str, staff_token: str
) -> None:
    me = bench.take()
    _, outcome = visit_counter(bench, counter_id, me)
    suppression = staff(bench).SuppressIssuance(
        staff_pb2.SuppressIssuanceRequest(resident_id=me.resident_id, note="支援措置"),
        metadata=bearer(staff_token),
    )
    try:
        with pytest.raises(grpc.RpcError) as withheld:
            staff(bench).HandOverCounterCopy(
                staff_pb2.HandOverCounterCopyRequest(reception_number=outcome.reception_number),
                metadata=bearer(staff_token),
            )
    finally:
        staff(bench).LiftSuppression(
            staff_pb2.LiftSuppressionRequest(suppression_id=suppression.suppression_id),
            metadata=bearer(staff_token),
        )
    err = decode_error(withheld.value)
    assert (err.code, err.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "SUPPRESSED_SINCE_PRINTED",
    )
    issuance_id, state, _ = issuance_of(bench, outcome.reception_number)
    assert state == "voided" and charged(bench, issuance_id) == []
    # Asked again (the suppression lifted meanwhile), the clerk is told why it was voided, not
    # that it was never collected; still nothing is charged.
    with pytest.raises(grpc.RpcError) as again:
        staff(bench).HandOverCounterCopy(
            staff_pb2.HandOverCounterCopyRequest(reception_number=outcome.reception_number),
            metadata=bearer(staff_token),
        )
    assert decode_error(again.value).reason == "SUPPRESSED_SINCE_PRINTED"
    assert charged(bench, issuance_id) == []


def test_a_copy_that_jams_at_the_counter_printer_is_void_and_gets_no_reception(
    bench: Bench, counter_id: str
) -> None:
    me = bench.take()
    desk = CounterDesk(bench, counter_id)
    desk.counter.inject_mid_job(PrinterFault.JAM)
    outcome = desk.terminal.visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.PRINT_FAILED, outcome
    assert desk.slips.printed == [] and outcome.reception_number == ""
    [(state, channel)] = bench.sql(
        "SELECT state, channel FROM issuances WHERE issue_number = :n", n=outcome.issue_number
    )
    assert (state, channel) == ("voided", "counter")


def test_a_resident_of_another_town_is_refused_at_this_town_counter(
    bench: Bench, other_town_counter_id: str
) -> None:
    """A counter terminal issues only its own municipality's certificates: the clerk takes that
    municipality's fee under its ordinance and there is no operator to remit another's. A
    resident of the bench municipality at 横浜市's counter is sent to a kiosk or their own town."""
    me = bench.take()
    desk = CounterDesk(bench, other_town_counter_id)
    outcome = desk.terminal.visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.NOT_OFFERED, outcome
    token = desk.terminal.authenticate(bench.reader(me), bench.pin(me))
    assert isinstance(token, str)
    stub = issuance_pb2_grpc.IssuanceServiceStub(bench.channel_for(other_town_counter_id))
    with pytest.raises(grpc.RpcError) as refused:
        stub.Reserve(
            issuance_pb2.ReserveRequest(
                session_token=token,
                kind=issuance_pb2.CERTIFICATE_KIND_JUMINHYO,
                subject_ids=["0" * 24],
                municipality_code=bench.seeded.profile.code,
            ),
            metadata=((KIOSK_ID_HEADER, other_town_counter_id),),
        )
    err = decode_error(refused.value)
    assert (err.code, err.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "COUNTER_OTHER_MUNICIPALITY",
    )
    assert desk.counter.printed == [] and desk.slips.printed == []


def test_a_terminal_set_up_for_the_counter_but_registered_as_a_kiosk_takes_no_order(
    bench: Bench,
) -> None:
    me = bench.take()
    kiosk_as_counter = KioskTerminal(
        bench.channel,
        kiosk_id=bench.kiosk_id,
        printer=KioskPrinter("SLIP1"),
        counter_printer=KioskPrinter("CP1"),
    )
    outcome = kiosk_as_counter.visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.KIOSK_OUT_OF_SERVICE, outcome
    [(state,)] = bench.sql(
        "SELECT state FROM issuances WHERE requester_pk ="
        " (SELECT id FROM residents WHERE resident_id = :r AND municipality_code = :m)",
        r=me.resident_id,
        m=bench.seeded.profile.code,
    )
    assert state == "voided"


def test_a_kiosk_set_up_as_a_store_kiosk_on_a_counter_terminal_takes_no_money(
    bench: Bench, counter_id: str
) -> None:
    me = bench.take()
    till = EmulatedTill()
    as_kiosk = KioskTerminal(
        bench.channel_for(counter_id), kiosk_id=counter_id, printer=KioskPrinter("P1"), till=till
    )
    outcome = as_kiosk.visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
    assert outcome.status is VisitStatus.KIOSK_OUT_OF_SERVICE, outcome
    assert outcome.paid_yen == 0 and till.collected == []


@pytest.mark.parametrize(
    ("number", "code", "reason"),
    [
        ("2026-04-01-7", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
        ("20260401-9999", grpc.StatusCode.NOT_FOUND, "RECEPTION_NOT_FOUND"),
    ],
)
def test_a_mistyped_or_unknown_reception_number_is_refused_clearly(
    bench: Bench, staff_token: str, number: str, code: grpc.StatusCode, reason: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        staff(bench).HandOverCounterCopy(
            staff_pb2.HandOverCounterCopyRequest(reception_number=number),
            metadata=bearer(staff_token),
        )
    err = decode_error(refused.value)
    assert (err.code, err.reason) == (code, reason)


def test_two_clerks_handing_over_the_same_copy_at_once_charge_it_once(
    bench: Bench, counter_id: str, staff_token: str
) -> None:
    me = bench.take()
    _, outcome = visit_counter(bench, counter_id, me)
    request = staff_pb2.HandOverCounterCopyRequest(reception_number=outcome.reception_number)
    start = threading.Barrier(2)

    def clerk() -> str:
        start.wait()
        try:
            staff(bench).HandOverCounterCopy(request, metadata=bearer(staff_token))
        except grpc.RpcError as err:
            return decode_error(err).reason
        return "handed over"

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(lambda _: clerk(), range(2)))
    assert results == ["ALREADY_HANDED_OVER", "handed over"]
    issuance_id, state, _ = issuance_of(bench, outcome.reception_number)
    assert state == "issued" and len(charged(bench, issuance_id)) == 1


def test_a_counter_copy_whose_report_is_lost_waits_for_the_clerk_instead_of_being_cancelled(
    bench: Bench, counter_id: str, staff_token: str
) -> None:
    outage = LoseReportsWhile()
    desk = CounterDesk(bench, counter_id)
    desk.terminal = KioskTerminal(
        grpc.intercept_channel(bench.channel_for(counter_id), outage),
        kiosk_id=counter_id,
        printer=desk.slips,
        counter_printer=desk.counter,
        sleep=lambda _s: None,
    )
    me = bench.take()
    outcome = desk.terminal.visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    # Printed behind the counter; the resident is told to give the clerk the issue number.
    assert outcome.status is VisitStatus.AWAITING_HANDOVER and outcome.report_pending
    assert outcome.issue_number in outcome.screen and not outcome.reception_number
    [(issuance_id, state)] = bench.sql(
        "SELECT id, state FROM issuances WHERE issue_number = :n", n=outcome.issue_number
    )
    assert state == "printing"  # not cancelled

    outage.down = False
    assert desk.terminal.send_pending_reports() == 0
    [(reception_number,)] = bench.sql(
        "SELECT reception_number FROM counter_receptions WHERE issuance_id = :i", i=issuance_id
    )
    copy = staff(bench).HandOverCounterCopy(
        staff_pb2.HandOverCounterCopyRequest(reception_number=str(reception_number)),
        metadata=bearer(staff_token),
    )
    assert (copy.state, copy.issue_number) == ("issued", outcome.issue_number)
