"""A visit in five calls, over loopback gRPC on every database backend.

`CompleteAuthenticationRequest.include_offerings` brings the menu with the authentication's
answer, and `ReportPrintResultRequest.end_session` ends the session with an accepted print
report. What each flag answers and refuses is proved here call by call; then that the kiosk
terminal uses both (five calls), and falls back to `ListOfferings` and `EndSession` when the
menu is refused or the center is an older one that does not know the flags.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import grpc
import pytest
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

import server.app
from clients.errors import ErrorDetails, decode_error
from clients.kiosk.channel import open_channel
from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitStatus
from hardware_sim.printer import KioskPrinter, PrinterFault
from server.app import create_server
from server.auth.servicer import AuthServicer
from server.bcl.records import ResidentRecord
from server.issuance.service import IssuanceDesk
from server.issuance.servicer import IssuanceServicer
from tests.integration.conftest import Bench
from tests.integration.test_kiosk_visits import (
    download,
    is_head_of_family,
    issuance_stub,
    md,
    reserve_one,
    settled_rows,
    signed_by_card,
)

BEGIN = "BeginAuthentication"
COMPLETE = "CompleteAuthentication"
LIST = "ListOfferings"
RESERVE = "Reserve"
ISSUE = "Issue"
REPORT = "ReportPrintResult"
END = "EndSession"


def sign_in(
    bench: Bench, resident: ResidentRecord, *, include_offerings: bool
) -> auth_pb2.CompleteAuthenticationResponse:
    stub = auth_pb2_grpc.AuthServiceStub(bench.channel)
    challenge = stub.BeginAuthentication(
        auth_pb2.BeginAuthenticationRequest(kiosk_id=bench.kiosk_id), metadata=md(bench.kiosk_id)
    )
    certificate, signature = signed_by_card(bench, resident, challenge.to_be_signed)
    session: auth_pb2.CompleteAuthenticationResponse = stub.CompleteAuthentication(
        auth_pb2.CompleteAuthenticationRequest(
            kiosk_id=bench.kiosk_id,
            challenge_id=challenge.challenge_id,
            certificate=certificate,
            signature=signature,
            include_offerings=include_offerings,
        ),
        metadata=md(bench.kiosk_id),
    )
    return session


def list_offerings(bench: Bench, token: str) -> issuance_pb2.ListOfferingsResponse:
    menu: issuance_pb2.ListOfferingsResponse = issuance_stub(bench).ListOfferings(
        issuance_pb2.ListOfferingsRequest(session_token=token), metadata=md(bench.kiosk_id)
    )
    return menu


def refusal(call: Callable[[], object]) -> ErrorDetails:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def session_is_open(bench: Bench, token: str) -> bool:
    """Whether the session still acts for its kiosk (else: SESSION_INVALID, as once ended)."""
    try:
        list_offerings(bench, token)
    except grpc.RpcError as err:
        assert decode_error(err).reason == "SESSION_INVALID", decode_error(err)
        return False
    return True


def report(
    bench: Bench,
    token: str,
    header: issuance_pb2.IssueHeader,
    *,
    printed: bool = True,
    pages: int | None = None,
    end_session: bool = True,
    channel: grpc.Channel | None = None,
) -> issuance_pb2.ReportPrintResultResponse:
    stub = issuance_pb2_grpc.IssuanceServiceStub(channel or bench.channel)
    answer: issuance_pb2.ReportPrintResultResponse = stub.ReportPrintResult(
        issuance_pb2.ReportPrintResultRequest(
            session_token=token,
            issuance_id=header.issuance_id,
            outcome=issuance_pb2.PRINT_OUTCOME_PRINTED
            if printed
            else issuance_pb2.PRINT_OUTCOME_FAILED,
            pages_printed=header.page_count if pages is None else pages,
            failure_reason="" if printed else "jam",
            end_session=end_session,
        ),
        metadata=md(bench.kiosk_id),
    )
    return answer


def a_copy_printing(bench: Bench) -> tuple[str, issuance_pb2.IssueHeader]:
    """A resident's session and a copy of theirs handed out for printing (PRINTING)."""
    token = sign_in(bench, bench.take(), include_offerings=False).session_token
    header, _ = download(bench, token, reserve_one(bench, token), f"key-{token[:12]}")
    return token, header


