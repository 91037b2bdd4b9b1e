"""The kiosk terminal: drives one resident's visit from card tap to printed certificate.

It talks to a card through any connection with pyscard's `transmit` shape (the in-process
reader or a PC/SC reader), to the center over gRPC, and to a printer. Every way a visit can
end is a value of `VisitOutcome`, with the words the kiosk screen shows.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import grpc
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc

from clients.errors import ErrorDetails, decode_error
from clients.kiosk.jpki import CardConnection, CardProtocolError, JpkiClient, PinStatus
from hardware_sim.card.errors import CardConnectionError
from server.common.identity import KIOSK_ID_HEADER


class Printer(Protocol):
    """What the terminal needs of a printer (the emulated one, or a real driver)."""

    printer_id: str

    def print_pdf(self, pdf: bytes) -> PrintResultLike: ...


class PrintResultLike(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def pages_printed(self) -> int: ...
    @property
    def fault_name(self) -> str: ...


class CertificateChoice(StrEnum):
    JUMINHYO = "juminhyo"
    INKAN = "inkan"


_KIND = {
    CertificateChoice.JUMINHYO: issuance_pb2.CERTIFICATE_KIND_JUMINHYO,
    CertificateChoice.INKAN: issuance_pb2.CERTIFICATE_KIND_INKAN,
}


@dataclass(frozen=True)
class Order:
    """What the resident picks on the screen."""

    kind: CertificateChoice
    # "self", "household", or a list of display names from the offering.
    subjects: str | tuple[str, ...] = "self"
    include_head_and_relationship: bool = False
    include_honseki: bool = False


class VisitStatus(StrEnum):
    ISSUED = "issued"
    WRONG_PIN = "wrong_pin"
    CARD_LOCKED = "card_locked"
    AUTH_REFUSED = "auth_refused"
    NOT_OFFERED = "not_offered"
    NOT_AVAILABLE = "not_available"  # suppression or other refusal: "ask the counter"
    REFUSED = "refused"
    PRINT_FAILED = "print_failed"
    CARD_REMOVED = "card_removed"
    CARD_ERROR = "card_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    CLOSED = "closed"  # outside hours or suspended: the screen shows the center's words


SCREEN_TEXT: dict[VisitStatus, str] = {
    VisitStatus.ISSUED: "証明書を印刷しました。お取り忘れのないようご注意ください。",
    VisitStatus.WRONG_PIN: "暗証番号が違います。",
    VisitStatus.CARD_LOCKED: "暗証番号がロックされました。市区町村の窓口で解除してください。",
    VisitStatus.AUTH_REFUSED: "このカードはご利用いただけません。",
    VisitStatus.NOT_OFFERED: "ご利用の市区町村ではこの証明書を交付していません。",
    VisitStatus.NOT_AVAILABLE: "この証明書はここでは交付できません。"
    "市区町村の窓口でお尋ねください。",
    VisitStatus.REFUSED: "この証明書は交付できません。",
    VisitStatus.PRINT_FAILED: "印刷できませんでした。手数料はお返しします。",
    VisitStatus.CARD_REMOVED: "カードが取り外されました。最初からやり直してください。",
    VisitStatus.CARD_ERROR: "カードを読み取れませんでした。置き直してください。",
    VisitStatus.SERVICE_UNAVAILABLE: "ただいまサービスを利用できません。"
    "しばらくしてからお試しください。",
    VisitStatus.CLOSED: "ただいまこの証明書は交付していません。",
}


@dataclass(frozen=True)
class VisitOutcome:
    status: VisitStatus
    screen: str
    tries_left: int | None = None
    error: ErrorDetails | None = None
    issue_number: str = ""
    fee_yen: int = 0
    charged_yen: int = 0
    pages: int = 0
    pdf: bytes = field(default=b"", repr=False)


def _outcome(status: VisitStatus, **kw: object) -> VisitOutcome:
    return VisitOutcome(status, SCREEN_TEXT[status], **kw)  # type: ignore[arg-type]


class KioskTerminal:
    def __init__(
        self,
        channel: grpc.Channel,
        *,
        kiosk_id: str,
        printer: Printer,
        new_key: Callable[[], str] = lambda: uuid.uuid4().hex,
        timeout_s: float = 30.0,
    ) -> None:
        self.kiosk_id = kiosk_id
        self._auth = auth_pb2_grpc.AuthServiceStub(channel)
        self._issuance = issuance_pb2_grpc.IssuanceServiceStub(channel)
        self._printer = printer
        self._md = ((KIOSK_ID_HEADER, kiosk_id),)
        self._new_key = new_key
        self._timeout = timeout_s

    # -- steps ------------------------------------------------------------------------------

    def authenticate(self, connection: CardConnection, pin: str) -> str | VisitOutcome:
        """Card → PIN → challenge signed on the card → session token, or why not."""
        card = JpkiClient(connection)
        card.select_ap()
        certificate = card.read_auth_certificate()
        pin_status = card.verify_auth_pin(pin)
        if pin_status.status is PinStatus.BLOCKED:
            return _outcome(VisitStatus.CARD_LOCKED, tries_left=0)
        if pin_status.status is PinStatus.WRONG:
            if pin_status.tries_left == 0:
                return _outcome(VisitStatus.CARD_LOCKED, tries_left=0)
            return _outcome(VisitStatus.WRONG_PIN, tries_left=pin_status.tries_left)
        challenge = self._auth.BeginAuthentication(
            auth_pb2.BeginAuthenticationRequest(kiosk_id=self.kiosk_id),
            metadata=self._md,
            timeout=self._timeout,
        )
        signature = card.sign_with_auth_key(challenge.to_be_signed)
        session = self._auth.CompleteAuthentication(
            auth_pb2.CompleteAuthenticationRequest(
                kiosk_id=self.kiosk_id,
                challenge_id=challenge.challenge_id,
                certificate=certificate,
                signature=signature,
            ),
            metadata=self._md,
            timeout=self._timeout,
        )
        return str(session.session_token)

    def offerings(self, token: str) -> Sequence[issuance_pb2.Offering]:
        resp = self._issuance.ListOfferings(
            issuance_pb2.ListOfferingsRequest(session_token=token),
            metadata=self._md,
            timeout=self._timeout,
        )
        return list(resp.offerings)

    # -- a whole visit ----------------------------------------------------------------------

    def visit(
        self,
        connection: CardConnection,
        pin: str,
        order: Order,
        *,
        card_present: Callable[[], bool] = lambda: True,
    ) -> VisitOutcome:
        """One resident's visit. Never raises for a refusal: the outcome says what happened."""
        token = ""
        try:
            auth = self.authenticate(connection, pin)
            if isinstance(auth, VisitOutcome):
                return auth
            token = auth
            return self._order(token, order, card_present)
        except grpc.RpcError as err:
            return _refusal(decode_error(err))
        except CardConnectionError:
            return _outcome(VisitStatus.CARD_REMOVED)
        except CardProtocolError:
            return _outcome(VisitStatus.CARD_ERROR)
        finally:
            if token:
                with contextlib.suppress(grpc.RpcError):  # it expires on its own anyway
                    self._auth.EndSession(
                        auth_pb2.EndSessionRequest(session_token=token),
                        metadata=self._md,
                        timeout=self._timeout,
                    )

    def _order(self, token: str, order: Order, card_present: Callable[[], bool]) -> VisitOutcome:
        offer = next((o for o in self.offerings(token) if o.kind == _KIND[order.kind]), None)
        if offer is None:
            return _outcome(VisitStatus.NOT_OFFERED)
        if not offer.available:
            return VisitOutcome(
                VisitStatus.CLOSED, offer.unavailable_message or SCREEN_TEXT[VisitStatus.CLOSED]
            )
        subject_ids = _pick_subjects(offer, order.subjects)
        if subject_ids is None:
            return _outcome(VisitStatus.REFUSED)
        reservation = self._issuance.Reserve(
            issuance_pb2.ReserveRequest(
                session_token=token,
                kind=_KIND[order.kind],
                subject_ids=subject_ids,
                include_head_and_relationship=order.include_head_and_relationship,
                include_honseki=order.include_honseki,
            ),
            metadata=self._md,
            timeout=self._timeout,
        )
        # Payment happens here on a real kiosk (cash or e-money); the card must still be on
        # the reader when the resident confirms.
        if not card_present():
            self._issuance.CancelReservation(
                issuance_pb2.CancelReservationRequest(
                    session_token=token, reservation_id=reservation.reservation_id
                ),
                metadata=self._md,
                timeout=self._timeout,
            )
            return _outcome(VisitStatus.CARD_REMOVED)
        key = self._new_key()
        pdf, header = self._fetch_copy(token, reservation.reservation_id, key)
        printed = self._printer.print_pdf(pdf)
        report = self._issuance.ReportPrintResult(
            issuance_pb2.ReportPrintResultRequest(
                session_token=token,
                issuance_id=header.issuance_id,
                outcome=issuance_pb2.PRINT_OUTCOME_PRINTED
                if printed.ok
                else issuance_pb2.PRINT_OUTCOME_FAILED,
                pages_printed=printed.pages_printed,
                failure_reason="" if printed.ok else printed.fault_name,
            ),
            metadata=self._md,
            timeout=self._timeout,
        )
        if not printed.ok:
            return _outcome(VisitStatus.PRINT_FAILED, issue_number=header.issue_number)
        return _outcome(
            VisitStatus.ISSUED,
            issue_number=report.issue_number,
            fee_yen=header.fee_yen,
            charged_yen=report.charged_yen,
            pages=header.page_count,
            pdf=pdf,
        )

    def _fetch_copy(
        self, token: str, reservation_id: str, key: str, attempts: int = 3
    ) -> tuple[bytes, issuance_pb2.IssueHeader]:
        """Download the copy; a broken stream is retried with the same idempotency key."""
        last: grpc.RpcError | None = None
        for _ in range(attempts):
            try:
                header: issuance_pb2.IssueHeader | None = None
                parts: list[bytes] = []
                for chunk in self._issuance.Issue(
                    issuance_pb2.IssueRequest(
                        session_token=token,
                        reservation_id=reservation_id,
                        idempotency_key=key,
                        printer_id=self._printer.printer_id,
                    ),
                    metadata=self._md,
                    timeout=self._timeout,
                ):
                    if chunk.HasField("header"):
                        header = chunk.header
                    else:
                        parts.append(chunk.pdf_chunk)
                pdf = b"".join(parts)
                if header is None or hashlib.sha256(pdf).digest() != header.pdf_sha256:
                    raise CopyCorrupted("the copy arrived incomplete")
                return pdf, header
            except grpc.RpcError as err:
                if err.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    raise
                last = err
            except CopyCorrupted:
                continue
        if last is not None:
            raise last
        raise CopyCorrupted("the copy could not be downloaded whole")


