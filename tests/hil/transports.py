"""The readers a kiosk test can hold a card or phone to: in-process, or PC/SC through vpcd.

One list of scenarios runs over every transport (STYLE 12): a test asks the `transport` fixture
(`tests/integration/conftest.py`) to `tap()` a chip and gets a connection with pyscard's shape;
`pull()` takes the chip away mid-session. The in-process reader calls the chip directly; the
PC/SC transport inserts it into a vpcd slot (`hardware_sim.card.vpcd.VpcdCard`) and connects
through the real pcscd with pyscard (`clients.kiosk.pcsc`), as a kiosk with a physical reader
would. Both keep the card-side APDU transcript of the current chip.
"""

from __future__ import annotations

from typing import Protocol

from clients.kiosk.jpki import CardConnection
from clients.kiosk.pcsc import PcscConnection, PcscReader
from hardware_sim.card.chip import Chip
from hardware_sim.card.reader import InProcessReader
from hardware_sim.card.vpcd import VpcdCard
from tests.hil.vpcd_slots import VpcdSlot

WAIT_S = 10.0  # pcscd polls vpcd every 400 ms; generous for a busy 2-core CI machine


class Transport(Protocol):
    name: str

    def tap(self, chip: Chip) -> CardConnection:
        """Hold `chip` to the reader (taking away whatever was there) and connect to it."""
        ...

    def pull(self) -> None:
        """Take the chip away while the kiosk may still be talking to it."""
        ...

    def transcript(self) -> list[tuple[bytes, bytes]]:
        """(command, response) pairs exchanged with the current chip, oldest first."""
        ...

    def close(self) -> None: ...


class InProcessTransport:
    name = "in-process"

    def __init__(self) -> None:
        self._reader = InProcessReader(keep_transcript=True)

    def tap(self, chip: Chip) -> CardConnection:
        self.close()
        self._reader.insert(chip)
        self._reader.connect()
        return self._reader

    def pull(self) -> None:
        self._reader.remove()

    def transcript(self) -> list[tuple[bytes, bytes]]:
        assert self._reader.transcript is not None
        return list(self._reader.transcript)

    def close(self) -> None:
        self._reader.disconnect()
        self._reader.remove()
        assert self._reader.transcript is not None
        self._reader.transcript.clear()


class PcscTransport:
    name = "pcsc"

    def __init__(self, slot: VpcdSlot) -> None:
        self._slot = slot
        self._reader = PcscReader(slot.reader)
        self._card: VpcdCard | None = None
        self._connection: PcscConnection | None = None

    @property
    def reader_name(self) -> str:
        return self._slot.reader

    def tap(self, chip: Chip) -> CardConnection:
        self.close()
        card = VpcdCard(chip, port=self._slot.port, keep_transcript=True)
        card.serve_in_thread()
        self._card = card
        card.connect()
        assert card.wait_for_reader(WAIT_S), f"vpcd never polled the chip in {self._slot}"
        connection = self._reader.wait_for_card(WAIT_S)
        assert connection is not None, f"pcscd did not report the chip in {self._slot.reader}"
        self._connection = connection
        return connection

    def pull(self) -> None:
        assert self._card is not None, "nothing to pull"
        self._card.disconnect()

    def transcript(self) -> list[tuple[bytes, bytes]]:
        assert self._card is not None and self._card.transcript is not None
        return list(self._card.transcript)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._card is not None:
            self._card.stop()
            self._card = None
            # The next chip (or the next test) must not meet this one in pcscd's view.
            assert self._reader.wait_until_removed(WAIT_S), "pcscd still sees the chip"
