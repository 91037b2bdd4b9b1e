"""The vpcd transport: a card or a phone (any `Chip`) in vsmartcard's virtual PC/SC reader.

vpcd is a pcscd reader driver (Debian `vsmartcard-vpcd`). It listens on TCP (35963 for
"Virtual PCD 00 00", 35964 for "Virtual PCD 00 01", from `CHANNELID` in
/etc/reader.conf.d/vpcd) and a virtual card connects to it as a client. A TCP connection is
the card being in the reader: vpcd learns the card is present when it polls it (a GET ATR every
pcscd polling round) and absent when the connection closes.

Every message, both ways, is a frame: a 2-byte big-endian length, then the payload. From vpcd,
a 1-byte payload is a control code (00 power off, 01 power on, 02 reset: no answer; 04 get ATR:
answer the ATR) and anything longer is a command APDU (answer the response APDU).

Three layers, the first two sans-IO (STYLE 2):

- `encode_frame` / `FrameDecoder`: the framing, bytes in, payloads out.
- `respond(applet, payload)`: what the card answers to one message.
- `VpcdCard`: the thin socket adapter (STYLE 3); `connect()` inserts the card, `disconnect()`
  removes it, a worker thread (`serve_in_thread()` / `stop()`) answers vpcd.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import socket
import threading
from collections.abc import Iterator
from types import TracebackType

from hardware_sim.card.chip import Chip
from hardware_sim.card.errors import CardPoweredOffError

VPCD_HOST = "127.0.0.1"
VPCD_PORT = 35963  # slot 0 ("Virtual PCD 00 00"); slot n listens on VPCD_PORT + n
MAX_PAYLOAD = 0xFFFF  # the length prefix is 16 bits
_HEADER = 2

log = logging.getLogger(__name__)


class Control(enum.IntEnum):
    """vpcd's control codes (1-byte payloads)."""

    POWER_OFF = 0x00
    POWER_ON = 0x01
    RESET = 0x02
    GET_ATR = 0x04


class FrameError(ValueError):
    """The peer sent bytes that are not a vpcd frame stream (the peer misbehaved)."""

    code = "VPCD_FRAME"


class VpcdProtocolError(Exception):
    """A well-framed message vpcd never sends (an unknown control code)."""

    code = "VPCD_PROTOCOL"


class VpcdConnectError(ConnectionError):
    """The card could not reach vpcd (pcscd not running, or vpcd not installed)."""

    code = "VPCD_UNREACHABLE"


# -- framing (sans-IO) -----------------------------------------------------------------------


def encode_frame(payload: bytes) -> bytes:
    """One frame: length (2 bytes, big-endian) + payload. Empty or oversized is a caller bug."""
    if not 1 <= len(payload) <= MAX_PAYLOAD:
        raise ValueError(f"a vpcd payload is 1..{MAX_PAYLOAD} bytes, not {len(payload)}")
    return len(payload).to_bytes(_HEADER, "big") + bytes(payload)


