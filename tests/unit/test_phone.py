"""The phone (スマホ用電子証明書): the JPKI applet, and a holder who authenticates on it."""

from __future__ import annotations

import functools

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from hypothesis import given, settings
from hypothesis import strategies as st

from clients.kiosk.jpki import AuthKeyAccess, JpkiClient, KeyAccess, sha256_digest_info
from hardware_sim.card.applet import JPKI_AP_AID, Fid
from hardware_sim.card.credentials import TokenKind
from hardware_sim.card.errors import CardPoweredOffError
from hardware_sim.card.phone import (
    PHONE_ATR,
    Phone,
    RefusalReason,
    Unlocked,
    UnlockRefused,
    UserVerification,
)
from hardware_sim.card.reader import InProcessReader
from tests.unit._card_fixture import AUTH_PIN, card_credentials

WRONG_PIN = "9999"


def select_ap() -> bytes:
    return bytes.fromhex("00 A4 04 0C 0A") + JPKI_AP_AID


def select_ef(fid: Fid) -> bytes:
    return bytes.fromhex("00 A4 02 0C 02") + int(fid).to_bytes(2, "big")


def read(offset: int, le: int) -> bytes:
    return bytes((0x00, 0xB0, offset >> 8, offset & 0xFF, le))


VERIFY_STATUS = bytes.fromhex("00 20 00 80")


def verify(pin: str) -> bytes:
    return bytes.fromhex("00 20 00 80 04") + pin.encode("ascii")


def sign(message: bytes) -> bytes:
    digest_info = sha256_digest_info(message)
    return bytes((0x80, 0x2A, 0x00, 0x80, len(digest_info))) + digest_info + b"\x00"


def sw(response: bytes) -> int:
    return int.from_bytes(response[-2:], "big")


def run(phone: Phone, *commands: bytes) -> list[int]:
    """The status words of a sequence of commands."""
    return [sw(phone.process(c)) for c in commands]


def pin_status(phone: Phone) -> int:
    [_, _, status] = run(phone, select_ap(), select_ef(Fid.AUTH_PIN), VERIFY_STATUS)
    return status


@pytest.fixture
def iphone() -> Phone:
    return Phone.iphone(card_credentials(TokenKind.IPHONE))


@pytest.fixture
def android() -> Phone:
    return Phone.android(card_credentials(TokenKind.ANDROID))  # PIN mode


@pytest.fixture
def android_bio() -> Phone:
    return Phone.android(card_credentials(TokenKind.ANDROID), biometrics=True)


# -- what every phone shows the reader ------------------------------------------------------------


@pytest.mark.parametrize("token", [TokenKind.ANDROID, TokenKind.IPHONE])
def test_a_phone_names_its_token_in_ef_0006_and_has_a_contactless_atr(token: TokenKind) -> None:
    phone = Phone(card_credentials(token), biometrics=True)
    assert phone.atr == PHONE_ATR == bytes.fromhex("3B 80 80 01 01")
    assert phone.power_on() == phone.reset() == PHONE_ATR
    reader = InProcessReader()
    reader.insert(phone)
    reader.connect()
    client = JpkiClient(reader)
    client.select_ap()
    assert client.token_kind() is token


def test_a_phone_without_power_is_the_readers_mistake(android: Phone) -> None:
    android.power_off()
    with pytest.raises(CardPoweredOffError):
        android.process(select_ap())


def test_a_card_token_or_an_iphone_without_face_id_is_no_phone() -> None:
    with pytest.raises(ValueError):
        Phone(card_credentials(TokenKind.CARD), biometrics=True)
    with pytest.raises(ValueError):
        Phone(card_credentials(TokenKind.IPHONE), biometrics=False)


# -- iPhone -----------------------------------------------------------------------------------


def test_a_locked_iphone_hides_its_certificate_and_asks_for_face_id(iphone: Phone) -> None:
    statuses = run(
        iphone,
        select_ap(),
        select_ef(Fid.TOKEN_INFO),
        read(0, 32),  # the label stays readable: the kiosk must know what it holds
        select_ef(Fid.AUTH_CERT),
        read(0, 4),
        select_ef(Fid.AUTH_PIN),
        VERIFY_STATUS,
        select_ef(Fid.AUTH_KEY),
        sign(b"challenge"),
    )
    assert statuses == [0x9000, 0x9000, 0x9000, 0x9000, 0x6982, 0x9000, 0x6982, 0x9000, 0x6982]


def test_an_iphone_takes_no_pin_at_the_reader(iphone: Phone) -> None:
    assert run(iphone, select_ap(), select_ef(Fid.AUTH_PIN), verify(AUTH_PIN)) == [
        0x9000,
        0x9000,
        0x6986,
    ]
    iphone.authenticate_user()
    assert run(iphone, verify(AUTH_PIN)) == [0x6986]  # not even once unlocked
    assert pin_status(iphone) == 0x9000


