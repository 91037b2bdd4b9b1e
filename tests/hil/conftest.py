"""Hardware in the loop: the emulated card in the real pcscd, through vsmartcard's vpcd.

Every test here is skipped (not failed) when pyscard is missing or pcscd does not list a
"Virtual PCD" reader; `tools/start-pcscd.sh` starts it. A test module holds one vpcd slot for
its whole run (`tests/hil/vpcd_slots.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hil.vpcd_slots import VpcdSlot, hold_free_slot, unavailable_reason


@pytest.fixture(scope="module", autouse=True)
def pcsc_stack() -> None:
    """Skip the module unless pcscd with vpcd answers (checked once per process)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def vpcd_slot(pcsc_stack: None) -> Iterator[VpcdSlot]:
    """A free vpcd slot, held (lock file) for the module; the worker's own slot first."""
    with hold_free_slot() as slot:
        yield slot
