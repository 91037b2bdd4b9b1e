"""The sheet a certificate is drawn on: geometry, the furniture every copy carries, primitives.

Every certificate of SPEC section 3 is an A4 sheet (or several) with the same furniture: the
copy-evident ground (複写牽制), micro text (マイクロ文字) along the frame, the title, the issue
number (交付番号) with page x/y in the footer and the electronic tally seal (電子契印) on the
edge, and on the last sheet the certification sentence, the date in the era calendar and the
mayor's name under the municipality's seal (電子公印). `Sheet` draws that furniture and offers
the few primitives the layouts in `server.issuance.layouts` need (text shrunk to fit, labelled
cells, rules, wrapped lines); the layouts decide only what goes where.

A sheet draws on a `Surface` (fpdf2 in the issuance path, ReportLab in the benchmark's
baseline), so the same calls produce the same sheet on either.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from fpdf.enums import TextMode

from server.bcl.records import MunicipalityProfile
from server.common.era import to_wareki
from server.issuance.documents import CertificateDocument

OMITTED = "省略"  # what a kiosk copy prints in a slot it must or may not fill
NOT_RECORDED = "―"  # an item the resident data does not carry

# Page geometry, millimetres, A4 portrait.
PAGE_W, PAGE_H = 210.0, 297.0
LEFT, RIGHT = 15.0, 195.0
WIDTH = RIGHT - LEFT
FRAME = 8.0  # outer frame inset
GROUND = (10.0, 10.0, PAGE_W - 20.0, PAGE_H - 20.0)  # area under the copy-evident ground
PT = 72 / 25.4  # points per millimetre
_GROUND_ORIGIN_PT = 28.8  # 0.4 in: a whole pixel at every usual resolution
CONTENT_BOTTOM = 266.0
FOOTER_Y = 281.5
# The seal QR code (`server.verify`): x, y of its white box and its side, in the footer band
# between the issue number and page x/y, above the bottom micro text.
SEAL_QR = (166.0, 266.3, 21.0)

# Sizes in points.
TITLE_PT, LABEL_PT, VALUE_PT, NAME_PT, KANA_PT, MICRO_PT = 20.0, 7.5, 9.5, 13.0, 6.5, 1.5

INK = (0, 0, 0)
LABEL_INK = (60, 60, 60)
SEAL_RED = (200, 32, 38)  # 朱肉 vermilion

# The copy-evident tile is drawn at 300 dpi (`server.issuance.pdf`); its size sets where the
# tiles go. It is a multiple of both dot pitches (3 and 6 px), and half its width too, so
# staggered tiles join without a seam.
TILE_DPI = 300
TILE_PX = (576, 348)


@dataclass(frozen=True, eq=False)
class Artwork:
    """Image bytes (PNG) with the digest a surface uses to recognise a prepared copy."""

    data: bytes
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", hashlib.sha256(self.data).hexdigest())


@functools.lru_cache(maxsize=64)
def artwork(data: bytes) -> Artwork:
    """The `Artwork` of `data`, its digest computed once: every copy of a municipality
    carries the same seal image, which the renderer and the sheet both look up."""
    return Artwork(data)


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


def mayor_office(m: MunicipalityProfile) -> str:
    """千代田区 + 区長 → 千代田区長 (the title's first character repeats the name's last)."""
    title = m.mayor_title[1:] if m.mayor_title[:1] == m.name[-1:] else m.mayor_title
    return f"{m.name}{title}"


def paginate(heights: Sequence[float], *, room: float, last_room: float) -> list[range]:
    """Blocks of the given heights per sheet, in order: each sheet holds what fits in `room`,
    and the last sheet keeps at least one block within `last_room` (above the certification).

    A block taller than `room` gets a sheet of its own; layouts split such blocks first.
    """
    if last_room <= 0 or room < last_room:
        raise ValueError("the last sheet must leave room for a block")
    pages: list[range] = []
    start, count = 0, len(heights)
    while sum(heights[start:]) > last_room and start < count - 1:
        end, used = start, 0.0
        while end < count - 1 and used + heights[end] <= room:
            used += heights[end]
            end += 1
        end = max(end, start + 1)
        pages.append(range(start, end))
        start = end
    pages.append(range(start, count))
    return pages


@functools.cache
def ground_placements() -> tuple[tuple[float, float, float, float], ...]:
    """Where the ground tiles go (x, y, w, h in mm), staggered by half a tile every row.

    Tiles sit on whole multiples of 0.01 pt that are also whole device pixels at 100, 150,
    200, 300 and 600 dpi, so every tile is resampled alike and no seams show.
    """
    tw, th = (TILE_PX[0] * 72 / TILE_DPI, TILE_PX[1] * 72 / TILE_DPI)  # points
    origin = _GROUND_ORIGIN_PT
    _, _, gw, gh = GROUND
    out = []
    for row in range(math.ceil(gh * PT / th)):
        shift = tw / 2 if row % 2 else 0.0
        for col in range(math.ceil(gw * PT / tw) + 1):
            x = (origin - shift + col * tw) / PT
            y = (origin + row * th) / PT
            out.append((x, y, tw / PT, th / PT))
    return tuple(out)


class Sheet:
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
        self.used: dict[Face, set[str]] = {}
        # Every string drawn, per sheet, in order: the printed text the seal's digest covers.
        self.printed: list[list[str]] = []
        self._micro = self._micro_lines()

    @property
    def missing(self) -> set[str]:
        """The characters drawn in a face that has no glyph for them (checked once each)."""
        return {c for f, chars in self.used.items() for c in chars if not f.has_glyph(c)}

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
        self._record(f, s)
        self._draw(x, y, s, size, align, width, f, color)

    def _record(self, face: Face, s: str) -> None:
        used = self.used.get(face)
        if used is None:
            used = self.used[face] = set()
        used.update(s)

    def _draw(
        self,
        x: float,
        y: float,
        s: str,
        size: float,
        align: str,
        width: float | None,
        f: Face,
        color: tuple[int, int, int],
    ) -> None:
        """`text` without recording the characters used (the caller has)."""
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
        if self.printed:
            self.printed[-1].append(s)

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
        self.printed.append([])
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
            self.pdf.tiles(self._ground_art, ground_placements())

    def _micro_lines(self) -> tuple[str, str]:
        """The micro text for the long and short sides: whole repeats, then a trimmed tail."""
        pdf = self.pdf
        unit = f"{self.doc.municipality.full_name} {self.number} "
        pdf.set_font(self._mincho.family, size=MICRO_PT)
        unit_w = pdf.get_string_width(unit)

        def fill(length: float) -> str:
            whole = int(length // unit_w)
            rest = length - whole * unit_w
            # The longest head of `unit` that fits in `rest`: widths grow with the head (no
            # glyph is narrower than nothing), so a binary search finds it.
            lo, hi = 0, len(unit)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if pdf.get_string_width(unit[:mid]) > rest:
                    hi = mid - 1
                else:
                    lo = mid
            return unit * whole + unit[:lo]

        inset = FRAME + 1.2
        # Each line is repeats of `unit`: its characters are all the lines use.
        self._record(self._mincho, unit)
        return fill(PAGE_W - 2 * inset), fill(PAGE_H - 2 * inset)

    def _micro_text(self) -> None:
        """A line of 1.5 pt text inside the frame: too small for a copier to reproduce."""
        pdf = self.pdf
        inset = FRAME + 1.2
        across, down = self._micro
        # Their characters were recorded with the lines (`_micro_lines`): ~3,000 a sheet.
        body = self._mincho
        self._draw(inset, inset + 0.5, across, MICRO_PT, "L", None, body, INK)
        self._draw(inset, PAGE_H - inset, across, MICRO_PT, "L", None, body, INK)
        with pdf.rotation(-90, inset - 0.5, inset):
            self._draw(inset - 0.5, inset, down, MICRO_PT, "L", None, body, INK)
        with pdf.rotation(90, PAGE_W - inset + 0.5, PAGE_H - inset):
            self._draw(PAGE_W - inset + 0.5, PAGE_H - inset, down, MICRO_PT, "L", None, body, INK)

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
        mayor = f"{m.prefecture}{mayor_office(m)}　{m.mayor_name}"
        baseline = y + 26.0
        end = RIGHT - 14.0
        self.text(end, baseline, mayor, 14.0, align="R")
        # The seal overlaps the last characters of the name, as the stamped 公印 does.
        size = 22.0
        sx, sy = end - size * 0.55, baseline - size * 0.62
        if m.seal_png:
            self.pdf.artwork(artwork(m.seal_png), sx, sy, size, size)
        else:
            self._drawn_seal(sx, sy, size, f"{mayor_office(m)}之印")

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

    def close(self, y: float, sentence: str) -> None:
        """「以下余白」 under the last entry, then the certification below it."""
        self.text(RIGHT, y + 1.0, "以下余白", 9.0, align="R")
        self.certification(y + 14.0, sentence)

    # -- helpers for the layouts -------------------------------------------------------------

    def wrap(self, s: str, size: float, width: float) -> list[str]:
        """`s` broken into lines no wider than `width` (mm) at `size`, as Japanese is set:
        anywhere between characters, but no line starts with closing punctuation (禁則)."""
        pdf = self.pdf
        pdf.set_font(self._mincho.family, size=size)
        lines: list[str] = []
        for paragraph in s.splitlines() or [""]:
            line = ""
            for ch in paragraph:
                if line and pdf.get_string_width(line + ch) > width and ch not in _NO_LINE_START:
                    lines.append(line)
                    line = ""
                line += ch
            lines.append(line)
        return lines

    def label_value_rows(
        self,
        top: float,
        rows: Sequence[tuple[str, str]],
        *,
        row_h: float = 8.5,
        label_w: float = 22.0,
        size: float = VALUE_PT + 1.0,
        left: float = LEFT,
        right: float = RIGHT,
    ) -> float:
        """A framed two-column table (label | value), one line per row; returns its bottom."""
        pdf = self.pdf
        height = row_h * len(rows)
        pdf.set_line_width(0.35)
        pdf.rect(left, top, right - left, height)
        pdf.set_line_width(0.2)
        self.vline(left + label_w, top, top + height)
        for i, (label, value) in enumerate(rows):
            y = top + i * row_h
            if i:
                self.hline(left, right, y)
            self.label(left, y, label_w, row_h, label)
            self.cell_text(left + label_w, y, right - left - label_w, row_h, value, size)
        return top + height

    def grid(
        self,
        top: float,
        columns: Sequence[tuple[str, float]],
        rows: Sequence[Sequence[str]],
        *,
        head_h: float = 7.0,
        row_h: float = 9.0,
        size: float = VALUE_PT,
        align: str = "L",
    ) -> float:
        """A framed table: a label row of headings over rows of values; returns its bottom.

        `columns` are (heading, width in mm) and must fill the content width. Values are shrunk
        to fit their cell; `align` is one letter for every column or one per column ("LRR"):
        amounts are set right-aligned.
        """
        aligns = align if len(align) == len(columns) else align[:1] * len(columns)
        pdf = self.pdf
        height = head_h + row_h * len(rows)
        pdf.set_line_width(0.35)
        pdf.rect(LEFT, top, WIDTH, height)
        pdf.set_line_width(0.2)
        self.hline(LEFT, RIGHT, top + head_h)
        x = LEFT
        edges = []
        for heading, w in columns:
            self.label(x, top, w, head_h, heading)
            edges.append((x, w))
            x += w
            if x < RIGHT - 0.01:
                self.vline(x, top, top + height)
        for r, values in enumerate(rows):
            y = top + head_h + r * row_h
            if r:
                self.hline(LEFT, RIGHT, y)
            for (x0, w), value, how in zip(edges, values, aligns, strict=True):
                if how == "R":
                    baseline = y + row_h / 2 + size * 0.353 * 0.36
                    self.text(x0 + w - 1.5, baseline, value, size, align="R", width=w - 3.0)
                else:
                    self.cell_text(x0, y, w, row_h, value, size)
        return top + height


# Characters a Japanese line may not start with (行頭禁則), kept on the line before instead.
_NO_LINE_START = frozenset("、。，．・：；？！）」』】〕ー々ぁぃぅぇぉっゃゅょァィゥェォッャュョ")


def yen(amount: int) -> str:
    """3400000 → 3,400,000円."""
    return f"{amount:,}円"
