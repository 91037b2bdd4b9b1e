"""Where a kiosk command finds its card: an emulated reader, or a PC/SC reader of the real pcscd.

- `emulated`: the card file (written by `konbini seed` / the authority) in an in-process reader.
- `pcsc`: the first reader whose name contains `reader_name`. With a card file, the emulated
  card is inserted into that reader through vsmartcard's vpcd (`hardware_sim.card.vpcd`), so the
  session crosses pcscd and pyscard exactly as with a physical card; without one, whatever card
  is in the reader (a real My Number Card on a real reader) is used.

A card file holding a phone's credentials becomes a phone (`hardware_sim.card.phone`): with a PIN
given, an Android phone in PIN mode; without one, the holder is taken to have authenticated on
the phone (Face ID / fingerprint) just before the tap.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from enum import StrEnum

from clients.kiosk.jpki import CardConnection
from clients.kiosk.pcsc import DEFAULT_READER, find_reader
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.chip import Chip
from hardware_sim.card.credentials import CardCredentials, TokenKind
from hardware_sim.card.errors import NoCardError
from hardware_sim.card.phone import Phone
from hardware_sim.card.reader import InProcessReader
from hardware_sim.card.vpcd import VPCD_PORT, VpcdCard

_VPCD_READER = re.compile(r"Virtual PCD 00 (\d\d)")


class ReaderKind(StrEnum):
    EMULATED = "emulated"
    PCSC = "pcsc"


def chip_for(credentials: CardCredentials, *, pin_given: bool) -> Chip:
    """The card, or the phone, that these credentials personalise."""
    if credentials.token is TokenKind.CARD:
        return JpkiApplet(credentials)
    if credentials.token is TokenKind.IPHONE:
        phone = Phone.iphone(credentials)
    else:
        phone = Phone.android(credentials, biometrics=not pin_given)
    if not pin_given:
        phone.authenticate_user()
    return phone


def vpcd_port_of(reader_name: str) -> int:
    """The TCP port vpcd listens on for the reader "Virtual PCD 00 nn"."""
    match = _VPCD_READER.search(reader_name)
    if match is None:
        raise ValueError(f"{reader_name!r} is not a vpcd reader: a card file cannot go into it")
    return VPCD_PORT + int(match.group(1))


@contextlib.contextmanager
def open_reader(
    kind: ReaderKind,
    *,
    chip: Chip | None,
    reader_name: str = DEFAULT_READER,
    wait_s: float = 10.0,
) -> Iterator[CardConnection]:
    """A connection to the chip (or, PC/SC without a chip, to the card in the reader)."""
    if kind is ReaderKind.EMULATED:
        if chip is None:
            raise ValueError("the emulated reader needs a card file")
        emulated = InProcessReader()
        emulated.insert(chip)
        emulated.connect()
        yield emulated
        emulated.remove()
        return
    reader = find_reader(reader_name)
    inserted: VpcdCard | None = None
    if chip is not None:
        inserted = VpcdCard(chip, port=vpcd_port_of(reader.name))
        inserted.serve_in_thread()
    try:
        if inserted is not None:
            inserted.connect()
            if not inserted.wait_for_reader(wait_s):  # never take another program's card
                raise NoCardError(f"{reader.name} did not take the card: is the slot in use?")
        connection = reader.wait_for_card(wait_s)
        if connection is None:
            raise NoCardError(f"no card in {reader.name} within {wait_s}s")
        with connection:
            yield connection
    finally:
        if inserted is not None:
            inserted.stop()
