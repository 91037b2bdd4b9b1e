"""The kiosk's PC/SC reader adapter: a card in a real pcscd reader, through pyscard.

A thin adapter (STYLE 3) with the same shape and the same errors as the in-process reader
(`hardware_sim.card.reader`), so `JpkiClient` and `KioskTerminal` run unchanged on a physical
reader or on vsmartcard's virtual one ("Virtual PCD 00 00", fed by `hardware_sim.card.vpcd`):

- `find_reader()` / `PcscReader` pick a reader by name; `wait_for_card()` (pyscard
  `CardRequest`) hands back a connected `PcscConnection`.
- `PcscConnection.transmit(list[int]) -> (data, sw1, sw2)` maps pyscard's exceptions onto
  `hardware_sim.card.errors` (table in that module): a pulled card is `CardRemovedError`.
- `PcscCardMonitor` reports cards arriving and leaving one reader.

pyscard is imported lazily, so importing this module (and everything else in `clients`) works
where pyscard or pcscd is absent; the first call that needs them raises `PcscUnavailableError`.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType, TracebackType
from typing import Any

from hardware_sim.card.errors import CardConnectionError, CardRemovedError, NoCardError

DEFAULT_READER = "Virtual PCD"  # vsmartcard's vpcd readers: "Virtual PCD 00 00", "… 00 01"
# pcscd notices a vpcd card leaving at its next presence poll (400 ms in pcsc-lite).
_REMOVAL_SETTLE_S = 1.5
_HRESULT_MASK = 0xFFFFFFFF

log = logging.getLogger(__name__)


class PcscUnavailableError(RuntimeError):
    """pyscard is not installed, or pcscd does not answer (a deployment problem)."""

    code = "PCSC_UNAVAILABLE"


class ReaderNotFoundError(LookupError):
    """No reader whose name contains the requested text."""

    code = "READER_NOT_FOUND"


def _scard() -> ModuleType:
    try:
        from smartcard import scard
    except ImportError as err:
        raise PcscUnavailableError(
            "pyscard is not installed (pip install pyscard; it builds with swig and "
            "libpcsclite-dev)"
        ) from err
    return scard  # type: ignore[no-any-return]


def pyscard_available() -> bool:
    try:
        _scard()
    except PcscUnavailableError:
        return False
    return True


def _hresult(value: Any) -> int:
    # pyscard hands out PC/SC codes signed or unsigned depending on the platform.
    return int(value) & _HRESULT_MASK


@dataclass(frozen=True)
class _ReaderState:
    hresult: int
    event_state: int
    atr: bytes


def _event_count(state: int) -> int:
    # pcsc-lite counts insertions and removals in the upper 16 bits of the event state, so a
    # card swapped between two looks is still seen.
    return (state >> 16) & 0xFFFF


class _Context:
    """One PC/SC context (SCardEstablishContext … SCardReleaseContext)."""

    def __init__(self) -> None:
        self.scard = _scard()
        hresult, self.handle = self.scard.SCardEstablishContext(self.scard.SCARD_SCOPE_USER)
        if hresult != self.scard.SCARD_S_SUCCESS:
            raise PcscUnavailableError(
                f"pcscd does not answer: {self.scard.SCardGetErrorMessage(hresult)} "
                "(start it with tools/start-pcscd.sh)"
            )

    def reader_state(self, reader: str, known: int, timeout_ms: int) -> _ReaderState:
        """`reader`'s state, waiting up to `timeout_ms` for it to differ from `known`."""
        hresult, states = self.scard.SCardGetStatusChange(
            self.handle, timeout_ms, [(reader, known)]
        )
        if not states:
            return _ReaderState(_hresult(hresult), 0, b"")
        _, event_state, atr = states[0]
        return _ReaderState(_hresult(hresult), int(event_state), bytes(atr))

    def ok(self, state: _ReaderState) -> bool:
        return state.hresult == _hresult(self.scard.SCARD_S_SUCCESS)

    def timed_out(self, state: _ReaderState) -> bool:
        return state.hresult in (
            _hresult(self.scard.SCARD_E_TIMEOUT),
            _hresult(self.scard.SCARD_E_CANCELLED),
        )

    def present(self, state: int) -> bool:
        return bool(state & self.scard.SCARD_STATE_PRESENT)

    def settled(self, state: int) -> int:
        """`state` as the next call's known state (without the CHANGED flag)."""
        return state & ~int(self.scard.SCARD_STATE_CHANGED)

    def cancel(self) -> None:
        self.scard.SCardCancel(self.handle)

    def release(self) -> None:
        self.scard.SCardReleaseContext(self.handle)

    def __enter__(self) -> _Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def list_readers() -> list[str]:
    """Names of the readers pcscd knows (empty when it has none)."""
    with _Context() as ctx:
        scard = ctx.scard
        hresult, names = scard.SCardListReaders(ctx.handle, [])
        if _hresult(hresult) == _hresult(scard.SCARD_E_NO_READERS_AVAILABLE):
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise PcscUnavailableError(
                f"cannot list readers: {scard.SCardGetErrorMessage(hresult)}"
            )
        return [str(name) for name in names]