class FrameDecoder:
    """Splits a byte stream into payloads, however the stream was chunked (h11-style).

    `feed()` the bytes as they arrive, then take payloads with `next_payload()` (None when the
    next frame is incomplete) or by iterating. A zero-length frame is malformed: neither side of
    vpcd sends one (vpcd itself reads it as "card gone"). After a `FrameError` the stream has
    lost its framing, so the decoder keeps raising it.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._error: FrameError | None = None
        self._closed = False

    def feed(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("feed() after end_of_stream()")
        self._buffer += data

    def next_payload(self) -> bytes | None:
        if self._error is not None:
            raise self._error
        if len(self._buffer) < _HEADER:
            return None
        length = int.from_bytes(self._buffer[:_HEADER], "big")
        if length == 0:
            self._error = FrameError("zero-length vpcd frame")
            raise self._error
        if len(self._buffer) < _HEADER + length:
            return None
        payload = bytes(self._buffer[_HEADER : _HEADER + length])
        del self._buffer[: _HEADER + length]
        return payload

    def __iter__(self) -> Iterator[bytes]:
        """The complete payloads buffered so far."""
        while (payload := self.next_payload()) is not None:
            yield payload

    def end_of_stream(self) -> None:
        """The peer closed the stream; raises `FrameError` if it stopped inside a frame."""
        self._closed = True
        if self._error is not None:
            raise self._error
        if self._buffer:
            self._error = FrameError(f"stream ended inside a frame ({len(self._buffer)} bytes)")
            raise self._error

    @property
    def pending(self) -> int:
        """Bytes received but not yet returned as a payload."""
        return len(self._buffer)


# -- the card's side of the protocol (sans-IO) -----------------------------------------------


def respond(applet: Chip, payload: bytes) -> bytes | None:
    """The card's answer to one message from vpcd, or None when vpcd expects no answer.

    Raises `VpcdProtocolError` for an unknown control code and `CardPoweredOffError` for an APDU
    sent to an unpowered card: no real card answers either, so the adapter drops the connection.
    """
    if len(payload) != 1:
        return applet.process(payload)
    try:
        control = Control(payload[0])
    except ValueError:
        raise VpcdProtocolError(f"unknown vpcd control code {payload[0]:02X}") from None
    if control is Control.POWER_OFF:
        applet.power_off()
    elif control is Control.POWER_ON:
        applet.power_on()
    elif control is Control.RESET:
        if applet.powered:
            applet.reset()
        else:  # a reset of an unpowered card can only be a cold one
            applet.power_on()
    else:
        # The ATR is answered with or without power: vpcd's presence poll asks for it.
        return applet.atr
    return None


# -- the socket adapter ----------------------------------------------------------------------


def _quickack(sock: socket.socket) -> None:
    # vpcd writes a frame's length and its payload with separate send()s; with Nagle on its
    # side and delayed ACKs on ours, every APDU would wait ~40 ms for our ACK of the length.
    # Linux clears TCP_QUICKACK after use, so it is set again before every read.
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


class VpcdCard:
    """An applet in a vpcd reader slot: `connect()` inserts it, `disconnect()` pulls it out.

    The answering is done by one worker thread (`serve_in_thread()`), which survives removals
    and reinsertions until `stop()`. Also a context manager: serving and inserted inside.

    `transcript`, when kept, lists every (command APDU, response APDU) that crossed the socket.
    """

    def __init__(
        self,
        applet: Chip,
        host: str = VPCD_HOST,
        port: int = VPCD_PORT,
        *,
        keep_transcript: bool = False,
    ) -> None:
        self.applet = applet
        self.host = host
        self.port = port
        self.transcript: list[tuple[bytes, bytes]] | None = [] if keep_transcript else None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sock: socket.socket | None = None  # the inserted card's connection
        self._serving: socket.socket | None = None  # the one the worker is answering on
        self._polled = False  # vpcd has talked to the card on the current connection
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- insertion and removal ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """The card is in the reader (the connection is open; vpcd may not have polled yet)."""
        with self._lock:
            return self._sock is not None

    def connect(self, timeout: float = 5.0) -> None:
        """Insert the card: open the connection to vpcd.

        vpcd notices the card at its next poll, and only if the slot is free (it accepts one
        card per slot); `wait_for_reader()` waits for that.
        """
        with self._lock:
            if self._sock is not None:
                raise RuntimeError("the card is already inserted; disconnect() first")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as err:
            raise VpcdConnectError(
                f"cannot reach vpcd at {self.host}:{self.port} ({err}); is pcscd running with "
                "vsmartcard-vpcd? (tools/start-pcscd.sh)"
            ) from err
        sock.settimeout(None)
        # One small frame each way per exchange: do not let Nagle hold our answers back.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sock = sock
            self._polled = False
            self._changed.notify_all()

    def wait_for_reader(self, timeout: float = 5.0) -> bool:
        """True once vpcd has talked to the inserted card (the reader has noticed it).

        False after `timeout`, or if the card is not inserted: typically the slot holds
        another card, or nothing serves this card (`serve_in_thread()`).
        """
        with self._lock:
            self._changed.wait_for(lambda: self._sock is None or self._polled, timeout)
            return self._sock is not None and self._polled

    def disconnect(self, timeout: float = 5.0) -> None:
        """Pull the card out: close the connection (vpcd sees the card gone) and unpower it.

        Returns once the worker has let go of the connection, so the applet is idle after it.
        """
        with self._lock:
            sock, self._sock = self._sock, None
            if sock is None:
                return
            served = sock is self._serving
            self._changed.notify_all()
        with contextlib.suppress(OSError):
            # Wakes the worker's blocking recv; only the worker closes a socket it reads from
            # (closing under a blocked recv could hit a reused descriptor).
            sock.shutdown(socket.SHUT_RDWR)
        if served:
            with self._lock:
                if not self._changed.wait_for(lambda: self._serving is not sock, timeout):
                    log.warning("vpcd worker did not release the connection in %ss", timeout)
            return
        sock.close()
        self.applet.power_off()

    # -- serving -----------------------------------------------------------------------------

    def serve_in_thread(self) -> None:
        """Start the worker that answers vpcd (idempotent)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self.serve_forever, name=f"vpcd-card-{self.port}", daemon=True
            )
            self._thread.start()

    def serve_forever(self) -> None:
        """Answer vpcd on whichever connection is open, until `stop()`. Never raises."""
        while True:
            with self._lock:
                self._changed.wait_for(lambda: self._stopping or self._sock is not None)
                if self._stopping:
                    return
                sock = self._serving = self._sock
            assert sock is not None
            try:
                self._serve_connection(sock)
            finally:
                sock.close()
                self.applet.power_off()  # out of the reader, or dropped: no power either way
                with self._lock:
                    self._serving = None
                    if self._sock is sock:  # vpcd closed it or misbehaved: the card is out
                        self._sock = None
                    self._changed.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        """Remove the card and end the worker."""
        with self._lock:
            self._stopping = True
            thread = self._thread
            self._changed.notify_all()
        self.disconnect(timeout)
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("vpcd worker did not stop in %ss", timeout)
        with self._lock:
            self._thread = None

    def _serve_connection(self, sock: socket.socket) -> None:
        decoder = FrameDecoder()
        peer = f"vpcd {self.host}:{self.port}"
        # A boundary: whatever vpcd sends, the worker logs it and drops the connection (the
        # card "falls out"), it never dies.
        try:
            while True:
                _quickack(sock)
                data = sock.recv(4096)
                if not data:
                    break
                decoder.feed(data)
                for payload in decoder:
                    with self._lock:
                        if not self._polled:
                            self._polled = True
                            self._changed.notify_all()
                    answer = respond(self.applet, payload)
                    if answer is None:
                        continue
                    if len(payload) > 1 and self.transcript is not None:
                        self.transcript.append((payload, answer))
                    sock.sendall(encode_frame(answer))
            decoder.end_of_stream()
        except (FrameError, VpcdProtocolError, CardPoweredOffError) as err:
            log.warning("%s misbehaved, dropping the card's connection: %s", peer, err)
        except OSError as err:
            # Also our own disconnect() (shutdown), which ends recv with 0 bytes, not here.
            log.info("%s connection lost: %s", peer, err)
        except Exception:
            log.exception("%s: unexpected error while answering, dropping the connection", peer)

    # -- context manager ---------------------------------------------------------------------

    def __enter__(self) -> VpcdCard:
        self.serve_in_thread()
        try:
            self.connect()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
