"""The JPKI applet, byte by byte against SPEC §2: every status-word path of its command table."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_sim.card.applet import ATR, JpkiApplet
from hardware_sim.card.credentials import TokenKind
from hardware_sim.card.errors import CardPoweredOffError
from tests.unit._card_fixture import AUTH_PIN, SIGN_PASSWORD, card_credentials
from tests.vectors.loader import load_vector

SELECT_AP = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
DIGEST_INFO_PREFIX = bytes.fromhex("30 31 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20")


def send(applet: JpkiApplet, apdu: str | bytes) -> tuple[bytes, int]:
    raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
    response = applet.process(raw)
    return response[:-2], int.from_bytes(response[-2:], "big")


def sw(applet: JpkiApplet, apdu: str | bytes) -> int:
    return send(applet, apdu)[1]


def select_ef(applet: JpkiApplet, fid: int) -> int:
    return sw(applet, f"00 A4 02 0C 02 {fid:04X}")


def verify(applet: JpkiApplet, secret: str | None) -> int:
    if secret is None:
        return sw(applet, "00 20 00 80")
    data = secret.encode("ascii")
    return sw(applet, bytes([0x00, 0x20, 0x00, 0x80, len(data)]) + data)


def sign_apdu(digest_info: bytes) -> bytes:
    return bytes([0x80, 0x2A, 0x00, 0x80, len(digest_info)]) + digest_info + b"\x00"


def digest_info(message: bytes) -> bytes:
    return DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()


def read(applet: JpkiApplet, offset: int, le: int) -> tuple[bytes, int]:
    return send(applet, bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, le & 0xFF]))


@pytest.fixture
def applet() -> JpkiApplet:
    return JpkiApplet(card_credentials())


@pytest.fixture
def in_ap(applet: JpkiApplet) -> JpkiApplet:
    assert sw(applet, SELECT_AP) == 0x9000
    return applet


def public_key_of(der: bytes) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


# -- ATR and SELECT ----------------------------------------------------------------------------


def test_atr(applet: JpkiApplet) -> None:
    assert applet.atr == bytes.fromhex("3B E0 00 FF 81 31 FE 45 14") == ATR
    assert applet.power_on() == ATR
    assert applet.reset() == ATR


def test_select_ap(applet: JpkiApplet) -> None:
    assert send(applet, SELECT_AP) == (b"", 0x9000)


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 02", 0x6A82),  # another AID
        ("00 A4 04 0C 05 D3 92 F0 00 26", 0x6A82),  # a prefix of the AID
        ("00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01", 0x6A86),  # P2 asks for FCI
        ("00 A4 00 0C 02 3F 00", 0x6A86),  # select MF by FID
        ("00 A4 04 0C", 0x6700),  # no AID
    ],
)
def test_select_ap_refusals(applet: JpkiApplet, apdu: str, expected: int) -> None:
    assert sw(applet, apdu) == expected


def test_select_ef_needs_the_ap(applet: JpkiApplet) -> None:
    assert select_ef(applet, 0x000A) == 0x6A82
    assert sw(applet, SELECT_AP) == 0x9000
    assert select_ef(applet, 0x000A) == 0x9000


@pytest.mark.parametrize(
    "fid", [0x0001, 0x0002, 0x0006, 0x000A, 0x000B, 0x0017, 0x0018, 0x001A, 0x001B]
)
def test_every_ef_of_the_table_exists(in_ap: JpkiApplet, fid: int) -> None:
    assert select_ef(in_ap, fid) == 0x9000


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00 A4 02 0C 02 00 FF", 0x6A82),
        ("00 A4 02 0C 02 3F 00", 0x6A82),
        ("00 A4 02 04 02 00 0A", 0x6A86),
        ("00 A4 01 0C 02 00 0A", 0x6A86),
        ("00 A4 02 0C 01 0A", 0x6700),
        ("00 A4 02 0C 03 00 0A 00", 0x6700),
    ],
)
def test_select_ef_refusals(in_ap: JpkiApplet, apdu: str, expected: int) -> None:
    assert sw(in_ap, apdu) == expected


def test_select_ef_with_le_is_tolerated(in_ap: JpkiApplet) -> None:
    assert sw(in_ap, "00 A4 02 0C 02 00 0A 00") == 0x9000


def test_failed_select_keeps_the_current_ef(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x000A)
    assert select_ef(in_ap, 0x00FF) == 0x6A82
    assert read(in_ap, 0, 2) == (b"\x30\x82", 0x9000)


# -- READ BINARY ------------------------------------------------------------------------------


def test_certificate_length_from_its_first_four_bytes(in_ap: JpkiApplet) -> None:
    der = card_credentials().auth_cert_der
    select_ef(in_ap, 0x000A)
    header, status = read(in_ap, 0, 4)
    assert status == 0x9000
    assert header[:2] == b"\x30\x82"
    total = int.from_bytes(header[2:], "big") + 4
    assert total == len(der)
    chunks = [read(in_ap, offset, min(255, total - offset)) for offset in range(0, total, 255)]
    assert all(status == 0x9000 for _, status in chunks)
    assert b"".join(data for data, _ in chunks) == der


def test_le_00_reads_256_bytes(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x000A)
    data, status = read(in_ap, 0, 0)
    assert status == 0x9000
    assert data == card_credentials().auth_cert_der[:256]


def test_reading_beyond_the_end_returns_what_remains(in_ap: JpkiApplet) -> None:
    der = card_credentials().auth_cert_der
    select_ef(in_ap, 0x000A)
    assert read(in_ap, len(der) - 10, 255) == (der[-10:], 0x9000)


@pytest.mark.parametrize("past", [0, 1, 0x7FFF])
def test_offset_past_the_end_is_6b00(in_ap: JpkiApplet, past: int) -> None:
    der = card_credentials().auth_cert_der
    select_ef(in_ap, 0x000A)
    offset = min(len(der) + past, 0x7FFF)
    assert read(in_ap, offset, 1) == (b"", 0x6B00)


def test_read_binary_refusals(in_ap: JpkiApplet) -> None:
    assert sw(in_ap, "00 B0 00 00 04") == 0x6986  # no EF selected
    select_ef(in_ap, 0x0017)
    assert sw(in_ap, "00 B0 00 00 04") == 0x6986  # a key is not readable
    select_ef(in_ap, 0x0018)
    assert sw(in_ap, "00 B0 00 00 04") == 0x6986  # nor is a PIN
    select_ef(in_ap, 0x000A)
    assert sw(in_ap, "00 B0 8A 00 04") == 0x6A86  # short EF identifier: not supported
    assert sw(in_ap, "00 B0 00 00") == 0x6700  # no Le
    assert sw(in_ap, "00 B0 00 00 01 00") == 0x6700  # data where none belongs
    assert sw(in_ap, "00 B0 00 00 01 00 04") == 0x6700


@pytest.mark.parametrize(
    ("fid", "attribute"),
    [(0x000A, "auth_cert_der"), (0x000B, "auth_ca_cert_der"), (0x0002, "sign_ca_cert_der")],
)
def test_free_certificates(in_ap: JpkiApplet, fid: int, attribute: str) -> None:
    der: bytes = getattr(card_credentials(), attribute)
    select_ef(in_ap, fid)
    assert read(in_ap, 0, 4) == (der[:4], 0x9000)


def test_signing_certificate_needs_the_signing_password(in_ap: JpkiApplet) -> None:
    der = card_credentials().sign_cert_der
    select_ef(in_ap, 0x0001)
    assert read(in_ap, 0, 4) == (b"", 0x6982)
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, AUTH_PIN) == 0x9000
    select_ef(in_ap, 0x0001)
    assert read(in_ap, 0, 4) == (b"", 0x6982)  # the auth PIN is not enough
    select_ef(in_ap, 0x001B)
    assert verify(in_ap, SIGN_PASSWORD) == 0x9000
    select_ef(in_ap, 0x0001)
    assert read(in_ap, 0, 4) == (der[:4], 0x9000)


@pytest.mark.parametrize("token", list(TokenKind))
def test_token_info_label(token: TokenKind) -> None:
    applet = JpkiApplet(card_credentials(token))
    sw(applet, SELECT_AP)
    select_ef(applet, 0x0006)
    data, status = read(applet, 0, 32)
    assert status == 0x9000
    assert data == token.value.encode("ascii").ljust(32, b" ")
    assert read(applet, 32, 1) == (b"", 0x6B00)


# -- VERIFY -----------------------------------------------------------------------------------


def test_pin_counts_down_then_locks_even_the_right_pin(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, None) == 0x63C3
    assert verify(in_ap, "9999") == 0x63C2
    assert verify(in_ap, "0000") == 0x63C1
    assert verify(in_ap, "1111") == 0x63C0
    assert verify(in_ap, AUTH_PIN) == 0x6984
    assert verify(in_ap, None) == 0x6984
    select_ef(in_ap, 0x0017)
    assert sw(in_ap, sign_apdu(digest_info(b"x"))) == 0x6982


def test_correct_pin_resets_the_counter(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, "9999") == 0x63C2
    assert verify(in_ap, "9998") == 0x63C1
    assert verify(in_ap, AUTH_PIN) == 0x9000
    assert verify(in_ap, "9997") == 0x63C2  # back at 3, one used


def test_verify_without_data(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, None) == 0x63C3
    assert verify(in_ap, AUTH_PIN) == 0x9000
    assert verify(in_ap, None) == 0x9000  # verified: ISO 7816-4 lets the card say 9000


def test_wrong_pin_drops_the_verified_state(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, AUTH_PIN) == 0x9000
    assert verify(in_ap, "9999") == 0x63C2
    select_ef(in_ap, 0x0017)
    assert sw(in_ap, sign_apdu(digest_info(b"x"))) == 0x6982


@pytest.mark.parametrize("wrong", ["123", "12345", "１２３４", ""])
def test_pin_of_another_shape_is_just_wrong(in_ap: JpkiApplet, wrong: str) -> None:
    select_ef(in_ap, 0x0018)
    if not wrong:
        assert verify(in_ap, None) == 0x63C3  # no data: a status query, no try spent
        return
    data = wrong.encode("utf-8")
    assert sw(in_ap, bytes([0x00, 0x20, 0x00, 0x80, len(data)]) + data) == 0x63C2


def test_signing_password_has_five_tries(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x001B)
    assert verify(in_ap, None) == 0x63C5
    assert [verify(in_ap, "WRONG1") for _ in range(5)] == [0x63C4, 0x63C3, 0x63C2, 0x63C1, 0x63C0]
    assert verify(in_ap, SIGN_PASSWORD) == 0x6984
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, None) == 0x63C3  # the auth PIN is a separate counter


def test_verify_refusals(in_ap: JpkiApplet) -> None:
    assert verify(in_ap, AUTH_PIN) == 0x6986  # no EF selected
    select_ef(in_ap, 0x000A)
    assert verify(in_ap, AUTH_PIN) == 0x6986  # not a PIN
    select_ef(in_ap, 0x0018)
    assert sw(in_ap, "00 20 00 81 04 31 32 33 34") == 0x6A86
    assert sw(in_ap, "00 20 01 80 04 31 32 33 34") == 0x6A86
    assert sw(in_ap, "00 20 00 80 04 31 32 33 34 00") == 0x6700  # Le on VERIFY
    assert verify(in_ap, None) == 0x63C3  # none of these spent a try


# -- session state: re-selection, reset, power ------------------------------------------------


def _verified_and_signing(applet: JpkiApplet) -> int:
    select_ef(applet, 0x0017)
    return sw(applet, sign_apdu(digest_info(b"x")))


def test_reselecting_the_ap_clears_the_pin(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, AUTH_PIN) == 0x9000
    assert _verified_and_signing(in_ap) == 0x9000
    assert sw(in_ap, SELECT_AP) == 0x9000
    assert _verified_and_signing(in_ap) == 0x6982
    assert read(in_ap, 0, 1)[1] == 0x6986  # and the current EF


def test_reset_clears_session_but_keeps_the_counter(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, "9999") == 0x63C2
    in_ap.reset()
    assert select_ef(in_ap, 0x0018) == 0x6A82  # deselected
    sw(in_ap, SELECT_AP)
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, None) == 0x63C2


def test_power_cycle_keeps_the_counter_and_forgets_the_pin(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, "9999") == 0x63C2
    assert verify(in_ap, AUTH_PIN) == 0x9000
    assert verify(in_ap, "9999") == 0x63C2
    in_ap.power_off()
    assert not in_ap.powered
    with pytest.raises(CardPoweredOffError):
        in_ap.process(bytes.fromhex(SELECT_AP))
    assert in_ap.power_on() == ATR
    sw(in_ap, SELECT_AP)
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, None) == 0x63C2


# -- SIGN -------------------------------------------------------------------------------------


def test_sign_without_the_pin_is_6982(in_ap: JpkiApplet) -> None:
    select_ef(in_ap, 0x0017)
    assert sw(in_ap, sign_apdu(digest_info(b"challenge"))) == 0x6982


def test_signature_verifies_with_the_certificate_key(in_ap: JpkiApplet) -> None:
    message = b"one-time challenge"
    select_ef(in_ap, 0x0018)
    assert verify(in_ap, AUTH_PIN) == 0x9000
    select_ef(in_ap, 0x0017)
    signature, status = send(in_ap, sign_apdu(digest_info(message)))
    assert status == 0x9000
    assert len(signature) == 256
    key = public_key_of(card_credentials().auth_cert_der)
    key.verify(signature, message, PKCS1v15(), SHA256())
    # Signing is deterministic (PKCS#1 v1.5) and may be repeated while the PIN stays verified.
    assert send(in_ap, sign_apdu(digest_info(message))) == (signature, 0x9000)


def test_signing_key_needs_the_signing_password(in_ap: JpkiApplet) -> None:
    message = b"a document"
    select_ef(in_ap, 0x0018)
    verify(in_ap, AUTH_PIN)
    select_ef(in_ap, 0x001A)
    assert sw(in_ap, sign_apdu(digest_info(message))) == 0x6982
    select_ef(in_ap, 0x001B)
    assert verify(in_ap, SIGN_PASSWORD) == 0x9000
    select_ef(in_ap, 0x001A)
    signature, status = send(in_ap, sign_apdu(digest_info(message)))
    assert status == 0x9000
    public_key_of(card_credentials().sign_cert_der).verify(signature, message, PKCS1v15(), SHA256())


def test_sign_refusals(in_ap: JpkiApplet) -> None:
    di = digest_info(b"x")
    assert sw(in_ap, sign_apdu(di)) == 0x6986  # no key selected
    select_ef(in_ap, 0x0018)
    verify(in_ap, AUTH_PIN)
    assert sw(in_ap, sign_apdu(di)) == 0x6986  # a PIN EF is not a key
    select_ef(in_ap, 0x0017)
    assert sw(in_ap, bytes([0x80, 0x2A, 0x00, 0x81, len(di)]) + di + b"\x00") == 0x6A86
    assert sw(in_ap, bytes([0x80, 0x2A, 0x9E, 0x9A, len(di)]) + di + b"\x00") == 0x6A86
    assert sw(in_ap, "80 2A 00 80 00") == 0x6700  # no DigestInfo
    assert sw(in_ap, sign_apdu(bytes(246))) == 0x6700  # no room for PKCS#1 padding
    assert sw(in_ap, bytes([0x80, 0x2A, 0x00, 0x80, len(di)]) + di + b"\x80") == 0x6700
    assert sw(in_ap, sign_apdu(bytes(245))) == 0x9000  # the largest that fits
    assert sw(in_ap, bytes([0x80, 0x2A, 0x00, 0x80, len(di)]) + di) == 0x9000  # Le absent


# -- outside the table ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("apdu", "expected"),
    [
        ("00 CA 00 00 00", 0x6D00),  # GET DATA
        ("00 84 00 00 08", 0x6D00),  # GET CHALLENGE
        ("80 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6D00),  # SELECT in class 80
        ("00 2A 00 80 01 00 00", 0x6D00),  # SIGN in class 00
        ("A0 A4 00 00 02 3F 00", 0x6E00),
        ("FF CA 00 00 00", 0x6E00),  # a PC/SC reader pseudo-APDU reaching the card
        ("0C A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6E00),  # secure messaging
        ("", 0x6700),
        ("00 A4 04", 0x6700),
        ("00 A4 04 0C 0B D3 92", 0x6700),  # Lc disagrees with the data
        ("00 B0 00 00 00 00 04", 0x6700),  # extended length
    ],
)
def test_commands_outside_the_table(applet: JpkiApplet, apdu: str, expected: int) -> None:
    assert send(applet, apdu) == (b"", expected)


_KNOWN_HEADERS = [
    bytes.fromhex(h) for h in ("00A4040C", "00A4020C", "00B00000", "00200080", "802A0080")
]
_apdus = st.binary(max_size=300) | st.builds(
    lambda header, rest: header + rest, st.sampled_from(_KNOWN_HEADERS), st.binary(max_size=260)
)
_session_openers = [
    bytes.fromhex(SELECT_AP),
    bytes.fromhex("00 A4 02 0C 02 00 18"),
    b"\x00\x20\x00\x80\x04" + AUTH_PIN.encode(),
    bytes.fromhex("00 A4 02 0C 02 00 0A"),
]


@settings(max_examples=200, deadline=None)
@given(st.lists(_apdus, max_size=8), st.integers(0, len(_session_openers)))
def test_process_never_raises_and_always_answers_a_status(apdus: list[bytes], opened: int) -> None:
    applet = _shared_applet()
    applet.power_on()
    for command in [*_session_openers[:opened], *apdus]:
        response = applet.process(command)
        assert len(response) >= 2


@functools.cache
def _shared_applet() -> JpkiApplet:
    # Built once: loading two RSA keys per example would dominate the property's run time.
    # Random input may block the PINs; that only widens the states explored.
    return JpkiApplet(card_credentials())


# -- personalisation checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"auth_cert_der": b"\x30\x81\x02\x00\x00"},  # one-byte DER length
        {"auth_ca_cert_der": b"not a certificate"},
        {"sign_cert_der": b"\x30\x82\x00\x10" + bytes(4)},  # length disagrees with the header
        {"auth_key_pem": b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"},
    ],
)
def test_bad_personalisation_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JpkiApplet(dataclasses.replace(card_credentials(), **change))


# -- the transcript vector --------------------------------------------------------------------


def test_select_read_verify_vector(applet: JpkiApplet) -> None:
    vector = load_vector("jpki_apdu/select_read_verify")
    assert vector["card"]["token"] == card_credentials().token.value
    assert vector["card"]["auth_pin"] == AUTH_PIN
    for step in vector["steps"]:
        data, status = send(applet, step["command"])
        assert f"{status:04X}" == step["sw"], step["note"]
        if "data" in step:
            assert data == bytes.fromhex(step["data"]), step["note"]
        if "data_prefix" in step:
            assert data.startswith(bytes.fromhex(step["data_prefix"])), step["note"]
        if "data_length" in step:
            assert len(data) == step["data_length"], step["note"]
