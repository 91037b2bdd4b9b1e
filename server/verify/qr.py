"""The seal payload as a QR code: drawn as vector rectangles into the PDF, and read back.

Both ways go through zxing-cpp (C++ with Python bindings, a wheel on PyPI). Drawing: the symbol
is built at error-correction level M; zxing-cpp picks the mode (alphanumeric for base32) and
the mask the standard's penalty rules prefer, in about a millisecond, where a pure-Python
encoder (segno) took five times as long with the mask fixed. Dark modules are merged into
horizontal runs, one short `re` each in a coordinate system of one module per unit, painted
with one fill on a white box that keeps the copy-evident ground out of the symbol.

Reading: the page is rasterised with PDFium (pypdfium2) and zxing-cpp finds the symbol, as a
phone camera would; nothing in the PDF besides the drawn symbol is trusted.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Generator

import numpy as np
import numpy.typing as npt
import zxingcpp
from PIL import Image

from server.issuance.sheet import SEAL_QR

QUIET_MODULES = 2  # white modules around the symbol inside the white box
READ_DPI = 200


@functools.lru_cache(maxsize=64)
def qr_modules(text: str) -> npt.NDArray[np.bool_]:
    """The symbol's modules (rows from the top, True for dark), read-only."""
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = symbol.to_image(scale=1, add_quiet_zones=False)
    modules = np.asarray(image) < 128
    modules.setflags(write=False)
    return modules


# Decimal operands with their trailing space, and a run's width with the rest of its `re`:
# the content of a symbol is then one join of prepared pieces, with no formatting per run.
_OPERAND = np.array([f"{i} ".encode("ascii") for i in range(256)], dtype=object)
_RUN_END = np.array([f"{i} 1 re\n".encode("ascii") for i in range(256)], dtype=object)


def qr_pdf_ops(text: str, *, x: float, y: float, size: float, k: float, page_h: float) -> bytes:
    """PDF content operators drawing the symbol in a white box at (x, y) mm, `size` mm square.

    `k` is points per mm (fpdf2's scale) and `page_h` the page height in mm (PDF's y axis runs
    upwards from the bottom).
    """
    modules = qr_modules(text)
    rows, cols = modules.shape
    n = rows + 2 * QUIET_MODULES
    side = size * k  # points
    left, top = x * k, (page_h - y) * k
    # White box in page units, then a matrix in which one unit is a module and y runs down
    # from the box's top-left corner: each run of dark modules is a short `c r w 1 re`.
    head = (
        "q 1 g\n"
        f"{left:.3f} {top - side:.3f} {side:.3f} {side:.3f} re f\n"
        f"{side / n:.5f} 0 0 {-side / n:.5f} {left:.3f} {top:.3f} cm 0 g\n"
    )
    # The rows side by side, each between light modules, as one line: a run starts where
    # light turns dark and ends where dark turns light, and never spans two rows.
    padded = np.zeros((rows, cols + 2), dtype=np.int8)
    padded[:, 1:-1] = modules
    edges = np.diff(padded.ravel())
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    row, col = np.divmod(starts, cols + 2)
    pieces = np.empty(3 * len(starts) + 2, dtype=object)
    pieces[0] = head.encode("ascii")
    pieces[1:-1:3] = _OPERAND[col + QUIET_MODULES]
    pieces[2:-1:3] = _OPERAND[row + QUIET_MODULES]
    pieces[3:-1:3] = _RUN_END[ends - starts]
    pieces[-1] = b"f Q"
    return b"".join(pieces)


def _where_we_print(width_pt: float, height_pt: float) -> tuple[float, float, float, float]:
    """PDFium's crop (left, bottom, right, top, in points) around where the renderer puts the
    symbol, with a 6 mm margin; only the first, fast look."""
    x, y, size = SEAL_QR
    margin = 6.0
    pt = 72 / 25.4
    left = max(0.0, (x - margin) * pt)
    top = max(0.0, (y - margin) * pt)
    right = max(0.0, width_pt - (x + size + margin) * pt)
    bottom = max(0.0, height_pt - (y + size + margin) * pt)
    return (left, bottom, right, top)


def read_qr_texts(pdf: bytes, *, dpi: int = READ_DPI) -> list[str]:
    """The text of every QR code on the first page that has one (every sheet carries the same).

    Each page is looked at first where the renderer prints the symbol (a raster of 1/30 of the
    page), then whole, so a copy laid out otherwise is still read.
    """
    qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    found: list[str] = []
    with contextlib.closing(_page_images(pdf, dpi)) as images:
        for image in images:
            for result in zxingcpp.read_barcodes(image, formats=qr):
                if result.text and result.text not in found:
                    found.append(result.text)
            if found:
                break
    return found


# PDFium is not thread-safe, and the verifier runs in the center's thread pool.
_PDFIUM = threading.Lock()


def _page_images(pdf: bytes, dpi: int) -> Generator[Image.Image, None, None]:
    """Each page's likely corner, then the whole page, as greyscale images, in order."""
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    with _PDFIUM:
        document = pdfium.PdfDocument(pdf)
        try:
            count = len(document)
        except BaseException:
            document.close()
            raise
    try:
        for index in range(count):
            for whole in (False, True):
                with _PDFIUM:
                    page = document[index]
                    width, height = page.get_size()
                    crop = (0, 0, 0, 0) if whole else _where_we_print(width, height)
                    bitmap = page.render(scale=dpi / 72, crop=crop, grayscale=True)
                    image = bitmap.to_pil().copy()  # detached from PDFium's buffer
                    page.close()
                yield image
    finally:
        with _PDFIUM:
            document.close()
