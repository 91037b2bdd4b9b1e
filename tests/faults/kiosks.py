"""Emulated kiosks that keep going through faults, and the notebook of what they saw.

Each kiosk drives real cards (the JPKI applet on an in-process reader) through the center's
gRPC API and behaves as a careful kiosk must when the center goes away mid-visit:

- a call that fails with UNAVAILABLE (or a deadline) is sent again, unchanged; a copy is
  always asked for again with the *same* idempotency key, so a retry cannot make a second copy;
- authentication starts over with a new challenge (a challenge is consumed even when the answer
  is lost);
- once a copy came out of the printer the kiosk writes that down *before* it reports, and then
  reports until the center answers: it holds the issuance id and the session token, so the
  report goes through after a restart. A printed copy is never cancelled.

What each kiosk saw goes to a shared `KioskNotebook`; the books are later checked against it.
Loops are bounded: every retry loop gives up after `give_up_s`, every kiosk stops after
`max_visits` or when told to.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import grpc
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc

from clients.errors import decode_error
from clients.kiosk.jpki import JpkiClient
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.credentials import CardCredentials
from hardware_sim.card.reader import InProcessReader
from server.common.identity import KIOSK_ID_HEADER

T = TypeVar("T")

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
# What a kiosk must never see, fault or not: an internal error leaking out of the center.
LEAKS = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})

CHANNEL_OPTIONS = (
    # Reconnect quickly once the center is back; the defaults back off for up to two minutes.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)


class Plan(StrEnum):
    """How a visit ends, chosen before it starts."""

    PRINT = "print"  # pays, prints, reports printed
    PRINT_FAILS = "print_fails"  # pays, the printer jams: reports failed, fee refunded
    LEAVE_RESERVED = "leave_reserved"  # walks away after the price is shown
    LEAVE_PRINTING = "leave_printing"  # the kiosk dies after receiving the copy


PLAN_WEIGHTS = {
    Plan.PRINT: 14,
    Plan.PRINT_FAILS: 2,
    Plan.LEAVE_RESERVED: 2,
    Plan.LEAVE_PRINTING: 2,
}


class GaveUp(Exception):
    """A call kept failing with a retryable status for longer than the kiosk waits."""


@dataclass
class CopyRecord:
    """One paid copy as a kiosk saw it."""

    kiosk_id: str
    plan: Plan
    reservation_id: str
    idempotency_key: str
    fee_yen: int
    issuance_id: str = ""
    issue_number: str = ""
    pdf_sha256: bytes = b""
    page_count: int = 0
    fetches: int = 0  # Issue answers received for this key (retries included)
    different_answers: int = 0  # answers for this key that named another copy or other bytes
    expired: bool = False  # the reservation ran out before the copy could be fetched
    printed: bool = False  # came out of the printer whole
    final_state: str = ""  # what the center answered to the report: issued | voided | ""
    charged_yen: int = -1


@dataclass
class KioskNotebook:
    """Everything the kiosks saw, shared between their threads."""

    copies: list[CopyRecord] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # "Rpc CODE REASON" -> count
    retries: int = 0
    visits: int = 0
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)  # anything a careful kiosk should not meet
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_copy(self, record: CopyRecord) -> None:
        with self._lock:
            self.copies.append(record)

    def failure(self, rpc: str, err: grpc.RpcError) -> None:
        details = decode_error(err)
        with self._lock:
            self.failures[f"{rpc} {details.code.name} {details.reason}".strip()] += 1
            if details.code in LEAKS:
                self.errors.append(f"{rpc}: {details.code.name} {details.message}")

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def progressed(self, visits: int) -> Callable[[], bool]:
        """A condition: `visits` more visits are done than now."""
        target = self.visits + visits
        return lambda: self.visits >= target

    def unavailable(self, reason: str = "") -> int:
        with self._lock:
            return sum(
                n
                for key, n in self.failures.items()
                if " UNAVAILABLE" in key and (not reason or key.endswith(reason))
            )


class EmulatedKiosk:
    """One kiosk terminal with its own channel, cards taken in turn from `cards`."""

    def __init__(
        self,
        target: str,
        kiosk_id: str,
        cards: tuple[CardCredentials, ...],
        notebook: KioskNotebook,
        *,
        seed: int,
        give_up_s: float = 60.0,
        call_timeout_s: float = 10.0,
        plans: dict[Plan, int] | None = None,
    ) -> None:
        self.kiosk_id = kiosk_id
        self._cards = cards
        self._book = notebook
        self._rng = random.Random(f"{seed}:{kiosk_id}")
        self._give_up_s = give_up_s
        self._timeout = call_timeout_s
        self._md = ((KIOSK_ID_HEADER, kiosk_id),)
        self._plans = plans or PLAN_WEIGHTS
        self._channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._auth = auth_pb2_grpc.AuthServiceStub(self._channel)
        self._issuance = issuance_pb2_grpc.IssuanceServiceStub(self._channel)
        self._stop = threading.Event()

    def close(self) -> None:
        self._channel.close()

    def stop(self) -> None:
        self._stop.set()

    def run(self, max_visits: int) -> None:
        """Visit after visit until told to stop or `max_visits` are done."""
        try:
            for n in range(max_visits):
                if self._stop.is_set():
                    return
                card = self._cards[(n + self._rng.randrange(len(self._cards))) % len(self._cards)]
                plan = self._rng.choices(list(self._plans), weights=list(self._plans.values()))[0]
                try:
                    self.visit(card, plan)
                except GaveUp as exc:
                    self._book.count("gave_up")
                    self._book.error(f"{self.kiosk_id} gave up: {exc}")
                    return
                except grpc.RpcError as err:
                    self._book.failure("visit", err)
                    self._book.error(f"{self.kiosk_id}: {decode_error(err)}")
                self._book.count("visits")
        finally:
            self.close()

    # -- one visit --------------------------------------------------------------------------

    def visit(self, card: CardCredentials, plan: Plan) -> CopyRecord | None:
        token, record = self.reserve(card, plan)
        if plan is Plan.LEAVE_RESERVED:
            return record  # no cancel: the resident just left
        try:
            self.fetch(token, record)
        except grpc.RpcError as err:
            if decode_error(err).reason != "RESERVATION_EXPIRED":
                raise
            # The center was away longer than the reservation lives: nothing was printed or
            # paid for, the center voided it; the resident starts again.
            record.expired = True
            return record
        if self._rng.random() < 0.3:
            self.fetch(token, record)  # the kiosk asks again, as after a lost answer
        if plan is Plan.LEAVE_PRINTING:
            return record  # the kiosk lost power: nobody will ever report this copy
        if plan is Plan.PRINT:
            record.printed = True  # written down before the report: the paper is out
        self.report(token, record, printed=plan is Plan.PRINT)
        self._end(token)
        return record

    def reserve(self, card: CardCredentials, plan: Plan) -> tuple[str, CopyRecord]:
        """Sign in, pick one's own 住民票, reserve it: the session token and the new record."""
        token = self._authenticate(card)
        offers = self._call(
            "ListOfferings",
            lambda: self._issuance.ListOfferings(
                issuance_pb2.ListOfferingsRequest(session_token=token),
                metadata=self._md,
                timeout=self._timeout,
            ),
        ).offerings
        offer = next(o for o in offers if o.kind == issuance_pb2.CERTIFICATE_KIND_JUMINHYO)
        me = [s.subject_id for s in offer.eligible_subjects if s.is_self]
        # A retried Reserve whose first answer was lost leaves that first reservation behind:
        # nobody pays for it, and the sweeper must void it.
        reservation = self._call(
            "Reserve",
            lambda: self._issuance.Reserve(
                issuance_pb2.ReserveRequest(session_token=token, kind=offer.kind, subject_ids=me),
                metadata=self._md,
                timeout=self._timeout,
            ),
        )
        record = CopyRecord(
            self.kiosk_id,
            plan,
            reservation.reservation_id,
            idempotency_key=uuid.uuid4().hex,
            fee_yen=reservation.fee_yen,
        )
        self._book.add_copy(record)
        return token, record

    def _authenticate(self, card: CardCredentials) -> str:
        deadline = time.monotonic() + self._give_up_s
        while True:  # a lost answer may have consumed the challenge: start over each time
            try:
                return sign_in(self._auth, self.kiosk_id, card, timeout=self._timeout)
            except grpc.RpcError as err:
                self._retry_or_raise("Authenticate", err, deadline)

    def fetch(self, token: str, record: CopyRecord) -> None:
        """The copy, asked for with the record's idempotency key until it arrives whole."""

        def issue() -> tuple[issuance_pb2.IssueHeader, bytes]:
            header: issuance_pb2.IssueHeader | None = None
            parts: list[bytes] = []
            for chunk in self._issuance.Issue(
                issuance_pb2.IssueRequest(
                    session_token=token,
                    reservation_id=record.reservation_id,
                    idempotency_key=record.idempotency_key,
                    printer_id="P1",
                ),
                metadata=self._md,
                timeout=self._timeout,
            ):
                if chunk.HasField("header"):
                    header = chunk.header
                else:
                    parts.append(chunk.pdf_chunk)
            assert header is not None, "a copy without its header"
            return header, b"".join(parts)

        header, pdf = self._call("Issue", issue)
        digest = hashlib.sha256(pdf).digest()
        if digest != header.pdf_sha256:
            self._book.error(f"{record.issuance_id}: the copy arrived with another digest")
        if record.fetches and (
            header.issuance_id != record.issuance_id
            or header.issue_number != record.issue_number
            or header.pdf_sha256 != record.pdf_sha256
        ):
            record.different_answers += 1
        record.fetches += 1
        record.issuance_id = header.issuance_id
        record.issue_number = header.issue_number
        record.pdf_sha256 = bytes(header.pdf_sha256)
        record.page_count = header.page_count

    def report(self, token: str, record: CopyRecord, *, printed: bool) -> None:
        """Report the print result until the center answers (same token, same issuance id)."""
        answer = self._call(
            "ReportPrintResult",
            lambda: self._issuance.ReportPrintResult(
                issuance_pb2.ReportPrintResultRequest(
                    session_token=token,
                    issuance_id=record.issuance_id,
                    outcome=issuance_pb2.PRINT_OUTCOME_PRINTED
                    if printed
                    else issuance_pb2.PRINT_OUTCOME_FAILED,
                    pages_printed=record.page_count if printed else 0,
                    failure_reason="" if printed else "jam",
                ),
                metadata=self._md,
                timeout=self._timeout,
            ),
        )
        record.final_state = (
            issuance_pb2.IssuanceState.Name(answer.state).removeprefix("ISSUANCE_STATE_").lower()
        )
        record.charged_yen = answer.charged_yen

    def _end(self, token: str) -> None:
        try:  # best effort, as a real kiosk: the session expires on its own anyway
            self._auth.EndSession(
                auth_pb2.EndSessionRequest(session_token=token),
                metadata=self._md,
                timeout=self._timeout,
            )
        except grpc.RpcError as err:
            self._book.failure("EndSession", err)

    # -- retries ----------------------------------------------------------------------------

    def _call(self, rpc: str, fn: Callable[[], T]) -> T:
        deadline = time.monotonic() + self._give_up_s
        while True:
            try:
                return fn()
            except grpc.RpcError as err:
                self._retry_or_raise(rpc, err, deadline)

    def _retry_or_raise(self, rpc: str, err: grpc.RpcError, deadline: float) -> None:
        self._book.failure(rpc, err)
        code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
        if code not in RETRYABLE:
            raise err
        if time.monotonic() > deadline:
            raise GaveUp(f"{rpc} still {code.name} after {self._give_up_s:.0f}s") from err
        self._book.count("retries")
        time.sleep(0.05 + self._rng.random() * 0.15)


