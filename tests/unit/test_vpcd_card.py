"""`VpcdCard` against a fake vpcd written here: a TCP server speaking vpcd's frames.

No pcscd needed. The fake plays the reader's side the way vpcd does it: it listens, accepts the
card, powers it on, asks for the ATR and sends APDUs, each frame's length and payload in
separate writes (as vpcd does).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest

from hardware_sim.card.applet import ATR, JPKI_AP_AID, JpkiApplet
from hardware_sim.card.vpcd import (
    Control,
    FrameDecoder,
    VpcdCard,
    VpcdConnectError,
    VpcdProtocolError,
    encode_frame,
    respond,
)
from tests.unit._card_fixture import AUTH_PIN, card_credentials

TIMEOUT_S = 5.0
SELECT_AP = bytes.fromhex("00 A4 04 0C 0A") + JPKI_AP_AID
SELECT_AUTH_CERT = bytes.fromhex("00 A4 02 0C 02 00 0A")
SELECT_AUTH_PIN = bytes.fromhex("00 A4 02 0C 02 00 18")
READ_HEADER = bytes.fromhex("00 B0 00 00 04")
VERIFY_PIN = bytes.fromhex("00 20 00 80 04") + AUTH_PIN.encode()
VERIFY_WRONG = bytes.fromhex("00 20 00 80 04") + b"9999"
VERIFY_STATUS = bytes.fromhex("00 20 00 80")


class FakeVpcd:
    """The reader side of one vpcd slot, driven step by step from the test thread."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(TIMEOUT_S)
        self.port: int = self._server.getsockname()[1]
        self._client: socket.socket | None = None
        self._decoder = FrameDecoder()

    def accept(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client, _ = self._server.accept()
        self._client.settimeout(TIMEOUT_S)
        self._decoder = FrameDecoder()

    def send(self, payload: bytes) -> None:
        frame = encode_frame(payload)
        assert self._client is not None
        self._client.sendall(frame[:2])  # vpcd writes the length, then the payload
        self._client.sendall(frame[2:])

    def send_raw(self, data: bytes) -> None:
        assert self._client is not None
        self._client.sendall(data)

    def receive(self) -> bytes:
        assert self._client is not None
        while (payload := self._decoder.next_payload()) is None:
            data = self._client.recv(4096)
            assert data, "the card closed the connection"
            self._decoder.feed(data)
        return payload

    def control(self, code: Control) -> bytes | None:
        self.send(bytes([code]))
        return self.receive() if code is Control.GET_ATR else None

    def apdu(self, command: bytes) -> bytes:
        self.send(command)
        return self.receive()

    def closed_by_card(self) -> bool:
        """True if the card hangs up (EOF) within the timeout."""
        assert self._client is not None
        try:
            return self._client.recv(4096) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self._server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


@pytest.fixture
def applet() -> JpkiApplet:
    return JpkiApplet(card_credentials())


@pytest.fixture
def card(vpcd: FakeVpcd, applet: JpkiApplet) -> Iterator[VpcdCard]:
    card = VpcdCard(applet, port=vpcd.port, keep_transcript=True)
    card.serve_in_thread()
    card.connect()
    vpcd.accept()
    yield card
    card.stop()
    assert not any(t.name.startswith("vpcd-card") and t.is_alive() for t in threading.enumerate())


def test_insertion_power_on_atr_and_a_read(vpcd: FakeVpcd, card: VpcdCard) -> None:
    assert vpcd.control(Control.POWER_ON) is None
    assert card.wait_for_reader(TIMEOUT_S)
    assert vpcd.control(Control.GET_ATR) == ATR == bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")
    assert vpcd.apdu(SELECT_AP) == b"\x90\x00"
    assert vpcd.apdu(SELECT_AUTH_CERT) == b"\x90\x00"
    header = vpcd.apdu(READ_HEADER)
    der = card_credentials().auth_cert_der
    assert header == der[:4] + b"\x90\x00"
    assert card.transcript == [
        (SELECT_AP, b"\x90\x00"),
        (SELECT_AUTH_CERT, b"\x90\x00"),
        (READ_HEADER, header),
    ]


def test_power_off_and_reset_clear_the_session_but_not_the_retry_counter(
    vpcd: FakeVpcd, card: VpcdCard, applet: JpkiApplet
) -> None:
    vpcd.control(Control.POWER_ON)
    vpcd.apdu(SELECT_AP)
    vpcd.apdu(SELECT_AUTH_PIN)
    assert vpcd.apdu(VERIFY_WRONG) == b"\x63\xc2"
    assert vpcd.apdu(VERIFY_PIN) == b"\x90\x00"
    vpcd.control(Control.RESET)  # warm reset: the PIN is no longer verified
    vpcd.apdu(SELECT_AP)
    vpcd.apdu(SELECT_AUTH_PIN)
    assert vpcd.apdu(VERIFY_STATUS) == b"\x63\xc3"
    assert vpcd.apdu(VERIFY_WRONG) == b"\x63\xc2"
    vpcd.control(Control.POWER_OFF)
    assert vpcd.control(Control.GET_ATR) == ATR  # vpcd's presence poll works unpowered
    assert not applet.powered
    vpcd.control(Control.RESET)  # resetting an unpowered card powers it (cold reset)
    vpcd.apdu(SELECT_AP)
    vpcd.apdu(SELECT_AUTH_PIN)
    assert vpcd.apdu(VERIFY_STATUS) == b"\x63\xc2"  # non-volatile


def test_frames_split_byte_by_byte_and_glued_together(vpcd: FakeVpcd, card: VpcdCard) -> None:
    for byte in encode_frame(bytes([Control.POWER_ON])) + encode_frame(SELECT_AP):
        vpcd.send_raw(bytes([byte]))
    assert vpcd.receive() == b"\x90\x00"
    vpcd.send_raw(encode_frame(bytes([Control.GET_ATR])) + encode_frame(SELECT_AUTH_CERT))
    assert vpcd.receive() == ATR
    assert vpcd.receive() == b"\x90\x00"


def test_malformed_short_apdus_get_a_status_word(vpcd: FakeVpcd, card: VpcdCard) -> None:
    vpcd.control(Control.POWER_ON)
    assert vpcd.apdu(b"\x00\xa4") == b"\x67\x00"
    assert vpcd.apdu(SELECT_AP + bytes(290)) == b"\x67\x00"  # Lc disagrees with the data


@pytest.mark.parametrize(
    ("what", "payload_or_raw"),
    [
        ("unknown control code", encode_frame(b"\x03")),
        ("zero-length frame", b"\x00\x00"),
        (
            "APDU to an unpowered card",
            encode_frame(bytes([Control.POWER_OFF])) + encode_frame(SELECT_AP),
        ),
    ],
)
def test_a_misbehaving_reader_makes_the_card_drop_out_not_crash(
    vpcd: FakeVpcd,
    card: VpcdCard,
    what: str,
    payload_or_raw: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    vpcd.control(Control.POWER_ON)
    assert vpcd.apdu(SELECT_AP) == b"\x90\x00"
    with caplog.at_level(logging.WARNING, logger="hardware_sim.card.vpcd"):
        vpcd.send_raw(payload_or_raw)
        assert vpcd.closed_by_card(), what
        card.disconnect()  # returns once the worker has let go
    assert "misbehaved" in caplog.text
    assert not card.connected
    # The worker survived: the card can be inserted again.
    card.connect()
    vpcd.accept()
    vpcd.control(Control.POWER_ON)
    assert vpcd.apdu(SELECT_AP) == b"\x90\x00"


def test_removal_closes_the_connection_and_reinsertion_reconnects(
    vpcd: FakeVpcd, card: VpcdCard, applet: JpkiApplet
) -> None:
    vpcd.control(Control.POWER_ON)
    vpcd.apdu(SELECT_AP)
    vpcd.apdu(SELECT_AUTH_PIN)
    vpcd.apdu(VERIFY_PIN)
    card.disconnect()
    assert vpcd.closed_by_card()
    assert not card.connected and not applet.powered
    card.connect()
    vpcd.accept()
    assert card.connected
    vpcd.control(Control.POWER_ON)
    vpcd.apdu(SELECT_AP)
    vpcd.apdu(SELECT_AUTH_PIN)
    assert vpcd.apdu(VERIFY_STATUS) == b"\x63\xc3"  # verified state did not survive removal


def test_the_reader_hanging_up_is_a_removal(vpcd: FakeVpcd, card: VpcdCard) -> None:
    vpcd.control(Control.POWER_ON)
    assert card.wait_for_reader(TIMEOUT_S)
    vpcd.close()  # pcscd stopped
    card.disconnect()
    assert not card.connected
    assert not card.wait_for_reader(0.1)


def test_connecting_twice_is_a_caller_error(card: VpcdCard) -> None:
    with pytest.raises(RuntimeError, match="already inserted"):
        card.connect()


def test_no_vpcd_listening_is_a_clear_error(applet: JpkiApplet) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed when the block ends: nobody listens there
    with pytest.raises(VpcdConnectError, match="is pcscd running"):
        VpcdCard(applet, port=port).connect(timeout=1.0)


def test_context_manager_serves_and_cleans_up(vpcd: FakeVpcd, applet: JpkiApplet) -> None:
    with VpcdCard(applet, port=vpcd.port) as card:
        vpcd.accept()
        vpcd.control(Control.POWER_ON)
        assert vpcd.apdu(SELECT_AP) == b"\x90\x00"
        assert card.connected
    assert vpcd.closed_by_card()
    assert not card.connected


def test_the_message_handler_is_pure(applet: JpkiApplet) -> None:
    assert respond(applet, bytes([Control.POWER_OFF])) is None
    assert not applet.powered
    assert respond(applet, bytes([Control.GET_ATR])) == ATR
    assert respond(applet, bytes([Control.POWER_ON])) is None
    assert respond(applet, SELECT_AP) == b"\x90\x00"
    with pytest.raises(VpcdProtocolError, match="03"):
        respond(applet, b"\x03")
