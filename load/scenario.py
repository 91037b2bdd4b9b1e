"""The kiosk session mix, shared by the Locust scenarios and the benchmark's load generator.

A `Kiosk` is one emulated terminal: its own kiosk id, printer and a disjoint set of residents'
cards (a card is on one reader at a time). `Kiosk.session(rng)` is one resident's complete
visit through `KioskTerminal.visit`: the card really verifies the PIN and signs the challenge
with its RSA-2048 key, the center really checks the chain, OCSP or the CRL and the signature,
renders the PDF and records the outcome, and the emulated printer really parses the PDF. The
terminal makes a visit in five RPCs, as a real kiosk would: the menu comes with
CompleteAuthentication (`include_offerings`) and the print report ends the session
(`end_session`), so ListOfferings and EndSession appear only where a visit needs them.

The mix (`Mix`): mostly 住民票の写し (of oneself or of the household, sometimes with 世帯主・続柄),
some 印鑑登録証明書 for residents with a seal; residents spread over three municipalities (a
ward, a designated city, a town: different fees and seals); some residents with a phone
(スマホ用電子証明書, Android or iPhone, unlocked by biometrics on the phone: no PIN at the kiosk)
use it instead of their card; a trickle of wrong PINs (the resident retries with the right one,
as at a real kiosk) and of printer jams (the copy is voided, no fee).

Besides kiosks, `Portal` is an application portal submitting e-review applications of known
residents, and `upload_bcl` a municipality's BCL upload (`load/locustfile.py` runs both beside
the kiosks). A `Kiosk` given a staff token is a counter terminal (らくらく窓口) in its town hall:
the copy comes out of the printer behind the counter, the terminal prints the 受付票, and the
clerk (that staff member) hands the copy over (`HandOverCounterCopy`), which ends the visit.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc

from clients.bcl.client import BclClient, upload_files
from clients.credentials import bearer
from clients.ereview.client import EReviewClient, EReviewError, Person
from clients.errors import decode_error
from clients.kiosk.channel import open_channel
from clients.kiosk.terminal import (
    CertificateChoice,
    KioskTerminal,
    Order,
    VisitOutcome,
    VisitStatus,
)
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.credentials import CardCredentials, TokenKind
from hardware_sim.card.phone import Phone
from hardware_sim.card.reader import InProcessReader
from hardware_sim.printer import KioskPrinter, PrinterFault

MANIFEST = "manifest.json"
_CARRIERS = {TokenKind.ANDROID: "android", TokenKind.IPHONE: "iphone"}


@dataclass(frozen=True)
class Resident:
    """A card holder as the load knows them (from the manifest the stack writes)."""

    card_file: str
    municipality_code: str
    household_size: int
    has_seal: bool
    phone_file: str = ""  # the resident's phone credentials (Android or iPhone), if any


@dataclass(frozen=True)
class Manifest:
    """What a prepared stack offers to load: cards and kiosk ids."""

    directory: Path
    residents: tuple[Resident, ...]
    kiosk_ids: tuple[str, ...]
    # {"client_id", "secret", "applicants": [{"municipality_code", "name", "name_kana",
    # "birth_date", "address"}]}: a registered portal and residents it applies for.
    ereview: dict[str, Any] = field(default_factory=dict, compare=False)
    # {"municipality_code", "directory", "token"}: a generated BCL export of a fourth
    # municipality, and a staff token of it.
    bcl: dict[str, Any] = field(default_factory=dict, compare=False)
    # [{"terminal_id", "municipality_code", "staff_token"}]: a counter terminal per municipality.
    counters: list[dict[str, str]] = field(default_factory=list, compare=False)

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        raw = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return cls(
            directory,
            tuple(Resident(**r) for r in raw["residents"]),
            tuple(raw["kiosk_ids"]),
            raw.get("ereview", {}),
            raw.get("bcl", {}),
            raw.get("counters", []),
        )

    def write(self) -> None:
        body = {
            "residents": [r.__dict__ for r in self.residents],
            "kiosk_ids": list(self.kiosk_ids),
            "ereview": self.ereview,
            "bcl": self.bcl,
            "counters": self.counters,
        }
        (self.directory / MANIFEST).write_text(json.dumps(body, indent=1), encoding="utf-8")

    def card(self, resident: Resident) -> CardCredentials:
        return CardCredentials.from_json(
            (self.directory / resident.card_file).read_text(encoding="utf-8")
        )

    def phone(self, resident: Resident) -> CardCredentials:
        return CardCredentials.from_json(
            (self.directory / resident.phone_file).read_text(encoding="utf-8")
        )


@dataclass(frozen=True)
class Mix:
    """Shares of each kind of visit; the rest of the sessions are plain."""

    inkan: float = 0.2  # of residents with an active seal registration
    household: float = 0.35  # 住民票 of the whole household (when it has several members)
    head_and_relationship: float = 0.25
    phone: float = 0.5  # of residents with a phone: they tap it instead of the card
    wrong_pin: float = 0.02  # a wrong PIN first, then the right one
    print_failure: float = 0.01  # the printer jams on this copy

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1")


@dataclass(frozen=True)
class SessionResult:
    """One session: what it was, how it ended, how long it took (ms, wall clock)."""

    kind: str  # "juminhyo" or "inkan"
    outcome: VisitStatus
    elapsed_ms: float
    injected: str = ""  # "wrong_pin", "print_failure" or ""
    error: str = ""  # reason or message when the outcome was not the expected one
    carrier: str = "card"  # "card", "android" or "iphone"
    channel: str = "kiosk"  # "kiosk" or "counter" (らくらく窓口)

    @property
    def expected(self) -> bool:
        """Did it end as the scenario meant (issued, or the failure that was injected)?"""
        if self.injected == "print_failure":
            return self.outcome is VisitStatus.PRINT_FAILED
        return self.outcome is VisitStatus.ISSUED


OnRpc = Callable[[str, float, int, BaseException | None], None]
"""on_rpc(method, elapsed_ms, response_bytes, exception): reported after every RPC."""


class _Timing(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
):
    """Reports each RPC's time and response size (for Locust's per-request statistics)."""

    def __init__(self, on_rpc: OnRpc) -> None:
        self._on_rpc = on_rpc

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        started = time.perf_counter()
        call = continuation(details, request)
        exc = call.exception()
        size = 0 if exc is not None else call.result().ByteSize()
        self._on_rpc(details.method, (time.perf_counter() - started) * 1e3, size, exc)
        return call

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        started = time.perf_counter()
        stream = continuation(details, request)
        return _TimedStream(stream, details.method, started, self._on_rpc)


class _TimedStream:
    """Times a server stream from the call to its last message."""

    def __init__(self, stream: Any, method: str, started: float, on_rpc: OnRpc) -> None:
        self._stream = stream
        self._method = method
        self._started = started
        self._on_rpc = on_rpc
        self._size = 0

    def __iter__(self) -> _TimedStream:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._stream)
        except StopIteration:
            self._report(None)
            raise
        except grpc.RpcError as exc:
            self._report(exc)
            raise
        self._size += item.ByteSize()
        return item

    def _report(self, exc: BaseException | None) -> None:
        self._on_rpc(self._method, (time.perf_counter() - self._started) * 1e3, self._size, exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def kiosk_channel(target: str, on_rpc: OnRpc | None = None) -> grpc.Channel:
    """A channel with its own connection, as each real kiosk has (not one shared per process).

    gRPC shares connections between channels to the same target by default; the center's
    worker processes share one port and the kernel assigns each connection to one of them,
    so kiosks sharing a connection would all land on one worker. Opened as the kiosk terminal
    opens its own (`open_channel`): the copy's stream is read on the calling thread.
    """
    channel = open_channel(target, own_connection=True)
    if on_rpc is not None:
        channel = grpc.intercept_channel(channel, _Timing(on_rpc))
    return channel


@dataclass
class Kiosk:
    """One emulated terminal with its printer and the cards of the residents it serves."""

    kiosk_id: str
    channel: grpc.Channel
    manifest: Manifest
    residents: Sequence[Resident]
    mix: Mix = field(default_factory=Mix)
    # A counter terminal's: the clerk who hands copies over (a staff member of its municipality).
    staff_token: str = ""
    printer: KioskPrinter = field(init=False)  # counter mode: the 受付票 printer
    counter_printer: KioskPrinter | None = field(init=False, default=None)
    terminal: KioskTerminal = field(init=False)
    _cards: dict[str, tuple[JpkiApplet, str]] = field(init=False, default_factory=dict)
    _phones: dict[str, Phone] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.residents:
            raise ValueError("a kiosk needs at least one resident's card")
        # The printers still parse every copy; they keep only the last one, not every copy
        # of a run (a load process would otherwise hold ~70 KB per session it ran).
        tray = {"paper_sheets": 10**9, "toner_pages": 10**9, "keep_printed": 1}
        self.printer = KioskPrinter("P1", **tray)
        if self.staff_token:
            self.counter_printer = KioskPrinter("CP1", **tray)
            self._staff = staff_pb2_grpc.MunicipalityStaffServiceStub(self.channel)
        self.terminal = KioskTerminal(
            self.channel,
            kiosk_id=self.kiosk_id,
            printer=self.printer,
            counter_printer=self.counter_printer,
        )

    def insert_all_cards(self) -> None:
        """Personalise every card of this kiosk now (parsing its key takes ~45 ms), not mid-run.

        A real card is a physical object that exists before the visit; loading it is not part
        of a session's work, so a measured run does this before it starts.
        """
        for resident in self.residents:
            self._card(resident)
            if resident.phone_file:
                self._phone(resident)

    def _card(self, resident: Resident) -> tuple[JpkiApplet, str]:
        """The resident's card (its PIN counters persist between visits) and their PIN."""
        known = self._cards.get(resident.card_file)
        if known is None:
            credentials = self.manifest.card(resident)
            known = self._cards[resident.card_file] = (
                JpkiApplet(credentials),
                credentials.auth_pin,
            )
        return known

    def _phone(self, resident: Resident) -> Phone:
        """The resident's phone, in biometric mode (unlocked on the phone before each tap)."""
        known = self._phones.get(resident.phone_file)
        if known is None:
            credentials = self.manifest.phone(resident)
            if credentials.token is TokenKind.IPHONE:
                known = Phone.iphone(credentials)
            else:
                known = Phone.android(credentials, biometrics=True)
            self._phones[resident.phone_file] = known
        return known

    def _reader(
        self, resident: Resident, chip: JpkiApplet | Phone | None = None
    ) -> InProcessReader:
        reader = InProcessReader()
        reader.insert(chip if chip is not None else self._card(resident)[0])
        reader.connect()
        return reader

    def session(self, rng: random.Random) -> SessionResult:
        """One resident's visit, start to printed (or voided) copy."""
        resident = rng.choice(self.residents)
        mix = self.mix
        if resident.has_seal and rng.random() < mix.inkan:
            order = Order(CertificateChoice.INKAN)
        else:
            whole = resident.household_size > 1 and rng.random() < mix.household
            order = Order(
                CertificateChoice.JUMINHYO,
                "household" if whole else "self",
                include_head_and_relationship=rng.random() < mix.head_and_relationship,
            )
        phone = None
        if resident.phone_file and rng.random() < mix.phone:
            phone = self._phone(resident)
        injected = ""
        if phone is None and rng.random() < mix.wrong_pin:
            injected = "wrong_pin"
        elif rng.random() < mix.print_failure:
            injected = "print_failure"
        _, pin = self._card(resident)
        started = time.perf_counter()
        if phone is not None:
            phone.authenticate_user()  # Face ID / fingerprint on the phone, then the tap
            pin = ""  # nothing entered at the kiosk
            reader = self._reader(resident, phone)
        else:
            reader = self._reader(resident)
        if injected == "wrong_pin":
            wrong = f"{(int(pin) + 1) % 10_000:04d}"
            first = self.terminal.visit(reader, wrong, order)
            if first.status is not VisitStatus.WRONG_PIN:
                return self._result(order, first, started, injected)
            reader = self._reader(resident)
        certificates = self.counter_printer or self.printer
        if injected == "print_failure":
            # A jam while the copy prints (the kiosk's readiness check before payment passes).
            mid_job = getattr(certificates, "inject_mid_job", None)
            if mid_job is not None:
                mid_job(PrinterFault.JAM)
            else:  # printers without mid-job faults jam before the job: also a voided copy
                certificates.inject(PrinterFault.JAM)
        try:
            outcome = self.terminal.visit(reader, pin or None, order)
        finally:
            certificates.clear()
            if phone is not None:
                phone.lock()  # an unlock the visit did not use must not carry over
        if outcome.status is VisitStatus.AWAITING_HANDOVER:
            outcome = self._hand_over(outcome)
        carrier = "card" if phone is None else _CARRIERS[phone.kind]
        result = self._result(order, outcome, started, injected, carrier)
        if self.staff_token:
            result = dataclasses.replace(result, channel="counter")
        return result

    def _hand_over(self, waiting: VisitOutcome) -> VisitOutcome:
        """The resident takes the 受付票 to the counter; the clerk collects and hands over."""
        try:
            copy = self._staff.HandOverCounterCopy(
                staff_pb2.HandOverCounterCopyRequest(reception_number=waiting.reception_number),
                metadata=bearer(self.staff_token),
                timeout=30,
            )
        except grpc.RpcError as exc:  # still waiting: the session counts as failed
            return dataclasses.replace(waiting, error=decode_error(exc))
        if copy.state != "issued":
            return dataclasses.replace(waiting, screen=f"hand-over left it {copy.state}")
        return dataclasses.replace(
            waiting, status=VisitStatus.ISSUED, issue_number=copy.issue_number
        )

    @staticmethod
    def _result(
        order: Order, outcome: VisitOutcome, started: float, injected: str, carrier: str = "card"
    ) -> SessionResult:
        elapsed = (time.perf_counter() - started) * 1e3
        error = ""
        if outcome.error is not None:
            error = f"{outcome.error.code.name} {outcome.error.reason}: {outcome.error.message}"
        elif outcome.status is not VisitStatus.ISSUED:
            error = outcome.status.value
        return SessionResult(order.kind.value, outcome.status, elapsed, injected, error, carrier)


