"""The seal payload as a QR code: drawn as vector rectangles into the PDF, and read back.

Drawing: the symbol is built at error-correction level M, in alphanumeric mode for the base32
payload, with the mask the standard's penalty rules prefer. zxing-cpp (C++ with Python
bindings, a wheel on PyPI; libzint inside) builds any symbol in about half a millisecond for a
seal payload; the seal's own symbols (alphanumeric, up to version 9) are built here in a
quarter of that, module for module the symbol zxing-cpp builds (tests compare the two), and
everything else still goes to zxing-cpp. Dark modules are merged into horizontal runs, one
short `re` each in a coordinate system of one module per unit, painted with one fill on a
white box that keeps the copy-evident ground out of the symbol.

Reading: the page is rasterised with PDFium (pypdfium2) and zxing-cpp finds the symbol, as a
phone camera would; nothing in the PDF besides the drawn symbol is trusted.
"""

from __future__ import annotations

import contextlib
import functools
import re
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
    modules = _alphanumeric_symbol(text)
    if modules is None:
        symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
        image = symbol.to_image(scale=1, add_quiet_zones=False)
        modules = np.asarray(image) < 128
    modules.setflags(write=False)
    return modules


# -- the seal's own symbols: alphanumeric, level M, versions 1-9 ----------------------------------
#
# zxing-cpp spends ~0.6 ms on a 224-character seal payload (version 9). `_alphanumeric_symbol`
# builds the very symbol zxing-cpp (through libzint) builds for it: one alphanumeric segment at
# the smallest version, level M, and the mask with the lowest penalty under the same four rules
# and the same tie-break (the lowest mask number). Anything else (other characters, digits that
# a numeric segment would encode shorter, a symbol larger than version 9) returns None and goes
# to zxing-cpp.

_ALPHANUMERIC = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")}
# A numeric segment is shorter only for 7 digits or more at either end of the text (11 inside).
_DIGIT_RUN = re.compile("[0-9]{6}")
# Level M, versions 1-9: error-correction codewords per block, and blocks.
_EC_PER_BLOCK = (10, 16, 26, 18, 24, 16, 18, 22, 22)
_BLOCKS = (1, 1, 1, 2, 2, 4, 4, 4, 5)
_LEVEL_M = 0b00  # the level's format bits
_MAX_VERSION = len(_BLOCKS)  # up to 53 modules: a row and its quiet zone fit 64 bits


def _gf_tables() -> tuple[list[int], list[int]]:
    """Exponentials and logarithms in GF(256) modulo x^8 + x^4 + x^3 + x^2 + 1."""
    exp, log = [0] * 510, [0] * 256
    value = 1
    for i in range(255):
        exp[i] = exp[i + 255] = value
        log[value] = i
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    return exp, log


_EXP, _LOG = _gf_tables()
_GF_PRODUCTS = np.array(
    [[_EXP[_LOG[a] + _LOG[b]] if a and b else 0 for b in range(256)] for a in range(256)],
    dtype=np.uint8,
)


def _gf_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@functools.cache
def _parity_tables(data_len: int, ec_len: int) -> tuple[tuple[int, ...], ...]:
    """For each data position, the Reed-Solomon parity of each byte value there alone, as one
    big-endian integer: parity is linear, so a block's parity is the XOR of its bytes' rows."""
    generator = [1]  # the product of (x - a^i), i < ec_len, highest power first
    for i in range(ec_len):
        nxt = [*generator, 0]
        for j, coefficient in enumerate(generator):
            nxt[j + 1] ^= _gf_mul(coefficient, _EXP[i])
        generator = nxt
    rows = []
    for position in range(data_len):
        remainder = [0] * ec_len
        for byte in [0] * position + [1] + [0] * (data_len - position - 1):
            factor = byte ^ remainder[0]
            remainder = [*remainder[1:], 0]
            for j, coefficient in enumerate(generator[1:]):
                remainder[j] ^= _gf_mul(coefficient, factor)
        by_value = _GF_PRODUCTS[:, remainder]  # row v: v times the unit parity
        rows.append(tuple(int.from_bytes(r.tobytes(), "big") for r in by_value))
    return tuple(rows)


def _bch(value: int, generator: int, degree: int) -> int:
    """`value` followed by its BCH remainder (format and version information)."""
    remainder = value << degree
    top = generator.bit_length() - 1
    for shift in range(remainder.bit_length() - 1, top - 1, -1):
        if remainder >> shift & 1:
            remainder ^= generator << (shift - top)
    return value << degree | remainder


