"""Kiosk-side JPKI middleware: the APDU conversations a kiosk has with a My Number Card.

Transport-agnostic: `JpkiClient` works over anything with pyscard's `transmit(list[int]) ->
(data, sw1, sw2)`, i.e. the in-process reader, a pyscard `CardConnection` to a vpcd virtual
reader, or a physical reader. Connection failures (card removed, …) come from the transport and
pass through unchanged (`hardware_sim.card.errors`).

Outcomes a resident causes are values (`PinResult`: ok / wrong with tries left / blocked).
A card answering outside SPEC §2 raises `CardProtocolError`; calling the API wrongly raises
`JpkiUsageError` before anything reaches the card.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from hardware_sim.card.apdu import CommandApdu, ResponseApdu, StatusWord, tries_left_of
from hardware_sim.card.applet import JPKI_AP_AID, TOKEN_INFO_LENGTH, Fid
from hardware_sim.card.credentials import TokenKind
from hardware_sim.card.errors import CardConnectionError

# The AID, FIDs and token-info size are shared with the emulated card; the byte-level vectors
# in tests/vectors/jpki_apdu check both sides against SPEC §2.
SIGNATURE_LENGTH = 256  # RSA-2048
READ_CHUNK = 255  # Le=00 (256) trips some readers; 255 is safe everywhere
# DER of DigestInfo{ AlgorithmIdentifier{ id-sha256, NULL }, OCTET STRING(32) } before the digest.
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex(
    "30 31 30 0d 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20"
)
# The commands a visit sends again and again (some fifteen a visit), encoded once.
_SELECT_AP = CommandApdu(0x00, 0xA4, 0x04, 0x0C, JPKI_AP_AID).to_bytes()
_SELECT_EF = {
    fid: CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")).to_bytes() for fid in Fid
}
_VERIFY_STATUS = CommandApdu(0x00, 0x20, 0x00, 0x80).to_bytes()  # no data: the retry counter
_OK = int(StatusWord.OK)  # a plain int: compared once per APDU


@functools.lru_cache(maxsize=256)
def _read_binary(offset: int, length: int) -> bytes:
    """READ BINARY of `length` bytes at `offset`, encoded once: a certificate is read in the
    same chunks at every visit (its size is the card's), some seven commands a visit."""
    return CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length).to_bytes()


class CardConnection(Protocol):
    """What the middleware needs of a reader connection (pyscard's `CardConnection` has it)."""

    def transmit(self, apdu: list[int], /) -> tuple[list[int], int, int]: ...


class CardProtocolError(Exception):
    """The card answered outside SPEC §2: an unexpected status word or malformed data."""

    code = "CARD_PROTOCOL"

    def __init__(self, sw: int | None, detail: str = "") -> None:
        self.sw = sw
        self.detail = detail
        where = f"{sw:04X}" if sw is not None else "bad data"
        super().__init__(f"card answered {where}" + (f": {detail}" if detail else ""))


class JpkiUsageError(ValueError):
    """The caller used `JpkiClient` wrongly (nothing was sent to the card)."""

    code = "JPKI_USAGE"