@dataclass(frozen=True)
class CallResult:
    """One e-review submission or BCL upload: did it end as meant, how long (ms), detail."""

    ok: bool
    elapsed_ms: float
    detail: str


@dataclass
class Portal:
    """An application portal (電子申請システム) submitting e-review applications of residents.

    The applicants are real residents of the load's municipalities, declared as on their
    residence record, so each review is expected to end "match".
    """

    channel: grpc.Channel
    manifest: Manifest
    client: EReviewClient = field(init=False)

    def __post_init__(self) -> None:
        info = self.manifest.ereview
        if not info.get("applicants"):
            raise ValueError("the manifest has no e-review client and applicants")
        self.client = EReviewClient(
            self.channel, client_id=info["client_id"], secret=info["secret"]
        )

    def submit(self, rng: random.Random) -> CallResult:
        a = rng.choice(self.manifest.ereview["applicants"])
        started = time.perf_counter()
        try:
            review = self.client.submit(
                a["municipality_code"],
                Person(a["name"], a["name_kana"], a["birth_date"]),
                address=a["address"],
                procedure=rng.choice(("jido_teate", "kokuho", "other")),
            )
        except EReviewError as exc:
            return CallResult(False, (time.perf_counter() - started) * 1e3, str(exc))
        elapsed = (time.perf_counter() - started) * 1e3
        return CallResult(review.outcome == "match", elapsed, review.outcome)


