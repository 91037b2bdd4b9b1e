"""The ReportLab baseline: the certificate layout drawn through ReportLab instead of fpdf2.

`ReportLabSurface` implements `server.issuance.pdf.Surface`, so `lay_out` makes exactly the same
drawing calls (same strings, font, sizes, positions, lines, ground tiles and seal) as in the
issuance path; only the PDF library differs. ReportLab is used the way its manual recommends
for repeated work: the TrueType font is registered once per process, and images are drawn by
file name, which ReportLab embeds once per document and references thereafter. Output is made
deterministic (`invariant=1`), streams are compressed and binary (no ASCII85), as fpdf2's are,
and ReportLab's C accelerator (`rl_accel`) is required, so the baseline is ReportLab at its best.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf.enums import TextMode
from reportlab import rl_config  # type: ignore[import-untyped,import-not-found,unused-ignore]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped,import-not-found,unused-ignore]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped,import-not-found,unused-ignore]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped,import-not-found,unused-ignore]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped,import-not-found,unused-ignore]

from server.issuance.documents import CertificateDocument
from server.issuance.pdf import Artwork, lay_out

_MM = 72 / 25.4  # points per millimetre
_PAGE_H_MM = A4[1] / _MM


@dataclass(frozen=True, eq=False)
class ReportLabFace:
    """A TrueType font registered with ReportLab under `family`."""

    family: str
    font: Any  # reportlab.pdfbase.ttfonts.TTFont

    def has_glyph(self, ch: str) -> bool:
        return ord(ch) in self.font.face.charToGlyph


def register_font(path: Path, family: str) -> ReportLabFace:
    """Parse and register a TrueType font once per process (ReportLab keeps a global registry)."""
    try:
        font = pdfmetrics.getFont(family)
    except KeyError:
        font = TTFont(family, str(path))
        pdfmetrics.registerFont(font)
    return ReportLabFace(family, font)


class ReportLabSurface:
    """fpdf2's drawing calls (mm, top-left origin) on a ReportLab canvas (pt, bottom-left)."""

    def __init__(self, out: io.BytesIO, image_dir: Path, title: str) -> None:
        self._c = canvas.Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
        self._c.setTitle(title)
        self._dir = image_dir
        self._pages = 0
        self._font = ("", 0.0)
        self._fill_stroke = False

    # -- pages and text -----------------------------------------------------------------------

    def add_page(self) -> None:
        if self._pages:
            self._c.showPage()
        self._pages += 1

    def set_font(self, family: str, style: str = "", size: float = 0) -> None:
        self._font = (family, size)
        self._c.setFont(family, size)

    def get_string_width(self, s: str) -> float:
        family, size = self._font
        return float(pdfmetrics.stringWidth(s, family, size)) / _MM

    def text(self, x: float, y: float, text: str = "") -> None:
        if self._fill_stroke:
            t = self._c.beginText(x * _MM, (_PAGE_H_MM - y) * _MM)
            t.setTextRenderMode(2)
            t.setFont(*self._font)
            t.textOut(text)
            self._c.drawText(t)
        else:
            self._c.drawString(x * _MM, (_PAGE_H_MM - y) * _MM, text)

    def set_text_color(self, r: int, g: int = -1, b: int = -1) -> None:
        self._c.setFillColorRGB(r / 255, g / 255, b / 255)

    def set_draw_color(self, r: int, g: int = -1, b: int = -1) -> None:
        self._c.setStrokeColorRGB(r / 255, g / 255, b / 255)

    def set_line_width(self, width: float) -> None:
        self._c.setLineWidth(width * _MM)

    # -- vector drawing -----------------------------------------------------------------------

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self._c.line(x1 * _MM, (_PAGE_H_MM - y1) * _MM, x2 * _MM, (_PAGE_H_MM - y2) * _MM)

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        self._c.rect(x * _MM, (_PAGE_H_MM - y - h) * _MM, w * _MM, h * _MM, stroke=1, fill=0)

    def circle(self, x: float, y: float, radius: float) -> None:
        self._c.circle(x * _MM, (_PAGE_H_MM - y) * _MM, radius * _MM, stroke=1, fill=0)

    @contextlib.contextmanager
    def rotation(self, angle: float, x: float, y: float) -> Iterator[None]:
        c = self._c
        c.saveState()
        c.translate(x * _MM, (_PAGE_H_MM - y) * _MM)
        c.rotate(angle)
        c.translate(-x * _MM, -(_PAGE_H_MM - y) * _MM)
        try:
            yield
        finally:
            c.restoreState()

    @contextlib.contextmanager
    def rect_clip(self, x: float, y: float, w: float, h: float) -> Iterator[None]:
        c = self._c
        c.saveState()
        path = c.beginPath()
        path.rect(x * _MM, (_PAGE_H_MM - y - h) * _MM, w * _MM, h * _MM)
        c.clipPath(path, stroke=0, fill=0)
        try:
            yield
        finally:
            c.restoreState()

    @contextlib.contextmanager
    def local_context(self, **kwargs: Any) -> Iterator[None]:
        c = self._c
        c.saveState()
        if "line_width" in kwargs:
            c.setLineWidth(kwargs["line_width"] * _MM)
        previous = self._fill_stroke
        self._fill_stroke = kwargs.get("text_mode") is TextMode.FILL_STROKE
        try:
            yield
        finally:
            self._fill_stroke = previous
            c.restoreState()

    # -- images -------------------------------------------------------------------------------

    def _path(self, art: Artwork) -> str:
        path = self._dir / f"{art.key}.png"
        if not path.exists():
            path.write_bytes(art.data)
        return str(path)

    def artwork(
        self, art: Artwork, x: float, y: float, w: float, h: float, *, fit: bool = False
    ) -> None:
        self._c.drawImage(
            self._path(art),
            x * _MM,
            (_PAGE_H_MM - y - h) * _MM,
            w * _MM,
            h * _MM,
            mask="auto",
            preserveAspectRatio=fit,
            anchor="c",
        )

    def tiles(self, art: Artwork, placements: Sequence[tuple[float, float, float, float]]) -> None:
        for x, y, w, h in placements:
            self.artwork(art, x, y, w, h)

    def save(self) -> None:
        self._c.save()


class ReportLabRenderer:
    """The same certificate through ReportLab: fonts registered once, images kept as files."""

    def __init__(self, font_path: Path, ground: Artwork) -> None:
        import _rl_accel  # type: ignore[import-not-found]  # noqa: F401  # fail, not run slow

        rl_config.useA85 = 0  # binary streams, as fpdf2 writes them
        self._face = register_font(font_path, "BaselineMincho")
        self._ground = ground
        self._tmp = tempfile.TemporaryDirectory(prefix="konbini-rl-")
        self._dir = Path(self._tmp.name)

    def render(self, doc: CertificateDocument, *, created_at: datetime) -> bytes:
        del created_at  # invariant=1 pins ReportLab's dates
        out = io.BytesIO()
        surface = ReportLabSurface(out, self._dir, doc.title)
        drawn = lay_out(surface, doc, body=self._face, heading=None, ground=self._ground)
        if drawn.missing:
            raise ValueError(f"the baseline font lacks {sorted(drawn.missing)}")
        surface.save()
        return out.getvalue()

    def close(self) -> None:
        self._tmp.cleanup()