# -- the menu with the authentication -------------------------------------------------------


def test_include_offerings_answers_exactly_what_list_offerings_answers(bench: Bench) -> None:
    registered = {s.resident_id for s in bench.seeded_seals()}
    head = bench.take(lambda r: is_head_of_family(bench)(r) and r.resident_id in registered)
    session = sign_in(bench, head, include_offerings=True)
    assert session.HasField("offerings")
    listed = list_offerings(bench, session.session_token)
    assert session.offerings == listed
    # A menu worth comparing: several certificates, the whole household to choose from.
    assert len(listed.offerings) >= 2
    assert max(len(o.eligible_subjects) for o in listed.offerings) >= 3


def test_without_include_offerings_the_answer_carries_no_menu(bench: Bench) -> None:
    session = sign_in(bench, bench.take(), include_offerings=False)
    assert session.session_token
    assert not session.HasField("offerings")


def test_a_refused_menu_is_left_out_and_the_session_stands(bench: Bench) -> None:
    me = bench.take()
    bench.sql_write(
        "UPDATE residents SET suppressed = :t WHERE resident_id = :rid", t=True, rid=me.resident_id
    )
    session = sign_in(bench, me, include_offerings=True)
    assert session.session_token
    assert not session.HasField("offerings")
    # ListOfferings gives the refusal with its own status, on the session that stands.
    err = refusal(lambda: list_offerings(bench, session.session_token))
    assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_AVAILABLE_AT_KIOSK")


