"""The seal's QR symbol as drawn into the PDF: the operators paint exactly its dark modules."""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
from hypothesis import given
from hypothesis import strategies as st

from server.verify.qr import QUIET_MODULES, qr_modules, qr_pdf_ops

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
K = 72 / 25.4


def painted(ops: bytes, side: int) -> npt.NDArray[np.bool_]:
    """The modules the `c r w 1 re` runs cover, in symbol coordinates (quiet zone removed)."""
    out = np.zeros((side, side), dtype=np.bool_)
    for c, r, w in re.findall(rb"^(\d+) (\d+) (\d+) 1 re$", ops, flags=re.MULTILINE):
        col, row = int(c) - QUIET_MODULES, int(r) - QUIET_MODULES
        assert not out[row, col : col + int(w)].any()  # runs never overlap
        out[row, col : col + int(w)] = True
    return out


@given(st.text(alphabet=BASE32, min_size=1, max_size=300))
def test_the_runs_drawn_cover_exactly_the_dark_modules(text: str) -> None:
    modules = qr_modules(text)
    ops = qr_pdf_ops(text, x=166.0, y=266.3, size=21.0, k=K, page_h=297.0)
    assert np.array_equal(painted(ops, modules.shape[0]), modules)


def test_the_symbol_is_drawn_as_one_fill_in_a_white_box() -> None:
    ops = qr_pdf_ops("SEAL", x=166.0, y=266.3, size=21.0, k=K, page_h=297.0).decode("ascii")
    lines = ops.splitlines()
    n = qr_modules("SEAL").shape[0] + 2 * QUIET_MODULES
    assert lines[0] == "q 1 g"
    assert lines[1] == f"{166 * K:.3f} {(297 - 266.3 - 21) * K:.3f} {21 * K:.3f} {21 * K:.3f} re f"
    assert (
        lines[2]
        == f"{21 * K / n:.5f} 0 0 {-21 * K / n:.5f} {166 * K:.3f} {(297 - 266.3) * K:.3f} cm 0 g"
    )
    assert lines[-1] == "f Q"
    assert all(line.endswith(" 1 re") for line in lines[3:-1])