class PinStatus(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    BLOCKED = "blocked"  # 暗証番号ロック: only the municipality counter can reset it


@dataclass(frozen=True)
class PinResult:
    """The outcome of a PIN verification.

    `tries_left` is the count after a wrong PIN (0 means this attempt blocked the PIN), 0 when
    blocked, and None after a correct PIN (the card resets its counter and does not report it).
    """

    status: PinStatus
    tries_left: int | None = None

    def __post_init__(self) -> None:
        expected = {PinStatus.OK: None, PinStatus.BLOCKED: 0}
        if self.status is PinStatus.WRONG:
            if self.tries_left is None or not 0 <= self.tries_left <= 15:
                raise ValueError("a wrong PIN carries tries_left 0..15")
        elif self.tries_left != expected[self.status]:
            raise ValueError(f"{self.status.value}: tries_left must be {expected[self.status]}")

    @property
    def ok(self) -> bool:
        return self.status is PinStatus.OK

    @property
    def wrong(self) -> bool:
        return self.status is PinStatus.WRONG

    @property
    def blocked(self) -> bool:
        return self.status is PinStatus.BLOCKED


class KeyAccess(StrEnum):
    """Whether the auth key may sign now, as the card or phone reports it before any PIN."""

    PIN_NEEDED = "pin_needed"  # a card, or an Android phone in PIN mode: ask the resident
    UNLOCKED = "unlocked"  # verified already: a phone its holder unlocked with biometrics
    BLOCKED = "blocked"  # 6984: only the municipality counter can reset it
    AUTHENTICATE_ON_DEVICE = "authenticate_on_device"  # 6982: an iPhone awaiting Face ID


@dataclass(frozen=True)
class AuthKeyAccess:
    access: KeyAccess
    tries_left: int | None = None  # with PIN_NEEDED: what the card says is left

    def __post_init__(self) -> None:
        if (self.tries_left is not None) != (self.access is KeyAccess.PIN_NEEDED):
            raise ValueError("tries_left goes with PIN_NEEDED, and only with it")


def sha256_digest_info(message: bytes) -> bytes:
    """The DigestInfo the card pads and signs for `message` (sha256WithRSAEncryption)."""
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()


class JpkiClient:
    """A conversation with the JPKI AP of one card over one connection."""

    def __init__(self, connection: CardConnection) -> None:
        self._connection = connection
        self._ap_selected = False
        self._auth_verified = False  # what we know of the card's security state

    # -- selection ---------------------------------------------------------------------------

    def select_ap(self) -> None:
        """SELECT the JPKI AP. The card forgets verified PINs, so this client does too."""
        self._check(self._send(_SELECT_AP), "SELECT JPKI AP")
        self._ap_selected = True
        self._auth_verified = False

    def _select_ef(self, fid: Fid, *, may_be_missing: bool = False) -> bool:
        """SELECT EF `fid` in the AP; False only when it is missing and that is allowed."""
        if not self._ap_selected:
            self.select_ap()
        response = self._send(_SELECT_EF[fid])
        if may_be_missing and response.sw == StatusWord.FILE_NOT_FOUND:
            return False
        self._check(response, f"SELECT EF {fid:04X}")
        return True

    # -- reading -----------------------------------------------------------------------------

    def token_kind(self) -> TokenKind | None:
        """Card, Android or iPhone, from EF 0006; None if the label is missing or unknown."""
        if not self._select_ef(Fid.TOKEN_INFO, may_be_missing=True):
            return None
        label = self._read(0, TOKEN_INFO_LENGTH).rstrip(b" \x00")
        try:
            return TokenKind(label.decode("ascii"))
        except ValueError:  # also UnicodeDecodeError
            return None

    def read_auth_certificate(self) -> bytes:
        """The 利用者証明用電子証明書 (DER), free to read."""
        return self._read_certificate(Fid.AUTH_CERT)

    def read_auth_ca_certificate(self) -> bytes:
        return self._read_certificate(Fid.AUTH_CA_CERT)

    def _read_certificate(self, fid: Fid) -> bytes:
        self._select_ef(fid)
        # The EF may be larger than the certificate: its DER header (30 82 LL LL) gives the size.
        header = self._read(0, 4)
        if len(header) != 4 or header[:2] != b"\x30\x82":
            raise CardProtocolError(None, f"EF {fid:04X} does not start with a DER SEQUENCE")
        total = int.from_bytes(header[2:], "big") + 4
        parts = [header]
        offset = len(header)
        while offset < total:
            chunk = self._read(offset, min(READ_CHUNK, total - offset))
            if not chunk:
                raise CardProtocolError(None, f"EF {fid:04X} ended at {offset} of {total} bytes")
            parts.append(chunk)
            offset += len(chunk)
        return b"".join(parts)[:total]

    def _read(self, offset: int, length: int) -> bytes:
        if offset > 0x7FFF:
            raise CardProtocolError(None, f"offset {offset} is beyond what READ BINARY addresses")
        return self._check(self._send(_read_binary(offset, length)), f"READ BINARY at {offset}")

    # -- the authentication PIN and key ------------------------------------------------------

    def verify_auth_pin(self, pin: str) -> PinResult:
        """VERIFY the 4-digit PIN. A malformed PIN raises `JpkiUsageError` and costs no try."""
        if not (len(pin) == 4 and pin.isascii() and pin.isdigit()):
            raise JpkiUsageError("the auth PIN is 4 ASCII digits")
        self._select_ef(Fid.AUTH_PIN)
        response = self._transmit(CommandApdu(0x00, 0x20, 0x00, 0x80, pin.encode("ascii")))
        result = self._pin_result(response)
        if result is None:
            raise CardProtocolError(response.sw, "VERIFY")
        self._auth_verified = result.ok
        return result

    def auth_pin_tries_left(self) -> int | None:
        """Tries left on the auth PIN (0 when blocked); None when it is verified right now."""
        self._select_ef(Fid.AUTH_PIN)
        response = self._send(_VERIFY_STATUS)
        result = self._pin_result(response)
        if result is None:
            raise CardProtocolError(response.sw, "VERIFY (retry counter)")
        self._auth_verified = result.ok
        return result.tries_left

    def auth_key_access(self) -> AuthKeyAccess:
        """Ask (VERIFY without data) whether signing needs a PIN, costing no try.

        A phone unlocked on the device answers `9000`; an iPhone not yet unlocked `6982`.
        """
        self._select_ef(Fid.AUTH_PIN)
        response = self._send(_VERIFY_STATUS)
        if response.sw == StatusWord.SECURITY_STATUS_NOT_SATISFIED:
            self._auth_verified = False
            return AuthKeyAccess(KeyAccess.AUTHENTICATE_ON_DEVICE)
        result = self._pin_result(response)
        if result is None:
            raise CardProtocolError(response.sw, "VERIFY (retry counter)")
        self._auth_verified = result.ok
        if result.ok:
            return AuthKeyAccess(KeyAccess.UNLOCKED)
        if result.blocked or result.tries_left == 0:
            return AuthKeyAccess(KeyAccess.BLOCKED)
        return AuthKeyAccess(KeyAccess.PIN_NEEDED, result.tries_left)

    def still_present(self) -> bool:
        """Whether the card still answers (SELECT AP); False once it has left the reader.

        Re-selecting the AP ends its security state, so the kiosk only asks this after signing.
        """
        try:
            self.select_ap()
        except CardConnectionError:
            return False
        return True

    @staticmethod
    def _pin_result(response: ResponseApdu) -> PinResult | None:
        if response.sw == StatusWord.OK:
            return PinResult(PinStatus.OK)
        if response.sw == StatusWord.AUTH_METHOD_BLOCKED:
            return PinResult(PinStatus.BLOCKED, 0)
        tries = tries_left_of(response.sw)
        return None if tries is None else PinResult(PinStatus.WRONG, tries)

    def sign_with_auth_key(self, message: bytes) -> bytes:
        """Sign `message` with the auth key (sha256WithRSAEncryption, PKCS#1 v1.5)."""
        if not self._auth_verified:
            raise JpkiUsageError("verify_auth_pin() must succeed before signing")
        self._select_ef(Fid.AUTH_KEY)
        apdu = CommandApdu(0x80, 0x2A, 0x00, 0x80, sha256_digest_info(message), le=256)
        signature = self._expect_ok(apdu, "SIGN")
        if len(signature) != SIGNATURE_LENGTH:
            raise CardProtocolError(None, f"SIGN returned {len(signature)} bytes, not 256")
        return signature

    # -- plumbing ----------------------------------------------------------------------------

    def _transmit(self, apdu: CommandApdu) -> ResponseApdu:
        return self._send(apdu.to_bytes())

    def _send(self, command: bytes) -> ResponseApdu:
        data, sw1, sw2 = self._connection.transmit(list(command))
        return ResponseApdu(bytes(data), sw1, sw2)

    @staticmethod
    def _check(response: ResponseApdu, what: str) -> bytes:
        if response.sw != _OK:
            raise CardProtocolError(response.sw, what)
        return response.data

    def _expect_ok(self, apdu: CommandApdu, what: str) -> bytes:
        return self._check(self._transmit(apdu), what)