def upload_bcl(channel: grpc.Channel, manifest: Manifest) -> CallResult:
    """One full BCL upload of the manifest's fourth municipality (its whole export).

    It calls as a staff member of that municipality: `bench.stack.prepare` creates the account
    and puts its bearer token in the manifest (`bcl["token"]`).
    """
    info = manifest.bcl
    files = upload_files(Path(info["directory"]))
    credentials = {"token": info["token"]} if info.get("token") else {}
    started = time.perf_counter()
    try:
        client = BclClient(channel, info["municipality_code"], **credentials)
        result = client.upload(files, timeout=900)
    except grpc.RpcError as exc:
        return CallResult(False, (time.perf_counter() - started) * 1e3, f"{exc.code().name}")
    except TypeError as exc:  # a client without bearer credentials (before staff accounts)
        return CallResult(False, (time.perf_counter() - started) * 1e3, str(exc))
    elapsed = (time.perf_counter() - started) * 1e3
    if result.generation is None:
        return CallResult(False, elapsed, f"rejected: {result.error_count} row errors")
    return CallResult(True, elapsed, f"generation {result.generation.number}")


def split(residents: Sequence[Resident], parts: int) -> list[list[Resident]]:
    """Disjoint shares of the residents, one per kiosk (a card is on one reader at a time)."""
    if parts < 1 or parts > len(residents):
        raise ValueError(f"cannot share {len(residents)} cards among {parts} kiosks")
    return [list(residents[i::parts]) for i in range(parts)]
