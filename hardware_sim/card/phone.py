"""A phone presenting the JPKI applet over NFC (スマホ用電子証明書), as a sans-IO state machine.

Since 2023-05 an Android phone carries its own user-authentication certificate in its secure
element, with its own 4-digit PIN or, instead, biometrics on the phone; since 2025-06 an iPhone
does too, with Face ID on the phone and no PIN at the kiosk (SPEC §2). Both answer the same JPKI
applet over the same contactless reader as the card, with their own certificate (linked to the
same resident by 利用者管理) and their token label in EF 0006.

`Phone` wraps a `JpkiApplet` and adds the one thing a card does not have: the resident
authenticating *on the device*. `authenticate_user()` is that event (Face ID, a fingerprint); it
returns an event value and never touches a clock, a thread or a socket, like the applet. What
the reader sees changes as follows, everything else is the applet's answer unchanged:

- **Unlocked** (after a successful `authenticate_user()`): when the kiosk selects the auth PIN or
  key EF, the phone releases the PIN from its keystore into the applet (an internal VERIFY the
  reader never sees). So VERIFY without data answers `9000` — the kiosk's cue to skip the PIN
  step — and SIGN works. One unlock authorises one authentication: the first signature made with
  it ends it; `lock()` ends it earlier (the phone's own timeout, the screen going off). Power
  loss (the phone leaving the field) does not: the unlock lives in the phone, not in the chip.
- **Android, not unlocked**: exactly a card (VERIFY with the phone's PIN, 3 tries, `6984`).
- **iPhone, not unlocked**: the auth certificate is not readable (READ BINARY of EF 000A is
  `6982`) and VERIFY without data is `6982` — "security status not satisfied: authenticate on
  the phone". The token label stays readable, so the kiosk knows what it holds.
- **iPhone, any time**: VERIFY with a PIN is `6986`: there is no PIN to enter at the kiosk.

The ATR is what a PC/SC reader synthesises for an ISO 14443-4 Type A device without historical
bytes (PC/SC part 3), as Android and iOS phones present themselves: `3B 80 80 01 01`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hardware_sim.card.apdu import ApduFormatError, CommandApdu, StatusWord
from hardware_sim.card.applet import JPKI_AP_AID, Fid, JpkiApplet
from hardware_sim.card.credentials import CardCredentials, TokenKind

PHONE_ATR = bytes.fromhex("3B 80 80 01 01")  # ISO 14443-4 Type A, no historical bytes
PHONE_TOKENS = frozenset({TokenKind.ANDROID, TokenKind.IPHONE})

_SELECT, _READ_BINARY, _VERIFY, _SIGN = (0x00, 0xA4), (0x00, 0xB0), (0x00, 0x20), (0x80, 0x2A)
_PIN_OR_KEY = frozenset({Fid.AUTH_PIN, Fid.AUTH_KEY})


class UserVerification(StrEnum):
    """How the resident proved themselves to the phone."""

    BIOMETRIC = "biometric"  # Face ID on an iPhone, a fingerprint or face on Android


@dataclass(frozen=True)
class Unlocked:
    """The phone will authenticate its holder once, without a PIN at the kiosk."""

    method: UserVerification


class RefusalReason(StrEnum):
    NOT_RECOGNISED = "not_recognised"  # the face or finger did not match
    NOT_ENROLLED = "not_enrolled"  # an Android phone set up for the PIN only


@dataclass(frozen=True)
class UnlockRefused:
    reason: RefusalReason


PhoneEvent = Unlocked | UnlockRefused


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class Phone:
    """One phone with the JPKI applet in its secure element. Starts in the field, powered."""

    def __init__(self, credentials: CardCredentials, *, biometrics: bool) -> None:
        if credentials.token not in PHONE_TOKENS:
            raise ValueError(f"a phone carries a phone token, not {credentials.token.name}")
        if credentials.token is TokenKind.IPHONE and not biometrics:
            raise ValueError("an iPhone authenticates its holder with Face ID only")
        self.applet = JpkiApplet(credentials)
        self.kind = credentials.token
        self.biometrics = biometrics
        self._unlock: Unlocked | None = None  # the phone's state: survives the field
        # What the phone tracks of the reader's session with the applet (volatile).
        self._ap_selected = False
        self._current: int | None = None
        self._pin_released = False

    @classmethod
    def android(cls, credentials: CardCredentials, *, biometrics: bool = False) -> Phone:
        """An Android phone; `biometrics` when its holder chose them instead of the PIN."""
        return cls(credentials, biometrics=biometrics)

    @classmethod
    def iphone(cls, credentials: CardCredentials) -> Phone:
        return cls(credentials, biometrics=True)

    # -- the holder, on the phone ------------------------------------------------------------

    @property
    def unlocked(self) -> bool:
        return self._unlock is not None

    def authenticate_user(
        self, method: UserVerification = UserVerification.BIOMETRIC, *, matched: bool = True
    ) -> PhoneEvent:
        """The resident looks at / touches the phone; `matched=False` when it was not them."""
        if not self.biometrics:
            return UnlockRefused(RefusalReason.NOT_ENROLLED)
        if not matched:
            return UnlockRefused(RefusalReason.NOT_RECOGNISED)
        self._unlock = Unlocked(method)
        return self._unlock

    def lock(self) -> None:
        """The unlock lapses (the phone's timeout, the screen off) before it was used."""
        self._unlock = None

    # -- the chip, as a reader sees it (`hardware_sim.card.chip.Chip`) -------------------------

    @property
    def atr(self) -> bytes:
        return PHONE_ATR

    @property
    def powered(self) -> bool:
        return self.applet.powered

    def power_on(self) -> bytes:
        self.applet.power_on()
        self._forget_session()
        return PHONE_ATR

    def power_off(self) -> None:
        self.applet.power_off()
        self._forget_session()

    def reset(self) -> bytes:
        self.applet.reset()
        self._forget_session()
        return PHONE_ATR

    def process(self, apdu: bytes) -> bytes:
        """One command APDU; never raises on any input (`CardPoweredOffError` when unpowered)."""
        raw = bytes(apdu)
        if not self.applet.powered:
            return self.applet.process(raw)  # raises CardPoweredOffError: the reader's mistake
        try:
            command = CommandApdu.parse(raw)
        except ApduFormatError:
            return self.applet.process(raw)  # the applet's status word for a malformed APDU
        refused = self._refusal(command)
        if refused is not None:
            return _sw(refused)
        if (command.cla, command.ins) == _SELECT and command.p1 == 0x02:
            self._before_select_ef(command)
        response = self.applet.process(raw)
        if response[-2:] == _sw(StatusWord.OK):
            self._after_ok(command)
        return response

    # -- internals -------------------------------------------------------------------------------

    def _refusal(self, command: CommandApdu) -> int | None:
        """The status word the phone answers in place of the applet, if any."""
        if self.kind is not TokenKind.IPHONE:
            return None
        key = (command.cla, command.ins)
        if key == _VERIFY and command.data:
            return StatusWord.COMMAND_NOT_ALLOWED  # no PIN is entered at the kiosk
        if self.unlocked:
            return None
        if key == _READ_BINARY and self._current == Fid.AUTH_CERT:
            return StatusWord.SECURITY_STATUS_NOT_SATISFIED
        if key == _VERIFY and self._current == Fid.AUTH_PIN:
            return StatusWord.SECURITY_STATUS_NOT_SATISFIED
        return None

    def _before_select_ef(self, command: CommandApdu) -> None:
        if not (self.unlocked and self._ap_selected and not self._pin_released):
            return
        if len(command.data) != 2 or int.from_bytes(command.data, "big") not in _PIN_OR_KEY:
            return
        # The keystore hands the PIN to the secure element, as the phone's JPKI app does after
        # the biometric check; the reader's own SELECT follows, so its current EF is unchanged.
        self.applet.process(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x18").to_bytes())
        pin = self.applet.credentials.auth_pin.encode("ascii")
        answer = self.applet.process(CommandApdu(0x00, 0x20, 0x00, 0x80, pin).to_bytes())
        # A blocked PIN (6984) stays blocked: biometrics do not bypass the counter.
        self._pin_released = answer[-2:] == _sw(StatusWord.OK)

    def _after_ok(self, command: CommandApdu) -> None:
        key = (command.cla, command.ins)
        if key == _SELECT and command.p1 == 0x04 and command.data == JPKI_AP_AID:
            self._forget_session()
            self._ap_selected = True
        elif key == _SELECT and command.p1 == 0x02:
            self._current = int.from_bytes(command.data, "big")
        elif key == _SIGN and self._current == Fid.AUTH_KEY and self._pin_released:
            self._unlock = None  # one unlock, one authentication

    def _forget_session(self) -> None:
        self._ap_selected = False
        self._current = None
        self._pin_released = False
