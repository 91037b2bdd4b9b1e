"""Certificate PDFs: a `CertificateDocument` laid out as the A4 sheets a kiosk prints.

The sheets follow real kiosk copies (SPEC section 3); each certificate's layout lives in
`server.issuance.layouts`, and what every copy carries (title, issue number with page x/y,
certification, mayor and seal) in `server.issuance.sheet`. Anti-forgery features are
approximated:

- copy-evident ground (複写牽制): fine light-grey dots, with 「複写」 drawn in coarser dots of the
  same average tone. The eye sees an even grey; a copier drops the fine dots and keeps the
  coarse ones, so the word appears on a photocopy;
- micro text (マイクロ文字): the municipality and issue number at 1.5 pt along the frame;
- electronic tally seal (電子契印) on the edge of every sheet, and the issue number with page x/y;
- with a `CopySealer`, a QR code on every sheet carrying the municipality's signature over the
  issue number, kind, date and a digest of every string printed (`server.verify`).

Rendering is deterministic (same document and `created_at` → same bytes) and cheap enough to sit
in the issuance path (see docs/performance.md). Everything that does not depend on the document
is prepared once per renderer: the font is parsed and trimmed, the copy-evident ground is drawn
once with Pillow, and the ground and municipality seal images are decoded and compressed once
(fpdf2 would redo that for every PDF). Per document only the variable work remains: the layout,
and the embedded font program of just the glyphs used.

fpdf2 stays the document model, with three fast paths in `_Pdf` that write exactly what fpdf2
writes (a test compares them with fpdf2's own output): `text` and `get_string_width` in the
renderer's fonts skip fpdf2's per-call fragments and graphics-state copies, and the font
program is written directly (`_Font.program`) instead of a fontTools subset and save per
document: the stored glyph programs, deflated once each and reused by every later document, in
a TrueType file whose glyph i is the glyph of code i (CIDToGIDMap Identity).

The layout (`lay_out`) draws on a `Surface`: fpdf2 here, and the benchmark's ReportLab baseline
draws the very same calls. The PDF metadata holds only the certificate's title and dates, no
personal data.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import io
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import numpy as np
from fontTools import subset as ftsubset  # type: ignore[import-untyped]
from fontTools import ttLib
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable  # type: ignore[import-untyped]
from fontTools.ttLib.tables._g_l_y_f import (  # type: ignore[import-untyped]
    Glyph as TrimmedGlyphBase,
)
from fpdf import FPDF
from fpdf.drawing_primitives import (
    DeviceCMYK,
    DeviceGray,
    DeviceRGB,
    Transform,
    convert_to_device_color,
)
from fpdf.enums import PDFResourceType, TextEmphasis, TextMode
from fpdf.fonts import Glyph, SubsetMap, TTFFont
from fpdf.graphics_state import GraphicsState
from fpdf.image_datastructures import ImageCache, RasterImageInfo
from fpdf.image_parsing import preload_image
from fpdf.output import (
    CIDSystemInfo,
    OutputProducer,
    PDFFont,
    PDFPage,
    PDFType3Font,
    _build_cmap_blocks,
    _tt_font_widths,
    stream_content_for_raster_image,
)
from fpdf.syntax import Name, PDFArray, PDFContentStream, PDFObject, camel_case
from fpdf.util import FloatTolerance, Number, escape_parens
from PIL import Image, ImageDraw, ImageFont

from server.issuance.documents import CertificateDocument
from server.issuance.layouts import LAYOUTS
from server.issuance.sheet import (
    PAGE_H,
    SEAL_QR,
    TILE_PX,
    Artwork,
    Face,
    Sheet,
    Surface,
    artwork,
)
from server.verify.printed import printed_digest
from server.verify.qr import qr_pdf_ops

__all__ = [
    "Artwork",
    "CertificateRenderer",
    "CopySealer",
    "Drawn",
    "Face",
    "RendererConfig",
    "Surface",
    "UnprintableCharacters",
    "lay_out",
]

# The copy-evident tile (`sheet.TILE_PX` at 300 dpi). Both dot screens cover 1/9 of the paper, so
# they look alike to the eye; only the coarse one survives a copier.
_FINE_PITCH, _COARSE_PITCH, _COARSE_DOT = 3, 6, 2
_DOT_GREY = 150
_LATENT_WORD = "複写"

# Tables the certificate never needs: dropping them once makes each per-PDF subset cheaper.
_DROPPED_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG", "DSIG")


class UnprintableCharacters(ValueError):
    """The certificate holds characters the font cannot draw (外字); it must not print tofu."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars = "".join(sorted(set(chars)))
        super().__init__(f"the certificate font has no glyph for: {self.chars!r}")


@dataclass(frozen=True)
class RendererConfig:
    font_path: Path  # a Japanese TrueType font: IPAex明朝 on Debian
    # Optional sans face (IPAexゴシック) for titles and the latent 「複写」; one font is faster.
    gothic_font_path: Path | None = None

    def __post_init__(self) -> None:
        for path in (self.font_path, self.gothic_font_path):
            if path is not None and not Path(path).is_file():
                raise FileNotFoundError(f"font not found: {path}")


class CopySealer(Protocol):
    """Signs a laid-out copy: the QR payload text for the strings printed on each sheet."""

    def seal(self, doc: CertificateDocument, printed: Sequence[Sequence[str]]) -> str: ...


