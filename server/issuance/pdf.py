"""Certificate PDFs: a `CertificateDocument` laid out as the A4 sheet a kiosk prints.

The sheets follow real kiosk copies (SPEC section 3): the title, the 住所・世帯主 block, one
framed entry per person, 「省略」 where an item is not printed (個人番号 and 住民票コード always),
the certification sentence, the date in the era calendar and the mayor's name under the
municipality's electronic seal (電子公印). Anti-forgery features are approximated:

- copy-evident ground (複写牽制): fine light-grey dots, with 「複写」 drawn in coarser dots of the
  same average tone. The eye sees an even grey; a copier drops the fine dots and keeps the
  coarse ones, so the word appears on a photocopy;
- micro text (マイクロ文字): the municipality and issue number at 1.5 pt along the frame;
- electronic tally seal (電子契印) on the edge of every sheet, and the issue number with page x/y.

Rendering is deterministic (same document and `created_at` → same bytes) and cheap enough to sit
in the issuance path (see docs/performance.md). Everything that does not depend on the document
is prepared once per renderer: the font is parsed and trimmed, the copy-evident ground is drawn
once with Pillow, and the ground and municipality seal images are decoded and compressed once
(fpdf2 would redo that for every PDF). Per document only the variable work remains: the layout,
and a font subset built from the stored outlines of just the glyphs used, numbered compactly so
that fontTools' subsetter has 150 glyphs to visit instead of 12,000.

The layout (`lay_out`) draws on a `Surface`: fpdf2 here, and the benchmark's ReportLab baseline
draws the very same calls. The PDF metadata holds only the certificate's title and dates, no
personal data.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, cast

from fontTools import ttLib  # type: ignore[import-untyped]
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable  # type: ignore[import-untyped]
from fontTools.ttLib.tables._g_l_y_f import Glyph  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import PDFResourceType, TextMode
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.image_datastructures import ImageCache, RasterImageInfo
from fpdf.image_parsing import preload_image
from fpdf.output import stream_content_for_raster_image
from PIL import Image, ImageDraw, ImageFont

from server.bcl.records import MunicipalityProfile, ResidentRecord
from server.common.era import to_wareki
from server.issuance.documents import CertificateDocument, CertificateKind

OMITTED = "省略"  # what a kiosk copy prints in a slot it must or may not fill
NOT_RECORDED = "―"  # an item the resident data does not carry

# Page geometry, millimetres, A4 portrait.
PAGE_W, PAGE_H = 210.0, 297.0
LEFT, RIGHT = 15.0, 195.0
WIDTH = RIGHT - LEFT
FRAME = 8.0  # outer frame inset
GROUND = (10.0, 10.0, PAGE_W - 20.0, PAGE_H - 20.0)  # area under the copy-evident ground
_PT = 72 / 25.4  # points per millimetre
_GROUND_ORIGIN_PT = 28.8  # 0.4 in: a whole pixel at every usual resolution
CONTENT_BOTTOM = 266.0
FOOTER_Y = 281.5

# Sizes in points.
TITLE_PT, LABEL_PT, VALUE_PT, NAME_PT, KANA_PT, MICRO_PT = 20.0, 7.5, 9.5, 13.0, 6.5, 1.5

INK = (0, 0, 0)
LABEL_INK = (60, 60, 60)
SEAL_RED = (200, 32, 38)  # 朱肉 vermilion

# The copy-evident tile, drawn at 300 dpi. Both dot screens cover 1/9 of the paper, so they
# look alike to the eye; only the coarse one survives a copier. The tile is a multiple of both
# pitches (3 and 6 px), and half its width too, so staggered tiles join without a seam.
_TILE_DPI = 300
_TILE_PX = (576, 348)
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


class _Font:
    """A TrueType font parsed once and handed to each PDF as a fresh fpdf2 font.

    fpdf2's `add_font` re-reads the file and rebuilds its character tables for every
    document, and its output subsets the font in place, so one font object cannot serve two
    documents. Here the parsing happens once; each document gets a shallow copy of the parsed
    tables (read-only) with its own glyph-subset state and its own fontTools font to subset.
    Before fpdf2 subsets that font, `prepare_subset` hands it only what the subsetter will
    keep (the glyphs, advance widths and cmap entries the document uses), so the per-document
    cost no longer grows with the 12,000 glyphs of a Japanese font.
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

    def has_glyph(self, ch: str) -> bool:
        return ord(ch) in self._template.cmap

    def install(self, pdf: FPDF) -> None:
        font = copy.copy(self._template)
        font.i = len(pdf.fonts) + 1
        font.desc = copy.copy(self._template.desc)  # the output numbers and fills it in
        # No bounding-box recalculation: glyphs are copied as stored, not decoded and re-encoded.
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


