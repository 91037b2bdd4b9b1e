"""Calls that race on one copy, over loopback gRPC, on SQLite and PostgreSQL.

Kiosks retry, two clerks reach for the same slip, the expiry sweeper of another worker process
comes by just as a report arrives. Whatever lands together, one of the moves wins, the other
caller is told clearly why not (FAILED_PRECONDITION or ABORTED with a reason, or the same final
answer for the same request), never INTERNAL or UNKNOWN; and the books match the final state:
an issued copy has exactly one settlement entry and one journal entry, a voided one none and
exactly one line in the void log.

Each scenario fires its calls from threads released by one barrier, a few rounds over fresh
copies, so that on PostgreSQL the transactions really overlap in the server's thread pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TypeVar

import grpc
import pytest
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc

from clients.errors import decode_error
from clients.kiosk.jpki import JpkiClient
from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitStatus
from hardware_sim.printer import KioskPrinter
from server.common.clock import FrozenClock
from server.common.identity import KIOSK_ID_HEADER
from server.issuance.documents import CertificateDocument
from server.issuance.service import IssuanceDesk, IssuanceSettings
from server.kiosks.registry import KioskRegistry
from tests.credentials import bearer, staff_token
from tests.integration.conftest import Bench, add_osaka

# Fresh copies per scenario: enough to catch an overlap, cheap enough for CI; RACE_ROUNDS=30
# for a longer soak. (Households of the bench limit the sign-ins: about 40 in all.)
ROUNDS = int(os.environ.get("RACE_ROUNDS", "3"))
BROKEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What one of the racing calls got: a value, or a status with its reason."""

    value: object = None
    code: grpc.StatusCode | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None


def together(*calls: Callable[[], object]) -> list[Outcome]:
    """Run `calls` at once (threads released by one barrier); their outcomes, in order."""
    gate = threading.Barrier(len(calls))
    results: list[Outcome | BaseException | None] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        gate.wait()
        try:
            results[i] = Outcome(value=call())
        except grpc.RpcError as err:
            details = decode_error(err)
            results[i] = Outcome(code=details.code, reason=details.reason)
        except BaseException as exc:  # re-raised in the test's thread below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes: list[Outcome] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        assert r is not None
        assert r.code not in BROKEN, r  # a race is never the caller's INTERNAL
        outcomes.append(r)
    return outcomes


def one_answer(
    outcomes: list[Outcome], key: Callable[[issuance_pb2.ReportPrintResultResponse], T]
) -> T:
    """What every one of `outcomes` was told, as `key` reads it: each succeeded, all alike."""
    assert all(o.ok for o in outcomes), outcomes
    answers = {
        key(r)
        for r in (o.value for o in outcomes)
        if isinstance(r, issuance_pb2.ReportPrintResultResponse)
    }
    assert len(answers) == 1, answers
    [answer] = answers
    return answer


