"""The kiosk terminal: drives one resident's visit from card tap to printed certificate.

It talks to a card or phone through any connection with pyscard's `transmit` shape (the
in-process reader or a PC/SC reader), to the center over gRPC (mTLS in production: see
`clients.kiosk.channel`), to a printer and to a till. Every way a visit can end is a value of
`VisitOutcome`, with the words the kiosk screen shows.

The center side, five calls a visit: BeginAuthentication; CompleteAuthentication, whose answer
carries the menu (`include_offerings`; when it does not, ListOfferings is asked); Reserve;
Issue; ReportPrintResult, which also ends the session (`end_session`; when the center does not
say it did, or the visit ends before a report, EndSession is called as before).

The card side: SELECT the JPKI AP, learn the token kind from EF 0006, ask whether the auth key
needs a PIN (VERIFY without data: a phone unlocked by its holder's biometrics says `9000` and the
PIN step is skipped; an iPhone not yet unlocked says `6982` and the resident is asked to use Face
ID and tap again), read the certificate, VERIFY the PIN if needed, SIGN the center's challenge.

Money: the printer is asked before anything is reserved and again before the till takes the fee;
the card must still answer before the fee is taken, before the copy is requested and before it is
printed. A copy that does not come out whole is reported failed (the center voids it, nothing is
charged) and the fee goes back; leaving mid-way cancels the reservation or the copy. A copy
that did print is never cancelled: if the center cannot be told (it keeps failing through the
report's back-off), the report goes to the terminal's outbox (`outbox_path`: kept across a
restart), the resident keeps the copy and the fee stays paid, and the outbox is sent again
before each later visit (`send_pending_reports`). The center accepts such a report from this
kiosk with the copy's token until the printing deadline.

Counter mode (らくらく窓口, `counter_printer=` given): the same screens on a terminal in the town
hall. No till: the certificate goes to the printer behind the counter, the terminal's own printer
prints the 受付票 the center returns with the reception number, and the resident pays the clerk
at the counter, who hands the copy over (`konbini staff hand-over`). The visit ends
`AWAITING_HANDOVER`; nothing is charged until the clerk hands it over.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import grpc
from google.protobuf.message import DecodeError
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc

from clients.errors import ErrorDetails, decode_error
from clients.kiosk.jpki import (
    CardConnection,
    CardProtocolError,
    JpkiClient,
    KeyAccess,
    PinStatus,
)
from clients.kiosk.payment import EmulatedTill, Till
from hardware_sim.card.credentials import TokenKind
from hardware_sim.card.errors import CardConnectionError
from server.common.identity import KIOSK_ID_HEADER

# Pauses between reports of a print result the center did not answer (about 15 s in all).
REPORT_BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class Printer(Protocol):
    """What the terminal needs of a printer (the emulated one, or a real driver)."""

    printer_id: str

    def status(self) -> PrinterStatusLike: ...

    def print_pdf(self, pdf: bytes) -> PrintResultLike: ...


class PrinterStatusLike(Protocol):
    @property
    def ready(self) -> bool: ...

    def can_print(self, pages: int) -> bool: ...


class PrintResultLike(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def pages_printed(self) -> int: ...
    @property
    def fault_name(self) -> str: ...


class CertificateChoice(StrEnum):
    JUMINHYO = "juminhyo"  # 住民票の写し
    INKAN = "inkan"  # 印鑑登録証明書
    JUMINHYO_KISAI = "juminhyo_kisai"  # 住民票記載事項証明書
    TAX_INCOME = "tax_income"  # 所得証明書
    TAX_ASSESSMENT = "tax_assessment"  # 課税（非課税）証明書
    TAX_PAYMENT = "tax_payment"  # 納税証明書
    KOSEKI_ZENBU = "koseki_zenbu"  # 戸籍全部事項証明書
    KOSEKI_KOJIN = "koseki_kojin"  # 戸籍個人事項証明書
    KOSEKI_FUHYO = "koseki_fuhyo"  # 戸籍の附票の写し


_KIND = {
    CertificateChoice.JUMINHYO: issuance_pb2.CERTIFICATE_KIND_JUMINHYO,
    CertificateChoice.INKAN: issuance_pb2.CERTIFICATE_KIND_INKAN,
    CertificateChoice.JUMINHYO_KISAI: issuance_pb2.CERTIFICATE_KIND_JUMINHYO_KISAI,
    CertificateChoice.TAX_INCOME: issuance_pb2.CERTIFICATE_KIND_TAX_INCOME,
    CertificateChoice.TAX_ASSESSMENT: issuance_pb2.CERTIFICATE_KIND_TAX_ASSESSMENT,
    CertificateChoice.TAX_PAYMENT: issuance_pb2.CERTIFICATE_KIND_TAX_PAYMENT,
    CertificateChoice.KOSEKI_ZENBU: issuance_pb2.CERTIFICATE_KIND_KOSEKI_ZENBU,
    CertificateChoice.KOSEKI_KOJIN: issuance_pb2.CERTIFICATE_KIND_KOSEKI_KOJIN,
    CertificateChoice.KOSEKI_FUHYO: issuance_pb2.CERTIFICATE_KIND_KOSEKI_FUHYO,
}
_TAX_CHOICES = frozenset(
    {CertificateChoice.TAX_INCOME, CertificateChoice.TAX_ASSESSMENT, CertificateChoice.TAX_PAYMENT}
)


@dataclass(frozen=True)
class Order:
    """What the resident picks on the screen."""

    kind: CertificateChoice
    # "self", "household", or a list of display names from the offering.
    subjects: str | tuple[str, ...] = "self"
    include_head_and_relationship: bool = False
    include_honseki: bool = False
    # Tax certificates: the fiscal year (年度, 2025 = 令和7年度); None: the newest offered.
    fiscal_year: int | None = None


class VisitStatus(StrEnum):
    ISSUED = "issued"
    WRONG_PIN = "wrong_pin"
    PIN_REQUIRED = "pin_required"  # a card or Android phone, and no PIN was entered
    CARD_LOCKED = "card_locked"
    AUTHENTICATE_ON_PHONE = "authenticate_on_phone"  # 6982: Face ID first, then tap again
    AUTH_REFUSED = "auth_refused"
    NOT_OFFERED = "not_offered"
    NOT_AVAILABLE = "not_available"  # suppression or other refusal: "ask the counter"
    REFUSED = "refused"
    PRINTER_NOT_READY = "printer_not_ready"  # checked before any money is taken
    PAYMENT_CANCELLED = "payment_cancelled"
    PRINT_FAILED = "print_failed"
    CARD_REMOVED = "card_removed"
    CARD_ERROR = "card_error"
    SERVICE_UNAVAILABLE = "service_unavailable"
    KIOSK_OUT_OF_SERVICE = "kiosk_out_of_service"  # the center refused this kiosk itself
    CLOSED = "closed"  # outside hours or suspended: the screen shows the center's words
    REGISTRATION_FILED = "registration_filed"  # 本籍地 利用登録 sent (or already approved)
    REGISTRATION_PENDING = "registration_pending"  # the 本籍地 has not linked it yet
    AWAITING_HANDOVER = "awaiting_handover"  # counter mode: take the 受付票 to the counter


class KioskStep(StrEnum):
    """Milestones of a visit, reported to an observer (the screen; tests pull cards here)."""

    AUTHENTICATED = "authenticated"
    RESERVED = "reserved"
    PAID = "paid"
    COPY_RECEIVED = "copy_received"
    PRINTED = "printed"


SCREEN_TEXT: dict[VisitStatus, str] = {
    VisitStatus.ISSUED: "証明書を印刷しました。お取り忘れのないようご注意ください。",
    VisitStatus.WRONG_PIN: "暗証番号が違います。",
    VisitStatus.PIN_REQUIRED: "暗証番号（数字4桁）を入力してください。",
    VisitStatus.CARD_LOCKED: "暗証番号がロックされました。市区町村の窓口で解除してください。",
    VisitStatus.AUTHENTICATE_ON_PHONE: "スマートフォンで本人確認（生体認証）を行ってから、"
    "もう一度かざしてください。",
    VisitStatus.AUTH_REFUSED: "このカードはご利用いただけません。",
    VisitStatus.NOT_OFFERED: "ご利用の市区町村ではこの証明書を交付していません。",
    VisitStatus.NOT_AVAILABLE: "この証明書はここでは交付できません。"
    "市区町村の窓口でお尋ねください。",
    VisitStatus.REFUSED: "この証明書は交付できません。",
    VisitStatus.PRINTER_NOT_READY: "ただいまプリンターを使用できません。"
    "お手数ですが店員にお知らせください。",
    VisitStatus.PAYMENT_CANCELLED: "お支払いが完了しなかったため、取り消しました。",
    VisitStatus.PRINT_FAILED: "印刷できませんでした。手数料はお返しします。",
    VisitStatus.CARD_REMOVED: "カードが取り外されました。最初からやり直してください。",
    VisitStatus.CARD_ERROR: "カードを読み取れませんでした。置き直してください。",
    VisitStatus.SERVICE_UNAVAILABLE: "ただいまサービスを利用できません。"
    "しばらくしてからお試しください。",
    VisitStatus.KIOSK_OUT_OF_SERVICE: "この端末は現在ご利用いただけません。",
    VisitStatus.CLOSED: "ただいまこの証明書は交付していません。",
    VisitStatus.REGISTRATION_FILED: "本籍地への利用登録を申請しました。本籍地の市区町村で確認が"
    "済みしだい、戸籍証明書を取得できます。",
    VisitStatus.REGISTRATION_PENDING: "本籍地で利用登録を確認しています。"
    "確認が済んでからご利用ください。",
    VisitStatus.AWAITING_HANDOVER: "受付票をお取りください。窓口で受付票と手数料と引き換えに"
    "証明書をお渡しします。",
}
# Counter mode, when the 受付票 itself did not print: the number is on the screen instead.
SLIP_NOT_PRINTED = "受付票を印刷できませんでした。受付番号 {number} を窓口でお伝えください。"
# Counter mode, when the center could not be told the copy printed: no reception number yet.
RECEPTION_PENDING = "受付票を発行できませんでした。窓口で交付番号 {number} をお伝えください。"


@dataclass(frozen=True)
class VisitOutcome:
    status: VisitStatus
    screen: str
    tries_left: int | None = None
    error: ErrorDetails | None = None
    issue_number: str = ""
    fee_yen: int = 0
    charged_yen: int = 0  # what the center recorded as charged (only for an issued copy)
    pages: int = 0
    pdf: bytes = field(default=b"", repr=False)
    token: TokenKind | None = None  # card, Android or iPhone, from EF 0006
    paid_yen: int = 0  # what the till took
    refunded_yen: int = 0  # what it handed back
    # Counter mode: the 受付番号, the 受付票 as printed (empty if it did not print), and the fee
    # the resident pays at the counter.
    reception_number: str = ""
    slip_pdf: bytes = field(default=b"", repr=False)
    fee_due_yen: int = 0
    # Printed, but the center has not yet heard so: the report waits in the terminal's outbox.
    report_pending: bool = False

    @property
    def kept_yen(self) -> int:
        """What the resident is out of pocket for this visit."""
        return self.paid_yen - self.refunded_yen


@dataclass(frozen=True)
class RegistrationOutcome:
    """How a 本籍地 利用登録 request ended."""

    status: VisitStatus
    screen: str
    registration_id: str = ""
    municipality_name: str = ""  # the 本籍地
    approved: bool = False  # filed before and already linked to a 戸籍
    error: ErrorDetails | None = None


def _outcome(status: VisitStatus, **kw: object) -> VisitOutcome:
    return VisitOutcome(status, SCREEN_TEXT[status], **kw)  # type: ignore[arg-type]


class KioskTerminal:
    def __init__(
        self,
        channel: grpc.Channel,
        *,
        kiosk_id: str,
        printer: Printer,
        till: Till | None = None,
        new_key: Callable[[], str] = lambda: uuid.uuid4().hex,
        timeout_s: float = 30.0,
        report_backoff_s: Sequence[float] = REPORT_BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
        counter_printer: Printer | None = None,
        outbox_path: Path | None = None,
    ) -> None:
        """`counter_printer` puts the terminal in counter mode (らくらく窓口): certificates go to
        that printer behind the counter, and `printer` prints the 受付票. `outbox_path` keeps
        unacknowledged print reports across a restart of the terminal (in memory if None)."""
        self.kiosk_id = kiosk_id
        self._auth = auth_pb2_grpc.AuthServiceStub(channel)
        self._issuance = issuance_pb2_grpc.IssuanceServiceStub(channel)
        self._printer = counter_printer or printer  # where certificates come out
        self._slip_printer = printer if counter_printer is not None else None
        self.till: Till = till if till is not None else EmulatedTill()
        # Under mTLS the center takes the identity from the client certificate and checks this
        # header against it; without TLS (the demo) the header is the identity.
        self._md = ((KIOSK_ID_HEADER, kiosk_id),)
        self._new_key = new_key
        self._timeout = timeout_s
        self._report_backoff = tuple(report_backoff_s)
        self._sleep = sleep
        self._outbox = _Outbox(outbox_path)

    # -- steps ------------------------------------------------------------------------------

    def authenticate(self, connection: CardConnection, pin: str | None) -> str | VisitOutcome:
        """Card or phone → PIN if needed → challenge signed on the chip → session, or why not.

        `pin` may be None (or "") for a phone its holder unlocked on the device; a card then
        gets `PIN_REQUIRED`, and nothing that costs a try is sent to it. The center's refusals
        raise `grpc.RpcError`.
        """
        card = JpkiClient(connection)
        _, certificate = self._read_chip(card, pin)
        if isinstance(certificate, VisitOutcome):
            return certificate
        return str(self._sign_in(card, certificate).session_token)

    def _read_chip(
        self, card: JpkiClient, pin: str | None
    ) -> tuple[TokenKind, bytes | VisitOutcome]:
        """What the chip is, and its certificate once the key may sign (or why it may not)."""
        card.select_ap()
        kind = card.token_kind() or TokenKind.CARD  # an unlabelled chip is taken for a card
        certificate = self._unlock_key(card, kind, pin)
        if isinstance(certificate, VisitOutcome):
            return kind, dataclasses.replace(certificate, token=kind)
        return kind, certificate

    def _sign_in(
        self, card: JpkiClient, certificate: bytes, *, with_offerings: bool = False
    ) -> auth_pb2.CompleteAuthenticationResponse:
        """The center's challenge signed on the chip: a session (with `with_offerings`, and
        a center that serves it, the session's menu too)."""
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
                include_offerings=with_offerings,
            ),
            metadata=self._md,
            timeout=self._timeout,
        )
        return session

    @staticmethod
    def _unlock_key(card: JpkiClient, kind: TokenKind, pin: str | None) -> bytes | VisitOutcome:
        """The auth certificate once the auth key may sign, or why it may not."""
        access = card.auth_key_access().access
        if access is KeyAccess.BLOCKED:
            return _outcome(VisitStatus.CARD_LOCKED, tries_left=0)
        if access is KeyAccess.AUTHENTICATE_ON_DEVICE or (
            kind is TokenKind.IPHONE and access is not KeyAccess.UNLOCKED
        ):
            return _outcome(VisitStatus.AUTHENTICATE_ON_PHONE)  # never a PIN for an iPhone
        if access is KeyAccess.PIN_NEEDED and not pin:
            return _outcome(VisitStatus.PIN_REQUIRED)
        certificate = card.read_auth_certificate()
        if access is KeyAccess.UNLOCKED:
            return certificate  # biometrics on the phone stood in for the PIN
        assert pin is not None  # PIN_NEEDED without a PIN was answered above
        result = card.verify_auth_pin(pin)
        if result.status is PinStatus.BLOCKED or result.tries_left == 0:
            return _outcome(VisitStatus.CARD_LOCKED, tries_left=0)
        if result.status is PinStatus.WRONG:
            return _outcome(VisitStatus.WRONG_PIN, tries_left=result.tries_left)
        return certificate

    def offerings(self, token: str) -> Sequence[issuance_pb2.Offering]:
        resp = self._issuance.ListOfferings(
            issuance_pb2.ListOfferingsRequest(session_token=token),
            metadata=self._md,
            timeout=self._timeout,
        )
        return list(resp.offerings)

    def printer_can_print(self, pages: int = 1) -> bool:
        """Whether the printer can put out `pages` whole pages now."""
        return self._printer.status().can_print(pages)

    # -- a whole visit ----------------------------------------------------------------------

    def visit(
        self,
        connection: CardConnection,
        pin: str | None,
        order: Order,
        *,
        card_present: Callable[[], bool] | None = None,
        on_step: Callable[[KioskStep], None] = lambda step: None,
    ) -> VisitOutcome:
        """One resident's visit. Never raises for a refusal: the outcome says what happened.

        `card_present` says whether the card is still on the reader; by default the card itself
        is asked (a SELECT, which a pulled card cannot answer). `on_step` sees each milestone.
        """
        session = _Session()
        kind: TokenKind | None = None
        self.send_pending_reports()
        try:
            card = JpkiClient(connection)
            kind, certificate = self._read_chip(card, pin)
            if isinstance(certificate, VisitOutcome):
                return certificate
            signed_in = self._sign_in(card, certificate, with_offerings=True)
            session.token = signed_in.session_token
            on_step(KioskStep.AUTHENTICATED)
            present = card_present or card.still_present
            menu = signed_in.offerings if signed_in.HasField("offerings") else None
            outcome = self._order(session, order, present, on_step, menu)
        except grpc.RpcError as err:
            outcome = _refusal(decode_error(err))
        except CardConnectionError:
            outcome = _outcome(VisitStatus.CARD_REMOVED)
        except CardProtocolError:
            outcome = _outcome(VisitStatus.CARD_ERROR)
        finally:
            if not session.ended:  # the print report ended it, or never got that far
                self._end_session(session.token)
        return dataclasses.replace(outcome, token=kind)

    def request_honseki_registration(
        self,
        connection: CardConnection,
        pin: str | None,
        honseki_municipality_code: str,
        *,
        hittousha: str = "",
        honseki: str = "",
    ) -> RegistrationOutcome:
        """本籍地 利用登録: authenticate, file the request with the 本籍地, end the session.

        `hittousha` and `honseki` are what the resident enters; empty: their 住民票's. The
        本籍地's staff decide later; the 戸籍 is offered from an authentication after that.
        """
        token = ""
        try:
            card = JpkiClient(connection)
            _, certificate = self._read_chip(card, pin)
            if isinstance(certificate, VisitOutcome):
                return RegistrationOutcome(certificate.status, certificate.screen)
            token = self._sign_in(card, certificate).session_token
            filed = self._issuance.RequestHonsekiRegistration(
                issuance_pb2.RequestHonsekiRegistrationRequest(
                    session_token=token,
                    honseki_municipality_code=honseki_municipality_code,
                    hittousha=hittousha,
                    honseki=honseki,
                ),
                metadata=self._md,
                timeout=self._timeout,
            )
            return RegistrationOutcome(
                VisitStatus.REGISTRATION_FILED,
                SCREEN_TEXT[VisitStatus.REGISTRATION_FILED],
                registration_id=filed.registration_id,
                municipality_name=filed.municipality_name,
                approved=filed.state == issuance_pb2.HONSEKI_REGISTRATION_STATE_APPROVED,
            )
        except grpc.RpcError as err:
            refused = _refusal(decode_error(err))
            return RegistrationOutcome(refused.status, refused.screen, error=refused.error)
        except CardConnectionError:
            return RegistrationOutcome(
                VisitStatus.CARD_REMOVED, SCREEN_TEXT[VisitStatus.CARD_REMOVED]
            )
        except CardProtocolError:
            return RegistrationOutcome(VisitStatus.CARD_ERROR, SCREEN_TEXT[VisitStatus.CARD_ERROR])
        finally:
            self._end_session(token)

    @property
    def pending_reports(self) -> tuple[issuance_pb2.ReportPrintResultRequest, ...]:
        """Print results of copies that printed here and the center has not acknowledged."""
        return self._outbox.requests

    def send_pending_reports(self) -> int:
        """Send the outbox once more (one try each, no pause); returns how many still wait.

        A report the center answers, or refuses for good (past the printing deadline: the
        sweeper has voided the copy, and the operator's daily report will show the difference),
        leaves the outbox; one it still cannot hear stays for the next visit, and so does one
        refused because of the kiosk itself (suspended for a while, say): that says nothing of
        the copy, which is settled once the kiosk may call again.
        """
        for request in self._outbox.requests:
            try:
                self._issuance.ReportPrintResult(request, metadata=self._md, timeout=self._timeout)
            except grpc.RpcError as err:
                if _transient(err) or decode_error(err).reason in _KIOSK_REASONS:
                    continue
            self._outbox.remove(request)
        return len(self._outbox.requests)

    def _end_session(self, token: str) -> None:
        if token:
            with contextlib.suppress(grpc.RpcError):  # it expires on its own anyway
                self._auth.EndSession(
                    auth_pb2.EndSessionRequest(session_token=token),
                    metadata=self._md,
                    timeout=self._timeout,
                )

    def _order(
        self,
        session: _Session,
        order: Order,
        card_present: Callable[[], bool],
        on_step: Callable[[KioskStep], None],
        menu: issuance_pb2.ListOfferingsResponse | None = None,
    ) -> VisitOutcome:
        """`menu`: the offerings that came with the authentication; None: ask the center."""
        token = session.token
        offers = menu.offerings if menu is not None else self.offerings(token)
        offer = next((o for o in offers if o.kind == _KIND[order.kind]), None)
        if offer is None:
            return _outcome(VisitStatus.NOT_OFFERED)
        if not offer.available:
            return VisitOutcome(
                VisitStatus.CLOSED, offer.unavailable_message or SCREEN_TEXT[VisitStatus.CLOSED]
            )
        subject_ids = _pick_subjects(offer, order.subjects)
        if subject_ids is None:
            return _outcome(VisitStatus.REFUSED)
        fiscal_year = 0
        if order.kind in _TAX_CHOICES:  # the year asked for, else the newest offered
            fiscal_year = order.fiscal_year or next(iter(offer.fiscal_years), 0)
        if not self.printer_can_print() or not self._slip_printer_ready():
            return _outcome(VisitStatus.PRINTER_NOT_READY)  # nothing reserved, nothing paid
        reservation = self._issuance.Reserve(
            issuance_pb2.ReserveRequest(
                session_token=token,
                kind=_KIND[order.kind],
                subject_ids=subject_ids,
                include_head_and_relationship=order.include_head_and_relationship,
                include_honseki=order.include_honseki,
                fiscal_year=fiscal_year,
                municipality_code=offer.municipality_code,
            ),
            metadata=self._md,
            timeout=self._timeout,
        )
        on_step(KioskStep.RESERVED)
        purchase = _CounterPurchase if self.counter_mode else _Purchase
        bought = purchase(self, session, reservation.reservation_id, reservation.fee_yen)
        if (reservation.channel == "counter") != self.counter_mode:
            # Set up as the other kind of terminal than the registry says: taking money here
            # for a counter copy (or none for a kiosk copy) would be wrong either way.
            return bought.abandon(_outcome(VisitStatus.KIOSK_OUT_OF_SERVICE))
        return bought.run(card_present, on_step)

    @property
    def counter_mode(self) -> bool:
        return self._slip_printer is not None

    def _slip_printer_ready(self) -> bool:
        return self._slip_printer is None or self._slip_printer.status().can_print(1)

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
                if not _transient(err):
                    raise
                last = err
            except CopyCorrupted:
                continue
        if last is not None:
            raise last
        raise CopyCorrupted("the copy could not be downloaded whole")


