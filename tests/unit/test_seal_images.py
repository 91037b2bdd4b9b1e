"""Seal impressions: valid PNGs, byte-for-byte deterministic, red ink on transparency."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from server.bcl.seal_images import (
    DEFAULT_FONT,
    SealFontNotFound,
    municipal_seal,
    personal_seal,
)

pytestmark = pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="IPAex Mincho not installed")


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "PNG"
    return img


def ink_pixels(img: Image.Image) -> list[tuple[int, int, int]]:
    """RGB of the pixels that are mostly ink."""
    raw = img.convert("RGBA").tobytes()
    return [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 4) if raw[i + 3] > 128]


class Alpha:
    def __init__(self, img: Image.Image) -> None:
        self.width = img.width
        self.raw = img.getchannel("A").tobytes()

    def __getitem__(self, xy: tuple[int, int]) -> int:
        x, y = xy
        return self.raw[y * self.width + x]


@pytest.mark.parametrize("name", ["佐藤", "林", "佐々木", "髙橋", "勅使河原"])
def test_personal_seal_is_a_red_round_impression(name: str) -> None:
    img = open_png(personal_seal(name))
    assert img.size == (240, 240) and img.mode == "RGBA"
    ink = ink_pixels(img)
    assert 0.08 < len(ink) / (240 * 240) < 0.6
    assert all(r > 150 and g < 80 and b < 80 for r, g, b in ink)
    # Round: the corners outside the circle carry no ink, the ring at mid-height does.
    alpha = Alpha(img)
    for corner in [(2, 2), (237, 2), (2, 237), (237, 237), (20, 20)]:
        assert alpha[corner] == 0
    assert max(alpha[x, 120] for x in range(0, 20)) > 128


def test_personal_seal_is_deterministic_and_name_specific() -> None:
    assert personal_seal("佐藤") == personal_seal("佐藤")
    assert personal_seal("佐藤") != personal_seal("加藤")
    assert open_png(personal_seal("佐藤", size=120)).size == (120, 120)


def test_municipal_seal_is_square_red_on_transparency() -> None:
    img = open_png(municipal_seal("千代田区長之印"))
    assert img.size == (300, 300) and img.mode == "RGBA"
    alpha = Alpha(img)
    # Transparent background: most pixels carry no ink at all, so text below shows through.
    assert alpha.raw.count(0) / (300 * 300) > 0.4
    ink = ink_pixels(img)
    assert all(r > 150 and g < 80 and b < 80 for r, g, b in ink)
    # Square: the border runs along each edge, near the corners too.
    for x, y in [(15, 15), (284, 15), (15, 284), (284, 284), (150, 12)]:
        assert max(alpha[x + dx, y + dy] for dx in (-3, 0, 3) for dy in (-3, 0, 3)) > 0


def test_municipal_seal_is_deterministic() -> None:
    assert municipal_seal("千代田区長之印") == municipal_seal("千代田区長之印")
    assert municipal_seal("千代田区長之印") != municipal_seal("横浜市長之印")


def test_empty_text_or_a_tiny_size_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        personal_seal("　")
    with pytest.raises(ValueError, match="size"):
        municipal_seal("千代田区長之印", size=8)


def test_a_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.ttf"
    with pytest.raises(SealFontNotFound, match="seal font not found") as err:
        municipal_seal("印", font_path=missing)
    assert err.value.code == "SEAL_FONT_NOT_FOUND"
    assert isinstance(err.value, FileNotFoundError)