def find_reader(name_contains: str = DEFAULT_READER) -> PcscReader:
    """The first reader (in pcscd's order) whose name contains `name_contains`."""
    names = list_readers()
    for name in names:
        if name_contains in name:
            return PcscReader(name)
    raise ReaderNotFoundError(f"no reader matching {name_contains!r} among {names}")


# -- card presence -----------------------------------------------------------------------------


class CardEventKind(StrEnum):
    INSERTED = "inserted"
    REMOVED = "removed"


@dataclass(frozen=True)
class CardEvent:
    reader: str
    kind: CardEventKind
    atr: bytes = b""  # of an inserted card


# -- readers and connections -------------------------------------------------------------------


class PcscReader:
    """One PC/SC reader, by its full name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"PcscReader({self.name!r})"

    def card_present(self) -> bool:
        with _Context() as ctx:
            state = ctx.reader_state(self.name, ctx.scard.SCARD_STATE_UNAWARE, 0)
            return ctx.ok(state) and ctx.present(state.event_state)

    def connect(self) -> PcscConnection:
        """Connect to the card in the reader now; `NoCardError` if there is none."""
        from smartcard.pcsc.PCSCCardConnection import PCSCCardConnection

        _scard()
        connection = PcscConnection(PCSCCardConnection(self.name), self.name)
        try:
            connection.connect()
        except BaseException:
            connection.close()
            raise
        return connection

    def wait_for_card(self, timeout: float | None = None) -> PcscConnection | None:
        """Wait for a card (one already there counts) and connect to it; None on timeout.

        `timeout` in seconds, None to wait for ever.
        """
        from smartcard.CardRequest import CardRequest
        from smartcard.Exceptions import CardRequestTimeoutException

        _scard()
        request = CardRequest(readers=[self.name], timeout=timeout)
        try:
            # The card service it returns owns a connection it closes when collected: only its
            # news is used, the kiosk gets a connection of its own.
            request.waitforcard()
        except CardRequestTimeoutException:
            return None
        finally:
            # Older pyscard has no context manager and frees its context only when collected.
            release = getattr(request, "__exit__", None)
            if release is not None:
                release(None, None, None)
        return self.connect()

    def wait_until_removed(self, timeout: float) -> bool:
        """True once the card that is in the reader now has left it (or none is there)."""
        return _card_left(self.name, timeout)

    def monitor(self, on_event: Callable[[CardEvent], None] | None = None) -> PcscCardMonitor:
        """A started monitor of this reader; stop it (or use it as a context manager)."""
        monitor = PcscCardMonitor(self.name, on_event)
        monitor.start()
        return monitor


class PcscConnection:
    """A pyscard `CardConnection` with the in-process reader's errors (pyscard's names)."""

    def __init__(self, connection: Any, reader: str) -> None:
        self._connection = connection  # a pyscard PCSCCardConnection
        self._reader = reader
        self._connected = False

    def getReader(self) -> str:  # pyscard's name
        return self._reader

    def connect(self) -> None:
        """(Re)connect to the card in the reader; `NoCardError` if there is none."""
        from smartcard.Exceptions import CardConnectionException, NoCardException

        scard = _scard()
        try:
            self._connection.connect()
            self._connected = True
        except NoCardException as err:
            raise NoCardError(f"no card in {self._reader}") from err
        except CardConnectionException as err:
            if _hresult(err.hresult) == _hresult(scard.SCARD_E_NO_SERVICE):
                raise PcscUnavailableError(f"pcscd went away: {err}") from err
            raise CardConnectionError(
                f"cannot connect to the card in {self._reader}: {err}"
            ) from err

    def disconnect(self) -> None:
        """Let go of the card (pyscard unpowers it). Never fails: a pulled card is let go."""
        from smartcard.Exceptions import CardConnectionException

        self._connected = False
        with contextlib.suppress(CardConnectionException):
            self._connection.disconnect()

    def close(self) -> None:
        """Disconnect and release the PC/SC context."""
        from smartcard.Exceptions import SmartcardException

        self._connected = False
        with contextlib.suppress(SmartcardException):
            self._connection.release()

    def getATR(self) -> list[int]:  # pyscard's name
        from smartcard.Exceptions import CardConnectionException

        try:
            atr = self._connection.getATR()
        except CardConnectionException as err:
            raise self._mapped(err) from err
        return [int(b) for b in atr]

    def transmit(self, apdu: list[int], protocol: int | None = None) -> tuple[list[int], int, int]:
        """Send one command APDU; return (response data, SW1, SW2) like pyscard."""
        from smartcard.Exceptions import CardConnectionException

        command = list(bytes(apdu))  # ValueError for values outside 0..255: the caller's mistake
        try:
            data, sw1, sw2 = self._connection.transmit(command, protocol)
        except CardConnectionException as err:
            raise self._mapped(err) from err
        return [int(b) for b in data], int(sw1), int(sw2)

    def _mapped(self, err: Exception) -> CardConnectionError:
        scard = _scard()
        hresult = _hresult(getattr(err, "hresult", -1))
        if hresult in (_hresult(scard.SCARD_W_REMOVED_CARD), _hresult(scard.SCARD_E_NO_SMARTCARD)):
            return CardRemovedError(f"the card was removed from {self._reader}")
        if not self._connected:
            return CardConnectionError("not connected; call connect() first")
        if hresult in (_hresult(scard.SCARD_E_NO_SERVICE), _hresult(scard.SCARD_E_SERVICE_STOPPED)):
            return CardConnectionError(f"pcscd went away: {err}")
        # A transmit racing the removal fails as "not transacted" before pcscd has polled the
        # reader; if the reader turns out empty, that was the removal.
        try:
            removed = _card_left(self._reader, _REMOVAL_SETTLE_S)
        except PcscUnavailableError:
            removed = False
        if removed:
            return CardRemovedError(f"the card was removed from {self._reader}")
        return CardConnectionError(f"{self._reader}: {err}")

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _card_left(reader: str, within_s: float) -> bool:
    """Whether the card now in `reader` is gone (or swapped) within `within_s` seconds."""
    deadline = time.monotonic() + within_s
    with _Context() as ctx:
        first = ctx.reader_state(reader, ctx.scard.SCARD_STATE_UNAWARE, 0)
        if not ctx.ok(first):
            return True  # the reader itself is gone
        known = ctx.settled(first.event_state)
        while ctx.present(known) and _event_count(known) == _event_count(first.event_state):
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                return False
            state = ctx.reader_state(reader, known, remaining_ms)
            if ctx.ok(state):
                known = ctx.settled(state.event_state)
            elif not ctx.timed_out(state):
                return True  # the reader went away, and the card with it
        return True


# -- the monitor -------------------------------------------------------------------------------


class PcscCardMonitor:
    """Reports cards arriving at and leaving one reader, from a thread of its own.

    It polls `SCardGetStatusChange` rather than using pyscard's `CardMonitor`, which is a
    process-wide singleton whose thread blocks for a minute at a time and cannot be restarted:
    this one starts and stops with its user (tests, a kiosk screen).

    A card already in the reader when the monitor starts is reported as INSERTED. Events go to
    `on_event` (called on the monitor's thread) and to a queue read by `next_event()` /
    `wait_for()`.
    """

    def __init__(
        self,
        reader: str,
        on_event: Callable[[CardEvent], None] | None = None,
        *,
        poll_s: float = 0.5,
    ) -> None:
        self.reader = reader
        self._on_event = on_event
        self._poll_ms = max(1, int(poll_s * 1000))
        self._events: collections.deque[CardEvent] = collections.deque()
        self._cond = threading.Condition()
        self._present: bool | None = None
        self._stopping = threading.Event()
        self._ctx: _Context | None = None
        self._ctx_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def present(self) -> bool | None:
        """Whether a card is in the reader, as last seen; None before the first look."""
        with self._cond:
            return self._present

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the monitor is already started")
        self._ctx = _Context()  # here, so that a missing pcscd raises in the caller
        self._thread = threading.Thread(
            target=self._run, name=f"pcsc-monitor {self.reader}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        with self._ctx_lock:
            if self._ctx is not None:
                self._ctx.cancel()  # wakes a blocked SCardGetStatusChange at once
        thread.join(timeout)
        if thread.is_alive():
            log.warning("PC/SC monitor of %s did not stop in %ss", self.reader, timeout)
            return  # leave the context to the thread rather than pull it from under it
        with self._ctx_lock:
            ctx, self._ctx = self._ctx, None
        if ctx is not None:
            ctx.release()
        self._thread = None

    def next_event(self, timeout: float | None = None) -> CardEvent | None:
        """The oldest event not yet taken, waiting up to `timeout`; None if none came."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._events), timeout):
                return None
            return self._events.popleft()

    def wait_for(self, kind: CardEventKind, timeout: float) -> CardEvent | None:
        """Take events until one of `kind`; None if none came within `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event(max(0.0, deadline - time.monotonic()))
            if event is None or event.kind is kind:
                return event

    def _run(self) -> None:
        ctx = self._ctx
        assert ctx is not None
        known = ctx.scard.SCARD_STATE_UNAWARE
        while not self._stopping.is_set():
            state = ctx.reader_state(self.reader, known, self._poll_ms)
            if self._stopping.is_set():
                return
            if ctx.ok(state):
                new = ctx.settled(state.event_state)
                self._observe(ctx, known, new, state.atr)
                known = new
            elif not ctx.timed_out(state):
                # Reader unplugged or pcscd restarting: the card is gone; look again later.
                log.info(
                    "PC/SC monitor of %s: %s",
                    self.reader,
                    ctx.scard.SCardGetErrorMessage(state.hresult),
                )
                if self._present:
                    self._emit(CardEvent(self.reader, CardEventKind.REMOVED))
                with self._cond:
                    self._present = False
                known = ctx.scard.SCARD_STATE_UNAWARE
                self._stopping.wait(self._poll_ms / 1000)
                ctx = self._renew_context(ctx, state)

    def _renew_context(self, ctx: _Context, failed: _ReaderState) -> _Context:
        # A restarted pcscd does not know the old context any more.
        scard = ctx.scard
        dead = {_hresult(scard.SCARD_E_NO_SERVICE), _hresult(scard.SCARD_E_SERVICE_STOPPED)}
        dead.add(_hresult(scard.SCARD_E_INVALID_HANDLE))
        if failed.hresult not in dead:
            return ctx
        try:
            fresh = _Context()
        except PcscUnavailableError:
            return ctx  # pcscd is still away; try again next round
        with self._ctx_lock:
            self._ctx = fresh
        with contextlib.suppress(Exception):
            ctx.release()
        return fresh

    def _observe(self, ctx: _Context, old: int, new: int, atr: bytes) -> None:
        was, now = self._present, ctx.present(new)
        # Same presence but a different event count: a card came and went between two looks.
        missed = was is not None and was == now and _event_count(old) != _event_count(new)
        inserted = CardEvent(self.reader, CardEventKind.INSERTED, atr)
        removed = CardEvent(self.reader, CardEventKind.REMOVED)
        if missed:
            self._emit(*((removed, inserted) if now else (inserted, removed)))
        elif now and not was:
            self._emit(inserted)
        elif was and not now:
            self._emit(removed)
        with self._cond:
            self._present = now

    def _emit(self, *events: CardEvent) -> None:
        with self._cond:
            self._events.extend(events)
            self._cond.notify_all()
        if self._on_event is None:
            return
        for event in events:
            try:
                self._on_event(event)
            except Exception:  # an observer's bug must not end the monitoring
                log.exception("card event observer failed on %s", event)

    def __enter__(self) -> PcscCardMonitor:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