class _TrimmedGlyph(Glyph):  # type: ignore[misc]
    """A stored glyph program already trimmed when the font was loaded (`_Font.__init__`)."""

    def trim(self, remove_hinting: bool = False, *, extended: bool = False) -> None:
        if remove_hinting:  # fpdf2 keeps hinting; should that change, do the real work
            super().trim(remove_hinting=True, extended=extended)


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
    w, h = _TILE_PX

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


@dataclass(frozen=True, eq=False)
class Artwork:
    """Image bytes (PNG) with the digest a surface uses to recognise a prepared copy."""

    data: bytes
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", hashlib.sha256(self.data).hexdigest())


class Face(Protocol):
    """A font as the layout sees it: a family name for `set_font`, and glyph coverage."""

    @property
    def family(self) -> str: ...

    def has_glyph(self, ch: str) -> bool: ...


class Surface(Protocol):
    """The drawing calls the layouts make, in fpdf2's terms (millimetres, origin top left).

    `_Pdf` (fpdf2) is the one the issuance path uses; the benchmark's ReportLab baseline
    implements the same calls, so both libraries draw exactly the same sheet.
    """

    def add_page(self) -> None: ...
    def set_font(self, family: str, style: str = "", size: float = 0) -> None: ...
    def get_string_width(self, s: str) -> float: ...
    def text(self, x: float, y: float, text: str = "") -> None: ...
    def set_text_color(self, r: int, g: int = -1, b: int = -1) -> None: ...
    def set_draw_color(self, r: int, g: int = -1, b: int = -1) -> None: ...
    def set_line_width(self, width: float) -> None: ...
    def line(self, x1: float, y1: float, x2: float, y2: float) -> None: ...
    def rect(self, x: float, y: float, w: float, h: float) -> None: ...
    def circle(self, x: float, y: float, radius: float) -> None: ...
    def rotation(self, angle: float, x: float, y: float) -> AbstractContextManager[None]: ...
    def rect_clip(self, x: float, y: float, w: float, h: float) -> AbstractContextManager[None]: ...
    def local_context(self, **kwargs: Any) -> AbstractContextManager[None]: ...
    def artwork(
        self, art: Artwork, x: float, y: float, w: float, h: float, *, fit: bool = False
    ) -> None: ...
    def tiles(self, art: Artwork, placements: Sequence[tuple[float, float, float, float]]) -> None:
        """The same image at many places (x, y, w, h): the copy-evident ground."""
        ...


class _PreparedImage:
    """An image decoded and compressed once (fpdf2 would redo both for every PDF)."""

    def __init__(self, art: Artwork) -> None:
        _, _, info = preload_image(ImageCache(), art.data)
        assert isinstance(info, RasterImageInfo)
        self.info = info