class Kiosk:
    """A kiosk's calls made one by one, so that a test can fire any of them together."""

    def __init__(self, bench: Bench, kiosk_id: str | None = None) -> None:
        self.bench = bench
        self.kiosk_id = kiosk_id or bench.kiosk_id
        channel = bench.channel_for(self.kiosk_id)
        self.auth = auth_pb2_grpc.AuthServiceStub(channel)
        self.issuance = issuance_pb2_grpc.IssuanceServiceStub(channel)
        self.md = ((KIOSK_ID_HEADER, self.kiosk_id),)

    def sign_in(self) -> str:
        me = self.bench.take()
        token = KioskTerminal(
            self.bench.channel_for(self.kiosk_id),
            kiosk_id=self.kiosk_id,
            printer=KioskPrinter("P1"),
        ).authenticate(self.bench.reader(me), self.bench.pin(me))
        assert isinstance(token, str), token
        return token

    def reserve(self, token: str) -> str:
        """A 住民票 of the session's resident: the reservation (and issuance) id."""
        offers = self.issuance.ListOfferings(
            issuance_pb2.ListOfferingsRequest(session_token=token), metadata=self.md
        ).offerings
        [offer] = [o for o in offers if o.kind == issuance_pb2.CERTIFICATE_KIND_JUMINHYO]
        [me] = [s.subject_id for s in offer.eligible_subjects if s.is_self]
        reserved = self.issuance.Reserve(
            issuance_pb2.ReserveRequest(session_token=token, kind=offer.kind, subject_ids=[me]),
            metadata=self.md,
        )
        return str(reserved.reservation_id)

    def issue(self, token: str, reservation_id: str, key: str) -> tuple[str, int, bytes]:
        """The copy: its issue number, page count and PDF."""
        header: issuance_pb2.IssueHeader | None = None
        parts: list[bytes] = []
        for chunk in self.issuance.Issue(
            issuance_pb2.IssueRequest(
                session_token=token,
                reservation_id=reservation_id,
                idempotency_key=key,
                printer_id="P1",
            ),
            metadata=self.md,
        ):
            if chunk.HasField("header"):
                header = chunk.header
            else:
                parts.append(chunk.pdf_chunk)
        assert header is not None
        return header.issue_number, header.page_count, b"".join(parts)

    def report(
        self, token: str, issuance_id: str, *, printed: bool, pages: int
    ) -> issuance_pb2.ReportPrintResultResponse:
        outcome = (
            issuance_pb2.PRINT_OUTCOME_PRINTED if printed else issuance_pb2.PRINT_OUTCOME_FAILED
        )
        return self.issuance.ReportPrintResult(
            issuance_pb2.ReportPrintResultRequest(
                session_token=token,
                issuance_id=issuance_id,
                outcome=outcome,
                pages_printed=pages if printed else 0,
                failure_reason="" if printed else "PAPER_JAM",
            ),
            metadata=self.md,
        )

    def cancel(self, token: str, reservation_id: str) -> int:
        return int(
            self.issuance.CancelReservation(
                issuance_pb2.CancelReservationRequest(
                    session_token=token, reservation_id=reservation_id
                ),
                metadata=self.md,
            ).state
        )

    def printing(self, token: str, key: str) -> tuple[str, int]:
        """A fresh copy handed out for printing: its id and page count."""
        issuance_id = self.reserve(token)
        _, pages, _ = self.issue(token, issuance_id, key)
        return issuance_id, pages


@dataclass(frozen=True)
class Books:
    """What the database holds about one copy after the race."""

    state: str
    settlement_entries: int
    journal_entries: int
    void_log: int
    final_moves: int  # transitions into ISSUED or VOIDED
    final_audits: int  # audit entries of those moves


def books(bench: Bench, issuance_id: str) -> Books:
    def count(sql: str) -> int:
        [(n,)] = bench.sql(sql, i=issuance_id)
        assert isinstance(n, int)
        return n

    [(state,)] = bench.sql("SELECT state FROM issuances WHERE id = :i", i=issuance_id)
    return Books(
        state=str(state),
        settlement_entries=count("SELECT count(*) FROM settlement_entries WHERE issuance_id = :i"),
        journal_entries=count("SELECT count(*) FROM ledger_entries WHERE issuance_id = :i"),
        void_log=count("SELECT count(*) FROM voided_copies WHERE issuance_id = :i"),
        final_moves=count(
            "SELECT count(*) FROM issuance_transitions WHERE issuance_id = :i"
            " AND to_state IN ('issued', 'voided')"
        ),
        final_audits=count(
            "SELECT count(*) FROM audit_entries WHERE subject = :i"
            " AND event IN ('issuance.issued', 'issuance.voided')"
        ),
    )


def assert_books_match(bench: Bench, issuance_id: str, state: str) -> None:
    """One posting for an issued copy, none and one void-log line for a voided one."""
    found = books(bench, issuance_id)
    if state == "issued":
        assert found == Books("issued", 1, 1, 0, 1, 1), found
    else:
        assert found == Books("voided", 0, 0, 1, 1, 1), found


# -- print reports ----------------------------------------------------------------------------


def test_identical_print_reports_at_once_answer_the_same_issued_copy_charged_once(
    bench: Bench,
) -> None:
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for n in range(ROUNDS):
        issuance_id, pages = kiosk.printing(token, f"same-report-{n}")
        outcomes = together(
            *[partial(kiosk.report, token, issuance_id, printed=True, pages=pages)] * 3
        )
        state, number, charged = one_answer(
            outcomes, lambda r: (r.state, r.issue_number, r.charged_yen)
        )
        assert state == issuance_pb2.ISSUANCE_STATE_ISSUED and number and charged > 0
        assert_books_match(bench, issuance_id, "issued")


def test_identical_failure_reports_at_once_void_the_copy_once(bench: Bench) -> None:
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for n in range(ROUNDS):
        issuance_id, _ = kiosk.printing(token, f"same-failure-{n}")
        outcomes = together(
            *[partial(kiosk.report, token, issuance_id, printed=False, pages=0)] * 3
        )
        assert all(o.ok for o in outcomes), outcomes
        states = {getattr(o.value, "state", None) for o in outcomes}
        assert states == {issuance_pb2.ISSUANCE_STATE_VOIDED}
        assert_books_match(bench, issuance_id, "voided")


