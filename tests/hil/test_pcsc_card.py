"""The emulated JPKI card in the real pcscd (via vpcd), driven through pyscard like a kiosk.

Each test inserts a fresh card into its module's vpcd slot and takes it out again at the end,
waiting until pcscd has seen the slot empty, so tests never see each other's cards.

The session transcript vector (`tests/vectors/jpki_apdu/pcsc_session_transcript.txt`) is
checked here and rewritten with `KONBINI_REGEN_VECTORS=1`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from clients.kiosk.jpki import JpkiClient, PinResult, PinStatus, sha256_digest_info
from clients.kiosk.pcsc import (
    CardEventKind,
    PcscConnection,
    PcscReader,
    find_reader,
    list_readers,
)
from hardware_sim.card.applet import ATR, JPKI_AP_AID, JpkiApplet
from hardware_sim.card.credentials import TokenKind
from hardware_sim.card.errors import CardConnectionError, CardRemovedError, NoCardError
from hardware_sim.card.vpcd import VpcdCard
from tests.hil.transcripts import (
    assert_matches,
    check_self_consistent,
    exchanges_of,
    format_transcript,
    parse_transcript,
)
from tests.unit._card_fixture import AUTH_PIN, card_credentials
from tests.vectors.loader import VECTORS_DIR, load_vector

if TYPE_CHECKING:
    from tests.hil.vpcd_slots import VpcdSlot

pytestmark = pytest.mark.pcsc

WAIT_S = 10.0  # pcscd polls vpcd every 400 ms; generous for a busy 2-core CI machine
WRONG_PIN = "9999"
SELECT_AP = list(bytes.fromhex("00 A4 04 0C 0A") + JPKI_AP_AID)
SELECT_AUTH_PIN = list(bytes.fromhex("00 A4 02 0C 02 00 18"))
SELECT_AUTH_KEY = list(bytes.fromhex("00 A4 02 0C 02 00 17"))
VERIFY_STATUS = list(bytes.fromhex("00 20 00 80"))
OK: tuple[list[int], int, int] = ([], 0x90, 0x00)

TRANSCRIPT = "jpki_apdu/pcsc_session_transcript.txt"
REGENERATE = os.environ.get("KONBINI_REGEN_VECTORS") == "1"
TRANSCRIPT_MESSAGE = b"konbini-koufu HIL transcript challenge"


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    yield
    leftovers = [
        t.name for t in threading.enumerate() if t.name.startswith(("vpcd-card", "pcsc-monitor"))
    ]
    assert not leftovers, f"threads left running: {leftovers}"


@pytest.fixture(scope="module")
def reader(vpcd_slot: VpcdSlot) -> PcscReader:
    return PcscReader(vpcd_slot.reader)


@pytest.fixture
def applet() -> JpkiApplet:
    return JpkiApplet(card_credentials())


@pytest.fixture
def card(vpcd_slot: VpcdSlot, reader: PcscReader, applet: JpkiApplet) -> Iterator[VpcdCard]:
    card = VpcdCard(applet, port=vpcd_slot.port, keep_transcript=True)
    card.serve_in_thread()
    try:
        card.connect()
        assert card.wait_for_reader(WAIT_S), f"vpcd never polled the card in {vpcd_slot}"
        yield card
    finally:
        card.stop()
    assert reader.wait_until_removed(WAIT_S), "pcscd still sees a card after the test"


@pytest.fixture
def connection(card: VpcdCard, reader: PcscReader) -> Iterator[PcscConnection]:
    connection = reader.wait_for_card(WAIT_S)
    assert connection is not None, f"pcscd did not report the card in {reader.name}"
    with connection:
        yield connection


def _transmit(connection: PcscConnection, apdu: list[int]) -> tuple[list[int], int, int]:
    return connection.transmit(apdu)


# -- the reader and the card through PC/SC ------------------------------------------------------


def test_pcscd_lists_the_vpcd_readers(reader: PcscReader) -> None:
    assert reader.name in list_readers()
    assert "Virtual PCD" in find_reader().name


def test_the_atr_seen_by_pcsc_is_the_my_number_card_one(connection: PcscConnection) -> None:
    assert bytes(connection.getATR()) == ATR == bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")


def test_select_read_certificate_and_token_label(connection: PcscConnection) -> None:
    client = JpkiClient(connection)
    client.select_ap()
    der = client.read_auth_certificate()
    assert der == card_credentials().auth_cert_der
    certificate = x509.load_der_x509_certificate(der)
    assert certificate.public_bytes(serialization.Encoding.DER) == der  # byte-exact round trip
    assert client.read_auth_ca_certificate() == card_credentials().auth_ca_cert_der
    assert client.token_kind() is TokenKind.CARD


def test_a_wrong_pin_is_63c2_through_pcsc(connection: PcscConnection) -> None:
    assert _transmit(connection, SELECT_AP) == OK
    assert _transmit(connection, SELECT_AUTH_PIN) == OK
    wrong = list(bytes.fromhex("00 20 00 80 04") + WRONG_PIN.encode())
    assert _transmit(connection, wrong) == ([], 0x63, 0xC2)
    assert _transmit(connection, VERIFY_STATUS) == ([], 0x63, 0xC2)
    assert JpkiClient(connection).verify_auth_pin(WRONG_PIN) == PinResult(PinStatus.WRONG, 1)


def test_sign_a_digest_info_and_verify_with_the_certificate(connection: PcscConnection) -> None:
    client = JpkiClient(connection)
    client.select_ap()
    certificate = x509.load_der_x509_certificate(client.read_auth_certificate())
    assert client.verify_auth_pin(AUTH_PIN).ok
    message = b"challenge from the issuance center"
    signature = client.sign_with_auth_key(message)
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, message, PKCS1v15(), SHA256())


def test_pcsc_disconnect_unpowers_the_card_so_the_pin_must_be_entered_again(
    reader: PcscReader, connection: PcscConnection
) -> None:
    client = JpkiClient(connection)
    client.select_ap()
    assert client.verify_auth_pin(AUTH_PIN).ok
    connection.disconnect()  # pyscard's default disposition: SCARD_UNPOWER_CARD
    connection.connect()
    assert _transmit(connection, SELECT_AP) == OK
    assert _transmit(connection, SELECT_AUTH_KEY) == OK
    digest = sha256_digest_info(b"x")
    sign = [0x80, 0x2A, 0x00, 0x80, len(digest), *digest, 0x00]
    assert _transmit(connection, sign) == ([], 0x69, 0x82)


# -- removal and reinsertion ------------------------------------------------------------------


def test_removal_is_seen_by_the_monitor_and_by_the_next_transmit(
    reader: PcscReader, card: VpcdCard, connection: PcscConnection
) -> None:
    with reader.monitor() as monitor:
        inserted = monitor.wait_for(CardEventKind.INSERTED, WAIT_S)
        assert inserted is not None and inserted.atr == ATR
        client = JpkiClient(connection)
        client.select_ap()
        assert client.verify_auth_pin(WRONG_PIN).tries_left == 2

        card.disconnect()
        assert monitor.wait_for(CardEventKind.REMOVED, WAIT_S) is not None
        assert monitor.present is False
        with pytest.raises(CardRemovedError):
            _transmit(connection, SELECT_AP)
        with pytest.raises(CardConnectionError):  # what KioskTerminal catches as CARD_REMOVED
            JpkiClient(connection).select_ap()
        with pytest.raises(NoCardError):
            reader.connect()

        card.connect()  # the resident puts the card back
        assert monitor.wait_for(CardEventKind.INSERTED, WAIT_S) is not None
        # Like a PC/SC handle, the old connection stays dead; the kiosk connects again.
        with pytest.raises(CardRemovedError):
            _transmit(connection, SELECT_AP)
        again = reader.wait_for_card(WAIT_S)
        assert again is not None
        with again:
            client = JpkiClient(again)
            client.select_ap()
            assert client.auth_pin_tries_left() == 2  # the retry counter is non-volatile
            assert client.read_auth_certificate() == card_credentials().auth_cert_der


def test_a_transmit_racing_the_removal_is_still_a_removal(
    card: VpcdCard, connection: PcscConnection
) -> None:
    assert _transmit(connection, SELECT_AP) == OK
    card.disconnect()
    # No waiting for pcscd's poll: vpcd fails this transmit before pcscd knows the card left.
    with pytest.raises(CardRemovedError):
        _transmit(connection, SELECT_AP)


def test_an_empty_reader(reader: PcscReader) -> None:
    assert not reader.card_present()
    with pytest.raises(NoCardError):
        reader.connect()
    assert reader.wait_for_card(timeout=0.3) is None
    assert reader.wait_until_removed(0.1)


# -- the session transcript vector ------------------------------------------------------------

TRANSCRIPT_HEADER = (
    "JPKI AP session through pcscd + vsmartcard vpcd, captured on the card side.",
    "Provenance and format: README.md in this folder. Regenerate: KONBINI_REGEN_VECTORS=1",
    "pytest tests/hil/test_pcsc_card.py (needs pcscd: tools/start-pcscd.sh).",
)


def test_session_transcript_matches_the_vector(card: VpcdCard, connection: PcscConnection) -> None:
    assert card.transcript is not None
    card.transcript.clear()
    client = JpkiClient(connection)
    client.select_ap()
    assert client.token_kind() is TokenKind.CARD
    client.read_auth_certificate()
    assert client.verify_auth_pin(WRONG_PIN) == PinResult(PinStatus.WRONG, 2)
    assert client.verify_auth_pin(AUTH_PIN).ok
    client.sign_with_auth_key(TRANSCRIPT_MESSAGE)
    live = exchanges_of(card.transcript)
    check_self_consistent(live)

    if REGENERATE:
        (VECTORS_DIR / TRANSCRIPT).write_text(
            format_transcript(live, TRANSCRIPT_HEADER), encoding="utf-8"
        )
    raw = load_vector(TRANSCRIPT)
    assert isinstance(raw, bytes)
    golden = parse_transcript(raw.decode("utf-8"))
    check_self_consistent(golden)
    assert_matches(live, golden)
