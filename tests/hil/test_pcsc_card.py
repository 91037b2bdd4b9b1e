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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA256

from clients.kiosk.jpki import JpkiClient, PinResult, PinStatus, sha256_digest_info
from clients.kiosk.pcsc import (
    CardEventKind,
    PcscConnection,
    PcscReader,
    find_reader,
    list_readers,
)
from hardware_sim.card.applet import ATR, JPKI_AP_AID, Fid, JpkiApplet
from hardware_sim.card.credentials import TokenKind
from hardware_sim.card.errors import CardConnectionError, CardRemovedError, NoCardError
from hardware_sim.card.vpcd import VpcdCard
from tests.unit._card_fixture import AUTH_PIN, card_credentials
from tests.vectors.loader import VECTORS_DIR, load_vector

if TYPE_CHECKING:
    from tests.hil.conftest import VpcdSlot

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


@dataclass(frozen=True)
class Exchange:
    command: bytes
    response: bytes

    @property
    def sw(self) -> bytes:
        return self.response[-2:]


_FID_NAMES = {int(fid): fid.name.lower().replace("_", " ") for fid in Fid}


def _notes(exchanges: list[Exchange]) -> list[str]:
    """A human note per exchange; also which responses carry key material (by selected EF)."""
    notes, selected = [], None
    for e in exchanges:
        c = e.command
        if c[:4] == bytes.fromhex("00 A4 04 0C"):
            note, selected = "SELECT JPKI AP", None
        elif c[:4] == bytes.fromhex("00 A4 02 0C"):
            selected = int.from_bytes(c[5:7], "big")
            note = f"SELECT EF {selected:04X} ({_FID_NAMES.get(selected, '?')})"
        elif c[:2] == bytes.fromhex("00 B0"):
            note = f"READ BINARY EF {selected or 0:04X} offset {c[2] << 8 | c[3]} Le {c[4]}"
        elif c[:2] == bytes.fromhex("00 20"):
            note = f"VERIFY {c[5:].decode('ascii', 'replace')}" if len(c) > 4 else "VERIFY ?"
        elif c[:2] == bytes.fromhex("80 2A"):
            note = "SIGN DigestInfo(SHA-256)"
        else:
            note = "?"
        notes.append(note)
    return notes


def _carries_key_material(note: str) -> bool:
    # The test card's keys are generated per run: certificate bytes and signatures differ.
    return note.startswith(("READ BINARY EF 000A", "SIGN"))


def _format(exchanges: list[Exchange]) -> str:
    lines = [
        "# JPKI AP session through pcscd + vsmartcard vpcd, captured on the card side.",
        "# Provenance and format: README.md in this folder. Regenerate: KONBINI_REGEN_VECTORS=1",
        "# pytest tests/hil/test_pcsc_card.py (needs pcscd: tools/start-pcscd.sh).",
        "# One exchange per line: command APDU, response APDU (data + SW1 SW2), hex; # note.",
    ]
    for e, note in zip(exchanges, _notes(exchanges), strict=True):
        lines.append(f"{e.command.hex().upper()} {e.response.hex().upper()}  # {note}")
    return "\n".join(lines) + "\n"


def _parse(text: str) -> list[Exchange]:
    exchanges = []
    for line in text.splitlines():
        body = line.split("#", 1)[0].strip()
        if body:
            command, response = body.split()
            exchanges.append(Exchange(bytes.fromhex(command), bytes.fromhex(response)))
    return exchanges


def _check_self_consistent(exchanges: list[Exchange]) -> None:
    """The certificate read in the transcript verifies the signature in the transcript."""
    notes = _notes(exchanges)
    der = b"".join(
        e.response[:-2]
        for e, n in zip(exchanges, notes, strict=True)
        if n.startswith("READ BINARY EF 000A")
    )
    certificate = x509.load_der_x509_certificate(der)
    sign = next(e for e, n in zip(exchanges, notes, strict=True) if n.startswith("SIGN"))
    digest_info = sign.command[5 : 5 + sign.command[4]]
    assert digest_info[:-32] == sha256_digest_info(b"")[:-32]
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(sign.response[:-2], digest_info[-32:], PKCS1v15(), Prehashed(SHA256()))


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
    live = [Exchange(c, r) for c, r in card.transcript]
    _check_self_consistent(live)

    if REGENERATE:
        (VECTORS_DIR / TRANSCRIPT).write_text(_format(live), encoding="utf-8")
    raw = load_vector(TRANSCRIPT)
    assert isinstance(raw, bytes)
    golden = _parse(raw.decode("utf-8"))
    _check_self_consistent(golden)
    assert [e.command for e in live] == [e.command for e in golden]
    for got, want, note in zip(live, golden, _notes(golden), strict=True):
        assert got.sw == want.sw, note
        if _carries_key_material(note):
            assert len(got.response) == len(want.response), note
        else:
            assert got.response == want.response, note
