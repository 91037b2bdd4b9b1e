"""The JPKI applet of a My Number Card (or a phone's secure element), as a sans-IO state machine.

`JpkiApplet.process(command) -> response` is the whole chip: bytes in, bytes out, byte-exact
with SPEC §2 (facts from OpenSC `card-jpki.c`/`jpki.h` and jpki/myna). Readers (in-process,
vpcd, …) are thin adapters around it; nothing here touches sockets, threads, clocks or logging.

Behaviour the table in SPEC §2 leaves open, decided here as a real card behaves:

- Selecting the JPKI AP (again) clears every verified PIN and the current EF, as does a warm
  `reset()` or a power cycle. Retry counters are non-volatile and survive all three.
- VERIFY without data asks for the status: `9000` if the PIN is verified in this session (as
  ISO 7816-4 §11.5.6 allows), otherwise `63Cx`; `6984` once blocked.
- A wrong PIN also drops that PIN's verified state; a correct one resets its counter to max.
- READ BINARY past the end of the EF returns what remains with `9000`; an offset at or past the
  end is `6B00`.
- A command on the wrong kind of EF (READ BINARY on a key, VERIFY on a certificate, SIGN with
  no key selected) is `6986` "command not allowed".
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from hardware_sim.card.apdu import (
    ApduFormatError,
    CommandApdu,
    StatusWord,
    counter_sw,
)
from hardware_sim.card.credentials import CardCredentials
from hardware_sim.card.errors import CardPoweredOffError

ATR = bytes.fromhex("3B E0 00 FF 81 31 FE 45 14")  # contact ATR of the My Number Card
JPKI_AP_AID = bytes.fromhex("D3 92 F0 00 26 01 00 00 00 01")
AUTH_PIN_MAX_TRIES = 3
SIGN_PASSWORD_MAX_TRIES = 5
TOKEN_INFO_LENGTH = 32


class Fid(IntEnum):
    """Elementary files of the JPKI AP."""

    SIGN_CERT = 0x0001  # 署名用電子証明書 (read needs the signing password)
    SIGN_CA_CERT = 0x0002
    TOKEN_INFO = 0x0006
    AUTH_CERT = 0x000A  # 利用者証明用電子証明書 (free read)
    AUTH_CA_CERT = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_KEY = 0x001A
    SIGN_PASSWORD = 0x001B


class _PinRef(Enum):
    AUTH = "auth PIN"
    SIGN = "signing password"


@dataclass(frozen=True)
class _BinaryEf:
    content: bytes
    read_needs: _PinRef | None = None


@dataclass(frozen=True)
class _PinEf:
    pin: _PinRef


@dataclass(frozen=True)
class _KeyEf:
    key: _RsaKey
    use_needs: _PinRef


_Ef = _BinaryEf | _PinEf | _KeyEf


@dataclass
class _PinCounter:
    secret: bytes
    max_tries: int
    tries_left: int


# DER DigestInfo prefixes (RFC 8017 §9.2, note 1) of the hashes OpenSSL signs "prehashed".
_DIGEST_INFO_PREFIXES: dict[bytes, hashes.HashAlgorithm] = {
    bytes.fromhex("3021300906052b0e03021a05000414"): hashes.SHA1(),
    bytes.fromhex("302d300d06096086480165030402040500041c"): hashes.SHA224(),
    bytes.fromhex("3031300d060960864801650304020105000420"): hashes.SHA256(),
    bytes.fromhex("3041300d060960864801650304020205000430"): hashes.SHA384(),
    bytes.fromhex("3051300d060960864801650304020305000440"): hashes.SHA512(),
}


def _prehashed(digest_info: bytes) -> tuple[hashes.HashAlgorithm, bytes] | None:
    """(hash, digest) when `digest_info` is exactly the DigestInfo OpenSSL would encode."""
    for prefix, algorithm in _DIGEST_INFO_PREFIXES.items():
        whole = len(prefix) + algorithm.digest_size
        if len(digest_info) == whole and digest_info.startswith(prefix):
            return algorithm, digest_info[len(prefix) :]
    return None


class _RsaKey:
    """A private key doing what the chip does: PKCS#1 v1.5 type-1 padding, then raw RSA.

    Two paths give the same bytes (RSASSA-PKCS1-v1_5 is deterministic). When the data is a
    standard DigestInfo (SHA-1/224/256/384/512, NULL parameters: what every middleware sends),
    OpenSSL signs the digest through `cryptography`: it builds exactly the same DigestInfo and
    padding, and its RSA is ~10× faster than Python's integers, which matters to a load
    generator emulating hundreds of cards. Any other data (a card signs what it is given) is
    padded here and exponentiated with Python's `pow`, using CRT. `tests/unit/test_card_signing.py`
    checks the two against each other.
    """

    def __init__(self, pem: bytes, what: str) -> None:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{what} must be an RSA key")
        self._key = key
        numbers = key.private_numbers()
        self._n = numbers.public_numbers.n
        self._p, self._q = numbers.p, numbers.q
        self._dp, self._dq, self._qinv = numbers.dmp1, numbers.dmq1, numbers.iqmp
        self.size = (self._n.bit_length() + 7) // 8
        if self.size > 256:
            # The signature must fit one short response APDU.
            raise ValueError(f"{what} is larger than 2048 bits")

    def sign_digest_info(self, digest_info: bytes) -> bytes:
        prehashed = _prehashed(digest_info)
        if prehashed is not None:
            algorithm, digest = prehashed
            return self._key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
        return self.sign_digest_info_raw(digest_info)

    def sign_digest_info_raw(self, digest_info: bytes) -> bytes:
        """Type-1 padding and the private exponentiation in Python (any data that fits)."""
        pad = self.size - 3 - len(digest_info)
        block = b"\x00\x01" + b"\xff" * pad + b"\x00" + digest_info
        m = int.from_bytes(block, "big")
        # CRT: two half-size exponentiations instead of one full one.
        s1 = pow(m, self._dp, self._p)
        s2 = pow(m, self._dq, self._q)
        s = s2 + self._q * ((self._qinv * (s1 - s2)) % self._p)
        return s.to_bytes(self.size, "big")

    @property
    def max_input(self) -> int:
        return self.size - 11  # PKCS#1 v1.5 needs at least 8 bytes of FF padding


def _sw(sw: int, data: bytes = b"") -> bytes:
    """A response APDU's bytes: `data`, then SW1 SW2 (every word here is a 16-bit constant)."""
    return data + sw.to_bytes(2, "big")