class _Font:
    """A TrueType font parsed once and handed to each PDF as a fresh fpdf2 font.

    fpdf2's `add_font` re-reads the file and rebuilds its character tables for every
    document, and its output subsets the font in place, so one font object cannot serve two
    documents. Here the parsing happens once; each document gets a shallow copy of the parsed
    tables (read-only) with its own glyph-subset state. In a `_Pdf` the font program is then
    written by `program`. In a plain FPDF (the counter's 受付票) the document gets its own
    fontTools font to subset, and `prepare_subset` hands it only what the subsetter will keep
    (the glyphs, advance widths and cmap entries the document uses), so the per-document cost
    no longer grows with the 12,000 glyphs of a Japanese font.
    """

    def __init__(self, path: Path, family: str) -> None:
        self.family = family
        self._data = _trimmed_font(path)
        # fpdf2 wants a path, but fontTools reads any binary stream; the copy is in memory.
        source = cast(Path, io.BytesIO(self._data))
        self._template = TTFFont(FPDF(), source, family, "")
        parsed = self._template.ttfont
        self._glyph_order: list[str] = list(parsed.getGlyphOrder())
        glyf = parsed["glyf"]
        # Stored glyph programs, not decoded: they are copied into the subset as they are,
        # trimmed here once so that the subsetter's per-document trim has nothing to do.
        self._glyph_data: dict[str, bytes] = {}
        for name, glyph in glyf.glyphs.items():
            glyph.trim(extended=glyf.extended)
            self._glyph_data[name] = getattr(glyph, "data", b"")
        self._components: dict[str, tuple[str, ...]] = {
            name: tuple(glyph.getComponentNames(glyf))
            for name, glyph in glyf.glyphs.items()
            if glyph.isComposite()
        }
        self._metrics: dict[str, tuple[int, int]] = dict(parsed["hmtx"].metrics)
        self._index = {name: i for i, name in enumerate(self._glyph_order)}
        # .notdef, .null, CR, space: the subsetter always keeps the first four glyphs.
        self._always = frozenset(self._glyph_order[:4])
        self._tables = _static_tables(self._data)
        # char → fpdf2's Glyph; at most one per glyph of the font (no entry for a char it lacks)
        self._glyphs: dict[str, Glyph] = {}
        # Glyph programs deflated at their first use, for every later document.
        self._packed: dict[str, _Deflated] = {}

    def program(self, coded: dict[int, tuple[str, tuple[int, ...]]]) -> tuple[bytes, int]:
        """The embedded font program of one document, written directly (no fontTools):
        the zlib stream of the font file, and the font file's length.

        `coded` maps each character code of the document (fpdf2's subset numbering) to the
        glyph's name and the characters it stands for. Glyph i of the program is the glyph of
        code i, so the PDF needs no CIDToGIDMap (Identity); codes no glyph uses get an empty
        glyph. The glyph programs are the font's own stored bytes, each deflated once for all
        documents (`_deflated`); composite glyphs (IPAex has none) bring their parts after the
        coded glyphs, with the parts' indices renumbered.
        """
        names: list[str | None] = [None] * (max(coded) + 1)
        for code, (glyph_name, _) in coded.items():
            names[code] = glyph_name
        index = {name: i for i, name in enumerate(names) if name is not None}
        if self._components:
            pending = [n for n in names if n is not None and n in self._components]
            while pending:
                for part in self._components.get(pending.pop(), ()):
                    if part not in index:
                        index[part] = len(names)
                        names.append(part)
                        pending.append(part)
        count = len(names)

        glyphs: list[_Deflated] = []
        offsets = [0]
        end = 0
        metrics: list[int] = []
        order = self._glyph_order
        packed = self._packed
        for name in names:
            if name is None:
                metrics += (0, 0)
            else:
                if name in self._components:
                    data = _renumber_components(self._glyph_data[name], lambda g: index[order[g]])
                    piece = _deflated(data)
                else:
                    piece = packed.get(name) or packed.setdefault(
                        name, _deflated(self._glyph_data[name])
                    )
                glyphs.append(piece)
                end += len(piece.raw)
                metrics += self._metrics[name]
            offsets.append(end)

        chars = sorted((u, code) for code, (_, unicodes) in coded.items() for u in unicodes if u)
        tables = dict(self._tables)
        head = bytearray(tables["head"])
        struct.pack_into(">I", head, 8, 0)  # checkSumAdjustment: `_sfnt` sets it
        struct.pack_into(">h", head, 50, 1)  # long loca offsets
        tables["head"] = bytes(head)
        hhea = bytearray(tables["hhea"])
        struct.pack_into(">H", hhea, 34, count)  # every glyph has its full metrics
        tables["hhea"] = bytes(hhea)
        maxp = bytearray(tables["maxp"])
        struct.pack_into(">H", maxp, 4, count)
        tables["maxp"] = bytes(maxp)
        os2 = bytearray(tables["OS/2"])
        bmp = [u for u, _ in chars if u <= 0xFFFF] or [0]
        struct.pack_into(">HH", os2, 64, min(bmp), max(bmp))
        tables["OS/2"] = bytes(os2)
        tables["loca"] = struct.pack(f">{count + 1}I", *offsets)
        tables["hmtx"] = struct.pack(">" + "Hh" * count, *metrics)
        tables["cmap"] = _cmap_table(chars)
        return _sfnt(tables, glyphs)

    def code(self, font: TTFFont, ch: str) -> int | None:
        """`ch`'s subset code in the document of `font` (fpdf2's `encode_text` writes it as two
        escaped bytes), None if the font has no glyph for it.

        The same as `font.subset.pick`, but the glyph is looked up once per renderer, not
        once per document through fpdf2's cache.
        """
        glyph = self._glyphs.get(ch)
        if glyph is None:
            glyph = _uncached_glyph(font.subset, unicode=ord(ch))
            if glyph is not None:
                self._glyphs[ch] = glyph
        code = font.subset.pick_glyph(glyph)
        # The layout refuses a document with a character the font lacks.
        if code is None and ord(ch) not in font.missing_glyphs:
            font.missing_glyphs.append(ord(ch))
        return code

    def has_glyph(self, ch: str) -> bool:
        return ord(ch) in self._template.cmap

    def install(self, pdf: FPDF) -> None:
        font = copy.copy(self._template)
        font.i = len(pdf.fonts) + 1
        font.desc = copy.copy(self._template.desc)  # the output numbers and fills it in
        if isinstance(pdf, _Pdf):
            # `_Pdf` writes the font program itself (`program`): no fontTools font to subset.
            pdf.faces[self.family] = self
        else:
            # No bounding-box recalculation: glyphs are copied as stored, not re-encoded.
            tt = ttLib.TTFont(
                io.BytesIO(self._data), lazy=True, recalcTimestamp=False, recalcBBoxes=False
            )
            tt.setGlyphOrder(list(self._glyph_order))
            font.ttfont = tt
        font.subset = SubsetMap(font)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        pdf.fonts[self.family] = font

    def prepare_subset(self, pdf: FPDF, chars: Iterable[str]) -> None:
        """Load the document's font with just the glyphs and characters it uses."""
        font = pdf.fonts[self.family]
        assert isinstance(font, TTFFont)
        tt = font.ttfont
        names = set(font.subset.get_all_glyph_names()) | self._always
        pending = list(names)
        while pending:  # composite glyphs pull in their components
            for part in self._components.get(pending.pop(), ()):
                if part not in names:
                    names.add(part)
                    pending.append(part)

        # Only the kept glyphs, in the font's own order: the subsetter then walks ~150 glyphs,
        # not 12,000, and keeps them all. Stored composite glyphs name their parts by glyph
        # index, so a font that has any (IPAex has none) keeps its full numbering.
        if self._components:
            order = list(self._glyph_order)
        else:
            order = sorted(names, key=self._index.__getitem__)
        tt.setGlyphOrder(order)
        glyf = ttLib.newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = {name: _TrimmedGlyph(self._glyph_data[name]) for name in names}
        glyf._reverseGlyphOrder = {}
        tt["glyf"] = glyf
        hmtx = ttLib.newTable("hmtx")
        hmtx.metrics = {name: self._metrics[name] for name in names}
        tt["hmtx"] = hmtx

        cmap = self._template.cmap
        mapping = {ord(c): cmap[ord(c)] for c in set(chars) if ord(c) in cmap}
        table = ttLib.newTable("cmap")
        table.tableVersion = 0
        table.tables = []
        for fmt, encoding, entries in (
            (4, 1, {u: g for u, g in mapping.items() if u <= 0xFFFF}),  # BMP, for old readers
            (12, 10, mapping),
        ):
            sub = CmapSubtable.newSubtable(fmt)
            sub.platformID, sub.platEncID, sub.language, sub.cmap = 3, encoding, 0, entries
            table.tables.append(sub)
        tt["cmap"] = table