class CopyCorrupted(Exception):
    """The PDF stream did not match its announced digest (the peer misbehaved)."""


def _pick_subjects(offer: issuance_pb2.Offering, wanted: str | tuple[str, ...]) -> list[str] | None:
    subjects = list(offer.eligible_subjects)
    if wanted == "self":
        chosen = [s for s in subjects if s.is_self]
    elif wanted == "household":
        chosen = subjects
    else:
        by_name = {s.display_name: s for s in subjects}
        if any(name not in by_name for name in wanted):
            return None
        chosen = [by_name[name] for name in wanted]
    return [s.subject_id for s in chosen] or None


_REASON_STATUS = {
    "NOT_AVAILABLE_AT_KIOSK": VisitStatus.NOT_AVAILABLE,
}
# Refusals by the service rules: the center's message is what the screen shows.
_CLOSED_REASONS = frozenset({"OUTSIDE_SERVICE_HOURS", "SUSPENDED", "OUTSIDE_CERTIFICATE_HOURS"})


def _refusal(err: ErrorDetails) -> VisitOutcome:
    if err.code is grpc.StatusCode.UNAUTHENTICATED:
        return _outcome(VisitStatus.AUTH_REFUSED, error=err)
    if err.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return _outcome(VisitStatus.SERVICE_UNAVAILABLE, error=err)
    if err.reason in _CLOSED_REASONS:
        return VisitOutcome(VisitStatus.CLOSED, err.message, error=err)
    return _outcome(_REASON_STATUS.get(err.reason, VisitStatus.REFUSED), error=err)
