"""The seal's QR symbol: built as zxing-cpp builds it, and drawn as exactly its dark modules."""

from __future__ import annotations

import random
import re

import numpy as np
import numpy.typing as npt
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from server.verify.qr import QUIET_MODULES, _alphanumeric_symbol, qr_modules, qr_pdf_ops
from server.verify.seal import seal_payload
from tests.unit.test_certificate_pdf import HOUSEHOLD, MUNICIPALITY, inkan, juminhyo
from tests.verify_tools import seeded_signer

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
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


# -- the seal's own symbols are zxing-cpp's ------------------------------------------------------


def zxing_symbol(text: str) -> npt.NDArray[np.bool_]:
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128


def test_real_seal_payloads_get_zxing_cpps_symbol_without_zxing_cpp() -> None:
    signer = seeded_signer(MUNICIPALITY.code, 1)
    docs = [juminhyo(HOUSEHOLD[:n], household_size=12) for n in range(1, 13)] + [inkan()]
    for doc in docs:
        text = seal_payload(signer, doc, [[f"{doc.title} {i}"] for i in range(3)]).to_text()
        mine = _alphanumeric_symbol(text)
        assert mine is not None  # built here, not by the fallback
        assert np.array_equal(mine, zxing_symbol(text))


@settings(max_examples=300)
@given(st.text(alphabet=BASE32, min_size=1, max_size=230))
def test_base32_texts_get_zxing_cpps_symbol(text: str) -> None:
    assert np.array_equal(qr_modules(text), zxing_symbol(text))


@settings(max_examples=300)
@given(st.text(alphabet=ALPHANUMERIC, min_size=1, max_size=240))
def test_alphanumeric_texts_get_zxing_cpps_symbol(text: str) -> None:
    assert np.array_equal(qr_modules(text), zxing_symbol(text))


def test_many_seal_sized_payloads_get_zxing_cpps_mask() -> None:
    """Each mask wins for some payloads; the choice must be zxing-cpp's every time."""
    rnd = random.Random(2026)
    for _ in range(400):
        text = "".join(rnd.choice(BASE32) for _ in range(224))
        mine = _alphanumeric_symbol(text)
        if mine is None:  # ~1 %: six digits in a row, left to zxing-cpp
            assert re.search("[2-7]{6}", text)
            continue
        assert mine.shape == (53, 53)
        assert np.array_equal(mine, zxing_symbol(text))


@pytest.mark.parametrize("digits", range(1, 9))
def test_runs_of_digits_anywhere_give_zxing_cpps_symbol(digits: int) -> None:
    """Digits a numeric segment encodes shorter go to zxing-cpp; fewer stay alphanumeric."""
    run = "23456789"[:digits]
    for text in (run, run + "ABCDE" * 9, "ABCDE" * 9 + run, "ABCDE" * 4 + run + "FGHIJ" * 4):
        assert np.array_equal(qr_modules(text), zxing_symbol(text))


def test_every_version_boundary_gives_zxing_cpps_symbol() -> None:
    # The longest alphanumeric texts of versions 1-9 at level M, and one character more.
    for longest in (20, 38, 61, 90, 122, 154, 178, 221, 262):
        for n in (longest, longest + 1):
            text = ("KONBINI" * 40)[:n]
            assert np.array_equal(qr_modules(text), zxing_symbol(text))


def test_other_texts_still_get_a_symbol_from_zxing_cpp() -> None:
    for text in ("lower case", "12345678901234", "住民票", "A" * 400):
        assert _alphanumeric_symbol(text) is None
        assert np.array_equal(qr_modules(text), zxing_symbol(text))