@dataclass
class _Session:
    """The session of one visit: its token once signed in, and whether the center ended it."""

    token: str = ""
    ended: bool = False  # the print report ended it (`end_session`): no EndSession needed


class _Purchase:
    """From a reservation to a copy in the tray, with the fee and its refund (one visit)."""

    def __init__(
        self, terminal: KioskTerminal, session: _Session, reservation_id: str, fee: int
    ) -> None:
        self._t = terminal
        self._session = session
        self._token = session.token
        self._id = reservation_id  # the issuance id too: one row from reservation to copy
        self._fee = fee
        self._paid = 0
        self._settled = False  # the center has the final word on this copy (issued or voided)

    def run(
        self, card_present: Callable[[], bool], on_step: Callable[[KioskStep], None]
    ) -> VisitOutcome:
        try:
            return self._run(card_present, on_step)
        except grpc.RpcError as err:
            return self._abandon(_refusal(decode_error(err)))
        except CopyCorrupted:
            return self._abandon(_outcome(VisitStatus.SERVICE_UNAVAILABLE))
        except BaseException:
            self._abandon(_outcome(VisitStatus.SERVICE_UNAVAILABLE))
            raise

    def _run(
        self, card_present: Callable[[], bool], on_step: Callable[[KioskStep], None]
    ) -> VisitOutcome:
        t = self._t
        # No money is taken for a copy that cannot come out, or for a resident who has left.
        if not t.printer_can_print():
            return self._abandon(_outcome(VisitStatus.PRINTER_NOT_READY))
        if not card_present():
            return self._abandon(_outcome(VisitStatus.CARD_REMOVED))
        if not t.till.collect(self._fee):
            return self._abandon(_outcome(VisitStatus.PAYMENT_CANCELLED))
        self._paid = self._fee
        on_step(KioskStep.PAID)
        if not card_present():
            return self._abandon(_outcome(VisitStatus.CARD_REMOVED))
        pdf, header = t._fetch_copy(self._token, self._id, t._new_key())
        on_step(KioskStep.COPY_RECEIVED)
        if not card_present():
            return self._abandon(_outcome(VisitStatus.CARD_REMOVED))
        if not t.printer_can_print(header.page_count):
            # Printing would stop part-way: do not waste the sheets, void the copy.
            self._report(header, printed=False, pages=0, reason="printer_not_ready")
            return self._refunded(_outcome(VisitStatus.PRINT_FAILED))
        printed = t._printer.print_pdf(pdf)
        report = self._report(
            header,
            printed=printed.ok,
            pages=printed.pages_printed,
            reason=printed.fault_name,
            keep_if_unheard=printed.ok,
        )
        if not printed.ok:  # a copy that did not come out whole is void, whatever came out
            return self._refunded(
                _outcome(VisitStatus.PRINT_FAILED, issue_number=header.issue_number)
            )
        on_step(KioskStep.PRINTED)
        if report is None:  # in the outbox: the copy is the resident's, the fee stays paid
            return _outcome(
                VisitStatus.ISSUED,
                issue_number=header.issue_number,
                fee_yen=header.fee_yen,
                pages=header.page_count,
                pdf=pdf,
                paid_yen=self._paid,
                report_pending=True,
            )
        return _outcome(
            VisitStatus.ISSUED,
            issue_number=report.issue_number,
            fee_yen=header.fee_yen,
            charged_yen=report.charged_yen,
            pages=header.page_count,
            pdf=pdf,
            paid_yen=self._paid,
        )

    def _report(
        self,
        header: issuance_pb2.IssueHeader,
        *,
        printed: bool,
        pages: int,
        reason: str,
        keep_if_unheard: bool = False,
    ) -> issuance_pb2.ReportPrintResultResponse | None:
        """Tell the center how the copy came out, again and again while it cannot answer.

        The report is idempotent (same token, same issuance id: a report the center already
        took is answered the same), and the copy is already in the tray or the bin, so a lost
        answer is sent again after a pause rather than turned into a cancel and a refund. With
        `keep_if_unheard`, a report the center still cannot hear after the last pause goes to
        the outbox (None is returned) instead of failing the visit.

        It is the visit's last call, so it asks the center to end the session once it takes
        the report (`end_session`); a refused report leaves the session open, for the cancel.
        """
        t = self._t
        request = issuance_pb2.ReportPrintResultRequest(
            session_token=self._token,
            issuance_id=header.issuance_id,
            outcome=issuance_pb2.PRINT_OUTCOME_PRINTED
            if printed
            else issuance_pb2.PRINT_OUTCOME_FAILED,
            pages_printed=pages,
            failure_reason="" if printed else reason,
            end_session=True,
        )
        pauses = iter(t._report_backoff)
        while True:
            try:
                report = t._issuance.ReportPrintResult(request, metadata=t._md, timeout=t._timeout)
                break
            except grpc.RpcError as err:
                pause = next(pauses, None)
                if pause is None and keep_if_unheard and _transient(err):
                    t._outbox.add(request)
                    self._settled = True  # never cancel a copy that printed
                    return None
                if pause is None or not _transient(err):
                    raise
                t._sleep(pause)
        self._settled = True
        self._session.ended = report.session_ended
        return report

    def abandon(self, outcome: VisitOutcome) -> VisitOutcome:
        return self._abandon(outcome)

    def _abandon(self, outcome: VisitOutcome) -> VisitOutcome:
        """Cancel the reservation or the copy (the center voids it) and hand the fee back."""
        if not self._settled:
            t = self._t
            # Best effort: an unreachable center voids it itself when the reservation expires.
            with contextlib.suppress(grpc.RpcError):
                t._issuance.CancelReservation(
                    issuance_pb2.CancelReservationRequest(
                        session_token=self._token, reservation_id=self._id
                    ),
                    metadata=t._md,
                    timeout=t._timeout,
                )
            self._settled = True
        return self._refunded(outcome)

    def _refunded(self, outcome: VisitOutcome) -> VisitOutcome:
        paid, self._paid = self._paid, 0
        if paid:
            self._t.till.refund(paid)
        return dataclasses.replace(outcome, paid_yen=paid, refunded_yen=paid)