def sign_in(
    auth: auth_pb2_grpc.AuthServiceStub, kiosk_id: str, card: CardCredentials, *, timeout: float
) -> str:
    """One authentication with the card on an in-process reader: a session token, or the
    center's refusal as `grpc.RpcError`."""
    reader = InProcessReader()
    reader.insert(JpkiApplet(card))
    reader.connect()
    chip = JpkiClient(reader)
    chip.select_ap()
    certificate = chip.read_auth_certificate()
    md = ((KIOSK_ID_HEADER, kiosk_id),)
    challenge = auth.BeginAuthentication(
        auth_pb2.BeginAuthenticationRequest(kiosk_id=kiosk_id), metadata=md, timeout=timeout
    )
    if not chip.verify_auth_pin(card.auth_pin).ok:
        raise AssertionError("the card refused its own PIN")
    session = auth.CompleteAuthentication(
        auth_pb2.CompleteAuthenticationRequest(
            kiosk_id=kiosk_id,
            challenge_id=challenge.challenge_id,
            certificate=certificate,
            signature=chip.sign_with_auth_key(challenge.to_be_signed),
        ),
        metadata=md,
        timeout=timeout,
    )
    return str(session.session_token)


def run_kiosks(
    kiosks: list[EmulatedKiosk], *, max_visits: int
) -> tuple[list[threading.Thread], Callable[[], None]]:
    """Start each kiosk in a thread; returns the threads and a function that stops them all."""
    threads = [
        threading.Thread(target=k.run, args=(max_visits,), name=k.kiosk_id, daemon=True)
        for k in kiosks
    ]
    for t in threads:
        t.start()

    def stop_all() -> None:
        for k in kiosks:
            k.stop()

    return threads, stop_all


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """Poll until `condition` holds; a bounded wait, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