@functools.lru_cache(maxsize=64)
def _device_color(r: int, g: int, b: int) -> DeviceGray | DeviceRGB | DeviceCMYK:
    return convert_to_device_color(r, g, b)


@functools.lru_cache(maxsize=64)
def _color_operator(color: DeviceGray | DeviceRGB | DeviceCMYK) -> str:
    return color.serialize().lower()


# A string this long is drawn through numpy (`_Pdf._encode`): the micro text along the frame.
_LONG_TEXT = 200

_uncached_glyph = SubsetMap.get_glyph.__wrapped__  # fpdf2 caches it per document


@functools.lru_cache(maxsize=4096)
def _escaped_code(code: int) -> str:
    return escape_parens(chr(code).encode("utf-16-be").decode("latin-1"))


class _TrimmedGlyph(TrimmedGlyphBase):  # type: ignore[misc]
    """A stored glyph program already trimmed when the font was loaded (`_Font.__init__`)."""

    def trim(self, remove_hinting: bool = False, *, extended: bool = False) -> None:
        if remove_hinting:  # fpdf2 keeps hinting; should that change, do the real work
            super().trim(remove_hinting=True, extended=extended)


# The tables of the embedded program that do not depend on the glyphs used.
_STATIC_TABLES = ("head", "hhea", "maxp", "name", "post", "cvt ", "fpgm", "prep", "gasp")


def _static_tables(data: bytes) -> dict[str, bytes]:
    """What fpdf2's fontTools subset keeps of the glyph-independent tables, computed once.

    The font is subset once to .notdef exactly as fpdf2 subsets it for every document; its
    header, name and hinting tables are then reused as bytes. OS/2 is the font's own (the
    subset would clear its Unicode ranges to those of .notdef); `program` sets its first and
    last character.
    """
    tt = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
    options.drop_tables += ["FFTM", "hdmx", "meta", "sbix", "SVG ", "CPAL", "COLR"]  # as fpdf2
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(glyphs=[".notdef"])
    subsetter.subset(tt)
    out = io.BytesIO()
    tt.save(out)
    subset = ttLib.TTFont(io.BytesIO(out.getvalue()), lazy=True)
    tables = {tag: bytes(subset.reader[tag]) for tag in _STATIC_TABLES if tag in subset.reader}
    tables["OS/2"] = bytes(ttLib.TTFont(io.BytesIO(data), lazy=True).reader["OS/2"])
    return tables


# Composite glyph component flags (OpenType glyf table).
_ARGS_ARE_WORDS, _HAVE_SCALE, _MORE_COMPONENTS, _HAVE_XY_SCALE, _HAVE_2X2 = (
    0x0001,
    0x0008,
    0x0020,
    0x0040,
    0x0080,
)


def _renumber_components(data: bytes, new_index: Callable[[int], int]) -> bytes:
    """A stored composite glyph with each component's glyph index renumbered."""
    out = bytearray(data)
    pos = 10  # after numberOfContours and the bounding box
    while True:
        flags, glyph = struct.unpack_from(">HH", out, pos)
        struct.pack_into(">H", out, pos + 2, new_index(glyph))
        pos += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
        if flags & _HAVE_SCALE:
            pos += 2
        elif flags & _HAVE_XY_SCALE:
            pos += 4
        elif flags & _HAVE_2X2:
            pos += 8
        if not flags & _MORE_COMPONENTS:
            return bytes(out)


def _cmap_table(chars: Sequence[tuple[int, int]]) -> bytes:
    """cmap with a Windows BMP (format 4) and a full-repertoire (format 12) subtable.

    `chars` are (code point, glyph index) sorted by code point; one segment or group each.
    """
    bmp = [(u, g) for u, g in chars if u <= 0xFFFF and u != 0xFFFF]
    segments = len(bmp) + 1  # the closing 0xFFFF segment
    log2 = segments.bit_length() - 1
    search = 2 << log2
    fmt4 = b"".join(
        (
            struct.pack(
                ">7H", 4, 16 + 8 * segments, 0, 2 * segments, search, log2, 2 * segments - search
            ),
            struct.pack(f">{segments}H", *(u for u, _ in bmp), 0xFFFF),
            b"\0\0",
            struct.pack(f">{segments}H", *(u for u, _ in bmp), 0xFFFF),
            struct.pack(f">{segments}H", *((g - u) & 0xFFFF for u, g in bmp), 1),
            b"\0\0" * segments,
        )
    )
    groups = b"".join(struct.pack(">3I", u, u, g) for u, g in chars)
    fmt12 = struct.pack(">HHIII", 12, 0, 16 + len(groups), 0, len(chars)) + groups
    header = struct.pack(">HH", 0, 2)
    records = struct.pack(">HHI", 3, 1, 20) + struct.pack(">HHI", 3, 10, 20 + len(fmt4))
    return header + records + fmt4 + fmt12