class _CounterPurchase(_Purchase):
    """Counter mode: the copy comes out behind the counter, the resident takes the 受付票 and
    pays the clerk; nothing is taken at the terminal, so nothing is ever refunded here."""

    def _run(
        self, card_present: Callable[[], bool], on_step: Callable[[KioskStep], None]
    ) -> VisitOutcome:
        t = self._t
        slips = t._slip_printer
        assert slips is not None  # counter mode
        if not t.printer_can_print() or not t._slip_printer_ready():
            return self._abandon(_outcome(VisitStatus.PRINTER_NOT_READY))
        if not card_present():
            return self._abandon(_outcome(VisitStatus.CARD_REMOVED))
        pdf, header = t._fetch_copy(self._token, self._id, t._new_key())
        on_step(KioskStep.COPY_RECEIVED)
        if not t.printer_can_print(header.page_count):
            self._report(header, printed=False, pages=0, reason="printer_not_ready")
            return _outcome(VisitStatus.PRINT_FAILED)
        printed = t._printer.print_pdf(pdf)
        report = self._report(
            header,
            printed=printed.ok,
            pages=printed.pages_printed,
            reason=printed.fault_name,
            keep_if_unheard=printed.ok,
        )
        if not printed.ok:  # void: the counter has nothing to hand over, nobody owes anything
            return _outcome(VisitStatus.PRINT_FAILED, issue_number=header.issue_number)
        on_step(KioskStep.PRINTED)
        if report is None:
            # The copy lies behind the counter, but only the center gives the reception number:
            # the report waits in the outbox, and the resident gives the clerk the issue number.
            return VisitOutcome(
                VisitStatus.AWAITING_HANDOVER,
                RECEPTION_PENDING.format(number=header.issue_number),
                issue_number=header.issue_number,
                fee_yen=header.fee_yen,
                pages=header.page_count,
                pdf=pdf,
                fee_due_yen=header.fee_yen,
                report_pending=True,
            )
        slip_ok = bool(report.reception_slip_pdf) and slips.print_pdf(report.reception_slip_pdf).ok
        screen = SCREEN_TEXT[VisitStatus.AWAITING_HANDOVER]
        if not slip_ok:
            screen = SLIP_NOT_PRINTED.format(number=report.reception_number)
        return VisitOutcome(
            VisitStatus.AWAITING_HANDOVER,
            screen,
            issue_number=report.issue_number,
            fee_yen=header.fee_yen,
            charged_yen=report.charged_yen,
            pages=header.page_count,
            pdf=pdf,
            reception_number=report.reception_number,
            slip_pdf=report.reception_slip_pdf if slip_ok else b"",
            fee_due_yen=report.fee_due_yen,
        )