class _Pdf(FPDF):
    """fpdf2 with the prepared images registered up front and a fast path to draw them."""

    def __init__(self, images: Sequence[tuple[Artwork, _PreparedImage]]) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._prepared: dict[str, RasterImageInfo] = {}
        for art, prepared in images:  # registered in a fixed order: deterministic /I names
            info = RasterImageInfo(prepared.info)  # per document: fpdf2 counts usages in it
            info["i"] = len(self.image_cache.images) + 1
            info["usages"] = 0
            self.image_cache.images[art.key] = info
            self._prepared[art.key] = info

    def artwork(
        self, art: Artwork, x: float, y: float, w: float, h: float, *, fit: bool = False
    ) -> None:
        if art.key in self._prepared:
            # A str name is fpdf2's own key into its image cache: no re-reading, no re-hashing.
            self.image(art.key, x=x, y=y, w=w, h=h, keep_aspect_ratio=fit)
        else:
            self.image(io.BytesIO(art.data), x=x, y=y, w=w, h=h, keep_aspect_ratio=fit)

    def tiles(self, art: Artwork, placements: Sequence[tuple[float, float, float, float]]) -> None:
        info = self._prepared[art.key]
        index = cast(int, info["i"])
        self._out(_tile_ops(index, tuple(placements), self.k, self.h))
        self._resource_catalog.add(PDFResourceType.X_OBJECT, index, self.page)
        info["usages"] = cast(int, info["usages"]) + len(placements)


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

    def __init__(self, config: RendererConfig) -> None:
        self._mincho = _Font(config.font_path, "mincho")
        self._gothic = _Font(config.gothic_font_path, "gothic") if config.gothic_font_path else None
        self._ground = Artwork(_ground_tile(config.gothic_font_path or config.font_path))
        self._prepared_ground = _PreparedImage(self._ground)
        self._seals: OrderedDict[str, _PreparedImage] = OrderedDict()
        self._seals_lock = threading.Lock()

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
            art = Artwork(seal)
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
        for font in (self._mincho, self._gothic):
            if font is not None and font in drawn.used:
                font.prepare_subset(pdf, drawn.used[font])
        return bytes(pdf.output())

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


def lay_out(
    surface: Surface,
    doc: CertificateDocument,
    *,
    body: Face,
    heading: Face | None,
    ground: Artwork,
) -> Drawn:
    """Draw every sheet of `doc` on `surface` (fonts already set up there)."""
    sheet = _Sheet(surface, body, heading, ground, doc)
    if doc.kind is CertificateKind.JUMINHYO:
        sheet.juminhyo()
    elif doc.kind is CertificateKind.INKAN:
        sheet.inkan()
    else:  # pragma: no cover - a kind added to the enum without a layout
        raise NotImplementedError(f"no layout for {doc.kind}")
    return Drawn(sheet.used, sheet.missing)


# -- layout -------------------------------------------------------------------------------------

PERSON_ROWS = (13.0, 7.0, 7.0, 7.0, 7.0, 7.0)  # name row, then five item rows
PERSON_GAP = 2.5
PERSON_H = sum(PERSON_ROWS) + PERSON_GAP
JUMINHYO_TOP = 55.0
CERTIFICATION_H = 52.0
# Column edges inside an entry: label | value | label | value (| label | value on the name row).
COL_A, COL_B, COL_C, COL_D = LEFT, LEFT + 22.0, LEFT + 100.0, LEFT + 122.0
COL_SEX, COL_SEX_V = LEFT + 158.0, LEFT + 168.0


def _mayor_office(m: MunicipalityProfile) -> str:
    """千代田区 + 区長 → 千代田区長 (the title's first character repeats the name's last)."""
    title = m.mayor_title[1:] if m.mayor_title[:1] == m.name[-1:] else m.mayor_title
    return f"{m.name}{title}"