def _checksum(data: bytes) -> int:
    """The TrueType checksum: the sum of the big-endian 32-bit words, zero-padded."""
    padded = data + b"\0" * (-len(data) % 4)
    if len(padded) < 1024:  # numpy's set-up costs more than it saves on a small table
        words: tuple[int, ...] = struct.unpack(f">{len(padded) // 4}I", padded)
        return sum(words) & 0xFFFFFFFF
    return int(np.frombuffer(padded, dtype=">u4").sum(dtype=np.uint64)) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class _Deflated:
    """Bytes padded to 4, as raw deflate blocks ending in a full flush, and their checksum.

    Full-flushed blocks start afresh, so such pieces can follow each other in one zlib stream:
    the glyph table of a document is the concatenation of its glyphs' pieces, deflated once.
    """

    raw: bytes
    packed: bytes
    checksum: int


def _deflated(data: bytes) -> _Deflated:
    raw = data + b"\0" * (-len(data) % 4)
    deflate = zlib.compressobj(wbits=-15)
    return _Deflated(raw, deflate.compress(raw) + deflate.flush(zlib.Z_FULL_FLUSH), _checksum(raw))


def _sfnt(tables: dict[str, bytes], glyf: Sequence[_Deflated]) -> tuple[bytes, int]:
    """A TrueType font file of `tables` and the glyph table `glyf` (tags sorted, 4-byte
    aligned, checksums set) as a zlib stream, and the file's length.

    Only the tables besides the glyphs are deflated here; the glyphs' pieces are already.
    """
    sizes = {tag: len(data) for tag, data in tables.items()}
    sums = {tag: _checksum(data) for tag, data in tables.items()}
    sizes["glyf"] = sum(len(piece.raw) for piece in glyf)
    sums["glyf"] = sum(piece.checksum for piece in glyf) & 0xFFFFFFFF
    tags = sorted(sizes)
    count = len(tags)
    log2 = count.bit_length() - 1
    search = 16 << log2
    entries = [struct.pack(">IHHHH", 0x00010000, count, search, log2, 16 * count - search)]
    offset = 12 + 16 * count
    for tag in tags:
        entries.append(struct.pack(">4sIII", tag.encode("latin-1"), sums[tag], offset, sizes[tag]))
        offset += sizes[tag] + (-sizes[tag] % 4)
    directory = b"".join(entries)
    # The whole file's checksum is the directory's plus the tables' (all 4-byte aligned).
    total = (_checksum(directory) + sum(sums.values())) & 0xFFFFFFFF
    head = bytearray(tables["head"])
    struct.pack_into(">I", head, 8, (0xB1B0AFBA - total) & 0xFFFFFFFF)
    tables = {**tables, "head": bytes(head)}

    def padded(tag: str) -> bytes:
        return tables[tag] + b"\0" * (-sizes[tag] % 4)

    split = tags.index("glyf")
    before = directory + b"".join(padded(tag) for tag in tags[:split])
    after = b"".join(padded(tag) for tag in tags[split + 1 :])
    # Stored, not compressed: these ~4 KB change with every document, and deflating them cost
    # ~0.1 ms (most of it zlib's fresh 256 KB of state per stream) to save ~2 KB of a ~60 KB
    # copy. The glyphs' pieces, deflated once for all documents, stay compressed.
    deflate = zlib.compressobj(0, zlib.DEFLATED, -15)
    head_part = deflate.compress(before) + deflate.flush(zlib.Z_FULL_FLUSH)  # resets history
    tail_part = deflate.compress(after) + deflate.flush()
    adler = zlib.adler32(
        after, zlib.adler32(b"".join(piece.raw for piece in glyf), zlib.adler32(before))
    )
    stream = b"".join(
        (
            b"\x78\x9c",  # zlib header: deflate, 32 KiB window
            head_part,
            *(piece.packed for piece in glyf),
            tail_part,
            struct.pack(">I", adler),
        )
    )
    return stream, offset


class _FontFile(PDFContentStream):
    """fpdf2's `PDFFontStream` for a font file deflated already (`_sfnt`)."""

    def __init__(self, stream: bytes, length: int) -> None:
        super().__init__(contents=stream)
        self.filter = Name("FlateDecode")
        self.length1 = length


def _trimmed_font(path: Path) -> bytes:
    """The font without layout and vertical tables, glyph names, and all but one cmap."""
    tt = ttLib.TTFont(str(path), lazy=True, recalcTimestamp=False)
    for tag in _DROPPED_TABLES:
        if tag in tt:
            del tt[tag]
    cmap = tt["cmap"]
    # Windows full-repertoire (3,10) covers names outside the BMP such as 𠮷; else BMP (3,1).
    for key in ((3, 10), (3, 1)):
        best = [t for t in cmap.tables if (t.platformID, t.platEncID) == key]
        if best:
            cmap.tables = best
            break
    # No glyph names: each document takes the glyph order from the parsed template instead
    # of decoding 12,000 names again.
    tt["post"].formatType = 3.0
    out = io.BytesIO()
    tt.save(out)
    return out.getvalue()


def _ground_tile(font_path: Path) -> bytes:
    """One tile of the copy-evident ground as a greyscale PNG."""
    w, h = TILE_PX

    def screen(pitch: int, dot: int) -> Image.Image:
        on = bytes(_DOT_GREY if x % pitch < dot else 255 for x in range(w))
        off = bytes([255]) * w
        rows = (on if y % pitch < dot else off for y in range(h))
        return Image.frombytes("L", (w, h), b"".join(rows))

    fine, coarse = screen(_FINE_PITCH, 1), screen(_COARSE_PITCH, _COARSE_DOT)
    mask = Image.new("L", (w, h), 0)
    font = ImageFont.truetype(str(font_path), int(h * 0.42))
    ImageDraw.Draw(mask).text((w / 2, h / 2), _LATENT_WORD, font=font, fill=255, anchor="mm")
    # A slant like real paper's; hard edges so that no dot is half fine and half coarse.
    mask = mask.rotate(12, resample=Image.Resampling.BICUBIC).point(lambda v: 255 * (v >= 128))
    tile = Image.composite(coarse, fine, mask)
    out = io.BytesIO()
    tile.save(out, format="PNG")
    return out.getvalue()


class _PreparedImage:
    """An image decoded and compressed once (fpdf2 would redo both for every PDF), and its PDF
    objects (the image, its soft mask if it has one) serialized once as fpdf2 serializes them,
    in `parts` around the numbers that differ per document (`_StoredObject`)."""

    def __init__(self, art: Artwork) -> None:
        _, _, info = preload_image(ImageCache(), art.data)
        assert isinstance(info, RasterImageInfo)
        self.info = info
        self.parts: tuple[tuple[bytes, ...], ...] | None = None
        if info.get("iccp_i") is None and info["cs"] != "Indexed":  # no further objects
            self.parts = _serialized_once(info)