class _Outbox:
    """Print reports the center has not acknowledged; on disk when given a path.

    One line per report: the serialized request in base64. Rewritten whole on each change (it
    holds a handful of reports at most), through a temporary file, fsync and a rename, so a
    power cut leaves the old outbox or the new one. A line that cannot be read (a damaged
    disk) does not stop the terminal: it is set aside in `<outbox>.unreadable` for the
    operator, whose daily report to the center covers that copy.
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._requests: list[issuance_pb2.ReportPrintResultRequest] = []
        if path is None or not path.exists():
            return
        unreadable: list[str] = []
        for line in path.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                request = issuance_pb2.ReportPrintResultRequest.FromString(
                    base64.b64decode(line, validate=True)
                )
            except (binascii.Error, DecodeError):
                unreadable.append(line)
                continue
            self._requests.append(request)
        if unreadable:
            with path.with_name(path.name + ".unreadable").open("a") as kept:
                kept.writelines(line + "\n" for line in unreadable)
            self._save()

    @property
    def requests(self) -> tuple[issuance_pb2.ReportPrintResultRequest, ...]:
        return tuple(self._requests)

    def add(self, request: issuance_pb2.ReportPrintResultRequest) -> None:
        self._requests.append(request)
        self._save()

    def remove(self, request: issuance_pb2.ReportPrintResultRequest) -> None:
        self._requests.remove(request)
        self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        tmp = self._path.with_name(self._path.name + ".tmp")
        with tmp.open("w") as f:
            f.writelines(
                base64.b64encode(r.SerializeToString()).decode() + "\n" for r in self._requests
            )
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self._path)


def _transient(err: grpc.RpcError) -> bool:
    """A failure the same request may get past: the center or the network was away, or a
    concurrent request changed the same copy first (ABORTED: send it again)."""
    code = err.code() if isinstance(err, grpc.Call) else None
    return code in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
    )


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
    "HONSEKI_REGISTRATION_PENDING": VisitStatus.REGISTRATION_PENDING,
    # Attempt limits (server.auth.limits): the card waits out its window; the kiosk, a minute.
    "CARD_ATTEMPTS_EXCEEDED": VisitStatus.AUTH_REFUSED,
    "KIOSK_RATE_EXCEEDED": VisitStatus.SERVICE_UNAVAILABLE,
}
# Refusals by the service rules: the center's message is what the screen shows.
_CLOSED_REASONS = frozenset({"OUTSIDE_SERVICE_HOURS", "SUSPENDED", "OUTSIDE_CERTIFICATE_HOURS"})
# Refusals of the kiosk itself, not of the resident's card (server/kiosks, common/identity).
_KIOSK_REASONS = frozenset(
    {
        "KIOSK_IDENTITY_MISSING",
        "KIOSK_NOT_REGISTERED",
        "KIOSK_SUSPENDED",
        "KIOSK_ID_MISMATCH",
        "KIOSK_CERTIFICATE_INVALID",
    }
)


def _refusal(err: ErrorDetails) -> VisitOutcome:
    if err.reason in _KIOSK_REASONS:
        return _outcome(VisitStatus.KIOSK_OUT_OF_SERVICE, error=err)
    if err.code is grpc.StatusCode.UNAUTHENTICATED:
        return _outcome(VisitStatus.AUTH_REFUSED, error=err)
    if err.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return _outcome(VisitStatus.SERVICE_UNAVAILABLE, error=err)
    if err.reason in _CLOSED_REASONS:
        return VisitOutcome(VisitStatus.CLOSED, err.message, error=err)
    return _outcome(_REASON_STATUS.get(err.reason, VisitStatus.REFUSED), error=err)
