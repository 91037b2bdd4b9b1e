"""The print result reaches the center even when the center went away after the copy printed.

A kiosk that printed a copy holds its issuance id and session token; it reports until the
center answers, across a restart, and the copy is issued and charged once:

- the session may have expired while the center was away: the kiosk the copy printed on, with
  the token it was issued under, may still report it until the printing deadline (then the
  sweeper voids it) — `server/issuance/service.py` `IssuanceDesk.report_print`;
- `clients.kiosk.terminal.KioskTerminal` sends a report that failed transiently again, after a
  pause, instead of cancelling the copy it has just printed and refunding the fee.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from clients.errors import decode_error
from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitStatus
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.credentials import CardCredentials
from hardware_sim.card.reader import InProcessReader
from hardware_sim.printer import KioskPrinter, PrinterFault
from server.app import Center, create_server
from server.common.clock import FrozenClock
from server.config import ServerConfig
from server.db.engine import make_engine
from server.kiosks.registry import KioskRegistry
from tests.faults.books import audit_books
from tests.faults.conftest import Recorder
from tests.faults.kiosks import EmulatedKiosk, KioskNotebook, Plan
from tests.faults.pgcluster import free_port
from tests.faults.world import CenterProcess, Seeded, seed, write_anchor
from tests.lost_reports import LoseReportsWhile, Lost
from tests.pki import test_authority


def charges(engine: Engine, issuance_id: str) -> tuple[str, int, int]:
    """(state, settlement rows, journal entries) of one copy."""
    with engine.connect() as conn:
        state = conn.execute(
            sa.text("SELECT state FROM issuances WHERE id = :i"), {"i": issuance_id}
        ).scalar_one()
        settled = conn.execute(
            sa.text("SELECT count(*) FROM settlement_entries WHERE issuance_id = :i"),
            {"i": issuance_id},
        ).scalar_one()
        journal = conn.execute(
            sa.text("SELECT count(*) FROM ledger_entries WHERE issuance_id = :i"),
            {"i": issuance_id},
        ).scalar_one()
    return str(state), int(settled), int(journal)


@pytest.mark.slow
def test_a_kiosk_reports_a_printed_copy_after_the_center_was_killed(
    authority: tuple[JpkiAuthority, ResponderHandle],
    tmp_path: Path,
    center_process: Callable[..., CenterProcess],
    record_figures: Recorder,
) -> None:
    jpki, responder = authority
    url = f"sqlite:///{tmp_path / 'center.db'}"
    seeded = seed(url, jpki, kiosks=1)
    center = center_process(url, write_anchor(jpki, tmp_path), responder.url, free_port())
    center.start()
    book = KioskNotebook()
    kiosk = EmulatedKiosk(center.target, seeded.kiosk_ids[0], seeded.cards, book, seed=1)
    try:
        token, record = kiosk.reserve(seeded.cards[0], Plan.PRINT)
        kiosk.fetch(token, record)
        record.printed = True  # the copy is in the tray ...
        center.kill()  # ... and the center is gone before the kiosk could say so
        center.start()
        kiosk.report(token, record, printed=True)  # the same token and issuance id
    finally:
        kiosk.close()
        center.stop()
    engine = make_engine(url)
    try:
        assert charges(engine, record.issuance_id) == ("issued", 1, 1)
        books = audit_books(engine, book.copies)
    finally:
        engine.dispose()
    record_figures(
        faults_injected=center.kills,
        copies_checked=books.copies_checked,
        ledger_differences=len(books.differences),
    )
    assert (record.final_state, record.charged_yen) == ("issued", record.fee_yen)
    assert books.differences == ()


# -- in-process centers for the cases that do not work yet ------------------------------------


@dataclasses.dataclass
class Bench:
    center: Center
    seeded: Seeded
    clock: FrozenClock
    target: str


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    clock = FrozenClock()
    jpki = test_authority(clock)
    with serve_in_thread(jpki) as responder:
        url = f"sqlite:///{tmp_path / 'center.db'}"
        seeded = seed(url, jpki, kiosks=2)
        center = create_server(
            ServerConfig(
                trust_anchor_path=write_anchor(jpki, tmp_path),
                authority_url=responder.url,
                database_url=url,
                port=0,
                kiosk_hours="00:00-24:00",
                insecure=True,  # plaintext loopback (the demo mode)
            ),
            clock=clock,
        )
        center.server.start()
        try:
            yield Bench(center, seeded, clock, f"127.0.0.1:{center.port}")
        finally:
            center.server.stop(grace=None).wait()
            center.engine.dispose()


def test_a_report_after_the_session_expired_still_settles_the_printed_copy(bench: Bench) -> None:
    book = KioskNotebook()
    kiosk = EmulatedKiosk(bench.target, bench.seeded.kiosk_ids[0], bench.seeded.cards, book, seed=2)
    try:
        token, record = kiosk.reserve(bench.seeded.cards[0], Plan.PRINT)
        kiosk.fetch(token, record)
        # The center was away for 11 minutes: past the session (10), within the copy's (15).
        bench.clock.advance(timedelta(minutes=11))
        kiosk.report(token, record, printed=True)
    finally:
        kiosk.close()
    assert charges(bench.center.engine, record.issuance_id) == ("issued", 1, 1)


def _refusal_reason(err: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    details = decode_error(err)
    return details.code, details.reason


def test_a_report_past_the_printing_deadline_is_refused_and_the_copy_is_left_to_the_sweeper(
    bench: Bench,
) -> None:
    book = KioskNotebook()
    kiosk = EmulatedKiosk(bench.target, bench.seeded.kiosk_ids[0], bench.seeded.cards, book, seed=3)
    try:
        token, record = kiosk.reserve(bench.seeded.cards[0], Plan.PRINT)
        kiosk.fetch(token, record)
        bench.clock.advance(timedelta(minutes=15))  # exactly the printing TTL: too late
        with pytest.raises(grpc.RpcError) as refused:
            kiosk.report(token, record, printed=True)
    finally:
        kiosk.close()
    assert _refusal_reason(refused.value) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_EXPIRED")
    assert charges(bench.center.engine, record.issuance_id) == ("printing", 0, 0)
    assert bench.center.desk.void_expired() == 1
    assert charges(bench.center.engine, record.issuance_id)[0] == "voided"


def test_a_late_report_needs_the_token_the_copy_was_issued_under(bench: Bench) -> None:
    book = KioskNotebook()
    kiosk = EmulatedKiosk(bench.target, bench.seeded.kiosk_ids[0], bench.seeded.cards, book, seed=4)
    try:
        token, record = kiosk.reserve(bench.seeded.cards[0], Plan.PRINT)
        kiosk.fetch(token, record)
        other, _ = kiosk.reserve(bench.seeded.cards[1], Plan.PRINT)  # a session of its own
        bench.clock.advance(timedelta(minutes=11))
        with pytest.raises(grpc.RpcError) as refused:
            kiosk.report(other, record, printed=True)
    finally:
        kiosk.close()
    assert _refusal_reason(refused.value) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_EXPIRED")
    assert charges(bench.center.engine, record.issuance_id) == ("printing", 0, 0)


def test_a_late_report_from_another_kiosk_is_refused(bench: Bench) -> None:
    book = KioskNotebook()
    mine = EmulatedKiosk(bench.target, bench.seeded.kiosk_ids[0], bench.seeded.cards, book, seed=5)
    theirs = EmulatedKiosk(
        bench.target, bench.seeded.kiosk_ids[1], bench.seeded.cards, book, seed=6
    )
    try:
        token, record = mine.reserve(bench.seeded.cards[0], Plan.PRINT)
        mine.fetch(token, record)
        bench.clock.advance(timedelta(minutes=11))
        with pytest.raises(grpc.RpcError) as refused:
            theirs.report(token, record, printed=True)
    finally:
        mine.close()
        theirs.close()
    assert _refusal_reason(refused.value) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "SESSION_BOUND_TO_OTHER_KIOSK",
    )
    assert charges(bench.center.engine, record.issuance_id) == ("printing", 0, 0)


def _reader(card: CardCredentials) -> InProcessReader:
    """The resident's card on the kiosk's reader, connected."""
    reader = InProcessReader()
    reader.insert(JpkiApplet(card))
    reader.connect()
    return reader


class _LoseFirstReport(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """The first ReportPrintResult is lost, before or after the center committed it."""

    def __init__(self, after_commit: bool) -> None:
        self.after_commit = after_commit
        self.lost = 0

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.method.endswith("/ReportPrintResult") and not self.lost:
            self.lost += 1
            if self.after_commit:
                continuation(details, request).result()
            raise Lost()
        return continuation(details, request)


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "after-commit"])
def test_the_kiosk_terminal_reports_again_instead_of_cancelling_a_printed_copy(
    bench: Bench, after_commit: bool
) -> None:
    channel = grpc.intercept_channel(
        grpc.insecure_channel(bench.target), _LoseFirstReport(after_commit)
    )
    card = bench.seeded.cards[0]
    pauses: list[float] = []
    reader = _reader(card)
    try:
        terminal = KioskTerminal(
            channel,
            kiosk_id=bench.seeded.kiosk_ids[0],
            printer=KioskPrinter("P1"),
            sleep=pauses.append,
        )
        outcome = terminal.visit(reader, card.auth_pin, Order(CertificateChoice.JUMINHYO))
    finally:
        channel.close()
    with bench.center.engine.connect() as conn:
        (issuance_id,) = conn.execute(sa.text("SELECT id FROM issuances")).scalars().all()
    assert outcome.status is VisitStatus.ISSUED
    assert len(pauses) == 1  # one lost report, one pause, one report that got through
    assert outcome.kept_yen == outcome.fee_yen > 0
    assert charges(bench.center.engine, issuance_id) == ("issued", 1, 1)


def test_a_printed_copy_the_center_cannot_hear_of_waits_in_the_outbox_and_is_charged_once(
    bench: Bench, tmp_path: Path
) -> None:
    outage = LoseReportsWhile()
    channel = grpc.intercept_channel(grpc.insecure_channel(bench.target), outage)
    card = bench.seeded.cards[0]
    reader = _reader(card)
    outbox = tmp_path / "outbox"
    try:
        terminal = KioskTerminal(
            channel,
            kiosk_id=bench.seeded.kiosk_ids[0],
            printer=KioskPrinter("P1"),
            sleep=lambda _s: None,
            outbox_path=outbox,
        )
        outcome = terminal.visit(reader, card.auth_pin, Order(CertificateChoice.JUMINHYO))
        with bench.center.engine.connect() as conn:
            (issuance_id,) = conn.execute(sa.text("SELECT id FROM issuances")).scalars().all()
        # The copy is in the tray: the resident keeps it and the fee, nothing is cancelled.
        assert outcome.status is VisitStatus.ISSUED
        assert outcome.report_pending
        assert outcome.kept_yen == outcome.fee_yen > 0
        assert charges(bench.center.engine, issuance_id) == ("printing", 0, 0)
        assert len(terminal.pending_reports) == 1

        # The terminal restarts with its outbox on disk; the center is reachable again.
        outage.down = False
        restarted = KioskTerminal(
            channel,
            kiosk_id=bench.seeded.kiosk_ids[0],
            printer=KioskPrinter("P1"),
            outbox_path=outbox,
        )
        assert len(restarted.pending_reports) == 1
        assert restarted.send_pending_reports() == 0
        assert restarted.send_pending_reports() == 0  # nothing left to send twice
    finally:
        channel.close()
    assert charges(bench.center.engine, issuance_id) == ("issued", 1, 1)


def test_a_copy_that_did_not_print_is_still_cancelled_when_its_report_is_lost(
    bench: Bench,
) -> None:
    outage = LoseReportsWhile()
    channel = grpc.intercept_channel(grpc.insecure_channel(bench.target), outage)
    card = bench.seeded.cards[0]
    reader = _reader(card)
    printer = KioskPrinter("P1")
    printer.inject_mid_job(PrinterFault.JAM)
    try:
        terminal = KioskTerminal(
            channel, kiosk_id=bench.seeded.kiosk_ids[0], printer=printer, sleep=lambda _s: None
        )
        outcome = terminal.visit(reader, card.auth_pin, Order(CertificateChoice.JUMINHYO))
    finally:
        channel.close()
    with bench.center.engine.connect() as conn:
        (issuance_id,) = conn.execute(sa.text("SELECT id FROM issuances")).scalars().all()
    assert outcome.status is not VisitStatus.ISSUED
    assert outcome.kept_yen == 0
    assert not terminal.pending_reports
    assert charges(bench.center.engine, issuance_id)[1:] == (0, 0)


def test_a_pending_report_outlasts_a_suspension_of_its_kiosk(bench: Bench, tmp_path: Path) -> None:
    """A kiosk-level refusal (the operator suspended the kiosk for a while) says nothing about
    the copy: the printed copy's report stays in the outbox and settles it once the kiosk is
    back, instead of being dropped and the copy voided and refunded while the resident has it."""
    outage = LoseReportsWhile()
    channel = grpc.intercept_channel(grpc.insecure_channel(bench.target), outage)
    card = bench.seeded.cards[0]
    reader = _reader(card)
    kiosk_id = bench.seeded.kiosk_ids[0]
    registry = KioskRegistry(bench.center.engine)
    try:
        terminal = KioskTerminal(
            channel,
            kiosk_id=kiosk_id,
            printer=KioskPrinter("P1"),
            sleep=lambda _s: None,
            outbox_path=tmp_path / "outbox",
        )
        outcome = terminal.visit(reader, card.auth_pin, Order(CertificateChoice.JUMINHYO))
        assert outcome.status is VisitStatus.ISSUED and outcome.report_pending
        outage.down = False
        registry.set_active(kiosk_id, False)
        assert terminal.send_pending_reports() == 1  # KIOSK_SUSPENDED: kept
        registry.set_active(kiosk_id, True)
        assert terminal.send_pending_reports() == 0
    finally:
        channel.close()
    with bench.center.engine.connect() as conn:
        (issuance_id,) = conn.execute(sa.text("SELECT id FROM issuances")).scalars().all()
    assert charges(bench.center.engine, issuance_id) == ("issued", 1, 1)
