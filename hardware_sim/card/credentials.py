"""What the JPKI authority writes onto a card or phone: keys, certificates, PIN, token label.

A `CardCredentials` is the personalisation data of one applet. It serialises to JSON so the
`konbini authority` command can hand cards to `konbini kiosk` as files.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TokenKind(StrEnum):
    """Token info label (EF 0006, first 32 bytes, space-padded) per carrier."""

    CARD = "JPKIAPICCTOKEN2"  # マイナンバーカード
    ANDROID = "JPKIAPGPSETOKEN"  # スマホ用電子証明書 (Android secure element)
    IPHONE = "JPKIAPIOSTOKEN"  # スマホ用電子証明書 (iPhone)


@dataclass(frozen=True)
class CardCredentials:
    token: TokenKind
    auth_cert_der: bytes  # 利用者証明用電子証明書
    auth_ca_cert_der: bytes
    auth_key_pem: bytes  # PKCS#8 PEM, unencrypted (it never leaves the emulated chip)
    auth_pin: str  # 4 digits
    sign_cert_der: bytes  # 署名用電子証明書
    sign_ca_cert_der: bytes
    sign_key_pem: bytes
    sign_password: str  # 6–16 upper-case letters/digits
    holder_resident_id: str = ""  # for the demo's bookkeeping only; not on a real chip

    def __post_init__(self) -> None:
        if not (len(self.auth_pin) == 4 and self.auth_pin.isascii() and self.auth_pin.isdigit()):
            raise ValueError("auth PIN must be 4 ASCII digits")
        pw = self.sign_password
        if not (
            6 <= len(pw) <= 16 and pw.isascii() and all(c.isupper() or c.isdigit() for c in pw)
        ):
            raise ValueError("signing password must be 6-16 upper-case letters or digits")

    def to_json(self) -> str:
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if isinstance(value, bytes):
                out[name] = {"b64": base64.b64encode(value).decode()}
            else:
                out[name] = str(value)
        return json.dumps(out, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CardCredentials:
        raw = json.loads(text)
        kwargs: dict[str, Any] = {}
        for name, value in raw.items():
            if isinstance(value, dict):
                kwargs[name] = base64.b64decode(value["b64"])
            else:
                kwargs[name] = value
        kwargs["token"] = TokenKind(kwargs["token"])
        return cls(**kwargs)