def test_face_id_unlocks_one_authentication(iphone: Phone) -> None:
    assert iphone.authenticate_user() == Unlocked(UserVerification.BIOMETRIC)
    reader = InProcessReader(keep_transcript=True)
    reader.insert(iphone)
    reader.connect()
    client = JpkiClient(reader)
    client.select_ap()
    assert client.auth_key_access() == AuthKeyAccess(KeyAccess.UNLOCKED)
    certificate = x509.load_der_x509_certificate(client.read_auth_certificate())
    signature = client.sign_with_auth_key(b"challenge from the center")
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"challenge from the center", PKCS1v15(), SHA256())
    assert not iphone.unlocked
    # The next session needs Face ID again.
    client.select_ap()
    assert client.auth_key_access() == AuthKeyAccess(KeyAccess.AUTHENTICATE_ON_DEVICE)
    # The PIN the phone released never crossed the reader.
    assert reader.transcript is not None
    assert all(c[:2] != b"\x00\x20" or len(c) == 4 for c, _ in reader.transcript)


def test_an_unlock_outlives_the_phone_leaving_the_field(iphone: Phone) -> None:
    iphone.authenticate_user()
    iphone.power_off()
    iphone.power_on()
    assert pin_status(iphone) == 0x9000


def test_an_unused_unlock_can_lapse(iphone: Phone) -> None:
    iphone.authenticate_user()
    iphone.lock()
    assert pin_status(iphone) == 0x6982


def test_a_face_that_does_not_match_unlocks_nothing(iphone: Phone) -> None:
    assert iphone.authenticate_user(matched=False) == UnlockRefused(RefusalReason.NOT_RECOGNISED)
    assert not iphone.unlocked
    assert pin_status(iphone) == 0x6982


# -- Android --------------------------------------------------------------------------------------


def test_an_android_phone_in_pin_mode_is_a_card_with_its_own_label(android: Phone) -> None:
    assert android.authenticate_user() == UnlockRefused(RefusalReason.NOT_ENROLLED)
    assert run(android, select_ap(), select_ef(Fid.AUTH_CERT), read(0, 4)) == [0x9000] * 3
    assert pin_status(android) == 0x63C3
    assert run(android, verify(WRONG_PIN), verify(WRONG_PIN), verify(WRONG_PIN)) == [
        0x63C2,
        0x63C1,
        0x63C0,  # this try blocked it
    ]
    assert pin_status(android) == 0x6984


def test_android_biometrics_stand_in_for_the_pin(android_bio: Phone) -> None:
    assert pin_status(android_bio) == 0x63C3  # not unlocked: the PIN works as on a card
    android_bio.authenticate_user()
    assert pin_status(android_bio) == 0x9000
    assert run(android_bio, select_ef(Fid.AUTH_KEY), sign(b"x")) == [0x9000, 0x9000]
    assert not android_bio.unlocked


def test_biometrics_do_not_unblock_a_blocked_pin(android_bio: Phone) -> None:
    run(android_bio, select_ap(), select_ef(Fid.AUTH_PIN), *[verify(WRONG_PIN)] * 3)
    android_bio.authenticate_user()
    assert pin_status(android_bio) == 0x6984
    client_view = run(android_bio, select_ef(Fid.AUTH_KEY), sign(b"x"))
    assert client_view == [0x9000, 0x6982]


def test_the_kiosk_middleware_reads_each_state(android: Phone, android_bio: Phone) -> None:
    def access(phone: Phone) -> AuthKeyAccess:
        reader = InProcessReader()
        reader.insert(phone)
        reader.connect()
        client = JpkiClient(reader)
        client.select_ap()
        return client.auth_key_access()

    assert access(android) == AuthKeyAccess(KeyAccess.PIN_NEEDED, 3)
    android_bio.authenticate_user()
    assert access(android_bio) == AuthKeyAccess(KeyAccess.UNLOCKED)
    run(android, select_ap(), select_ef(Fid.AUTH_PIN), *[verify(WRONG_PIN)] * 3)
    assert access(android) == AuthKeyAccess(KeyAccess.BLOCKED)
    with pytest.raises(ValueError):
        AuthKeyAccess(KeyAccess.UNLOCKED, 3)


@functools.cache
def _shared_iphone() -> Phone:
    return Phone.iphone(card_credentials(TokenKind.IPHONE))  # loading its keys is slow


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_no_bytes_make_a_phone_raise(data: bytes) -> None:
    phone = _shared_iphone()
    phone.power_on()
    phone.authenticate_user()
    for command in (select_ap(), data, select_ef(Fid.AUTH_PIN), data):
        assert len(phone.process(command)) >= 2