def _serialized_once(info: RasterImageInfo) -> tuple[tuple[bytes, ...], ...]:
    """fpdf2's objects for the image (numbered 1, and 2 for a soft mask) as they serialize,
    without their `N 0 obj` line; the image's reference to its mask splits its bytes."""
    producer = OutputProducer(FPDF())
    producer._add_image(RasterImageInfo(info))
    out: list[tuple[bytes, ...]] = []
    for obj in producer.pdf_objs:
        assert isinstance(obj, PDFObject)
        text = obj.serialize().encode("latin-1")
        head = b"%d 0 obj\n" % obj.id
        assert text.startswith(head)
        body = text[len(head) :]
        dictionary = body[: body.index(b">>\nstream\n")]
        if b"/SMask 2 0 R" in dictionary:
            head, tail = body.split(b"/SMask 2 0 R", 1)
            out.append((head + b"/SMask ", tail))
        else:
            out.append((body,))
    return tuple(out)


class _StoredObject(PDFObject):
    """An object serialized once: its bytes, with the numbers of `refs` between the parts."""

    def __init__(self, parts: tuple[bytes, ...], refs: Sequence[PDFObject] = ()) -> None:
        super().__init__()
        assert len(parts) == len(refs) + 1
        self._parts = parts
        self._refs = refs

    def serialize(  # type: ignore[override]  # bytes: fpdf2's output takes them as they are
        self, obj_dict: dict[str, object] | None = None, _security_handler: object = None
    ) -> bytes:
        assert obj_dict is None and _security_handler is None  # no encryption here
        out = [b"%d 0 obj\n" % self.id, self._parts[0]]
        for ref, part in zip(self._refs, self._parts[1:], strict=True):
            out += (b"%d 0 R" % ref.id, part)
        return b"".join(out)


