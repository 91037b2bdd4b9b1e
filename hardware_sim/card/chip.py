"""What a reader holds: anything that powers up, answers with an ATR and executes APDUs.

The My Number Card's applet (`applet.JpkiApplet`) and a phone presenting the same applet over
NFC (`phone.Phone`) both have this shape, so every reader adapter (in-process, vpcd) and every
kiosk path works with either.
"""

from __future__ import annotations

from typing import Protocol


class Chip(Protocol):
    """A sans-IO smart card as a reader sees it."""

    @property
    def atr(self) -> bytes: ...

    @property
    def powered(self) -> bool: ...

    def power_on(self) -> bytes:
        """Cold reset; returns the ATR."""
        ...

    def power_off(self) -> None: ...

    def reset(self) -> bytes:
        """Warm reset; returns the ATR."""
        ...

    def process(self, apdu: bytes) -> bytes:
        """One command APDU in, response data + SW1 SW2 out."""
        ...