def _checked_certificate(der: bytes, what: str) -> bytes:
    # Middleware learns the length from the first 4 bytes (30 82 LL LL), so the EF must hold
    # exactly one DER certificate with a two-byte length.
    if len(der) < 4 or der[0] != 0x30 or der[1] != 0x82:
        raise ValueError(f"{what} must be DER starting 30 82")
    if int.from_bytes(der[2:4], "big") + 4 != len(der):
        raise ValueError(f"{what}: the DER length does not match its header")
    return der


def _token_info(label: str) -> bytes:
    raw = label.encode("ascii")
    if len(raw) > TOKEN_INFO_LENGTH:
        raise ValueError(f"token label {label!r} is longer than {TOKEN_INFO_LENGTH} bytes")
    return raw.ljust(TOKEN_INFO_LENGTH, b" ")


class JpkiApplet:
    """One personalised JPKI applet. Starts powered, as if just inserted and reset."""

    def __init__(self, credentials: CardCredentials) -> None:
        c = credentials
        self.credentials = credentials
        # The card does not check that each certificate matches its key: a mismatched card is
        # a useful forgery for tests of the center.
        self._files: dict[int, _Ef] = {
            Fid.AUTH_CERT: _BinaryEf(_checked_certificate(c.auth_cert_der, "auth certificate")),
            Fid.AUTH_CA_CERT: _BinaryEf(_checked_certificate(c.auth_ca_cert_der, "auth CA")),
            Fid.AUTH_KEY: _KeyEf(_RsaKey(c.auth_key_pem, "auth key"), _PinRef.AUTH),
            Fid.AUTH_PIN: _PinEf(_PinRef.AUTH),
            Fid.SIGN_CERT: _BinaryEf(
                _checked_certificate(c.sign_cert_der, "signing certificate"), _PinRef.SIGN
            ),
            Fid.SIGN_CA_CERT: _BinaryEf(_checked_certificate(c.sign_ca_cert_der, "signing CA")),
            Fid.SIGN_KEY: _KeyEf(_RsaKey(c.sign_key_pem, "signing key"), _PinRef.SIGN),
            Fid.SIGN_PASSWORD: _PinEf(_PinRef.SIGN),
            Fid.TOKEN_INFO: _BinaryEf(_token_info(c.token.value)),
        }
        # Non-volatile: survives reset and power loss.
        self._pins = {
            _PinRef.AUTH: _PinCounter(
                c.auth_pin.encode("ascii"), AUTH_PIN_MAX_TRIES, AUTH_PIN_MAX_TRIES
            ),
            _PinRef.SIGN: _PinCounter(
                c.sign_password.encode("ascii"), SIGN_PASSWORD_MAX_TRIES, SIGN_PASSWORD_MAX_TRIES
            ),
        }
        # Volatile (RAM): lost on reset, power-off and AP re-selection.
        self._powered = True
        self._ap_selected = False
        self._current: _Ef | None = None
        self._verified: set[_PinRef] = set()

    # -- power and reset (driven by the reader) ---------------------------------------------

    @property
    def atr(self) -> bytes:
        return ATR

    @property
    def powered(self) -> bool:
        return self._powered

    def power_on(self) -> bytes:
        """Cold reset; returns the ATR."""
        self._clear_volatile()
        self._powered = True
        return ATR

    def power_off(self) -> None:
        self._clear_volatile()
        self._powered = False

    def reset(self) -> bytes:
        """Warm reset: deselects, forgets verified PINs, keeps retry counters; returns the ATR."""
        self._clear_volatile()
        return ATR

    def _clear_volatile(self) -> None:
        self._ap_selected = False
        self._current = None
        self._verified.clear()

    # -- APDUs -------------------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        """Execute one command APDU; return response data + SW1 SW2 (at least 2 bytes).

        Never raises on any input bytes: malformed commands get a status word. Calling it while
        powered off is the reader's mistake and raises `CardPoweredOffError`.
        """
        if not self._powered:
            raise CardPoweredOffError("the card has no power; power_on() first")
        # The response is built as bytes directly: a visit exchanges some twenty APDUs and the
        # load generator emulates every card of a run, so no ResponseApdu object is made here.
        return self._respond(bytes(apdu))

    def _respond(self, raw: bytes) -> bytes:
        if len(raw) < 4:
            return _sw(StatusWord.WRONG_LENGTH)
        command = _COMMANDS.get((raw[0], raw[1]))
        if command is None:
            known_class = any(cla == raw[0] for cla, _ in _COMMANDS)
            return _sw(
                StatusWord.INS_NOT_SUPPORTED if known_class else StatusWord.CLA_NOT_SUPPORTED
            )
        try:
            apdu = CommandApdu.parse(raw)
        except ApduFormatError:
            return _sw(StatusWord.WRONG_LENGTH)
        if command.p1p2 is not None and (apdu.p1, apdu.p2) not in command.p1p2:
            return _sw(StatusWord.INCORRECT_P1_P2)
        if not (command.data.allows(bool(apdu.data)) and command.le.allows(apdu.le is not None)):
            return _sw(StatusWord.WRONG_LENGTH)
        return command.handler(self, apdu)

    def _select(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 == 0x04:  # by DF name (AID)
            if apdu.data != JPKI_AP_AID:
                return _sw(StatusWord.FILE_NOT_FOUND)
            self._clear_volatile()  # re-selecting the AP starts a fresh session
            self._ap_selected = True
            return _sw(StatusWord.OK)
        # P1 = 02: EF by FID, within the AP
        if len(apdu.data) != 2:
            return _sw(StatusWord.WRONG_LENGTH)
        ef = self._files.get(int.from_bytes(apdu.data, "big")) if self._ap_selected else None
        if ef is None:
            return _sw(StatusWord.FILE_NOT_FOUND)  # a failed SELECT keeps the current EF
        self._current = ef
        return _sw(StatusWord.OK)

    def _read_binary(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 & 0x80:
            return _sw(StatusWord.INCORRECT_P1_P2)  # short EF identifier: not supported
        ef = self._current
        if not isinstance(ef, _BinaryEf):
            return _sw(StatusWord.COMMAND_NOT_ALLOWED)
        if ef.read_needs is not None and ef.read_needs not in self._verified:
            return _sw(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
        offset = (apdu.p1 << 8) | apdu.p2
        if offset >= len(ef.content):
            return _sw(StatusWord.WRONG_P1_P2)
        assert apdu.le is not None  # the table requires Le
        return _sw(StatusWord.OK, ef.content[offset : offset + apdu.le])

    def _verify(self, apdu: CommandApdu) -> bytes:
        ef = self._current
        if not isinstance(ef, _PinEf):
            return _sw(StatusWord.COMMAND_NOT_ALLOWED)
        counter = self._pins[ef.pin]
        if counter.tries_left == 0:
            return _sw(StatusWord.AUTH_METHOD_BLOCKED)
        if not apdu.data:
            if ef.pin in self._verified:
                return _sw(StatusWord.OK)
            return _sw(counter_sw(counter.tries_left))
        if hmac.compare_digest(apdu.data, counter.secret):
            counter.tries_left = counter.max_tries
            self._verified.add(ef.pin)
            return _sw(StatusWord.OK)
        counter.tries_left -= 1
        self._verified.discard(ef.pin)
        return _sw(counter_sw(counter.tries_left))

    def _sign(self, apdu: CommandApdu) -> bytes:
        ef = self._current
        if not isinstance(ef, _KeyEf):
            return _sw(StatusWord.COMMAND_NOT_ALLOWED)
        if ef.use_needs not in self._verified:
            return _sw(StatusWord.SECURITY_STATUS_NOT_SATISFIED)
        # The signature is one full short response: Le must be 00 (256) or absent.
        if apdu.le not in (None, 256) or len(apdu.data) > ef.key.max_input:
            return _sw(StatusWord.WRONG_LENGTH)
        return _sw(StatusWord.OK, ef.key.sign_digest_info(apdu.data))


class _Field(Enum):
    """Whether a command's data field / Le may appear; a mismatch is `6700`."""

    ABSENT = "absent"
    OPTIONAL = "optional"
    REQUIRED = "required"

    def allows(self, present: bool) -> bool:
        return self is _Field.OPTIONAL or present == (self is _Field.REQUIRED)


