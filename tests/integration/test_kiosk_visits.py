"""A resident at a kiosk, end to end over loopback gRPC (mTLS), with an emulated card and printer.

What the center decides (certificates, eligibility, idempotency, malformed requests). The
scenarios that also depend on the reader (happy path, PIN, lockout, revocation, removal,
printer, phones) run over every transport in `test_transports.py`; kiosk identity and mTLS are
in `test_kiosk_identity.py`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pypdf
import pytest
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc
from konbini.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from clients.errors import decode_error
from clients.kiosk.jpki import JpkiClient
from clients.kiosk.terminal import CertificateChoice, Order, VisitOutcome, VisitStatus
from hardware_sim.printer import KioskPrinter
from server.bcl.records import ResidentRecord
from server.common.identity import KIOSK_ID_HEADER
from tests.integration.conftest import Bench
from tests.pki import foreign_authority, issue_test_card


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def settled_rows(bench: Bench, issue_number: str) -> list[tuple[object, ...]]:
    return bench.sql(
        "SELECT fee_yen, commission_yen, bcl_fee_yen FROM settlement_entries"
        " WHERE issue_number = :n",
        n=issue_number,
    )


def is_head_of_family(bench: Bench) -> Callable[[ResidentRecord], bool]:
    return lambda r: r.is_household_head and len(bench.household(r)) >= 3


# -- the happy paths -----------------------------------------------------------------------


def test_household_juminhyo_is_printed_charged_and_settled(bench: Bench) -> None:
    head = bench.take(is_head_of_family(bench))
    printer = KioskPrinter("P1")
    outcome = bench.terminal(printer).visit(
        bench.reader(head),
        bench.pin(head),
        Order(CertificateChoice.JUMINHYO, "household", include_head_and_relationship=True),
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    text = pdf_text(outcome.pdf)
    assert "住民票の写し" in text
    for member in bench.household(head):
        assert member.family_name in text and member.given_name in text
        assert member.individual_number not in text.replace(" ", "")
        assert member.juminhyo_code not in text.replace(" ", "")
    assert "世帯主" in text
    assert len(printer.printed) == 1
    fee = bench.seeded.profile.fees["juminhyo"]
    assert outcome.charged_yen == fee
    assert settled_rows(bench, outcome.issue_number) == [(fee, 117, 180)]


def test_inkan_certificate_for_oneself_carries_the_seal_impression(bench: Bench) -> None:
    registered = {s.resident_id for s in bench.seeded_seals()}
    me = bench.take(lambda r: r.resident_id in registered)
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.INKAN)
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    reader = pypdf.PdfReader(io.BytesIO(outcome.pdf))
    assert "印鑑登録証明書" in pdf_text(outcome.pdf)
    assert any(page.images for page in reader.pages)


def test_optional_items_appear_only_when_chosen(bench: Bench) -> None:
    me = bench.take()
    plain = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    full = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO, include_honseki=True)
    )
    assert plain.status is VisitStatus.ISSUED and full.status is VisitStatus.ISSUED
    assert me.honseki not in pdf_text(plain.pdf)
    assert me.honseki in pdf_text(full.pdf)
    assert plain.issue_number != full.issue_number


def test_monthly_summary_counts_the_copies(bench: Bench) -> None:
    me = bench.take()
    stub = settlement_pb2_grpc.SettlementServiceStub(bench.api_channel)
    month = bench.clock.now.strftime("%Y-%m")
    req = settlement_pb2.MonthlySummaryRequest(
        municipality_code=bench.seeded.profile.code, month=month
    )
    before = stub.MonthlySummary(req, metadata=bench.national)
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    after = stub.MonthlySummary(req, metadata=bench.national)
    assert outcome.status is VisitStatus.ISSUED
    assert after.total_copies == before.total_copies + 1
    assert after.total_fees_yen - before.total_fees_yen == outcome.charged_yen
    commission = after.total_commission_yen - before.total_commission_yen
    # A kiosk copy: the operator passes on its fee less commission (counter copies, which other
    # tests may have handed over on this bench, pass through no operator).
    assert after.net_remittance_yen - before.net_remittance_yen == outcome.charged_yen - commission


# -- certificates the center must refuse -----------------------------------------------------


def auth_reason(outcome: VisitOutcome) -> str:
    err = outcome.error
    assert err is not None, outcome
    assert err.code is grpc.StatusCode.UNAUTHENTICATED, err
    return str(err.reason)


def test_expired_certificate_is_refused(bench: Bench, restore_clock: None) -> None:
    me = bench.take()
    bench.clock.advance(timedelta(days=5 * 366))
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert auth_reason(outcome) == "CERTIFICATE_EXPIRED"


def test_certificate_from_a_foreign_ca_is_refused(bench: Bench) -> None:
    me = bench.take()
    card = issue_test_card(foreign_authority(bench.clock), me.resident_id)
    reader = bench.reader_for_card(card)
    outcome = bench.terminal().visit(reader, card.auth_pin, Order(CertificateChoice.JUMINHYO))
    assert auth_reason(outcome) == "CERTIFICATE_UNTRUSTED_ISSUER"


@dataclass(frozen=True)
class RawAuth:
    """Drives AuthService directly, to send what a well-behaved kiosk never would."""

    bench: Bench
    kiosk_id: str

    def _md(self, kiosk_id: str | None = None) -> tuple[tuple[str, str], ...]:
        return ((KIOSK_ID_HEADER, kiosk_id or self.kiosk_id),)

    def begin(self) -> auth_pb2.BeginAuthenticationResponse:
        stub = auth_pb2_grpc.AuthServiceStub(self.bench.channel_for(self.kiosk_id))
        return stub.BeginAuthentication(
            auth_pb2.BeginAuthenticationRequest(kiosk_id=self.kiosk_id), metadata=self._md()
        )

    def complete(
        self, challenge_id: str, cert: bytes, sig: bytes, *, at_kiosk: str | None = None
    ) -> auth_pb2.CompleteAuthenticationResponse:
        kid = at_kiosk or self.kiosk_id
        stub = auth_pb2_grpc.AuthServiceStub(self.bench.channel_for(kid))
        return stub.CompleteAuthentication(
            auth_pb2.CompleteAuthenticationRequest(
                kiosk_id=kid, challenge_id=challenge_id, certificate=cert, signature=sig
            ),
            metadata=self._md(kid),
        )


def signed_by_card(bench: Bench, resident: ResidentRecord, tbs: bytes) -> tuple[bytes, bytes]:
    card = JpkiClient(bench.reader(resident))
    card.select_ap()
    cert = card.read_auth_certificate()
    assert card.verify_auth_pin(bench.pin(resident)).ok
    return cert, card.sign_with_auth_key(tbs)


def test_bad_signature_is_refused(bench: Bench) -> None:
    me = bench.take()
    auth = RawAuth(bench, bench.kiosk_id)
    ch = auth.begin()
    cert, sig = signed_by_card(bench, me, ch.to_be_signed + b"tampered")
    with pytest.raises(grpc.RpcError) as err:
        auth.complete(ch.challenge_id, cert, sig)
    assert decode_error(err.value).reason == "SIGNATURE_INVALID"


def test_replayed_challenge_is_refused(bench: Bench) -> None:
    me = bench.take()
    auth = RawAuth(bench, bench.kiosk_id)
    ch = auth.begin()
    cert, sig = signed_by_card(bench, me, ch.to_be_signed)
    auth.complete(ch.challenge_id, cert, sig)
    with pytest.raises(grpc.RpcError) as err:
        auth.complete(ch.challenge_id, cert, sig)
    details = decode_error(err.value)
    assert details.code is grpc.StatusCode.UNAUTHENTICATED
    assert details.reason == "CHALLENGE_REPLAYED"


def test_expired_challenge_is_refused(bench: Bench, restore_clock: None) -> None:
    me = bench.take()
    auth = RawAuth(bench, bench.kiosk_id)
    ch = auth.begin()
    cert, sig = signed_by_card(bench, me, ch.to_be_signed)
    bench.clock.advance(timedelta(minutes=2))
    with pytest.raises(grpc.RpcError) as err:
        auth.complete(ch.challenge_id, cert, sig)
    assert decode_error(err.value).reason == "CHALLENGE_EXPIRED"


def test_challenge_issued_to_one_kiosk_cannot_be_completed_at_another(bench: Bench) -> None:
    me = bench.take()
    auth = RawAuth(bench, bench.kiosk_id)
    ch = auth.begin()
    cert, sig = signed_by_card(bench, me, ch.to_be_signed)
    with pytest.raises(grpc.RpcError) as err:
        auth.complete(ch.challenge_id, cert, sig, at_kiosk=bench.seeded.kiosk_ids[1])
    assert decode_error(err.value).reason == "CHALLENGE_UNKNOWN"


def test_ocsp_responder_down_gives_unavailable_not_a_session(bench: Bench) -> None:
    me = bench.take()
    bench.responder.faults.status = 503
    try:
        outcome = bench.terminal().visit(
            bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
        )
    finally:
        bench.responder.faults.clear()
    assert outcome.status is VisitStatus.SERVICE_UNAVAILABLE
    assert outcome.error is not None
    assert outcome.error.code is grpc.StatusCode.UNAVAILABLE
    assert outcome.error.reason == "REVOCATION_UNAVAILABLE"


# -- who may obtain what ----------------------------------------------------------------------


def session_for(bench: Bench, resident: ResidentRecord, kiosk_id: str | None = None) -> str:
    terminal = bench.terminal(kiosk_id=kiosk_id)
    token = terminal.authenticate(bench.reader(resident), bench.pin(resident))
    assert isinstance(token, str), token
    return token


def issuance_stub(bench: Bench) -> issuance_pb2_grpc.IssuanceServiceStub:
    return issuance_pb2_grpc.IssuanceServiceStub(bench.channel)


def md(kiosk_id: str) -> tuple[tuple[str, str], ...]:
    return ((KIOSK_ID_HEADER, kiosk_id),)


def self_subject(bench: Bench, token: str, kind: int) -> str:
    offers = issuance_stub(bench).ListOfferings(
        issuance_pb2.ListOfferingsRequest(session_token=token), metadata=md(bench.kiosk_id)
    )
    offer = next(o for o in offers.offerings if o.kind == kind)
    return next(s.subject_id for s in offer.eligible_subjects if s.is_self)


def test_juminhyo_of_a_person_outside_the_household_is_permission_denied(bench: Bench) -> None:
    me = bench.take()
    stranger = bench.take(lambda r: r.household_id != me.household_id)
    my_token = session_for(bench, me)
    their_id = self_subject(
        bench, session_for(bench, stranger), issuance_pb2.CERTIFICATE_KIND_JUMINHYO
    )
    with pytest.raises(grpc.RpcError) as err:
        issuance_stub(bench).Reserve(
            issuance_pb2.ReserveRequest(
                session_token=my_token,
                kind=issuance_pb2.CERTIFICATE_KIND_JUMINHYO,
                subject_ids=[their_id],
            ),
            metadata=md(bench.kiosk_id),
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert decode_error(err.value).reason == "NOT_ELIGIBLE"


def test_inkan_certificate_of_someone_else_is_permission_denied(bench: Bench) -> None:
    registered = {s.resident_id for s in bench.seeded_seals()}
    head = bench.take(
        lambda r: (
            r.resident_id in registered and r.is_household_head and len(bench.household(r)) >= 2
        )
    )
    spouse = bench.take(
        lambda r: r.household_id == head.household_id and r.resident_id != head.resident_id
    )
    spouse_token = session_for(bench, spouse)
    head_inkan_id = self_subject(
        bench, session_for(bench, head), issuance_pb2.CERTIFICATE_KIND_INKAN
    )
    with pytest.raises(grpc.RpcError) as err:
        issuance_stub(bench).Reserve(
            issuance_pb2.ReserveRequest(
                session_token=spouse_token,
                kind=issuance_pb2.CERTIFICATE_KIND_INKAN,
                subject_ids=[head_inkan_id],
            ),
            metadata=md(bench.kiosk_id),
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_suppressed_person_gets_only_a_neutral_answer(bench: Bench) -> None:
    me = bench.take()
    bench.sql_write(
        "UPDATE residents SET suppressed = :t WHERE resident_id = :rid", t=True, rid=me.resident_id
    )
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.NOT_AVAILABLE
    assert outcome.error is not None
    assert outcome.error.code is grpc.StatusCode.PERMISSION_DENIED
    # Nothing says why: the same words as any other "ask the counter".
    assert "抑止" not in outcome.screen + outcome.error.message
    assert outcome.error.metadata == {}


# -- printing and money ---------------------------------------------------------------------


def reserve_one(bench: Bench, token: str) -> str:
    sid = self_subject(bench, token, issuance_pb2.CERTIFICATE_KIND_JUMINHYO)
    res = issuance_stub(bench).Reserve(
        issuance_pb2.ReserveRequest(
            session_token=token, kind=issuance_pb2.CERTIFICATE_KIND_JUMINHYO, subject_ids=[sid]
        ),
        metadata=md(bench.kiosk_id),
    )
    return str(res.reservation_id)


def download(
    bench: Bench, token: str, reservation_id: str, key: str
) -> tuple[issuance_pb2.IssueHeader, bytes]:
    header = None
    parts = []
    for chunk in issuance_stub(bench).Issue(
        issuance_pb2.IssueRequest(
            session_token=token, reservation_id=reservation_id, idempotency_key=key, printer_id="P1"
        ),
        metadata=md(bench.kiosk_id),
    ):
        if chunk.HasField("header"):
            header = chunk.header
        else:
            parts.append(chunk.pdf_chunk)
    assert header is not None
    return header, b"".join(parts)


def test_same_idempotency_key_twice_issues_and_charges_once(bench: Bench) -> None:
    me = bench.take()
    token = session_for(bench, me)
    rid = reserve_one(bench, token)
    h1, pdf1 = download(bench, token, rid, "key-1")
    h2, pdf2 = download(bench, token, rid, "key-1")
    assert (h1.issue_number, pdf1) == (h2.issue_number, pdf2)
    report = issuance_pb2.ReportPrintResultRequest(
        session_token=token,
        issuance_id=h1.issuance_id,
        outcome=issuance_pb2.PRINT_OUTCOME_PRINTED,
        pages_printed=h1.page_count,
    )
    first = issuance_stub(bench).ReportPrintResult(report, metadata=md(bench.kiosk_id))
    again = issuance_stub(bench).ReportPrintResult(report, metadata=md(bench.kiosk_id))
    assert first.charged_yen == again.charged_yen > 0
    assert len(settled_rows(bench, h1.issue_number)) == 1
    # The key now belongs to that copy: it cannot fetch another reservation.
    with pytest.raises(grpc.RpcError) as err:
        download(bench, token, reserve_one(bench, token), "key-1")
    assert err.value.code() is grpc.StatusCode.ALREADY_EXISTS


def test_cancelled_reservation_cannot_be_printed(bench: Bench) -> None:
    me = bench.take()
    token = session_for(bench, me)
    rid = reserve_one(bench, token)
    issuance_stub(bench).CancelReservation(
        issuance_pb2.CancelReservationRequest(session_token=token, reservation_id=rid),
        metadata=md(bench.kiosk_id),
    )
    with pytest.raises(grpc.RpcError) as err:
        download(bench, token, rid, "k-cancelled")
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION


# -- malformed requests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "reserve_without_kind",
        "reserve_without_subjects",
        "issue_without_key",
        "issue_with_bad_printer_id",
        "report_without_outcome",
        "complete_with_short_signature",
        "summary_with_bad_month",
        "reservation_id_not_a_uuid",
    ],
)
def test_malformed_requests_are_invalid_argument_never_unknown(bench: Bench, call: str) -> None:
    token = bench.shared_token()
    stub = issuance_stub(bench)
    m = md(bench.kiosk_id)
    calls: dict[str, Callable[[], object]] = {
        "reserve_without_kind": lambda: stub.Reserve(
            issuance_pb2.ReserveRequest(session_token=token, subject_ids=["x"]), metadata=m
        ),
        "reserve_without_subjects": lambda: stub.Reserve(
            issuance_pb2.ReserveRequest(
                session_token=token, kind=issuance_pb2.CERTIFICATE_KIND_JUMINHYO
            ),
            metadata=m,
        ),
        "issue_without_key": lambda: list(
            stub.Issue(
                issuance_pb2.IssueRequest(
                    session_token=token,
                    reservation_id="00000000-0000-0000-0000-000000000000",
                    printer_id="P1",
                ),
                metadata=m,
            )
        ),
        "issue_with_bad_printer_id": lambda: list(
            stub.Issue(
                issuance_pb2.IssueRequest(
                    session_token=token,
                    reservation_id="00000000-0000-0000-0000-000000000000",
                    idempotency_key="k",
                    printer_id="P-1",
                ),
                metadata=m,
            )
        ),
        "report_without_outcome": lambda: stub.ReportPrintResult(
            issuance_pb2.ReportPrintResultRequest(session_token=token, issuance_id="x"), metadata=m
        ),
        "complete_with_short_signature": lambda: auth_pb2_grpc.AuthServiceStub(
            bench.channel
        ).CompleteAuthentication(
            auth_pb2.CompleteAuthenticationRequest(
                kiosk_id=bench.kiosk_id, challenge_id="c", certificate=b"x", signature=b"short"
            ),
            metadata=m,
        ),
        "summary_with_bad_month": lambda: settlement_pb2_grpc.SettlementServiceStub(
            bench.api_channel
        ).MonthlySummary(
            settlement_pb2.MonthlySummaryRequest(municipality_code="131016", month="2026-13"),
            metadata=bench.national,
        ),
        "reservation_id_not_a_uuid": lambda: stub.CancelReservation(
            issuance_pb2.CancelReservationRequest(session_token=token, reservation_id="nope"),
            metadata=m,
        ),
    }
    with pytest.raises(grpc.RpcError) as err:
        calls[call]()
    details = decode_error(err.value)
    assert details.code is grpc.StatusCode.INVALID_ARGUMENT, details
    assert details.reason == "INVALID_ARGUMENT"
    assert details.message


def test_unconfirmed_reservations_and_prints_are_voided_after_their_time(
    bench: Bench, restore_clock: None
) -> None:
    me = bench.take()
    token = session_for(bench, me)
    reserved = reserve_one(bench, token)
    printing = reserve_one(bench, token)
    download(bench, token, printing, "never-confirmed")
    bench.clock.advance(timedelta(minutes=16))
    assert bench.center.desk.void_expired() >= 2
    rows = bench.sql("SELECT id, state FROM issuances WHERE id IN (:a, :b)", a=reserved, b=printing)
    states = {row[0]: row[1] for row in rows}
    assert states == {reserved: "voided", printing: "voided"}
    assert bench.sql(
        "SELECT count(*) FROM settlement_entries WHERE issuance_id IN (:a, :b)",
        a=reserved,
        b=printing,
    ) == [(0,)]


def test_health_reports_serving_and_reflection_lists_the_services(bench: Bench) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    health = health_pb2_grpc.HealthStub(bench.channel)
    for service in ("", "konbini.issuance.v1.IssuanceService"):
        resp = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(bench.channel)
    [answer] = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for s in answer.list_services_response.service}
    assert {
        "konbini.auth.v1.AuthService",
        "konbini.issuance.v1.IssuanceService",
        "konbini.settlement.v1.SettlementService",
        "grpc.health.v1.Health",
    } <= names
