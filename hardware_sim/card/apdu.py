"""ISO/IEC 7816-4 APDU codec (short length only) and the status words the JPKI applet uses.

Both sides share it: the emulated card parses commands and builds responses, the kiosk
middleware builds commands and parses responses. Extended-length APDUs are not supported: the
JPKI applet never needs them (a certificate is read in chunks, a signature is 256 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

SHORT_LE_MAX = 256  # Le byte 00 means 256 in short APDUs
SHORT_LC_MAX = 255


class ApduFormatError(ValueError):
    """The bytes are not a well-formed short APDU."""

    code = "APDU_FORMAT"


class StatusWord(IntEnum):
    """SW1-SW2 values the JPKI applet answers with (SPEC §2, plus ISO 7816-4 basics)."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982  # PIN not verified for this EF/key
    AUTH_METHOD_BLOCKED = 0x6984  # PIN retry counter exhausted
    COMMAND_NOT_ALLOWED = 0x6986  # no current EF, or the current EF is the wrong kind
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1_P2 = 0x6A86
    WRONG_P1_P2 = 0x6B00  # READ BINARY offset outside the EF
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


_COUNTER_BASE = 0x63C0  # 63Cx: verification failed, x further tries allowed


def counter_sw(tries_left: int) -> int:
    """The status word `63Cx` reporting `tries_left` (0..15) remaining PIN tries."""
    if not 0 <= tries_left <= 0xF:
        raise ValueError(f"tries_left must be 0..15, not {tries_left}")
    return _COUNTER_BASE | tries_left


def tries_left_of(sw: int) -> int | None:
    """`x` of a `63Cx` status word, or None for any other word."""
    return sw & 0xF if sw & 0xFFF0 == _COUNTER_BASE else None


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must be a byte, not {value!r}")


@dataclass(frozen=True)
class CommandApdu:
    """A command APDU. `le` is None when absent, else 1..256 (256 is encoded as 00)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        cla, ins, p1, p2 = self.cla, self.ins, self.p1, self.p2
        # One comparison chain for every command; the loop only names the wrong field.
        if not (0 <= cla <= 0xFF and 0 <= ins <= 0xFF and 0 <= p1 <= 0xFF and 0 <= p2 <= 0xFF):
            for name in ("cla", "ins", "p1", "p2"):
                _check_byte(name, getattr(self, name))
        if len(self.data) > SHORT_LC_MAX:
            raise ValueError(f"data is {len(self.data)} bytes; short APDUs carry at most 255")
        if self.le is not None and not 1 <= self.le <= SHORT_LE_MAX:
            raise ValueError(f"le must be None or 1..256, not {self.le}")

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Decode ISO 7816-4 short cases 1 (header), 2 (Le), 3 (Lc data), 4 (Lc data Le)."""
        if len(raw) < 4:
            raise ApduFormatError(f"an APDU has a 4-byte header; got {len(raw)} bytes")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or SHORT_LE_MAX)
        lc = body[0]
        if lc == 0:
            # 00 followed by more bytes is an extended-length APDU.
            raise ApduFormatError("extended-length APDUs are not supported")
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:]))
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:-1]), body[-1] or SHORT_LE_MAX)
        raise ApduFormatError(f"Lc={lc} does not match the {len(body) - 1} bytes after it")

    def to_bytes(self) -> bytes:
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        if self.data:
            out += bytes((len(self.data),)) + self.data
        if self.le is not None:
            out += bytes((self.le % SHORT_LE_MAX,))
        return out


@dataclass(frozen=True)
class ResponseApdu:
    """A response APDU: data followed by SW1 SW2."""

    data: bytes
    sw1: int
    sw2: int

    def __post_init__(self) -> None:
        if not (0 <= self.sw1 <= 0xFF and 0 <= self.sw2 <= 0xFF):
            _check_byte("sw1", self.sw1)
            _check_byte("sw2", self.sw2)

    @classmethod
    def of(cls, sw: int, data: bytes = b"") -> ResponseApdu:
        """Build from a 16-bit status word, e.g. `ResponseApdu.of(StatusWord.OK, cert)`."""
        if not 0 <= sw <= 0xFFFF:
            raise ValueError(f"a status word is 16 bits, not {sw:#x}")
        return cls(data, sw >> 8, sw & 0xFF)

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ApduFormatError(f"a response ends with SW1 SW2; got {len(raw)} bytes")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])

    def to_bytes(self) -> bytes:
        return self.data + bytes((self.sw1, self.sw2))