class _Pdf(FPDF):
    """fpdf2 with the prepared images registered up front and fast paths for the sheet.

    The fast paths write the very bytes fpdf2 writes, without its per-call machinery (bidi
    and style fragments, graphics-state copies) that a plain `text` in a prepared font never
    needs: `text` and `get_string_width` in the renderer's fonts, and the font programs at
    output (`_Output`). Anything else (underline, shaping, spacing, other fonts) goes through
    fpdf2 as before.
    """

    def __init__(self, images: Sequence[tuple[Artwork, _PreparedImage]]) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.faces: dict[str, _Font] = {}  # the prepared fonts installed, by fpdf2 font key
        self.identity: bytes | None = None  # what the trailer's /ID is derived from (`file_id`)
        self._encoded: dict[int, dict[int, str]] = {}  # per font: code point → Tj bytes
        self._codes: dict[int, dict[int, int | None]] = {}  # per font: code point → code
        self._known: dict[int, set[str]] = {}  # per font: the characters `_codes` has
        self._shown: dict[int, dict[str, str]] = {}  # per font: text → its Tj operator
        self._prepared: dict[str, RasterImageInfo] = {}
        # By fpdf2's image number: the objects serialized once (`_Output._add_image`).
        self.stored_images: dict[int, tuple[tuple[bytes, ...], ...]] = {}
        for art, prepared in images:  # registered in a fixed order: deterministic /I names
            info = RasterImageInfo(prepared.info)  # per document: fpdf2 counts usages in it
            info["i"] = len(self.image_cache.images) + 1
            info["usages"] = 0
            self.image_cache.images[art.key] = info
            self._prepared[art.key] = info
            if prepared.parts is not None:
                self.stored_images[cast(int, info["i"])] = prepared.parts

    def file_id(self) -> str | Literal[-1] | None:
        """The trailer's /ID from `identity`, which the renderer sets to a digest it has at hand,
        instead of fpdf2's MD5 over the whole output (~0.1 ms for a one-page copy)."""
        if self.identity is None:
            return super().file_id()
        digest = hashlib.sha256(self.identity)
        if self.creation_date:
            digest.update(self.creation_date.strftime("%Y%m%d%H%M%S").encode("ascii"))
        hex_id = digest.hexdigest()[:32].upper()
        return f"<{hex_id}><{hex_id}>"

    def artwork(
        self, art: Artwork, x: float, y: float, w: float, h: float, *, fit: bool = False
    ) -> None:
        if art.key in self._prepared:
            # A str name is fpdf2's own key into its image cache: no re-reading, no re-hashing.
            self.image(art.key, x=x, y=y, w=w, h=h, keep_aspect_ratio=fit)
        else:
            self.image(io.BytesIO(art.data), x=x, y=y, w=w, h=h, keep_aspect_ratio=fit)

    def _state(self) -> GraphicsState:
        """fpdf2's current graphics state: its fields are what fpdf2's properties read, one
        Python call each; the fast paths read several per string."""
        return self._GraphicsStateMixin__statestack[-1]  # type: ignore[attr-defined,no-any-return]

    def _plain(self, gs: GraphicsState) -> TTFFont | None:
        """The current font if it is a prepared one and the text state needs no fpdf2 extras."""
        font = gs.current_font
        if (
            isinstance(font, TTFFont)
            and font.fontkey in self.faces
            and not gs.text_shaping
            and not self._fallback_font_ids
            and gs.font_stretching == 100
            and gs.char_spacing == 0
        ):
            return font
        return None

    def set_font(
        self, family: str | None = None, style: str | TextEmphasis = "", size: float = 0
    ) -> None:
        # fpdf2 returns early too when nothing changes; this skips its normalising first.
        gs = self._state()
        font = gs.current_font
        if (
            family == gs.font_family
            and not style
            and not gs.font_style
            and not gs.underline
            and not gs.strikethrough
            and size
            and font is not None
            and font.fontkey == family
        ):
            if not FloatTolerance.equal(gs.font_size_pt, size):
                gs.font_size_pt = size  # what fpdf2 changes for a new size of the same font
                gs.current_font_is_set_on_page = False
            return
        super().set_font(family, style, size)

    def get_string_width(self, s: str, normalized: bool = False, markdown: bool = False) -> float:
        gs = self._state()
        font = self._plain(gs)
        alias = self.str_alias_nb_pages
        if font is None or markdown or (alias and alias in s):
            return super().get_string_width(s, normalized, markdown)
        # fpdf2's sum over one fragment: the same integer sum, scaled in the same order.
        size = gs.font_size_pt
        if size > font.biggest_size_pt:
            font.biggest_size_pt = size
        cw = font.cw
        return sum([cw[ord(c)] for c in s]) * size * 0.001 / self.k

    def text(self, x: float, y: float, text: str = "") -> None:
        gs = self._state()
        font = self._plain(gs)
        if (
            font is None
            or not self.page
            or gs.underline
            or gs.strikethrough
            or self._record_text_quad_points
        ):
            super().text(x, y, text)
            return
        # The operators of fpdf2's `text`, byte for byte (one `_out` of two lines, not two).
        set_font = ""
        if not gs.current_font_is_set_on_page:
            set_font = self._set_font_for_page(font, gs.font_size_pt) + "\n"
        shown_before = self._shown.get(font.i)
        if shown_before is None:
            shown_before = self._shown[font.i] = {}
        shown = shown_before.get(text)
        if shown is None:  # labels, 省略 and the micro text come back within a copy
            shown = shown_before[text] = f"({self._encode(font, text)}) Tj ET"
        k = self.k
        if gs.text_mode == TextMode.FILL:
            line = f"BT {x * k:.2f} {(self.h - y) * k:.2f} Td {shown}"
        else:
            mode = f" {gs.text_mode} Tr {gs.line_width:.2f} w"
            line = f"BT {x * k:.2f} {(self.h - y) * k:.2f} Td {mode} {shown}"
        color = gs.text_color
        if color is not gs.fill_color and color != gs.fill_color:
            assert color is not None
            line = f"q {_color_operator(color)} {line} Q"
        self._out(set_font + line)

    def _encode(self, font: TTFFont, text: str) -> str:
        """`text` as fpdf2's `encode_text` writes it in `font`: each character's subset code as
        two bytes, escaped; characters new to the document get the next codes, in the order of
        their first use (fpdf2 numbers them that way)."""
        encoded = self._encoded.get(font.i)
        if encoded is None:
            encoded = self._encoded[font.i] = {}
            self._codes[font.i] = {}
            self._known[font.i] = set()
        known = self._known[font.i]
        if len(text) < _LONG_TEXT:
            if not known.issuperset(text):
                self._number(font, dict.fromkeys(text))
            return text.translate(encoded)
        # The micro text (~600-900 characters of some 20 distinct ones): its characters taken
        # by numpy rather than one Python step per character, four times over.
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        distinct = np.unique(points)
        chars = [chr(u) for u in distinct.tolist()]
        if not known.issuperset(chars):  # the first line of a copy: numbered by first use
            first = (points == distinct[:, None]).argmax(axis=1)
            self._number(font, [chars[i] for i in np.argsort(first).tolist()])
        codes = self._codes[font.i]
        code_of = [codes[ord(ch)] for ch in chars]
        if None in code_of:  # the layout refuses the document; keep fpdf2's empty string
            return text.translate(encoded)
        raw = np.array(code_of, dtype=">u2")[np.searchsorted(distinct, points)].tobytes()
        return escape_parens(raw).decode("latin-1")

    def _number(self, font: TTFFont, chars: Iterable[str]) -> None:
        """Subset codes for the characters of `chars` new to the document, in that order."""
        codes, encoded, known = self._codes[font.i], self._encoded[font.i], self._known[font.i]
        face = self.faces[font.fontkey]
        for ch in chars:
            if ch not in known:
                code = codes[ord(ch)] = face.code(font, ch)
                encoded[ord(ch)] = "" if code is None else _escaped_code(code)
                known.add(ch)

    def set_text_color(self, r: Any, g: Number = -1, b: Number = -1) -> None:
        if isinstance(r, int) and isinstance(g, int) and isinstance(b, int):
            # fpdf2's colours are frozen: one per value serves every document (and is already
            # what fpdf2's setter would convert it to)
            self._state().text_color = _device_color(r, g, b)
        else:
            super().set_text_color(r, g, b)

    @contextlib.contextmanager
    def rotation(
        self, angle: float, x: float | None = None, y: float | None = None
    ) -> Iterator[None]:
        """fpdf2's `rotation` (a local graphics state around the rotation's `cm`), with the `cm`
        worked out once per angle and centre: the micro text turns the same way on every sheet,
        and fpdf2 multiplies and inverts its matrices for each."""
        if x is None or y is None or not self.page or self._in_unbreakable:
            with super().rotation(angle, x, y):
                yield
            return
        # What fpdf2's `transform` in its `local_context()` writes, in the same order.
        self._push_local_stack()
        self._out("q")
        self._out(_rotation_cm(angle, x, y, self.k, self.h_pt))
        yield
        self._out("Q")
        self._pop_local_stack()

    def tiles(self, art: Artwork, placements: Sequence[tuple[float, float, float, float]]) -> None:
        info = self._prepared[art.key]
        index = cast(int, info["i"])
        self._out(_tile_ops(index, tuple(placements), self.k, self.h))
        self._resource_catalog.add(PDFResourceType.X_OBJECT, index, self.page)
        info["usages"] = cast(int, info["usages"]) + len(placements)


class _PageContents(PDFContentStream):
    """A page's content stream deflated at zlib's fastest level rather than fpdf2's default (6):
    a third of the CPU (0.11 against 0.35 ms for a copy's 26 KB of operators, most of them the
    seal's QR runs and the ground's tiles) for a stream ~0.9 KB larger."""

    _COMPRESSION_LEVEL = 1


