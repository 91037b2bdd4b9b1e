"""vpcd reader slots for tests: is the PC/SC stack there, and which slot may this worker use.

vpcd gives two reader slots ("Virtual PCD 00 00" on TCP 35963, "… 00 01" on 35964) and each
takes one card at a time. A user holds one slot under an exclusive lock file, so parallel
workers (pytest -n 2) and other processes using the same locks never put two cards in one slot.
Shared by the HIL card tests (`tests/hil`) and the kiosk scenarios over PC/SC
(`tests/integration`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.kiosk import pcsc
from hardware_sim.card.vpcd import VPCD_PORT

SLOT_WAIT_S = 120.0  # another worker's module may hold the other slot for its whole run


@dataclass(frozen=True)
class VpcdSlot:
    index: int

    @property
    def reader(self) -> str:
        return f"Virtual PCD 00 {self.index:02d}"

    @property
    def port(self) -> int:
        return VPCD_PORT + self.index

    @property
    def lock_path(self) -> Path:
        return Path(tempfile.gettempdir()) / f"konbini-vpcd-slot-{self.index}.lock"


@functools.cache
def unavailable_reason() -> str | None:
    """Why PC/SC tests cannot run here (None when pcscd with vpcd answers); asked once."""
    if not pcsc.pyscard_available():
        return "pyscard is not installed (.venv/bin/pip install pyscard)"
    try:
        readers = pcsc.list_readers()
    except pcsc.PcscUnavailableError as err:
        return str(err)  # says how to start pcscd
    if not any(pcsc.DEFAULT_READER in name for name in readers):
        return (
            f"pcscd lists no vpcd reader ({readers}): install vsmartcard-vpcd "
            "(tools/setup-system.sh), then restart pcscd"
        )
    return None


def _slots() -> list[VpcdSlot]:
    names = set(pcsc.list_readers())
    return [s for s in (VpcdSlot(0), VpcdSlot(1)) if s.reader in names]


@contextlib.contextmanager
def hold_free_slot() -> Iterator[VpcdSlot]:
    """A free vpcd slot, locked while the block runs; the worker's own slot is tried first.

    Skips (never fails) when every slot holds a card of another program; fails when no slot
    comes free within `SLOT_WAIT_S`.
    """
    slots = _slots()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = int(worker) % len(slots) if worker.isdigit() else 0
    ordered = slots[first:] + slots[:first]
    deadline = time.monotonic() + SLOT_WAIT_S
    while True:
        foreign = 0
        for slot in ordered:
            handle = slot.lock_path.open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another worker holds it
                handle.close()
                continue
            if pcsc.PcscReader(slot.reader).card_present():
                # A card that is not ours (someone's demo?) sits there: leave that slot alone.
                foreign += 1
                handle.close()
                continue
            try:
                yield slot
            finally:
                handle.close()  # releases the lock
            return
        if foreign == len(ordered):
            pytest.skip(f"every vpcd slot holds a card of another program: {ordered}")
        if time.monotonic() > deadline:
            pytest.fail(f"no vpcd slot came free within {SLOT_WAIT_S}s: {ordered}")
        time.sleep(0.2)