class _Version:
    """What every symbol of one version shares: function patterns, module order, masks."""

    def __init__(self, version: int) -> None:
        size = self.size = 17 + 4 * version
        grid = np.zeros((size, size), dtype=np.uint8)
        function = np.zeros((size, size), dtype=np.bool_)

        def put(row: int, col: int, pattern: npt.NDArray[np.uint8]) -> None:
            h, w = pattern.shape
            grid[row : row + h, col : col + w] = pattern
            function[row : row + h, col : col + w] = True

        finder = np.ones((7, 7), dtype=np.uint8)
        finder[1:6, 1:6] = 0
        finder[2:5, 2:5] = 1
        for row, col in ((0, 0), (0, size - 7), (size - 7, 0)):
            put(row, col, finder)
            # the light separator around it
            r0, c0 = max(row - 1, 0), max(col - 1, 0)
            function[r0 : r0 + 8, c0 : c0 + 8] = True
        timing = (np.arange(8, size - 8) % 2 == 0).astype(np.uint8)
        put(6, 8, timing[None, :])
        put(8, 6, timing[:, None])
        if version > 1:
            count = version // 7 + 2
            step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
            centres = [6] + [size - 7 - i * step for i in reversed(range(count - 1))]
            alignment = np.ones((5, 5), dtype=np.uint8)
            alignment[1:4, 1:4] = 0
            alignment[2, 2] = 1
            corners = {(6, 6), (6, size - 7), (size - 7, 6)}  # where the finders are
            for row in centres:
                for col in centres:
                    if (row, col) not in corners:
                        put(row - 2, col - 2, alignment)
        # Format information is written per mask; its modules are reserved here.
        function[8, :9] = function[:9, 8] = True
        function[8, size - 8 :] = function[size - 8 :, 8] = True
        grid[size - 8, 8] = 1  # the dark module
        if version >= 7:
            bits = _bch(version, 0x1F25, 12)
            for i in range(18):
                a, b = size - 11 + i % 3, i // 3
                grid[b, a] = grid[a, b] = bits >> i & 1
                function[b, a] = function[a, b] = True
        self.grid = grid

        # Data modules in placement order: two-module columns from the right, up then down.
        order: list[int] = []
        right = size - 1
        while right >= 1:
            if right == 6:
                right = 5  # skip the vertical timing pattern
            rows = range(size - 1, -1, -1) if (right + 1) & 2 == 0 else range(size)
            for row in rows:
                for col in (right, right - 1):
                    if not function[row, col]:
                        order.append(row * size + col)
            right -= 2
        self.order = np.array(order, dtype=np.intp)

        codewords = len(order) // 8
        blocks, ec = _BLOCKS[version - 1], _EC_PER_BLOCK[version - 1]
        self.ec = ec
        self.data_codewords = codewords - blocks * ec
        short = codewords // blocks - ec
        longs = codewords % blocks
        self.block_lengths = [short + (b >= blocks - longs) for b in range(blocks)]
        # Data codewords interleaved across blocks, then the parity codewords likewise; as
        # indices into the data followed by every block's parity.
        starts = np.cumsum([0, *self.block_lengths])
        interleaved = [
            int(starts[b]) + i
            for i in range(short + 1)
            for b in range(blocks)
            if i < self.block_lengths[b]
        ]
        parity_at = self.data_codewords
        interleaved += [parity_at + b * ec + i for i in range(ec) for b in range(blocks)]
        self.interleave = interleaved

        r, c = np.indices((size, size))
        patterns = (
            (r + c) % 2 == 0,
            r % 2 == 0,
            c % 3 == 0,
            (r + c) % 3 == 0,
            (r // 2 + c // 3) % 2 == 0,
            (r * c) % 2 + (r * c) % 3 == 0,
            ((r * c) % 2 + (r * c) % 3) % 2 == 0,
            ((r + c) % 2 + (r * c) % 3) % 2 == 0,
        )
        masks = np.stack(patterns) & ~function
        # Each candidate carries its own format information, so the penalty sees it.
        for mask in range(8):
            bits = _bch(_LEVEL_M << 3 | mask, 0x537, 10) ^ 0x5412
            bit = [bool(bits >> k & 1) for k in range(15)]
            fmt = masks[mask]
            for k in range(6):
                fmt[k, 8] = bit[k]
            fmt[7, 8], fmt[8, 8], fmt[8, 7] = bit[6], bit[7], bit[8]
            for k in range(9, 15):
                fmt[8, 14 - k] = bit[k]
            for k in range(8):
                fmt[8, size - 1 - k] = bit[k]
            for k in range(8, 15):
                fmt[size - 15 + k, 8] = bit[k]
        self.masks = masks.astype(np.uint8)
        # Bits of a line's 64-bit word (module j at bit 59 - j): the line, and where a 2x2
        # block can start (all but the last module).
        self.line_bits = np.uint64(((1 << size) - 1) << (60 - size))
        self.pair_bits = np.uint64(((1 << (size - 1)) - 1) << (61 - size))


@functools.cache
def _version(version: int) -> _Version:
    return _Version(version)


def _alphanumeric_symbol(text: str) -> npt.NDArray[np.bool_] | None:
    n = len(text)
    values = [_ALPHANUMERIC.get(c, -1) for c in text]
    if not n or -1 in values or _DIGIT_RUN.search(text) or max(values) < 10:
        return None  # all digits: a numeric segment is shorter
    bits = 4 + 9 + 11 * (n // 2) + 6 * (n % 2)  # mode, count (versions 1-9), characters
    for number in range(1, _MAX_VERSION + 1):
        version = _version(number)
        if bits <= version.data_codewords * 8:
            break
    else:
        return None
    stream = 0b0010 << 9 | n
    for k in range(0, n - 1, 2):
        stream = stream << 11 | values[k] * 45 + values[k + 1]
    if n % 2:
        stream = stream << 6 | values[-1]
    capacity = version.data_codewords * 8
    terminator = min(4, capacity - bits)
    padding = -(bits + terminator) % 8
    stream <<= terminator + padding
    data = stream.to_bytes((bits + terminator + padding) // 8, "big")
    filler = version.data_codewords - len(data)
    data += b"\xec\x11" * (filler // 2) + b"\xec" * (filler % 2)

    parity = []
    at = 0
    for length in version.block_lengths:
        rows = _parity_tables(length, version.ec)
        p = 0
        for row, byte in zip(rows, data[at : at + length], strict=True):
            p ^= row[byte]
        parity.append(p.to_bytes(version.ec, "big"))
        at += length
    codewords = data + b"".join(parity)
    stream_bytes = bytes(map(codewords.__getitem__, version.interleave))

    size = version.size
    grid = version.grid.ravel().copy()
    placed = np.unpackbits(np.frombuffer(stream_bytes, dtype=np.uint8))
    grid[version.order[: placed.size]] = placed
    candidates = grid.reshape(size, size)[None, :, :] ^ version.masks
    best = int(np.argmin(_penalties(candidates, version)))
    symbol: npt.NDArray[np.bool_] = candidates[best].astype(np.bool_)
    return symbol


def _penalties(candidates: npt.NDArray[np.uint8], version: _Version) -> npt.NDArray[np.int64]:
    """The four penalty rules of mask selection for each candidate, on 64-bit line words.

    Each row and each column is one word with module j at bit 59 - j and light bits around,
    so `x << k` holds at each bit the module k further along the line. Rule 3 counts a
    1:1:3:1:1 pattern once when four light modules (or the edge) precede or follow it.
    """
    count, size, _ = candidates.shape
    lines = np.zeros((count, 2 * size, 64), dtype=np.uint8)
    lines[:, :size, 4 : 4 + size] = candidates
    lines[:, size:, 4 : 4 + size] = candidates.transpose(0, 2, 1)
    x = np.packbits(lines, axis=-1).view(">u8")[..., 0].astype(np.uint64)
    ahead = [x] + [x << np.uint64(k) for k in range(1, 11)]  # ahead[k]: the module k further
    light = ~x & version.line_bits

    def popcount(a: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        counts: npt.NDArray[np.int64] = np.bitwise_count(a).sum(axis=-1, dtype=np.int64)
        return counts

    # Rule 1: a run of n >= 5 like modules costs n - 2: its n - 4 windows of five, plus 2.
    one = np.uint64(1)
    middle = ahead[2] & ahead[3] & ahead[4]
    dark5 = x & ahead[1] & middle
    light5 = light & (light << one)
    light5 &= light5 << np.uint64(2)
    light5 &= light << np.uint64(4)
    starts = (dark5 & ~(dark5 >> one)) | (light5 & ~(light5 >> one))
    total = popcount(dark5 | light5) + 2 * popcount(starts)
    # Rule 2: 3 for each 2x2 block of like modules (rows and the row below).
    rows = x[:, :size]
    vertical = ~(rows[:, :-1] ^ rows[:, 1:])
    horizontal = ~(rows[:, :-1] ^ ahead[1][:, : size - 1])
    total += 3 * popcount(vertical & (vertical << one) & horizontal & version.pair_bits)
    # Rule 3: dark light dark dark dark light dark, with four light before or after.
    core = x & ~ahead[1] & middle & ~ahead[5] & ahead[6]
    behind = (x >> one) | (x >> np.uint64(2)) | (x >> np.uint64(3)) | (x >> np.uint64(4))
    after = ahead[7] | ahead[8] | ahead[9] | ahead[10]
    total += 40 * popcount(core & ~(behind & after))
    # Rule 4: 10 for each whole 5 % by which the dark share departs from half.
    dark = popcount(rows)
    cells = size * size
    total += 10 * (np.abs(dark * 20 - cells * 10) // cells)
    return total


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