def test_printed_and_failed_reports_at_once_one_wins_and_the_books_follow_it(
    bench: Bench,
) -> None:
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for n in range(ROUNDS):
        issuance_id, pages = kiosk.printing(token, f"split-report-{n}")
        printed, failed = together(
            partial(kiosk.report, token, issuance_id, printed=True, pages=pages),
            partial(kiosk.report, token, issuance_id, printed=False, pages=0),
        )
        assert printed.ok != failed.ok, (printed, failed)  # exactly one of them moved it
        loser = failed if printed.ok else printed
        assert (loser.code, loser.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INVALID_STATE")
        assert_books_match(bench, issuance_id, "issued" if printed.ok else "voided")


def test_a_report_and_a_cancel_at_once_one_wins_and_the_books_follow_it(bench: Bench) -> None:
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for n in range(ROUNDS):
        issuance_id, pages = kiosk.printing(token, f"report-cancel-{n}")
        report, cancel = together(
            partial(kiosk.report, token, issuance_id, printed=True, pages=pages),
            partial(kiosk.cancel, token, issuance_id),
        )
        assert report.ok != cancel.ok, (report, cancel)
        if report.ok:
            assert (cancel.code, cancel.reason) == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "INVALID_STATE",
            )
        else:
            assert cancel.value == issuance_pb2.ISSUANCE_STATE_VOIDED
            assert (report.code, report.reason) == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "INVALID_STATE",
            )
        assert_books_match(bench, issuance_id, "issued" if report.ok else "voided")


class _RendersNothing:
    """The sweeper's desk never renders; a call here would be a bug in the test's premise."""

    def render(self, doc: CertificateDocument, *, created_at: object) -> bytes:
        raise AssertionError("the expiry sweeper rendered a copy")


def skewed_sweeper(bench: Bench, ahead: timedelta) -> IssuanceDesk:
    """The expiry sweeper of another worker process whose clock runs `ahead` of this one's (a
    clock skew): it finds copies past their deadline that the kiosk still sees as live."""
    clock = FrozenClock(bench.clock.now + ahead)
    return IssuanceDesk(bench.center.engine, renderer=_RendersNothing(), clock=clock)


def test_a_report_and_the_expiry_sweeper_at_once_one_wins_and_the_books_follow_it(
    bench: Bench,
) -> None:
    sweeper = skewed_sweeper(bench, IssuanceSettings().printing_ttl + timedelta(seconds=1))
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    copies = []
    for n in range(ROUNDS):
        issuance_id, pages = kiosk.printing(token, f"report-sweep-{n}")
        copies.append(issuance_id)
        report, sweep = together(
            partial(kiosk.report, token, issuance_id, printed=True, pages=pages),
            sweeper.void_expired,
        )
        assert sweep.ok, sweep  # the sweeper itself never fails over a busy copy
        if report.ok:
            assert_books_match(bench, issuance_id, "issued")
        else:
            assert (report.code, report.reason) == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "INVALID_STATE",
            ), report
            assert_books_match(bench, issuance_id, "voided")
    sweeper.void_expired()  # a later sweep changes nothing the race decided
    for issuance_id in copies:
        assert_books_match(bench, issuance_id, books(bench, issuance_id).state)


def test_a_cancel_and_the_expiry_sweeper_at_once_void_the_reservation_once(
    bench: Bench,
) -> None:
    sweeper = skewed_sweeper(bench, IssuanceSettings().reservation_ttl)
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for _ in range(ROUNDS):
        reservation_id = kiosk.reserve(token)
        cancel, sweep = together(partial(kiosk.cancel, token, reservation_id), sweeper.void_expired)
        assert sweep.ok, sweep
        assert cancel.ok and cancel.value == issuance_pb2.ISSUANCE_STATE_VOIDED, cancel
        assert_books_match(bench, reservation_id, "voided")


# -- issue --------------------------------------------------------------------------------------


