"""Seal impression images (印影) as PNG bytes: a resident's round seal and a municipality's 公印.

Certificates print the registered seal impression (印鑑登録証明書) and the municipality's
official seal (公印) beside the mayor's name. Both images are drawn here from a CJK font so that
synthetic data looks like the real thing. Output is deterministic: the same text gives the same
bytes (the ink texture is seeded from the text) for a given Pillow and font, so golden files and
data uploads stay stable.
Backgrounds are transparent (RGBA) so a seal can overlap printed text like a real impression.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

DEFAULT_FONT = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")

SEAL_RED = (200, 32, 38)  # 朱肉 vermilion
_SUPERSAMPLE = 3  # draw large, then downscale: smooth edges without a vector renderer
# Mincho hairlines are far thinner than a carved seal's strokes: outline every glyph this much
# wider (a fraction of the drawing's size), which is much cheaper than dilating the image.
_STROKE = 1 / 170

_MIN_SIZE = 32  # below this the characters are a red smudge

Box = tuple[int, int, int, int]  # left, top, right, bottom


class SealFontNotFound(FileNotFoundError):
    """The CJK font needed to draw seal characters is not installed."""

    code = "SEAL_FONT_NOT_FOUND"


def personal_seal(family_name: str, *, size: int = 240, font_path: Path = DEFAULT_FONT) -> bytes:
    """A round red 印影 with the family name written top to bottom inside a circle border."""
    chars = _seal_chars(family_name, size)
    font = _load_font(font_path)
    big = size * _SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)

    border = round(big * 0.045)
    margin = round(big * 0.03)
    draw.ellipse((margin, margin, big - margin, big - margin), outline=255, width=border)
    inner_r = big / 2 - margin - border

    # Up to three characters stand in one column; longer names take two, read right to left.
    cols = 1 if len(chars) <= 3 else 2
    columns = _columns(chars, cols)
    rows = max(len(c) for c in columns)
    # Chars fill most of the circle; their corners are clipped by it, as on a carved seal.
    height = 2 * inner_r * {1: 0.78, 2: 0.90}.get(rows, 0.94)
    width = 2 * inner_r * ({1: 0.78, 2: 0.60, 3: 0.52}.get(rows, 0.50) if cols == 1 else 0.80)
    centre = big / 2
    box = _centred_box(centre, width, height)
    text = Image.new("L", (big, big), 0)
    _draw_columns(text, columns, box, font, gap=round(big * 0.012), stroke=round(big * _STROKE))
    clip = Image.new("L", (big, big), 0)
    ImageDraw.Draw(clip).ellipse(_centred_box(centre, 2 * inner_r, 2 * inner_r), fill=255)
    mask = ImageChops.lighter(mask, ImageChops.multiply(text, clip))
    return _finish(mask, size, seed_text=f"personal:{family_name}")


def municipal_seal(text: str, *, size: int = 300, font_path: Path = DEFAULT_FONT) -> bytes:
    """A square red official seal (公印), e.g. 「千代田区長之印」, in columns read right to left."""
    chars = _seal_chars(text, size)
    font = _load_font(font_path)
    big = size * _SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)

    border = round(big * 0.05)
    margin = round(big * 0.03)
    draw.rectangle((margin, margin, big - 1 - margin, big - 1 - margin), outline=255, width=border)

    # Typical 公印: 2 columns for up to 4 characters, 3 up to 9, then 4.
    cols = 2 if len(chars) <= 4 else 3 if len(chars) <= 9 else 4
    pad = margin + border + round(big * 0.035)
    text_mask = Image.new("L", (big, big), 0)
    _draw_columns(
        text_mask,
        _columns(chars, cols),
        (pad, pad, big - pad, big - pad),
        font,
        gap=round(big * 0.02),
        stroke=round(big * _STROKE),
    )
    mask = ImageChops.lighter(mask, text_mask)
    return _finish(mask, size, seed_text=f"municipal:{text}")


def _seal_chars(text: str, size: int) -> str:
    if size < _MIN_SIZE:
        raise ValueError(f"seal size must be at least {_MIN_SIZE} px, got {size}")
    chars = "".join(text.split())  # 全角 spaces between family and given name are not carved
    if not chars:
        raise ValueError("seal text must not be empty")
    return chars


def _load_font(font_path: Path) -> ImageFont.FreeTypeFont:
    if not font_path.is_file():
        raise SealFontNotFound(
            f"seal font not found: {font_path} (install fonts-ipaexfont-mincho or pass font_path=)"
        )
    return ImageFont.truetype(str(font_path), 64)  # resized per cell by _draw_columns


def _columns(chars: str, cols: int) -> list[str]:
    """Split text into columns, the first column being the rightmost; earlier ones take extra."""
    cols = min(cols, len(chars))
    base, extra = divmod(len(chars), cols)
    out: list[str] = []
    start = 0
    for i in range(cols):
        n = base + (1 if i < extra else 0)
        out.append(chars[start : start + n])
        start += n
    return out


def _centred_box(centre: float, width: float, height: float) -> Box:
    return (
        round(centre - width / 2),
        round(centre - height / 2),
        round(centre + width / 2),
        round(centre + height / 2),
    )


def _draw_columns(
    canvas: Image.Image,
    columns: list[str],
    box: Box,
    font: ImageFont.FreeTypeFont,
    *,
    gap: int,
    stroke: int,
) -> None:
    """Stretch each character to fill its cell; columns run right to left, top to bottom."""
    left, top, right, bottom = box
    col_w = (right - left - gap * (len(columns) - 1)) / len(columns)
    for c, column in enumerate(columns):
        x1 = right - c * (col_w + gap)
        x0 = x1 - col_w
        cell_h = (bottom - top - gap * (len(column) - 1)) / len(column)
        for r, ch in enumerate(column):
            y0 = top + r * (cell_h + gap)
            w, h = max(1, round(x1 - x0)), max(1, round(cell_h))
            # Rasterise near the cell's size so the stroke keeps its width after stretching.
            sized = font.font_variant(size=max(8, round(math.sqrt(w * h))))
            glyph = _glyph(sized, ch, stroke).resize((w, h), Image.Resampling.LANCZOS)
            canvas.paste(255, (round(x0), round(y0)), glyph)


def _glyph(font: ImageFont.FreeTypeFont, ch: str, stroke: int) -> Image.Image:
    """The character's ink, thickened by `stroke`, cropped to its bounding box for stretching."""
    left, top, right, bottom = (round(v) for v in font.getbbox(ch, stroke_width=stroke))
    img = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(img).text(
        (-left, -top), ch, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    return img


def _finish(mask: Image.Image, size: int, *, seed_text: str) -> bytes:
    """Downscale, add uneven ink seeded from the text, colour red on transparency, encode PNG."""
    mask = mask.resize((size, size), Image.Resampling.LANCZOS)
    rng = random.Random(hashlib.sha256(seed_text.encode()).digest())
    mask = ImageChops.multiply(mask, _ink_texture(rng, size))
    out = Image.new("RGBA", (size, size), (*SEAL_RED, 0))
    out.putalpha(mask)
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _ink_texture(rng: random.Random, size: int) -> Image.Image:
    """An alpha multiplier: mostly full ink, softer patches, and a few bare specks."""
    # Low-frequency unevenness: coarse noise scaled up smoothly.
    coarse = max(4, size // 24)
    patches = Image.frombytes("L", (coarse, coarse), rng.randbytes(coarse * coarse))
    patches = patches.resize((size, size), Image.Resampling.BICUBIC)
    patches = patches.point(lambda v: 185 + v * 70 // 255)
    # Specks where the paper did not take ink: fine noise, blurred, thresholded.
    fine = Image.frombytes("L", (size, size), rng.randbytes(size * size))
    fine = fine.filter(ImageFilter.GaussianBlur(max(0.6, size / 260)))
    cut = 128 - math.ceil(30 * min(1.0, size / 240))
    specks = fine.point(lambda v: 0 if v < cut else 255)
    return ImageChops.multiply(patches, specks)