class _Output(OutputProducer):
    """fpdf2's output, with the prepared fonts' programs written by `_Font.program`.

    The PDF objects are those fpdf2 makes for a TrueType font (Type0, CIDFontType2 with its
    widths, ToUnicode, descriptor, font file), but the CIDToGIDMap is Identity: the program's
    glyph i is the glyph of code i. Page contents are deflated faster (`_PageContents`).
    """

    def _add_pdf_obj(self, pdf_obj: PDFObject, trace_label: str | None = None) -> int:
        if type(pdf_obj)._build_obj_dict is _FPDF_OBJ_DICT and hasattr(pdf_obj, "__dict__"):
            # The same dictionary fpdf2 builds, from the object's public names only.
            pdf_obj._build_obj_dict = functools.partial(_obj_dict, pdf_obj)  # type: ignore[method-assign]
        return super()._add_pdf_obj(pdf_obj, trace_label)

    def _add_pages(self, _slice: slice = slice(0, None)) -> list[PDFPage]:
        pdf = self.fpdf
        if not pdf.compress:
            return super()._add_pages(_slice)
        pdf.compress = False  # fpdf2 then stores the operators as they are ...
        try:
            pages = super()._add_pages(_slice)
        finally:
            pdf.compress = True
        # ... and each page's stream takes the place and number of fpdf2's.
        at = {id(obj): i for i, obj in enumerate(self.pdf_objs)}
        for page in pages:
            plain = page.contents
            assert isinstance(plain, PDFContentStream)
            deflated = _PageContents(plain.content_stream(), compress=True)
            deflated.id = plain.id
            self.pdf_objs[at[id(plain)]] = deflated
            page.contents = deflated
        return pages

    def _add_image(self, info: dict[str, object]) -> Any:
        pdf = self.fpdf
        assert isinstance(pdf, _Pdf)
        index = info.get("i")
        parts = pdf.stored_images.get(index) if isinstance(index, int) else None
        if parts is None or not pdf.allow_images_transparency:
            return super()._add_image(info)
        # The same objects, numbers and bytes as fpdf2's, without building and serializing
        # them again: the image, then its soft mask.
        image_parts, *mask = parts
        refs = [_StoredObject(mask_parts) for mask_parts in mask]
        image = _StoredObject(image_parts, refs)
        info["obj_id"] = self._add_pdf_obj(image, "images")
        for ref in refs:
            self._add_pdf_obj(ref, "images")
        return image

    def _add_fonts(
        self,
        image_objects_per_index: dict[int, Any],
        gfxstate_objs_per_name: dict[str, Any],
        pattern_objs_per_name: dict[str, Any],
    ) -> dict[int, PDFFont | PDFType3Font]:
        pdf = self.fpdf
        assert isinstance(pdf, _Pdf)
        fonts = sorted(pdf.fonts.values(), key=lambda font: font.i)
        if pdf._compliance or not all(
            isinstance(f, TTFFont) and f.fontkey in pdf.faces for f in fonts
        ):
            return super()._add_fonts(
                image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name
            )
        objs: dict[int, PDFFont | PDFType3Font] = {}
        for font in fonts:
            assert isinstance(font, TTFFont)
            fontname = f"MPDFAA+{font.name}"
            subset = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
            coded = {
                code: (glyph.glyph_name, _code_points(glyph.unicode)) for glyph, code in subset
            }
            program, program_length = pdf.faces[font.fontkey].program(coded)

            composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
            self._add_pdf_obj(composite, "fonts")
            objs[font.i] = composite
            cid_font = PDFFont(
                subtype="CIDFontType2",
                base_font=fontname,
                d_w=font.desc.missing_width,
                w=_tt_font_widths(font),
            )
            self._add_pdf_obj(cid_font, "fonts")
            composite.descendant_fonts = PDFArray([cid_font])

            bf_char = [
                _bf_char(code, glyph.unicode)
                for glyph, code in subset
                if isinstance(glyph.unicode, tuple) and glyph.unicode
            ]
            to_unicode = PDFContentStream(
                (
                    "/CIDInit /ProcSet findresource begin\n"
                    "12 dict begin\n"
                    "begincmap\n"
                    "/CIDSystemInfo\n"
                    "<</Registry (Adobe)\n"
                    "/Ordering (UCS)\n"
                    "/Supplement 0\n"
                    ">> def\n"
                    "/CMapName /Adobe-Identity-UCS def\n"
                    "/CMapType 2 def\n"
                    "1 begincodespacerange\n"
                    "<0000> <FFFF>\n"
                    "endcodespacerange\n"
                    f"{_build_cmap_blocks(bf_char, 'bfchar')}"
                    "endcmap\n"
                    "CMapName currentdict /CMap defineresource pop\n"
                    "end\n"
                    "end"
                ).encode("latin-1")
            )
            self._add_pdf_obj(to_unicode, "fonts")
            composite.to_unicode = to_unicode

            system_info = CIDSystemInfo()
            self._add_pdf_obj(system_info, "fonts")
            cid_font.c_i_d_system_info = system_info
            descriptor = font.desc
            descriptor.font_name = Name(fontname)
            self._add_pdf_obj(descriptor, "fonts")
            cid_font.font_descriptor = descriptor
            cid_font.c_i_d_to_g_i_d_map = cast(PDFContentStream, Name("Identity"))
            font_file = _FontFile(program, program_length)
            self._add_pdf_obj(font_file, "fonts")
            descriptor.font_file2 = font_file  # type: ignore[attr-defined]
            font.subset.pick.cache_clear()  # as fpdf2 does: its caches hold the document
            font.subset.get_glyph.cache_clear()
        return objs


_FPDF_OBJ_DICT = PDFObject._build_obj_dict
# Per class and set of instance names: the names to read, with their PDF keys, in order.
_DICT_KEYS: dict[tuple[type, tuple[str, ...]], tuple[tuple[str, str], ...]] = {}


def _obj_dict(obj: PDFObject, security_handler: Any = None) -> dict[str, object]:
    """What fpdf2's `PDFObject._build_obj_dict` returns, for a fraction of its CPU: fpdf2 reads
    every name of `dir(obj)` (~80, most of them dunders it then drops) and camel-cases each
    name it keeps for every object; `dir` is the class's names and the instance's, only the
    public ones can end up in the dictionary, and their keys are worked out once. The values
    go through fpdf2's `build_obj_dict` steps (`_pdf_value`)."""
    cls = type(obj)
    own = tuple(name for name in vars(obj) if not name.startswith("_"))
    keys = _DICT_KEYS.get((cls, own))
    if keys is None:
        names = {name for name in dir(cls) if not name.startswith("_")}.union(own)
        names -= {"id", "ref"}
        keys = _DICT_KEYS[cls, own] = tuple(
            (name, f"/{camel_case(name)}") for name in sorted(names)
        )
    out: dict[str, object] = {}
    obj_id = obj.id
    for name, key in keys:
        value = getattr(obj, name)
        if value is not None and not callable(value):
            out[key] = _pdf_value(value, security_handler, obj_id)
    return out


