"""The kiosk's JPKI middleware over the in-process reader, and the reader itself."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from clients.kiosk.jpki import (
    CardProtocolError,
    JpkiClient,
    JpkiUsageError,
    PinResult,
    PinStatus,
    sha256_digest_info,
)
from hardware_sim.card.applet import ATR, JpkiApplet
from hardware_sim.card.credentials import TokenKind
from hardware_sim.card.errors import CardConnectionError, CardRemovedError, NoCardError
from hardware_sim.card.reader import InProcessReader
from tests.unit._card_fixture import AUTH_PIN, card_credentials

WRONG_PIN = "9999"


@pytest.fixture
def reader() -> InProcessReader:
    reader = InProcessReader(keep_transcript=True)
    reader.insert(JpkiApplet(card_credentials()))
    reader.connect()
    return reader


@pytest.fixture
def card(reader: InProcessReader) -> JpkiClient:
    client = JpkiClient(reader)
    client.select_ap()
    return client


def commands(reader: InProcessReader) -> list[bytes]:
    assert reader.transcript is not None
    return [command for command, _ in reader.transcript]


# -- reading ----------------------------------------------------------------------------------


def test_reads_the_auth_certificate_in_chunks(card: JpkiClient, reader: InProcessReader) -> None:
    der = card_credentials().auth_cert_der
    assert reader.transcript is not None
    reader.transcript.clear()
    assert card.read_auth_certificate() == der
    sent = commands(reader)
    assert sent[0] == bytes.fromhex("00 A4 02 0C 02 00 0A")
    assert sent[1] == bytes.fromhex("00 B0 00 00 04")  # the header first: it gives the length
    reads = sent[1:]
    assert all(r[:2] == b"\x00\xb0" and 1 <= r[4] <= 255 for r in reads)
    assert sum(r[4] for r in reads) == len(der)


def test_reads_the_auth_ca_certificate(card: JpkiClient) -> None:
    assert card.read_auth_ca_certificate() == card_credentials().auth_ca_cert_der


def test_selects_the_ap_when_the_caller_did_not(reader: InProcessReader) -> None:
    assert JpkiClient(reader).read_auth_certificate() == card_credentials().auth_cert_der
    assert commands(reader)[0] == bytes.fromhex("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01")


@pytest.mark.parametrize("token", list(TokenKind))
def test_token_kind(token: TokenKind) -> None:
    reader = InProcessReader()
    reader.insert(JpkiApplet(card_credentials(token)))
    reader.connect()
    assert JpkiClient(reader).token_kind() is token


# -- the PIN ----------------------------------------------------------------------------------


def test_right_pin(card: JpkiClient) -> None:
    result = card.verify_auth_pin(AUTH_PIN)
    assert result == PinResult(PinStatus.OK)
    assert result.ok and not result.wrong and not result.blocked
    assert card.auth_pin_tries_left() is None  # verified now


def test_wrong_pin_shows_tries_left_then_locks(card: JpkiClient) -> None:
    assert card.auth_pin_tries_left() == 3
    assert card.verify_auth_pin(WRONG_PIN) == PinResult(PinStatus.WRONG, 2)
    assert card.auth_pin_tries_left() == 2
    assert card.verify_auth_pin(WRONG_PIN) == PinResult(PinStatus.WRONG, 1)
    last = card.verify_auth_pin(WRONG_PIN)
    assert last == PinResult(PinStatus.WRONG, 0)  # this attempt blocked it
    assert last.wrong
    locked = card.verify_auth_pin(AUTH_PIN)
    assert locked == PinResult(PinStatus.BLOCKED, 0)
    assert locked.blocked
    assert card.auth_pin_tries_left() == 0
    with pytest.raises(JpkiUsageError):
        card.sign_with_auth_key(b"challenge")


def test_right_pin_restores_the_tries(card: JpkiClient) -> None:
    assert card.verify_auth_pin(WRONG_PIN).tries_left == 2
    assert card.verify_auth_pin(AUTH_PIN).ok
    card.select_ap()  # a new session forgets the verification, not the counter
    assert card.auth_pin_tries_left() == 3


@pytest.mark.parametrize("pin", ["123", "12345", "abcd", "１２３４", ""])
def test_malformed_pin_is_the_callers_mistake_and_costs_no_try(
    card: JpkiClient, reader: InProcessReader, pin: str
) -> None:
    sent_before = len(commands(reader))
    with pytest.raises(JpkiUsageError):
        card.verify_auth_pin(pin)
    assert len(commands(reader)) == sent_before
    assert card.auth_pin_tries_left() == 3


def test_pin_result_checks_itself() -> None:
    with pytest.raises(ValueError):
        PinResult(PinStatus.WRONG)
    with pytest.raises(ValueError):
        PinResult(PinStatus.OK, 3)
    with pytest.raises(ValueError):
        PinResult(PinStatus.BLOCKED, 1)


# -- signing ----------------------------------------------------------------------------------


def test_sign_and_verify(card: JpkiClient, reader: InProcessReader) -> None:
    message = b"challenge from the center"
    certificate = x509.load_der_x509_certificate(card.read_auth_certificate())
    assert card.verify_auth_pin(AUTH_PIN).ok
    signature = card.sign_with_auth_key(message)
    assert len(signature) == 256
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, message, PKCS1v15(), SHA256())
    sent = commands(reader)
    assert sent[-2] == bytes.fromhex("00 A4 02 0C 02 00 17")
    assert sent[-1] == bytes.fromhex("80 2A 00 80 33") + sha256_digest_info(message) + b"\x00"


def test_sign_before_the_pin_is_refused_locally(card: JpkiClient, reader: InProcessReader) -> None:
    sent_before = len(commands(reader))
    with pytest.raises(JpkiUsageError):
        card.sign_with_auth_key(b"challenge")
    assert len(commands(reader)) == sent_before


def test_reselecting_the_ap_requires_the_pin_again(card: JpkiClient) -> None:
    assert card.verify_auth_pin(AUTH_PIN).ok
    card.select_ap()
    with pytest.raises(JpkiUsageError):
        card.sign_with_auth_key(b"challenge")


# -- a card that misbehaves -------------------------------------------------------------------


class ScriptedCard:
    """A connection answering from a script, for card behaviour the applet never shows."""

    def __init__(self, *answers: tuple[bytes, int]) -> None:
        self._answers = list(answers)

    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]:
        data, sw = self._answers.pop(0)
        return list(data), sw >> 8, sw & 0xFF


def test_unexpected_status_word_is_a_protocol_error() -> None:
    with pytest.raises(CardProtocolError) as err:
        JpkiClient(ScriptedCard((b"", 0x6A82))).select_ap()
    assert err.value.sw == 0x6A82
    assert err.value.code == "CARD_PROTOCOL"


def test_unexpected_verify_answer_is_a_protocol_error() -> None:
    card = ScriptedCard((b"", 0x9000), (b"", 0x9000), (b"", 0x6F00))
    with pytest.raises(CardProtocolError) as err:
        JpkiClient(card).verify_auth_pin(AUTH_PIN)
    assert err.value.sw == 0x6F00


def test_a_refused_select_ef_or_read_binary_is_a_protocol_error_with_its_status_word() -> None:
    with pytest.raises(CardProtocolError) as err:
        JpkiClient(ScriptedCard((b"", 0x9000), (b"", 0x6A82))).read_auth_certificate()
    assert (err.value.sw, err.value.detail) == (0x6A82, "SELECT EF 000A")
    card = ScriptedCard((b"", 0x9000), (b"", 0x9000), (b"", 0x6982))
    with pytest.raises(CardProtocolError) as err:
        JpkiClient(card).read_auth_certificate()
    assert (err.value.sw, err.value.detail) == (0x6982, "READ BINARY at 0")


def test_every_visit_reads_the_certificate_with_the_same_commands(
    card: JpkiClient, reader: InProcessReader
) -> None:
    assert reader.transcript is not None
    reader.transcript.clear()
    card.read_auth_certificate()
    first = commands(reader)
    reader.transcript.clear()
    assert card.read_auth_certificate() == card_credentials().auth_cert_der
    assert commands(reader) == first


def test_certificate_without_a_der_header_is_a_protocol_error() -> None:
    card = ScriptedCard((b"", 0x9000), (b"", 0x9000), (b"\x04\x03\x02\x01", 0x9000))
    with pytest.raises(CardProtocolError) as err:
        JpkiClient(card).read_auth_certificate()
    assert err.value.sw is None


def test_certificate_that_stops_short_is_a_protocol_error() -> None:
    card = ScriptedCard((b"", 0x9000), (b"", 0x9000), (b"\x30\x82\x01\x00", 0x9000), (b"", 0x9000))
    with pytest.raises(CardProtocolError):
        JpkiClient(card).read_auth_certificate()


def test_short_signature_is_a_protocol_error() -> None:
    card = ScriptedCard(
        (b"", 0x9000), (b"", 0x9000), (b"", 0x9000), (b"", 0x9000), (bytes(128), 0x9000)
    )
    client = JpkiClient(card)
    assert client.verify_auth_pin(AUTH_PIN).ok
    with pytest.raises(CardProtocolError):
        client.sign_with_auth_key(b"challenge")


def test_unknown_token_label_is_none() -> None:
    unknown = b"SOMEOTHERTOKEN".ljust(32)
    assert (
        JpkiClient(ScriptedCard((b"", 0x9000), (b"", 0x9000), (unknown, 0x9000))).token_kind()
        is None
    )
    assert JpkiClient(ScriptedCard((b"", 0x9000), (b"", 0x6A82))).token_kind() is None


# -- the reader -------------------------------------------------------------------------------


def test_removing_the_card_raises_the_removal_error(
    card: JpkiClient, reader: InProcessReader
) -> None:
    assert card.verify_auth_pin(AUTH_PIN).ok
    reader.remove()
    assert not reader.card_present()
    with pytest.raises(CardRemovedError):
        card.read_auth_certificate()
    with pytest.raises(CardRemovedError):
        card.sign_with_auth_key(b"challenge")
    with pytest.raises(CardRemovedError):
        reader.getATR()


def test_reinserted_card_needs_a_new_connection_and_pin(reader: InProcessReader) -> None:
    card = JpkiClient(reader)
    assert card.verify_auth_pin(AUTH_PIN).ok
    applet = reader.remove()
    assert applet is not None
    reader.insert(applet)
    with pytest.raises(CardRemovedError):  # the old connection stays dead
        card.read_auth_certificate()
    reader.connect()
    fresh = JpkiClient(reader)
    assert fresh.auth_pin_tries_left() == 3  # power was lost: not verified, counter kept


def test_removal_error_is_a_connection_error() -> None:
    assert issubclass(CardRemovedError, CardConnectionError)
    assert issubclass(NoCardError, CardConnectionError)


def test_connect_without_a_card() -> None:
    reader = InProcessReader()
    assert not reader.card_present()
    with pytest.raises(NoCardError):
        reader.connect()


def test_transmit_before_connect(reader: InProcessReader) -> None:
    reader.disconnect()
    with pytest.raises(CardConnectionError) as err:
        reader.transmit([0x00, 0xA4, 0x04, 0x0C])
    assert not isinstance(err.value, CardRemovedError)


def test_pyscard_shape(reader: InProcessReader) -> None:
    assert reader.getATR() == list(ATR)
    assert reader.getReader().endswith("00 00")
    data, sw1, sw2 = reader.transmit([0x00, 0xCA, 0x00, 0x00, 0x00])
    assert (data, sw1, sw2) == ([], 0x6D, 0x00)
    assert reader.transcript == [(bytes.fromhex("00 CA 00 00 00"), bytes.fromhex("6D 00"))]


def test_disconnect_unpowers_the_card(reader: InProcessReader) -> None:
    assert JpkiClient(reader).verify_auth_pin(WRONG_PIN).tries_left == 2
    reader.disconnect()
    reader.connect()
    card = JpkiClient(reader)
    assert card.auth_pin_tries_left() == 2  # the counter is non-volatile
    assert card.verify_auth_pin(AUTH_PIN).ok
    reader.disconnect()
    reader.connect()
    assert JpkiClient(reader).auth_pin_tries_left() == 3  # not None: no longer verified


def test_inserting_twice_is_refused(reader: InProcessReader) -> None:
    with pytest.raises(ValueError):
        reader.insert(JpkiApplet(card_credentials()))


def test_no_transcript_unless_asked() -> None:
    assert InProcessReader().transcript is None