def test_issue_with_one_key_at_once_gives_one_copy_under_one_number(bench: Bench) -> None:
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for n in range(ROUNDS):
        reservation_id = kiosk.reserve(token)
        outcomes = together(*[partial(kiosk.issue, token, reservation_id, f"one-key-{n}")] * 3)
        assert all(o.ok for o in outcomes), outcomes
        copies = {o.value for o in outcomes if isinstance(o.value, tuple)}
        assert len(copies) == 1  # the same number, pages and bytes for every retry
        [(number, pages, _)] = copies
        [(stored,)] = bench.sql(
            "SELECT issue_number FROM issuances WHERE id = :i", i=reservation_id
        )
        assert stored == number
        [(moves,)] = bench.sql(
            "SELECT count(*) FROM issuance_transitions WHERE issuance_id = :i"
            " AND to_state = 'printing'",
            i=reservation_id,
        )
        assert moves == 1
        kiosk.report(token, reservation_id, printed=True, pages=pages)
        assert_books_match(bench, reservation_id, "issued")


def test_issue_with_two_keys_for_one_reservation_at_once_prints_it_once(bench: Bench) -> None:
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for n in range(ROUNDS):
        reservation_id = kiosk.reserve(token)
        first, second = together(
            partial(kiosk.issue, token, reservation_id, f"key-a-{n}"),
            partial(kiosk.issue, token, reservation_id, f"key-b-{n}"),
        )
        assert first.ok != second.ok, (first, second)
        loser = second if first.ok else first
        assert loser.code is grpc.StatusCode.FAILED_PRECONDITION, loser
        assert loser.reason == "PRINTING_UNDER_ANOTHER_KEY", loser
        [(key,)] = bench.sql(
            "SELECT idempotency_key FROM issuances WHERE id = :i", i=reservation_id
        )
        assert key == (f"key-a-{n}" if first.ok else f"key-b-{n}")


def test_issue_and_cancel_at_once_leave_a_void_copy_never_charged(bench: Bench) -> None:
    """A cancel may follow the claim (PRINTING → VOIDED) or precede it; either way the copy is
    void, and an Issue that lost is told the copy is final rather than handed a copy."""
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for n in range(ROUNDS):
        reservation_id = kiosk.reserve(token)
        issue, cancel = together(
            partial(kiosk.issue, token, reservation_id, f"issue-cancel-{n}"),
            partial(kiosk.cancel, token, reservation_id),
        )
        assert cancel.ok and cancel.value == issuance_pb2.ISSUANCE_STATE_VOIDED, cancel
        if not issue.ok:
            assert (issue.code, issue.reason) == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "ISSUANCE_FINAL",
            ), issue
        assert_books_match(bench, reservation_id, "voided")


def test_one_key_for_two_reservations_at_once_prints_only_one_of_them(bench: Bench) -> None:
    kiosk = Kiosk(bench)
    token = kiosk.sign_in()
    for n in range(ROUNDS):
        a, b = kiosk.reserve(token), kiosk.reserve(token)
        first, second = together(
            partial(kiosk.issue, token, a, f"shared-key-{n}"),
            partial(kiosk.issue, token, b, f"shared-key-{n}"),
        )
        assert first.ok != second.ok, (first, second)
        loser = second if first.ok else first
        assert (loser.code, loser.reason) == (
            grpc.StatusCode.ALREADY_EXISTS,
            "IDEMPOTENCY_KEY_REUSED",
        )
        states = bench.sql("SELECT state FROM issuances WHERE id IN (:a, :b)", a=a, b=b)
        assert sorted(str(state) for (state,) in states) == ["printing", "reserved"]
        [(issue_numbers,)] = bench.sql(
            "SELECT count(*) FROM issuances WHERE id IN (:a, :b) AND issue_number IS NOT NULL",
            a=a,
            b=b,
        )
        assert issue_numbers == 1


# -- 本籍地 利用登録 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def osaka(bench: Bench) -> str:
    return add_osaka(bench.center.engine)


def test_one_registration_filed_at_once_from_two_screens_is_filed_once(
    bench: Bench, osaka: str
) -> None:
    kiosk = Kiosk(bench)
    for _ in range(min(ROUNDS, 5)):  # a fresh resident each round
        token = kiosk.sign_in()
        request = issuance_pb2.RequestHonsekiRegistrationRequest(
            session_token=token, honseki_municipality_code=osaka, hittousha="大阪　花子"
        )
        outcomes = together(
            *[partial(kiosk.issuance.RequestHonsekiRegistration, request, metadata=kiosk.md)] * 3
        )
        assert all(o.ok for o in outcomes), outcomes
        ids = {getattr(o.value, "registration_id", None) for o in outcomes}
        assert len(ids) == 1, ids
        [(filed,)] = bench.sql(
            "SELECT count(*) FROM honseki_registrations WHERE id = :i"
            " OR resident_pk = (SELECT resident_pk FROM honseki_registrations WHERE id = :i)",
            i=ids.pop(),
        )
        assert filed == 1