@dataclass(frozen=True)
class _Command:
    name: str
    p1p2: frozenset[tuple[int, int]] | None  # None: P1-P2 are an operand (an offset)
    data: _Field
    le: _Field
    handler: Callable[[JpkiApplet, CommandApdu], bytes]


# Every command the applet knows, keyed by (CLA, INS). Anything else is 6E00 (CLA) / 6D00 (INS).
_COMMANDS: dict[tuple[int, int], _Command] = {
    (0x00, 0xA4): _Command(
        "SELECT",
        frozenset({(0x04, 0x0C), (0x02, 0x0C)}),  # AP by AID / EF by FID, no FCI returned
        _Field.REQUIRED,
        _Field.OPTIONAL,  # some middleware sends Le with P2=0C; it is ignored
        JpkiApplet._select,
    ),
    (0x00, 0xB0): _Command(
        "READ BINARY", None, _Field.ABSENT, _Field.REQUIRED, JpkiApplet._read_binary
    ),
    (0x00, 0x20): _Command(
        "VERIFY",
        frozenset({(0x00, 0x80)}),  # reference data of the currently selected PIN EF
        _Field.OPTIONAL,  # no data: ask the retry counter
        _Field.ABSENT,
        JpkiApplet._verify,
    ),
    (0x80, 0x2A): _Command(
        "SIGN",  # proprietary class: PKCS#1 v1.5 padding done by the card
        frozenset({(0x00, 0x80)}),
        _Field.REQUIRED,
        _Field.OPTIONAL,
        JpkiApplet._sign,
    ),
}