def _paginate(persons: Sequence[ResidentRecord]) -> list[list[ResidentRecord]]:
    """Entries per sheet; the last sheet keeps at least one entry above the certification."""
    room = CONTENT_BOTTOM - JUMINHYO_TOP
    per_page = int(room // PERSON_H)
    per_last = int((room - CERTIFICATION_H) // PERSON_H)
    assert per_last >= 1, "layout constants leave no room for an entry on the last sheet"
    pages: list[list[ResidentRecord]] = []
    rest = list(persons)
    while len(rest) > per_last:
        take = min(per_page, len(rest) - 1)
        pages.append(rest[:take])
        rest = rest[take:]
    pages.append(rest)
    return pages


@functools.cache
def _ground_placements() -> tuple[tuple[float, float, float, float], ...]:
    """Where the ground tiles go (x, y, w, h in mm), staggered by half a tile every row.

    Tiles sit on whole multiples of 0.01 pt that are also whole device pixels at 100, 150,
    200, 300 and 600 dpi, so every tile is resampled alike and no seams show.
    """
    tw, th = (_TILE_PX[0] * 72 / _TILE_DPI, _TILE_PX[1] * 72 / _TILE_DPI)  # points
    origin = _GROUND_ORIGIN_PT
    _, _, gw, gh = GROUND
    out = []
    for row in range(math.ceil(gh * _PT / th)):
        shift = tw / 2 if row % 2 else 0.0
        for col in range(math.ceil(gw * _PT / tw) + 1):
            x = (origin - shift + col * tw) / _PT
            y = (origin + row * th) / _PT
            out.append((x, y, tw / _PT, th / _PT))
    return tuple(out)


class _Sheet:
    """One certificate being drawn on a surface, with the few primitives the layouts need."""

    def __init__(
        self,
        surface: Surface,
        body: Face,
        heading: Face | None,
        ground: Artwork,
        doc: CertificateDocument,
    ) -> None:
        self.doc = doc
        self.number = doc.issue_number.format()
        self.pdf = surface
        self._mincho = body
        self._heading = heading or body
        self._ground_art = ground
        self.missing: set[str] = set()
        self.used: dict[Face, set[str]] = {}
        self._micro = self._micro_lines()

    # -- primitives --------------------------------------------------------------------------

    def text(
        self,
        x: float,
        y: float,
        s: str,
        size: float,
        *,
        align: str = "L",
        width: float | None = None,
        font: Face | None = None,
        color: tuple[int, int, int] = INK,
    ) -> None:
        """Text on baseline y. With `width`, shrink to fit so that a value stays one line."""
        f = font or self._mincho
        chars = set(s)
        self.used.setdefault(f, set()).update(chars)
        self.missing.update(c for c in chars if not f.has_glyph(c))
        pdf = self.pdf
        pdf.set_font(f.family, size=size)
        if width is not None or align != "L":
            w = pdf.get_string_width(s)
            if width is not None and w > width > 0:
                pdf.set_font(f.family, size=size * width / w)
                w = pdf.get_string_width(s)
            if align == "C":
                x -= w / 2
            elif align == "R":
                x -= w
        pdf.set_text_color(*color)
        pdf.text(x, y, s)

    def cell_text(self, x: float, y: float, w: float, h: float, s: str, size: float) -> None:
        """A value left-aligned and vertically centred in a cell, shrunk to fit."""
        self.text(x + 1.5, y + h / 2 + size * 0.353 * 0.36, s, size, width=w - 3.0)

    def label(self, x: float, y: float, w: float, h: float, s: str) -> None:
        baseline = y + h / 2 + LABEL_PT * 0.353 * 0.36
        self.text(x + w / 2, baseline, s, LABEL_PT, align="C", width=w - 1.5, color=LABEL_INK)

    def hline(self, x1: float, x2: float, y: float) -> None:
        self.pdf.line(x1, y, x2, y)

    def vline(self, x: float, y1: float, y2: float) -> None:
        self.pdf.line(x, y1, x, y2)

    # -- what every sheet carries ------------------------------------------------------------

    def new_page(self, page: int, pages: int) -> None:
        pdf = self.pdf
        pdf.add_page()
        self._ground()
        pdf.set_draw_color(*INK)
        pdf.set_line_width(0.5)
        pdf.rect(FRAME, FRAME, PAGE_W - 2 * FRAME, PAGE_H - 2 * FRAME)
        self._micro_text()
        with pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.25):
            self.text(PAGE_W / 2, 27.0, self.doc.title, TITLE_PT, align="C", font=self._heading)
        self.text(LEFT, FOOTER_Y, f"交付番号 {self.number}", 8.0)
        self.text(RIGHT, FOOTER_Y, f"{page}/{pages}", 8.0, align="R")
        self._tally_seal()
        pdf.set_line_width(0.2)

    def _ground(self) -> None:
        """Tile the copy-evident ground; one image object, referenced by every tile."""
        gx, gy, gw, gh = GROUND
        with self.pdf.rect_clip(gx, gy, gw, gh):
            self.pdf.tiles(self._ground_art, _ground_placements())

    def _micro_lines(self) -> tuple[str, str]:
        """The micro text for the long and short sides: whole repeats, then a trimmed tail."""
        pdf = self.pdf
        unit = f"{self.doc.municipality.full_name} {self.number} "
        pdf.set_font(self._mincho.family, size=MICRO_PT)
        unit_w = pdf.get_string_width(unit)

        def fill(length: float) -> str:
            whole = int(length // unit_w)
            rest = length - whole * unit_w
            n = len(unit)
            while n and pdf.get_string_width(unit[:n]) > rest:
                n -= 1
            return unit * whole + unit[:n]

        inset = FRAME + 1.2
        return fill(PAGE_W - 2 * inset), fill(PAGE_H - 2 * inset)

    def _micro_text(self) -> None:
        """A line of 1.5 pt text inside the frame: too small for a copier to reproduce."""
        pdf = self.pdf
        inset = FRAME + 1.2
        across, down = self._micro
        self.text(inset, inset + 0.5, across, MICRO_PT)
        self.text(inset, PAGE_H - inset, across, MICRO_PT)
        with pdf.rotation(-90, inset - 0.5, inset):
            self.text(inset - 0.5, inset, down, MICRO_PT)
        with pdf.rotation(90, PAGE_W - inset + 0.5, PAGE_H - inset):
            self.text(PAGE_W - inset + 0.5, PAGE_H - inset, down, MICRO_PT)

    def _tally_seal(self) -> None:
        """電子契印: a round seal straddling the frame at mid-height, on every sheet."""
        pdf = self.pdf
        cx, cy, r = PAGE_W - FRAME, PAGE_H / 2, 7.0
        pdf.set_draw_color(*SEAL_RED)
        pdf.set_line_width(0.5)
        pdf.circle(cx, cy, r)
        pdf.set_line_width(0.2)
        pdf.circle(cx, cy, r - 1.0)
        name = self.doc.municipality.name
        self.text(cx, cy - 0.8, name, 4.5, align="C", width=2 * r - 3.5, color=SEAL_RED)
        self.text(cx, cy + 3.2, "契印", 5.0, align="C", color=SEAL_RED)
        pdf.set_draw_color(*INK)

    def certification(self, y: float, sentence: str) -> None:
        """The certification sentence, date and the mayor under the electronic seal (公印)."""
        m = self.doc.municipality
        self.text(LEFT + 6.0, y, sentence, 10.5, width=WIDTH - 6.0)
        self.text(LEFT + 12.0, y + 10.0, to_wareki(self.doc.issued_on), 10.5)
        mayor = f"{m.prefecture}{_mayor_office(m)}　{m.mayor_name}"
        baseline = y + 26.0
        end = RIGHT - 14.0
        self.text(end, baseline, mayor, 14.0, align="R")
        # The seal overlaps the last characters of the name, as the stamped 公印 does.
        size = 22.0
        sx, sy = end - size * 0.55, baseline - size * 0.62
        if m.seal_png:
            self.pdf.artwork(Artwork(m.seal_png), sx, sy, size, size)
        else:
            self._drawn_seal(sx, sy, size, f"{_mayor_office(m)}之印")

    def _drawn_seal(self, x: float, y: float, size: float, chars: str) -> None:
        """A square 公印 drawn in vectors when the municipality supplied no image."""
        pdf = self.pdf
        pdf.set_draw_color(*SEAL_RED)
        pdf.set_line_width(0.8)
        pdf.rect(x, y, size, size)
        pdf.set_line_width(0.3)
        pdf.rect(x + 1.2, y + 1.2, size - 2.4, size - 2.4)
        cols = math.ceil(math.sqrt(len(chars)))
        rows = math.ceil(len(chars) / cols)
        cell_w, cell_h = (size - 4.0) / cols, (size - 4.0) / rows
        pt = min(cell_w, cell_h) / 0.353 * 0.9
        for i, ch in enumerate(chars):  # columns top to bottom, right to left
            col, row = divmod(i, rows)
            cx = x + size - 2.0 - (col + 0.5) * cell_w
            cy = y + 2.0 + (row + 0.5) * cell_h + pt * 0.353 * 0.36
            self.text(cx, cy, ch, pt, align="C", color=SEAL_RED)
        pdf.set_draw_color(*INK)

    # -- 住民票の写し ----------------------------------------------------------------------------

    def juminhyo(self) -> None:
        doc = self.doc
        head = doc.household_head
        assert head is not None  # CertificateDocument checks it
        # The head's entry comes first, as on the register; the rest keep the order chosen.
        persons = sorted(doc.persons, key=lambda p: not p.is_household_head)
        pages = _paginate(persons)
        for page, entries in enumerate(pages, start=1):
            self.new_page(page, len(pages))
            self._household_block(head)
            y = JUMINHYO_TOP
            for person in entries:
                self._person_entry(y, person)
                y += PERSON_H
        scope = "世帯全員" if doc.whole_household else "世帯の一部"
        self.text(RIGHT, y + 1.0, "以下余白", 9.0, align="R")
        self.certification(y + 14.0, f"この写しは、{scope}の住民票の原本と相違ないことを証明する。")

    def _household_block(self, head: ResidentRecord) -> None:
        opts = self.doc.options
        address = f"{head.address}　{head.address_annex}" if head.address_annex else head.address
        head_name = head.full_name if opts.show_head_and_relationship else OMITTED
        top, h = 34.0, 8.5
        pdf = self.pdf
        pdf.set_line_width(0.35)
        pdf.rect(LEFT, top, WIDTH, 2 * h)
        pdf.set_line_width(0.2)
        self.hline(LEFT, RIGHT, top + h)
        self.vline(COL_B, top, top + 2 * h)
        for i, (label, value) in enumerate((("住所", address), ("世帯主", head_name))):
            y = top + i * h
            self.label(COL_A, y, COL_B - COL_A, h, label)
            self.cell_text(COL_B, y, RIGHT - COL_B, h, value, VALUE_PT + 1.0)

    def _person_entry(self, top: float, p: ResidentRecord) -> None:
        opts = self.doc.options
        relationship = p.relationship if opts.show_head_and_relationship else OMITTED
        honseki = p.honseki if opts.show_honseki else OMITTED
        hittousha = p.hittousha if opts.show_honseki else OMITTED
        notified = NOT_RECORDED  # 届出日: not in the resident records handed to BCL
        rows: list[tuple[tuple[str, str], ...]] = [
            (("続柄", relationship), ("住民となった日", to_wareki(p.became_resident_on))),
            (("住所を定めた日", to_wareki(p.address_set_on)), ("届出日", notified)),
            (("本籍", honseki),),
            (("筆頭者", hittousha), ("旧氏", p.former_family_name or NOT_RECORDED)),
            (("個人番号", OMITTED), ("住民票コード", OMITTED)),
        ]
        pdf = self.pdf
        height = sum(PERSON_ROWS)
        pdf.set_line_width(0.35)
        pdf.rect(LEFT, top, WIDTH, height)
        pdf.set_line_width(0.2)

        # Name row: 氏名 with its reading (ふりがな), 生年月日, 性別.
        h = PERSON_ROWS[0]
        self.label(COL_A, top, COL_B - COL_A, h, "氏名")
        self.text(COL_B + 1.5, top + 3.6, p.full_name_kana, KANA_PT, width=COL_C - COL_B - 3)
        self.text(COL_B + 1.5, top + 10.0, p.full_name, NAME_PT, width=COL_C - COL_B - 3)
        self.label(COL_C, top, COL_D - COL_C, h, "生年月日")
        self.cell_text(COL_D, top, COL_SEX - COL_D, h, to_wareki(p.birth_date), VALUE_PT)
        self.label(COL_SEX, top, COL_SEX_V - COL_SEX, h, "性別")
        self.cell_text(COL_SEX_V, top, RIGHT - COL_SEX_V, h, p.sex.value, VALUE_PT)
        for x in (COL_B, COL_C, COL_D, COL_SEX, COL_SEX_V):
            self.vline(x, top, top + h)

        y = top + h
        for row, rh in zip(rows, PERSON_ROWS[1:], strict=True):
            self.hline(LEFT, RIGHT, y)
            self.vline(COL_B, y, y + rh)
            (label, value), *second = row
            value_end = COL_C if second else RIGHT
            self.label(COL_A, y, COL_B - COL_A, rh, label)
            self.cell_text(COL_B, y, value_end - COL_B, rh, value, VALUE_PT)
            if second:
                ((label2, value2),) = second
                self.vline(COL_C, y, y + rh)
                self.vline(COL_D, y, y + rh)
                self.label(COL_C, y, COL_D - COL_C, rh, label2)
                self.cell_text(COL_D, y, RIGHT - COL_D, rh, value2, VALUE_PT)
            y += rh

    # -- 印鑑登録証明書 --------------------------------------------------------------------------

    def inkan(self) -> None:
        doc = self.doc
        p = doc.persons[0]
        seal = doc.seal
        assert seal is not None  # CertificateDocument checks it
        self.new_page(1, 1)
        pdf = self.pdf

        # The registered impression (印影) in a framed box.
        box_x, box_top, box = LEFT, 40.0, 56.0
        pdf.set_line_width(0.35)
        pdf.rect(box_x, box_top, box, 7.0 + box)
        pdf.set_line_width(0.2)
        self.hline(box_x, box_x + box, box_top + 7.0)
        self.label(box_x, box_top, box, 7.0, "印　影")
        inner = box - 10.0
        pdf.artwork(
            Artwork(seal.impression_png), box_x + 5.0, box_top + 12.0, inner, inner, fit=True
        )

        # The registrant's particulars beside it.
        address = f"{p.address}　{p.address_annex}" if p.address_annex else p.address
        tx, label_w = box_x + box + 5.0, 22.0
        vx = tx + label_w
        rows: list[tuple[str, str, float]] = [
            ("氏名", "", 16.0),
            ("生年月日", to_wareki(p.birth_date), 11.0),
            ("性別", p.sex.value, 11.0),
            ("住所", address, 11.0),
            ("登録番号", seal.registration_number, 14.0),
        ]
        total = sum(h for _, _, h in rows)
        pdf.set_line_width(0.35)
        pdf.rect(tx, box_top, RIGHT - tx, total)
        pdf.set_line_width(0.2)
        self.vline(vx, box_top, box_top + total)
        y = box_top
        for label, value, h in rows:
            if y > box_top:
                self.hline(tx, RIGHT, y)
            self.label(tx, y, label_w, h, label)
            if label == "氏名":
                self.text(vx + 1.5, y + 4.5, p.full_name_kana, KANA_PT, width=RIGHT - vx - 3)
                self.text(vx + 1.5, y + 12.5, p.full_name, NAME_PT + 1, width=RIGHT - vx - 3)
            else:
                self.cell_text(vx, y, RIGHT - vx, h, value, VALUE_PT + 0.5)
            y += h

        self.certification(
            box_top + 7.0 + box + 20.0, "この写しは、登録されている印影と相違ないことを証明する。"
        )