def test_a_menu_that_fails_on_the_database_is_left_out_and_the_sign_in_stands(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session is committed and the challenge spent before the menu is read: a failure
    there must not swallow the token, or the kiosk could neither use nor end the session."""

    def lost(*_args: object, **_kw: object) -> None:
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patch:
        patch.setattr(IssuanceDesk, "menu_of_new_session", lost)
        session = sign_in(bench, bench.take(), include_offerings=True)
    assert session.session_token
    assert not session.HasField("offerings")
    assert session_is_open(bench, session.session_token)
    assert list_offerings(bench, session.session_token).offerings  # asked again, answered


# -- the end of the session with the print report ---------------------------------------------


def test_an_accepted_report_with_end_session_ends_the_session(bench: Bench) -> None:
    token, header = a_copy_printing(bench)
    answer = report(bench, token, header)
    assert answer.state == issuance_pb2.ISSUANCE_STATE_ISSUED
    assert answer.session_ended
    assert answer.charged_yen == bench.seeded.profile.fees["juminhyo"]
    assert len(settled_rows(bench, header.issue_number)) == 1
    assert not session_is_open(bench, token)


def test_a_failed_print_reported_with_end_session_is_voided_and_ends_the_session(
    bench: Bench,
) -> None:
    token, header = a_copy_printing(bench)
    answer = report(bench, token, header, printed=False, pages=0)
    assert answer.state == issuance_pb2.ISSUANCE_STATE_VOIDED
    assert (answer.charged_yen, answer.session_ended) == (0, True)
    assert settled_rows(bench, header.issue_number) == []
    assert not session_is_open(bench, token)


def test_a_report_without_end_session_leaves_the_session_open(bench: Bench) -> None:
    token, header = a_copy_printing(bench)
    answer = report(bench, token, header, end_session=False)
    assert answer.state == issuance_pb2.ISSUANCE_STATE_ISSUED
    assert not answer.session_ended
    assert session_is_open(bench, token)


def test_a_refused_report_gives_its_own_error_and_leaves_the_session_open(bench: Bench) -> None:
    token, header = a_copy_printing(bench)
    err = refusal(lambda: report(bench, token, header, pages=header.page_count + 1))
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT
    assert err.field_violations[0][0] == "pages_printed"
    other = issuance_pb2.IssueHeader()
    other.CopyFrom(header)
    other.issuance_id = "00000000-0000-4000-8000-000000000000"
    err = refusal(lambda: report(bench, token, other))
    assert (err.code, err.reason) == (grpc.StatusCode.NOT_FOUND, "RESERVATION_NOT_FOUND")
    assert session_is_open(bench, token)
    # The session still acts: the copy, still printing, can be reported once it is right.
    answer = report(bench, token, header)
    assert (answer.state, answer.session_ended) == (issuance_pb2.ISSUANCE_STATE_ISSUED, True)


def test_a_retried_report_with_end_session_answers_the_same_and_charges_once(
    bench: Bench,
) -> None:
    token, header = a_copy_printing(bench)
    first = report(bench, token, header)
    again = report(bench, token, header)  # the first answer was lost on the way
    assert first == again
    assert again.session_ended
    assert len(settled_rows(bench, header.issue_number)) == 1
    assert not session_is_open(bench, token)


def test_a_report_after_end_session_is_judged_as_without_the_flag(bench: Bench) -> None:
    token, header = a_copy_printing(bench)
    auth_pb2_grpc.AuthServiceStub(bench.channel).EndSession(
        auth_pb2.EndSessionRequest(session_token=token), metadata=md(bench.kiosk_id)
    )
    # The copy lies in the tray: its kiosk may still report it until the printing deadline.
    answer = report(bench, token, header)
    assert answer.state == issuance_pb2.ISSUANCE_STATE_ISSUED
    assert answer.session_ended  # ended before; ended still
    assert not session_is_open(bench, token)


def test_past_the_printing_deadline_a_report_on_an_ended_session_is_refused(
    bench: Bench, restore_clock: None
) -> None:
    token, header = a_copy_printing(bench)
    auth_pb2_grpc.AuthServiceStub(bench.channel).EndSession(
        auth_pb2.EndSessionRequest(session_token=token), metadata=md(bench.kiosk_id)
    )
    bench.clock.advance(timedelta(seconds=bench.config.printing_ttl_s + 1))
    err = refusal(lambda: report(bench, token, header))
    assert (err.code, err.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_INVALID")
    assert settled_rows(bench, header.issue_number) == []


# -- the kiosk terminal -----------------------------------------------------------------------


class Calls(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
):
    """The methods a terminal called, in order, with their requests."""

    def __init__(self) -> None:
        self.made: list[tuple[str, Any]] = []

    @property
    def methods(self) -> list[str]:
        return [method for method, _ in self.made]

    def request(self, method: str) -> Any:
        return next(request for name, request in self.made if name == method)

    def _record(self, details: Any, request: Any) -> None:
        self.made.append((details.method.rsplit("/", 1)[-1], request))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        self._record(details, request)
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        self._record(details, request)
        return continuation(details, request)


def recording_terminal(
    channel: grpc.Channel, kiosk_id: str, printer: KioskPrinter
) -> tuple[KioskTerminal, Calls]:
    calls = Calls()
    terminal = KioskTerminal(
        grpc.intercept_channel(channel, calls), kiosk_id=kiosk_id, printer=printer
    )
    return terminal, calls


def test_a_kiosk_visit_takes_five_calls_and_ends_its_session(bench: Bench) -> None:
    me = bench.take()
    terminal, calls = recording_terminal(bench.channel, bench.kiosk_id, KioskPrinter("P1"))
    outcome = terminal.visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
    assert outcome.status is VisitStatus.ISSUED, outcome
    assert calls.methods == [BEGIN, COMPLETE, RESERVE, ISSUE, REPORT]
    assert calls.request(COMPLETE).include_offerings
    assert calls.request(REPORT).end_session
    assert not session_is_open(bench, calls.request(REPORT).session_token)


def test_a_jammed_copy_is_voided_in_five_calls_and_its_session_ended(bench: Bench) -> None:
    me = bench.take()
    printer = KioskPrinter("P1")
    printer.inject_mid_job(PrinterFault.JAM)
    terminal, calls = recording_terminal(bench.channel, bench.kiosk_id, printer)
    outcome = terminal.visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
    assert outcome.status is VisitStatus.PRINT_FAILED, outcome
    assert outcome.kept_yen == 0
    assert calls.methods == [BEGIN, COMPLETE, RESERVE, ISSUE, REPORT]
    assert not session_is_open(bench, calls.request(REPORT).session_token)


def test_a_refused_menu_is_asked_again_and_its_session_ended_by_the_kiosk(bench: Bench) -> None:
    me = bench.take()
    bench.sql_write(
        "UPDATE residents SET suppressed = :t WHERE resident_id = :rid", t=True, rid=me.resident_id
    )
    terminal, calls = recording_terminal(bench.channel, bench.kiosk_id, KioskPrinter("P1"))
    outcome = terminal.visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
    assert outcome.status is VisitStatus.NOT_AVAILABLE, outcome
    assert calls.methods == [BEGIN, COMPLETE, LIST, END]
    assert not session_is_open(bench, calls.request(END).session_token)


@contextlib.contextmanager
def second_center(
    bench: Bench,
    monkeypatch: pytest.MonkeyPatch,
    *,
    offerings: bool,
    end_sessions: bool,
) -> Iterator[grpc.Channel]:
    """Another center on the bench's database (the plaintext demo mode, kiosks named by
    header), its servicers wired with or without the menu and the ending of sessions."""

    def auth(authenticator: Any, **wiring: Any) -> AuthServicer:
        return AuthServicer(authenticator, offerings=wiring["offerings"] if offerings else None)

    def issuance(desk: Any, **wiring: Any) -> IssuanceServicer:
        return IssuanceServicer(desk, slips=wiring["slips"], end_sessions=end_sessions)

    with monkeypatch.context() as patch:
        patch.setattr(server.app, "AuthServicer", auth)
        patch.setattr(server.app, "IssuanceServicer", issuance)
        center = create_server(bench.config, clock=bench.clock)
    center.server.start()
    try:
        with open_channel(f"127.0.0.1:{center.port}") as channel:
            yield channel
    finally:
        center.server.stop(grace=None).wait()
        center.engine.dispose()


def test_a_center_that_does_not_end_sessions_answers_session_ended_false(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, header = a_copy_printing(bench)
    with second_center(bench, monkeypatch, offerings=True, end_sessions=False) as channel:
        answer = report(bench, token, header, channel=channel)
    # The report stands and its answer gets through; the kiosk ends the session itself.
    assert answer.state == issuance_pb2.ISSUANCE_STATE_ISSUED
    assert not answer.session_ended
    assert len(settled_rows(bench, header.issue_number)) == 1
    assert session_is_open(bench, token)


def test_a_report_that_fails_to_commit_leaves_the_copy_printing_and_the_session_open(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, header = a_copy_printing(bench)

    def lost(*_args: object, **_kw: object) -> None:  # the database goes away at the commit
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patch:
        patch.setattr(Session, "commit", lost)
        with pytest.raises(grpc.RpcError):
            report(bench, token, header)
    # The session's end went with the report's transaction: neither happened, so the kiosk's
    # retry is judged as the first report would have been.
    assert session_is_open(bench, token)
    answer = report(bench, token, header)
    assert (answer.state, answer.session_ended) == (issuance_pb2.ISSUANCE_STATE_ISSUED, True)
    assert len(settled_rows(bench, header.issue_number)) == 1


def test_against_an_older_center_the_kiosk_asks_the_menu_and_ends_the_session_itself(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = bench.take()
    with second_center(bench, monkeypatch, offerings=False, end_sessions=False) as channel:
        terminal, calls = recording_terminal(channel, bench.kiosk_id, KioskPrinter("P1"))
        outcome = terminal.visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
    assert outcome.status is VisitStatus.ISSUED, outcome
    assert calls.methods == [BEGIN, COMPLETE, LIST, RESERVE, ISSUE, REPORT, END]
    assert not session_is_open(bench, calls.request(END).session_token)