# -- authentication ---------------------------------------------------------------------------


def test_one_challenge_completed_at_once_opens_exactly_one_session(bench: Bench) -> None:
    kiosk = Kiosk(bench)
    me = bench.take()
    serial = str(bench.serial_of(bench.seeded.cards[me.resident_id]))
    for n in range(ROUNDS):
        card = JpkiClient(bench.reader(me))
        card.select_ap()
        certificate = card.read_auth_certificate()
        card.verify_auth_pin(bench.pin(me))
        challenge = kiosk.auth.BeginAuthentication(
            auth_pb2.BeginAuthenticationRequest(kiosk_id=kiosk.kiosk_id), metadata=kiosk.md
        )
        signature = card.sign_with_auth_key(challenge.to_be_signed)
        request = auth_pb2.CompleteAuthenticationRequest(
            kiosk_id=kiosk.kiosk_id,
            challenge_id=challenge.challenge_id,
            certificate=certificate,
            signature=signature,
        )
        outcomes = together(
            *[partial(kiosk.auth.CompleteAuthentication, request, metadata=kiosk.md)] * 3
        )
        won = [o for o in outcomes if o.ok]
        assert len(won) == 1, outcomes
        for lost in (o for o in outcomes if not o.ok):
            assert (lost.code, lost.reason) == (
                grpc.StatusCode.UNAUTHENTICATED,
                "CHALLENGE_REPLAYED",
            )
        [(sessions,)] = bench.sql(
            "SELECT count(*) FROM kiosk_sessions WHERE card_serial = :s", s=serial
        )
        assert sessions == n + 1  # one more for this challenge, not three


# -- the counter (らくらく窓口) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def counter_id(bench: Bench) -> str:
    terminal_id = f"C{bench.seeded.profile.code}07"
    KioskRegistry(bench.center.engine).register_counter_terminal(
        terminal_id, municipality_code=bench.seeded.profile.code, location="市民課 窓口 7"
    )
    return terminal_id


def test_identical_counter_print_reports_at_once_open_one_reception(
    bench: Bench, counter_id: str
) -> None:
    counter = Kiosk(bench, counter_id)
    token = counter.sign_in()
    for n in range(ROUNDS):
        issuance_id, pages = counter.printing(token, f"counter-report-{n}")
        outcomes = together(
            *[partial(counter.report, token, issuance_id, printed=True, pages=pages)] * 3
        )
        state, number, due = one_answer(
            outcomes, lambda r: (r.state, r.reception_number, r.fee_due_yen)
        )
        assert state == issuance_pb2.ISSUANCE_STATE_AWAITING_HANDOVER and number and due > 0
        assert bench.sql(
            "SELECT reception_number FROM counter_receptions WHERE issuance_id = :i",
            i=issuance_id,
        ) == [(number,)]
        assert books(bench, issuance_id) == Books("awaiting_handover", 0, 0, 0, 0, 0)


def test_a_hand_over_and_the_sweeper_at_once_at_the_deadline_void_the_copy_once(
    bench: Bench, counter_id: str, restore_clock: None
) -> None:
    staff = staff_pb2_grpc.MunicipalityStaffServiceStub(bench.api_channel)
    clerk = bearer(staff_token(bench.center.engine, bench.seeded.profile.code, clock=bench.clock))
    waiting = []
    me = bench.take()
    for _ in range(ROUNDS):
        outcome = KioskTerminal(
            bench.channel_for(counter_id),
            kiosk_id=counter_id,
            printer=KioskPrinter("SLIP1"),
            counter_printer=KioskPrinter("CP1"),
        ).visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
        assert outcome.status is VisitStatus.AWAITING_HANDOVER, outcome
        waiting.append(outcome.reception_number)
    bench.clock.advance(IssuanceSettings().handover_ttl)  # the deadline to collect them
    for number in waiting:
        hand_over, sweep = together(
            partial(
                staff.HandOverCounterCopy,
                staff_pb2.HandOverCounterCopyRequest(reception_number=number),
                metadata=clerk,
            ),
            bench.center.desk.void_expired,
        )
        assert sweep.ok, sweep
        assert (hand_over.code, hand_over.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "RECEPTION_VOIDED",
        ), hand_over
        [(issuance_id,)] = bench.sql(
            "SELECT issuance_id FROM counter_receptions WHERE reception_number = :n", n=number
        )
        assert_books_match(bench, str(issuance_id), "voided")
