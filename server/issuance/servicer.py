"""gRPC face of `server.issuance.service`: translates messages, nothing more."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc

from server.access.caller import CallerKind
from server.access.interceptor import bound_caller, terminal_id
from server.auth.service import AuthenticatedSession
from server.common.errors import InvalidArgument
from server.common.protoconv import required, timestamp
from server.counter.slip import SlipRenderer
from server.issuance.documents import CertificateKind
from server.issuance.service import (
    IssuanceDesk,
    Menu,
    NewSession,
    RegistrationView,
    ReserveRequest,
    Terminal,
)
from server.issuance.states import IssuanceState
from server.koseki.registration import HonsekiRequest, RegistrationState

# A copy (~80 KB for a one-page 住民票) goes in one message after the header: each message costs
# the server its own serialisation and write, and 1 MiB stays well below what a gRPC client
# receives by default (4 MiB), so a kiosk needs no channel option. Longer copies still stream.
PDF_CHUNK_BYTES = 1024 * 1024

_KIND_TO_PROTO = {
    CertificateKind.JUMINHYO: issuance_pb2.CERTIFICATE_KIND_JUMINHYO,
    CertificateKind.INKAN: issuance_pb2.CERTIFICATE_KIND_INKAN,
    CertificateKind.JUMINHYO_KISAI: issuance_pb2.CERTIFICATE_KIND_JUMINHYO_KISAI,
    CertificateKind.TAX_INCOME: issuance_pb2.CERTIFICATE_KIND_TAX_INCOME,
    CertificateKind.TAX_ASSESSMENT: issuance_pb2.CERTIFICATE_KIND_TAX_ASSESSMENT,
    CertificateKind.TAX_PAYMENT: issuance_pb2.CERTIFICATE_KIND_TAX_PAYMENT,
    CertificateKind.KOSEKI_ZENBU: issuance_pb2.CERTIFICATE_KIND_KOSEKI_ZENBU,
    CertificateKind.KOSEKI_KOJIN: issuance_pb2.CERTIFICATE_KIND_KOSEKI_KOJIN,
    CertificateKind.KOSEKI_FUHYO: issuance_pb2.CERTIFICATE_KIND_KOSEKI_FUHYO,
}
_KIND_FROM_PROTO = {v: k for k, v in _KIND_TO_PROTO.items()}
_STATE_TO_PROTO = {
    IssuanceState.RESERVED: issuance_pb2.ISSUANCE_STATE_RESERVED,
    IssuanceState.PRINTING: issuance_pb2.ISSUANCE_STATE_PRINTING,
    IssuanceState.ISSUED: issuance_pb2.ISSUANCE_STATE_ISSUED,
    IssuanceState.VOIDED: issuance_pb2.ISSUANCE_STATE_VOIDED,
    IssuanceState.AWAITING_HANDOVER: issuance_pb2.ISSUANCE_STATE_AWAITING_HANDOVER,
}
_REGISTRATION_TO_PROTO = {
    RegistrationState.PENDING: issuance_pb2.HONSEKI_REGISTRATION_STATE_PENDING,
    RegistrationState.APPROVED: issuance_pb2.HONSEKI_REGISTRATION_STATE_APPROVED,
    RegistrationState.REJECTED: issuance_pb2.HONSEKI_REGISTRATION_STATE_REJECTED,
}


def _kind(value: issuance_pb2.CertificateKind) -> CertificateKind:
    try:
        return _KIND_FROM_PROTO[value]
    except KeyError:
        raise InvalidArgument("choose a certificate kind", field="kind") from None


def _terminal(context: grpc.ServicerContext) -> Terminal | None:
    """The terminal the access interceptor resolved from the registry for this call (its kind,
    municipality and operator), so the desk need not read the row again; None without it."""
    caller = bound_caller(context)
    if (
        caller is None
        or caller.kind not in (CallerKind.KIOSK, CallerKind.COUNTER_TERMINAL)
        or caller.municipality_code is None
        or caller.operator_id is None
    ):
        return None
    return Terminal(
        caller.id,
        caller.kind is CallerKind.COUNTER_TERMINAL,
        caller.municipality_code,
        caller.operator_id,
    )


def _registration(view: RegistrationView) -> issuance_pb2.HonsekiRegistration:
    return issuance_pb2.HonsekiRegistration(
        registration_id=view.registration_id,
        municipality_code=view.municipality_code,
        municipality_name=view.municipality_name,
        state=_REGISTRATION_TO_PROTO[view.state],
        requested_at=timestamp(view.requested_at),
    )


def _menu(menu: Menu) -> issuance_pb2.ListOfferingsResponse:
    return issuance_pb2.ListOfferingsResponse(
        offerings=[
            issuance_pb2.Offering(
                kind=_KIND_TO_PROTO[v.kind],
                title=v.title,
                fee_yen=v.fee_yen,
                eligible_subjects=[
                    issuance_pb2.Subject(
                        subject_id=s.subject_id, display_name=s.display_name, is_self=s.is_self
                    )
                    for s in v.subjects
                ],
                allows_head_and_relationship=v.allows_head_and_relationship,
                allows_honseki=v.allows_honseki,
                available=v.availability.available,
                unavailable_reason=v.availability.reason or "",
                unavailable_message=v.availability.message,
                fiscal_years=v.fiscal_years,
                municipality_code=v.municipality_code,
                municipality_name=v.municipality_name,
            )
            for v in menu.offerings
        ],
        honseki_registrations=[_registration(r) for r in menu.registrations],
    )


class IssuanceServicer(issuance_pb2_grpc.IssuanceServiceServicer):
    def __init__(
        self,
        desk: IssuanceDesk,
        *,
        slips: SlipRenderer | None = None,
        end_sessions: bool = False,
    ) -> None:
        """`end_sessions`: print reports sent with `end_session` end their session in the
        report's own transaction; False: such reports leave the session to the kiosk's own
        EndSession (their response says `session_ended` false)."""
        self._desk = desk
        self._slips = slips  # the 受付票 of counter copies; None: the number only
        self._end_sessions = end_sessions

    def offerings(
        self, session: AuthenticatedSession, context: grpc.ServicerContext
    ) -> issuance_pb2.ListOfferingsResponse:
        """ListOfferings' answer for the session the calling terminal has just opened, served
        with the authentication (`AuthServicer`'s `include_offerings`)."""
        opened = NewSession(session.kiosk_id, session.resident_pk, session.subject_key)
        return _menu(self._desk.menu_of_new_session(opened, _terminal(context)))

    def ListOfferings(
        self, request: issuance_pb2.ListOfferingsRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.ListOfferingsResponse:
        kiosk_id = terminal_id(context)
        token = required(request.session_token, "session_token")
        return _menu(self._desk.menu(token, kiosk_id, _terminal(context)))

    def Reserve(
        self, request: issuance_pb2.ReserveRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.ReserveResponse:
        kiosk_id = terminal_id(context)
        token = required(request.session_token, "session_token")
        if len(request.subject_ids) > 50:
            raise InvalidArgument("at most 50 persons on one certificate", field="subject_ids")
        res = self._desk.reserve(
            token,
            kiosk_id,
            ReserveRequest(
                kind=_kind(request.kind),
                subject_ids=tuple(request.subject_ids),
                include_head_and_relationship=request.include_head_and_relationship,
                include_honseki=request.include_honseki,
                fiscal_year=request.fiscal_year or None,
                municipality_code=request.municipality_code,
            ),
            _terminal(context),
        )
        return issuance_pb2.ReserveResponse(
            reservation_id=res.reservation_id,
            fee_yen=res.fee_yen,
            expires_at=timestamp(res.expires_at),
            channel=res.channel.value,
        )

    def Issue(
        self, request: issuance_pb2.IssueRequest, context: grpc.ServicerContext
    ) -> Iterator[issuance_pb2.IssueChunk]:
        kiosk_id = terminal_id(context)
        copy = self._desk.issue(
            required(request.session_token, "session_token"),
            kiosk_id,
            required(request.reservation_id, "reservation_id", max_len=64),
            request.idempotency_key,
            request.printer_id,
        )
        yield issuance_pb2.IssueChunk(
            header=issuance_pb2.IssueHeader(
                issuance_id=copy.issuance_id,
                issue_number=copy.issue_number,
                page_count=copy.page_count,
                pdf_size=len(copy.pdf),
                pdf_sha256=copy.pdf_sha256,
                fee_yen=copy.fee_yen,
            )
        )
        for off in range(0, len(copy.pdf), PDF_CHUNK_BYTES):
            yield issuance_pb2.IssueChunk(pdf_chunk=copy.pdf[off : off + PDF_CHUNK_BYTES])

    def ReportPrintResult(
        self, request: issuance_pb2.ReportPrintResultRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.ReportPrintResultResponse:
        kiosk_id = terminal_id(context)
        if request.outcome not in (
            issuance_pb2.PRINT_OUTCOME_PRINTED,
            issuance_pb2.PRINT_OUTCOME_FAILED,
        ):
            raise InvalidArgument("outcome must be PRINTED or FAILED", field="outcome")
        if request.pages_printed < 0:
            raise InvalidArgument("pages_printed must not be negative", field="pages_printed")
        token = required(request.session_token, "session_token")
        report = self._desk.report_print(
            token,
            kiosk_id,
            required(request.issuance_id, "issuance_id", max_len=64),
            printed=request.outcome == issuance_pb2.PRINT_OUTCOME_PRINTED,
            pages_printed=request.pages_printed,
            failure_reason=request.failure_reason[:64],
            # Only with a report that stands: a refused one leaves the session as it was. Both
            # are idempotent (an ended session stays ended), so a kiosk that lost this answer
            # sends the same request again and gets the same one.
            end_session=request.end_session and self._end_sessions,
        )
        response = issuance_pb2.ReportPrintResultResponse(
            state=_STATE_TO_PROTO[report.state],
            issue_number=report.issue_number,
            charged_yen=report.charged_yen,
            session_ended=report.session_ended,
        )
        slip = report.reception
        if slip is not None:
            response.reception_number = slip.reception_number
            response.fee_due_yen = 0 if report.state is IssuanceState.ISSUED else slip.fee_yen
            response.collect_by.CopyFrom(timestamp(slip.collect_by))
            if self._slips is not None:
                response.reception_slip_pdf = self._slips.render(slip)
        return response

    def CancelReservation(
        self, request: issuance_pb2.CancelReservationRequest, context: grpc.ServicerContext
    ) -> issuance_pb2.CancelReservationResponse:
        kiosk_id = terminal_id(context)
        state = self._desk.cancel(
            required(request.session_token, "session_token"),
            kiosk_id,
            required(request.reservation_id, "reservation_id", max_len=64),
        )
        return issuance_pb2.CancelReservationResponse(state=_STATE_TO_PROTO[state])

    def RequestHonsekiRegistration(
        self,
        request: issuance_pb2.RequestHonsekiRegistrationRequest,
        context: grpc.ServicerContext,
    ) -> issuance_pb2.HonsekiRegistration:
        kiosk_id = terminal_id(context)
        view = self._desk.request_honseki_registration(
            required(request.session_token, "session_token"),
            kiosk_id,
            HonsekiRequest(
                honseki_municipality_code=request.honseki_municipality_code,
                hittousha=request.hittousha,
                honseki=request.honseki,
            ),
        )
        return _registration(view)
