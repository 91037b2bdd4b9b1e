"""The seal payload as a QR code: drawn as vector rectangles into the PDF, and read back.

Drawing: segno (pure Python) builds the symbol in alphanumeric mode at error-correction level M.
Its mask is fixed (pattern 0) rather than chosen by the standard's penalty score: every decoder
reads any of the eight masks, the payload is base32 of a signature and a hash (no long runs for
the penalty rule to avoid), and scoring all eight costs about 12 ms per copy. Dark modules are
merged into horizontal runs, one `re` each, painted with one fill on a white quiet zone (the
copy-evident ground would otherwise show through).

Reading: the page is rasterised with PDFium (pypdfium2) and zxing-cpp finds the symbol, as a
phone camera would; nothing in the PDF besides the drawn symbol is trusted.
"""

from __future__ import annotations

import functools

import segno

QUIET_MODULES = 2  # white modules around the symbol inside the white box
READ_DPI = 200


@functools.lru_cache(maxsize=64)
def _matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    qr = segno.make(text, error="m", mode="alphanumeric", mask=0, micro=False, boost_error=False)
    return tuple(tuple(bool(v) for v in row) for row in qr.matrix)


def qr_matrix(text: str) -> tuple[tuple[bool, ...], ...]:
    """The symbol's modules, row by row from the top, True for dark."""
    return _matrix(text)


def qr_pdf_ops(text: str, *, x: float, y: float, size: float, k: float, page_h: float) -> bytes:
    """PDF content operators drawing the symbol in a white box at (x, y) mm, `size` mm square.

    `k` is points per mm (fpdf2's scale) and `page_h` the page height in mm (PDF's y axis runs
    upwards from the bottom).
    """
    matrix = qr_matrix(text)
    n = len(matrix) + 2 * QUIET_MODULES
    module = size * k / n  # points
    left, top = x * k, (page_h - y) * k
    ops = [
        "q 1 g",
        f"{left:.3f} {top - size * k:.3f} {size * k:.3f} {size * k:.3f} re f",
        "0 g",
    ]
    for r, row in enumerate(matrix):
        ry = top - (r + QUIET_MODULES + 1) * module
        c = 0
        width = len(row)
        while c < width:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < width and row[c]:
                c += 1
            rx = left + (start + QUIET_MODULES) * module
            ops.append(f"{rx:.3f} {ry:.3f} {(c - start) * module:.3f} {module:.3f} re")
    ops.append("f Q")
    return "\n".join(ops).encode("ascii")


def read_qr_texts(pdf: bytes, *, dpi: int = READ_DPI) -> list[str]:
    """The text of every QR code found on any page of the PDF, in page order, duplicates once."""
    import pypdfium2 as pdfium  # type: ignore[import-untyped]
    import zxingcpp

    found: list[str] = []
    document = pdfium.PdfDocument(pdf)
    try:
        for index in range(len(document)):
            page = document[index]
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            image = bitmap.to_pil()
            for result in zxingcpp.read_barcodes(
                image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            ):
                if result.text and result.text not in found:
                    found.append(result.text)
            if found:  # every page carries the same symbol; the first page that has one will do
                break
    finally:
        document.close()
    return found
