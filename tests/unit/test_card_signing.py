"""The emulated card's two RSA paths (OpenSSL for standard DigestInfos, Python `pow` for any other
data) answer every APDU of the vectors with the same bytes, and both are PKCS#1 v1.5 type 1."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

import hardware_sim.card.applet as applet_module
from hardware_sim.card.applet import JpkiApplet
from tests.unit._card_fixture import AUTH_PIN, card_credentials
from tests.vectors.loader import load_vector

SELECT_AP = bytes.fromhex("00A4040C0AD392F000260100000001")
SELECT_AUTH_PIN = bytes.fromhex("00A4020C020018")
SELECT_AUTH_KEY = bytes.fromhex("00A4020C020017")
TRANSCRIPTS = ("jpki_apdu/pcsc_session_transcript.txt", "jpki_apdu/kiosk_session_pcsc.txt")

# RFC 8017 §9.2 note 1: DER DigestInfo prefixes, and hashlib names of their hashes.
DIGEST_INFOS = {
    "sha1": "3021300906052b0e03021a05000414",
    "sha224": "302d300d06096086480165030402040500041c",
    "sha256": "3031300d060960864801650304020105000420",
    "sha384": "3041300d060960864801650304020205000430",
    "sha512": "3051300d060960864801650304020305000440",
}


def _transcript_commands(name: str) -> Iterator[bytes]:
    for line in load_vector(name).decode("ascii").splitlines():
        body = line.split("#", 1)[0].split()
        if body:
            yield bytes.fromhex(body[0])


def _vector_commands() -> list[tuple[str, bytes]]:
    """Every command APDU of the JPKI vectors (the JSON session and both PC/SC transcripts)."""
    out = [
        ("select_read_verify", bytes.fromhex(step["command"].replace(" ", "")))
        for step in load_vector("jpki_apdu/select_read_verify")["steps"]
    ]
    for name in TRANSCRIPTS:
        out.extend((name, command) for command in _transcript_commands(name))
    return out


def _python_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(applet_module, "_prehashed", lambda _data: None)


def _signing_card() -> JpkiApplet:
    card = JpkiApplet(card_credentials())
    for command in (SELECT_AP, SELECT_AUTH_PIN):
        assert card.process(command)[-2:] == b"\x90\x00"
    pin = AUTH_PIN.encode("ascii")
    assert card.process(bytes([0, 0x20, 0, 0x80, len(pin)]) + pin)[-2:] == b"\x90\x00"
    assert card.process(SELECT_AUTH_KEY)[-2:] == b"\x90\x00"
    return card


def _sign(card: JpkiApplet, data: bytes) -> bytes:
    response = card.process(bytes([0x80, 0x2A, 0x00, 0x80, len(data)]) + data + b"\x00")
    assert response[-2:] == b"\x90\x00"
    return response[:-2]


def _recovered_block(signature: bytes) -> bytes:
    """The public operation on a signature: the encoded message block the card signed."""
    key = x509.load_der_x509_certificate(card_credentials().auth_cert_der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    numbers = key.public_numbers()
    m = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n)
    return m.to_bytes(len(signature), "big")


def _type1_block(data: bytes, size: int = 256) -> bytes:
    return b"\x00\x01" + b"\xff" * (size - 3 - len(data)) + b"\x00" + data


def test_every_vector_command_gets_the_same_response_bytes_from_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commands = _vector_commands()
    signs = [c for _, c in commands if c[:2] == b"\x80\x2a"]
    assert signs, "the vectors must contain SIGN commands"
    # The SIGN commands of the vectors carry SHA-256 DigestInfos: the OpenSSL path signs them.
    assert all(applet_module._prehashed(c[5:-1]) is not None for c in signs)
    fast, slow = JpkiApplet(card_credentials()), JpkiApplet(card_credentials())
    signed = 0
    for name, command in commands:
        expected = fast.process(command)
        with monkeypatch.context() as m:
            _python_only(m)
            got = slow.process(command)
        assert got == expected, f"{name}: {command.hex()}"
        if command[:2] == b"\x80\x2a" and expected[-2:] == b"\x90\x00":
            signed += 1
            assert _recovered_block(expected[:-2]) == _type1_block(command[5:-1])
    assert signed >= 2  # the PC/SC transcripts' SIGNs ran with the PIN verified


@pytest.mark.parametrize("name", sorted(DIGEST_INFOS))
def test_each_standard_digest_info_signs_identically_through_openssl_and_python(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = hashlib.new(name, b"the center's challenge").digest()
    data = bytes.fromhex(DIGEST_INFOS[name]) + digest
    card = _signing_card()
    assert applet_module._prehashed(data) is not None
    through_openssl = _sign(card, data)
    with monkeypatch.context() as m:
        _python_only(m)
        through_python = _sign(card, data)
    assert through_openssl == through_python
    assert _recovered_block(through_openssl) == _type1_block(data)


@pytest.mark.parametrize(
    "data",
    [
        b"raw bytes, not a DigestInfo",
        # SHA-256 DigestInfo with the parameters left out (no 05 00), as some encoders write it
        bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20" + bytes(32),
        # a SHA-256 prefix with a digest one byte short
        bytes.fromhex(DIGEST_INFOS["sha256"]) + bytes(31),
        bytes(245),  # the longest input a 2048-bit key takes
    ],
    ids=["raw", "no-null-parameters", "short-digest", "longest"],
)
def test_data_openssl_would_encode_differently_is_signed_as_given(data: bytes) -> None:
    assert applet_module._prehashed(data) is None
    assert _recovered_block(_sign(_signing_card(), data)) == _type1_block(data)