def _pdf_value(value: object, security_handler: Any, obj_id: int) -> object:
    """A dictionary value as fpdf2's `build_obj_dict` writes it."""
    if hasattr(value, "value"):  # e.g. an Enum
        value = value.value
    if isinstance(value, PDFObject):  # indirect object reference
        return value.ref
    if hasattr(value, "serialize"):  # e.g. PDFArray, PDFString, Name
        return value.serialize(_security_handler=security_handler, _obj_id=obj_id)
    if isinstance(value, bool):
        return str(value).lower()
    return value


def _code_points(unicode: int | tuple[int, ...]) -> tuple[int, ...]:
    return unicode if isinstance(unicode, tuple) else (unicode,)


@functools.lru_cache(maxsize=8192)
def _bf_char(code: int, unicode: tuple[int, ...]) -> str:
    """A ToUnicode entry; copies number their characters in order of first use, so the same
    entries (title, labels, furniture drawn first) come back in every copy."""
    return f"<{code:04X}> <{''.join(_utf16_hex(u) for u in unicode)}>\n"


def _utf16_hex(code: int) -> str:
    """A code point as ToUnicode writes it: UTF-16BE in hex, a surrogate pair above the BMP."""
    if code > 0xFFFF:
        high = 0xD800 | (code - 0x10000) >> 10
        low = 0xDC00 | (code & 0x3FF)
        return f"{high:04X}{low:04X}"
    return f"{code:04X}"


@functools.lru_cache(maxsize=64)
def _rotation_cm(angle: float, x: float, y: float, k: float, page_h_pt: float) -> str:
    """The `cm` operator fpdf2's `rotation` writes for a turn by `angle` degrees about (x, y) mm."""
    user_to_pdf = Transform.scaling(k, -k).translate(0, page_h_pt)
    turn = Transform.rotation_d(-angle).about(x, y)
    command, _ = (user_to_pdf.inverse() @ turn @ user_to_pdf).render(None)  # type: ignore[arg-type]
    return str(command)


@functools.lru_cache(maxsize=8)
def _tile_ops(
    index: int, placements: tuple[tuple[float, float, float, float], ...], k: float, page_h: float
) -> bytes:
    """The content-stream operators of a tiled ground: the same bytes on every sheet."""
    info = RasterImageInfo(i=index)
    return "\n".join(
        stream_content_for_raster_image(info, x, y, w, h, scale=k, pdf_height_to_flip=page_h)
        for x, y, w, h in placements
    ).encode("latin-1")


class CertificateRenderer:
    """Builds certificate PDFs. Construct once (it parses the font); `render` is thread-safe."""

    _SEALS_KEPT = 256  # prepared municipality seals; one center serves many municipalities

    def __init__(self, config: RendererConfig, *, sealer: CopySealer | None = None) -> None:
        self._sealer = sealer
        self._mincho = _Font(config.font_path, "mincho")
        self._gothic = _Font(config.gothic_font_path, "gothic") if config.gothic_font_path else None
        self._ground = Artwork(_ground_tile(config.gothic_font_path or config.font_path))
        self._prepared_ground = _PreparedImage(self._ground)
        self._seals: OrderedDict[str, _PreparedImage] = OrderedDict()
        self._seals_lock = threading.Lock()
        # Part of every copy's /ID: the same text in other fonts is another file.
        self._faces_id = repr((config.font_path, config.gothic_font_path)).encode("utf-8")

    @property
    def ground(self) -> Artwork:
        """The copy-evident ground tile (for a baseline that must draw the very same sheet)."""
        return self._ground

    def render(self, doc: CertificateDocument, *, created_at: datetime) -> bytes:
        """The PDF bytes of one copy; the same document and `created_at` give the same bytes."""
        if created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        images = [(self._ground, self._prepared_ground)]
        seal = doc.municipality.seal_png
        if seal:
            art = artwork(seal)
            images.append((art, self._prepared_seal(art)))
        pdf = _Pdf(images)
        pdf.set_auto_page_break(False)
        pdf.set_margins(0, 0, 0)
        # Metadata: the certificate's name only; never who it is about (SPEC section 3).
        pdf.set_title(doc.title)
        pdf.set_lang("ja")
        pdf.set_creation_date(created_at)
        self._mincho.install(pdf)
        if self._gothic is not None:
            self._gothic.install(pdf)
        drawn = lay_out(pdf, doc, body=self._mincho, heading=self._gothic, ground=self._ground)
        if drawn.missing:
            raise UnprintableCharacters(drawn.missing)
        # The file's /ID: what the copy says (the seal payload signs the printed text's digest),
        # in which fonts, under which seal image.
        identity = [self._faces_id, images[-1][0].key.encode("ascii")]
        if self._sealer is None:
            identity.append(printed_digest(drawn.printed))
        else:
            # The layout is done, so every printed string is known; the same symbol then goes
            # on every sheet (fpdf2 appends to whichever page `page` names).
            payload = self._sealer.seal(doc, drawn.printed)
            identity.append(payload.encode("ascii"))
            x, y, size = SEAL_QR
            ops = qr_pdf_ops(payload, x=x, y=y, size=size, k=pdf.k, page_h=PAGE_H)
            last = pdf.page
            for number in range(1, last + 1):
                pdf.page = number
                pdf._out(ops)
            pdf.page = last
        pdf.identity = b"\0".join(identity)
        return bytes(pdf.output(output_producer_class=_Output))

    def _prepared_seal(self, art: Artwork) -> _PreparedImage:
        with self._seals_lock:
            prepared = self._seals.get(art.key)
            if prepared is not None:
                self._seals.move_to_end(art.key)
                return prepared
        prepared = _PreparedImage(art)  # outside the lock: decoding takes milliseconds
        with self._seals_lock:
            self._seals[art.key] = prepared
            while len(self._seals) > self._SEALS_KEPT:
                self._seals.popitem(last=False)
        return prepared


@dataclass(frozen=True)
class Drawn:
    """What a layout used: the characters drawn with each face, and those no face has."""

    used: dict[Face, set[str]]
    missing: set[str]
    printed: tuple[tuple[str, ...], ...] = ()  # every string drawn, per sheet, in order


def lay_out(
    surface: Surface,
    doc: CertificateDocument,
    *,
    body: Face,
    heading: Face | None,
    ground: Artwork,
) -> Drawn:
    """Draw every sheet of `doc` on `surface` (fonts already set up there)."""
    sheet = Sheet(surface, body, heading, ground, doc)
    LAYOUTS[doc.kind](sheet)
    return Drawn(sheet.used, sheet.missing, tuple(tuple(p) for p in sheet.printed))
