"""An in-process card reader with the shape of pyscard's `CardConnection`.

The kiosk drives it exactly as it would drive a PC/SC reader (`connect`, `getATR`, `transmit`
with lists of ints returning `(data, sw1, sw2)`), so the same kiosk code runs against the
emulated applet here, a vpcd virtual reader, or a physical reader. Tests additionally insert and
remove cards and may keep a transcript of the APDUs exchanged.

Power follows pcscd and pyscard's defaults: the card is powered when inserted (that is how the
reader learns the ATR), and `disconnect()` unpowers it (pyscard disconnects with
`SCARD_UNPOWER_CARD`), so verified PINs do not outlive a connection. The next `connect()` powers
it again.
"""

from __future__ import annotations

from hardware_sim.card.chip import Chip
from hardware_sim.card.errors import CardConnectionError, CardRemovedError, NoCardError


class InProcessReader:
    """One reader slot holding at most one chip (a card, or a phone held to it)."""

    def __init__(
        self, name: str = "Konbini In-Process Reader 00 00", *, keep_transcript: bool = False
    ) -> None:
        self.name = name
        self._card: Chip | None = None
        self._insertions = 0
        # Which insertion the connection was opened to. A connection outlives the card being
        # pulled out (even if it is put back): like a PC/SC handle, it then reports the removal
        # (SCARD_W_REMOVED_CARD) until the kiosk connects again.
        self._connected_to: int | None = None
        # (command, response) pairs, oldest first; None when not kept.
        self.transcript: list[tuple[bytes, bytes]] | None = [] if keep_transcript else None

    # -- the physical slot -------------------------------------------------------------------

    def insert(self, applet: Chip) -> None:
        if self._card is not None:
            raise ValueError("a card is already in the reader; remove() it first")
        applet.power_on()
        self._card = applet
        self._insertions += 1

    def remove(self) -> Chip | None:
        """Take the card out (if any); an open connection to it then raises `CardRemovedError`."""
        card, self._card = self._card, None
        if card is not None:
            card.power_off()
        return card

    def card_present(self) -> bool:
        return self._card is not None

    # -- pyscard CardConnection shape -------------------------------------------------------

    def getReader(self) -> str:  # pyscard's name
        return self.name

    def connect(
        self, protocol: int | None = None, mode: int | None = None, disposition: int | None = None
    ) -> None:
        """Connect to the card. PC/SC protocol, mode and disposition are accepted and ignored."""
        card = self._card
        if card is None:
            raise NoCardError(f"no card in {self.name}")
        if not card.powered:
            card.power_on()
        self._connected_to = self._insertions

    def disconnect(self) -> None:
        if self._card is not None and self._connected_to == self._insertions:
            self._card.power_off()
        self._connected_to = None

    def getATR(self) -> list[int]:  # pyscard's name
        return list(self._connected_card().atr)

    def transmit(self, apdu: list[int], protocol: int | None = None) -> tuple[list[int], int, int]:
        """Send one command APDU; return (response data, SW1, SW2) like pyscard."""
        card = self._connected_card()
        command = bytes(apdu)  # ValueError for values outside 0..255: the caller's mistake
        response = card.process(command)
        if self.transcript is not None:
            self.transcript.append((command, response))
        return list(response[:-2]), response[-2], response[-1]

    def _connected_card(self) -> Chip:
        if self._connected_to is None:
            raise CardConnectionError("not connected; call connect() first")
        if self._card is None or self._connected_to != self._insertions:
            raise CardRemovedError(f"the card was removed from {self.name}")
        return self._card
