"""The compact signed payload a copy carries in its QR code (電子契印 that a phone can read).

Binary layout, version 1 (all integers big-endian):

    version        1 byte   = 1
    key id         4 bytes  first 4 bytes of SHA-256 over the seal key's SubjectPublicKeyInfo
    municipality   3 bytes  全国地方公共団体コード as an integer (131016)
    issue date     3 bytes  proleptic Gregorian ordinal of the JST issue date
    kind           1 byte   `KIND_CODES` (stable; new kinds are appended)
    issue number   1 byte length + ASCII (交付番号, `IssueNumber.format()`)
    text digest    32 bytes SHA-256 of the printed text (`server.verify.printed`)
    signature      64 bytes ECDSA P-256 / SHA-256 over every byte above, r || s

The QR code holds that as RFC 4648 base32 without padding: upper-case letters and digits only,
which QR's alphanumeric mode packs at 5.5 bits a character, and which a person can paste into
`konbini verify`. Decoding checks structure only; the signature is checked by the verifier with a
published key (`server.verify.keys`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date

from server.issuance.documents import CertificateKind, IssueNumber

VERSION = 1
KEY_ID_LEN = 4
DIGEST_LEN = 32
SIGNATURE_LEN = 64
MAX_TEXT_LEN = 512  # base32 characters; a version-1 payload is about 225

KIND_CODES: dict[CertificateKind, int] = {
    CertificateKind.JUMINHYO: 1,
    CertificateKind.INKAN: 2,
    CertificateKind.JUMINHYO_KISAI: 3,
    CertificateKind.TAX_INCOME: 4,
    CertificateKind.TAX_ASSESSMENT: 5,
    CertificateKind.TAX_PAYMENT: 6,
    CertificateKind.KOSEKI_ZENBU: 7,
    CertificateKind.KOSEKI_KOJIN: 8,
    CertificateKind.KOSEKI_FUHYO: 9,
}
_KINDS_BY_CODE = {code: kind for kind, code in KIND_CODES.items()}
_BASE32 = re.compile(r"[A-Z2-7]+")


class PayloadMalformed(ValueError):
    """The text or bytes are not a seal payload this verifier understands."""


@dataclass(frozen=True)
class SealPayload:
    """What a copy's QR code says about it, and the seal key's signature over that."""

    key_id: bytes
    municipality_code: str
    issue_date: date
    kind: CertificateKind
    issue_number: str
    text_digest: bytes
    signature: bytes = b""

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_LEN:
            raise PayloadMalformed(f"key id must be {KEY_ID_LEN} bytes")
        if len(self.text_digest) != DIGEST_LEN:
            raise PayloadMalformed(f"text digest must be {DIGEST_LEN} bytes")
        if self.signature and len(self.signature) != SIGNATURE_LEN:
            raise PayloadMalformed(f"signature must be {SIGNATURE_LEN} bytes")
        try:
            number = IssueNumber.parse(self.issue_number)
        except ValueError as exc:
            raise PayloadMalformed(str(exc)) from None
        # The issue number spells the date and municipality too; they must agree.
        if number.municipality_code != self.municipality_code:
            raise PayloadMalformed("the issue number names another municipality")
        if number.issue_date != self.issue_date:
            raise PayloadMalformed("the issue number names another date")

    def signed_bytes(self) -> bytes:
        """Everything the signature covers: the payload up to the signature."""
        number = self.issue_number.encode("ascii")
        return b"".join(
            (
                bytes([VERSION]),
                self.key_id,
                int(self.municipality_code).to_bytes(3, "big"),
                self.issue_date.toordinal().to_bytes(3, "big"),
                bytes([KIND_CODES[self.kind]]),
                bytes([len(number)]),
                number,
                self.text_digest,
            )
        )

    def to_bytes(self) -> bytes:
        if not self.signature:
            raise ValueError("an unsigned payload is not printed")
        return self.signed_bytes() + self.signature

    def to_text(self) -> str:
        return base64.b32encode(self.to_bytes()).decode("ascii").rstrip("=")

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()

    @classmethod
    def from_bytes(cls, data: bytes) -> SealPayload:
        fixed = 1 + KEY_ID_LEN + 3 + 3 + 1 + 1
        if len(data) < fixed + DIGEST_LEN + SIGNATURE_LEN:
            raise PayloadMalformed("too short for a seal payload")
        if data[0] != VERSION:
            raise PayloadMalformed(f"unknown payload version {data[0]}")
        pos = 1
        key_id = data[pos : pos + KEY_ID_LEN]
        pos += KEY_ID_LEN
        muni = int.from_bytes(data[pos : pos + 3], "big")
        ordinal = int.from_bytes(data[pos + 3 : pos + 6], "big")
        kind_code, number_len = data[pos + 6], data[pos + 7]
        pos = fixed
        if len(data) != fixed + number_len + DIGEST_LEN + SIGNATURE_LEN:
            raise PayloadMalformed("payload length does not match its issue number")
        kind = _KINDS_BY_CODE.get(kind_code)
        if kind is None:
            raise PayloadMalformed(f"unknown certificate kind code {kind_code}")
        if muni > 999_999:
            raise PayloadMalformed("municipality code out of range")
        try:
            issue_date = date.fromordinal(ordinal)
            number = data[pos : pos + number_len].decode("ascii")
        except (ValueError, UnicodeDecodeError):
            raise PayloadMalformed("bad issue date or issue number") from None
        pos += number_len
        return cls(
            key_id=key_id,
            municipality_code=f"{muni:06d}",
            issue_date=issue_date,
            kind=kind,
            issue_number=number,
            text_digest=data[pos : pos + DIGEST_LEN],
            signature=data[pos + DIGEST_LEN :],
        )

    @classmethod
    def from_text(cls, text: str) -> SealPayload:
        text = text.strip().upper()
        if not text or len(text) > MAX_TEXT_LEN or not _BASE32.fullmatch(text):
            raise PayloadMalformed("a seal payload is base32 (A-Z, 2-7) of at most 512 characters")
        try:
            data = base64.b32decode(text + "=" * (-len(text) % 8))
        except binascii.Error:
            raise PayloadMalformed("not valid base32") from None
        return cls.from_bytes(data)
