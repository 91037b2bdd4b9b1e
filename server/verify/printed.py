"""The printed text of a copy: what the seal's digest covers, and reading it back from a PDF.

"Printed fields" are defined by what the renderer draws, not by the data behind it: every string
the sheet sets with `Sheet.text` (title, labels, values, the issue number, page x/y, the
certification, the mayor, micro text and the seals' lettering), page by page, in drawing order.
Empty strings are left out. The canonical form is that list of pages as compact JSON:

    json.dumps([[s, ...], ...], ensure_ascii=False, separators=(",", ":")).encode("utf-8")

and the digest is SHA-256 over it. Anyone can recompute it from a PDF with any PDF library that
maps the drawn glyphs back to Unicode through the fonts' ToUnicode maps; here that is
`extract_printed_text`, which reads each text-showing operator (Tj, TJ, ', ") of each page and of
the form XObjects it paints, in content-stream order. Editing, adding or removing a character
anywhere changes the digest; so does text an annotation shows over a page (its `/Contents` and
its appearance), which is how PDF editors usually add text, and text in a tiling pattern's cell.
Images are not covered (the ground, the seal impression): an image pasted over the text is for
the eye of the person comparing the copy with the fields the QR carries, which `konbini verify`
prints. Nor are glyph shapes: a font whose outlines or ToUnicode map were edited draws other
characters than it decodes to (docs/verification.md, limits).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    ContentStream,
    DictionaryObject,
    NameObject,
    StreamObject,
)

Pages = Sequence[Sequence[str]]
MAX_PAGES = 64  # no kiosk copy comes near; bounds the work a hostile PDF can ask for
_MAX_FORM_DEPTH = 4


class PdfUnreadable(ValueError):
    """The bytes are not a PDF this verifier can read."""


def canonical_text(pages: Pages) -> bytes:
    kept = [[s for s in page if s] for page in pages]
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def printed_digest(pages: Pages) -> bytes:
    return hashlib.sha256(canonical_text(pages)).digest()


_HEX = re.compile(rb"<([0-9A-Fa-f]+)>")
_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.S)
_BFRANGE = re.compile(rb"beginbfrange(.*?)endbfrange", re.S)
_RANGE_LINE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[[^\]]*\])")


def _utf16(hex_digits: bytes) -> str:
    return bytes.fromhex(hex_digits.decode("ascii")).decode("utf-16-be", errors="replace")


def parse_to_unicode(cmap: bytes) -> dict[int, str]:
    """A ToUnicode CMap's bfchar and bfrange entries as code → text."""
    out: dict[int, str] = {}
    for block in _BFCHAR.findall(cmap):
        values = _HEX.findall(block)
        for src, dst in zip(values[::2], values[1::2], strict=False):
            out[int(src, 16)] = _utf16(dst)
    for block in _BFRANGE.findall(cmap):
        for lo_hex, hi_hex, dst in _RANGE_LINE.findall(block):
            lo, hi = int(lo_hex, 16), int(hi_hex, 16)
            if hi - lo > 0xFFFF:
                continue
            if dst.startswith(b"["):
                for i, item in enumerate(_HEX.findall(dst)):
                    out[lo + i] = _utf16(item)
            else:
                base = bytes.fromhex(dst[1:-1].decode("ascii"))
                for i in range(hi - lo + 1):
                    tail = int.from_bytes(base[-2:], "big") + i
                    out[lo + i] = (base[:-2] + tail.to_bytes(2, "big")).decode(
                        "utf-16-be", errors="replace"
                    )
    return out


@dataclass
class _FontMap:
    width: int  # bytes per character code: 2 for Identity-H composite fonts, else 1
    chars: dict[int, str] = field(default_factory=dict)

    def decode(self, data: bytes) -> str:
        step = self.width
        out = []
        for i in range(0, len(data) - step + 1, step):
            code = int.from_bytes(data[i : i + step], "big")
            ch = self.chars.get(code)
            if ch is None:
                ch = chr(code) if step == 1 else "\ufffd"
            out.append(ch)
        return "".join(out)


def _font_map(font: DictionaryObject) -> _FontMap:
    width = 2 if font.get("/Subtype") == "/Type0" else 1
    fm = _FontMap(width)
    to_unicode = font.get("/ToUnicode")
    if to_unicode is not None:
        stream = to_unicode.get_object()
        if isinstance(stream, StreamObject):
            fm.chars = parse_to_unicode(stream.get_data())
    return fm


def _text_of(operands: Sequence[object], op: bytes) -> bytes:
    if op == b"TJ":
        arr = operands[0] if operands and isinstance(operands[0], list) else ArrayObject()
        return b"".join(string_bytes(x) for x in arr if not isinstance(x, (int, float)))
    return string_bytes(operands[-1]) if operands else b""


def string_bytes(value: object) -> bytes:
    """The bytes of a string operand as written in the content stream."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        # pypdf decodes some literal strings to text; the original bytes are kept beside it.
        original = getattr(value, "original_bytes", None)
        return original if isinstance(original, bytes) else value.encode("latin-1", "replace")
    return b""


def _walk(
    reader: PdfReader,
    content: object,
    resources: DictionaryObject,
    out: list[str],
    depth: int,
) -> None:
    fonts_dict = resources.get("/Font")
    fonts = fonts_dict.get_object() if fonts_dict is not None else DictionaryObject()
    xobjects_dict = resources.get("/XObject")
    xobjects = xobjects_dict.get_object() if xobjects_dict is not None else DictionaryObject()
    patterns_dict = resources.get("/Pattern")
    patterns = patterns_dict.get_object() if patterns_dict is not None else DictionaryObject()
    cache: dict[str, _FontMap] = {}
    current: _FontMap | None = None
    stack: list[_FontMap | None] = []
    stream = ContentStream(content, reader)
    for operands, op in stream.operations:
        if op == b"q":
            stack.append(current)
        elif op == b"Q":
            current = stack.pop() if stack else current
        elif op == b"Tf" and operands:
            name = str(operands[0])
            if name not in cache:
                font = fonts.get(name)
                cache[name] = _font_map(font.get_object()) if font is not None else _FontMap(1)
            current = cache[name]
        elif op in (b"Tj", b"TJ", b"'", b'"'):
            fm = current or _FontMap(1)
            out.append(fm.decode(_text_of(operands, op)))
        elif op in (b"scn", b"SCN") and operands and isinstance(operands[-1], NameObject):
            # A tiling pattern's cell is a content stream too: its text prints where it fills.
            pattern = patterns.get(operands[-1])
            cell = pattern.get_object() if pattern is not None else None
            if isinstance(cell, StreamObject) and cell.get("/PatternType") == 1:
                if depth >= _MAX_FORM_DEPTH:
                    raise PdfUnreadable(f"patterns nested more than {_MAX_FORM_DEPTH} deep")
                inner = cell.get("/Resources")
                inner_res = inner.get_object() if inner is not None else resources
                _walk(reader, cell, inner_res, out, depth + 1)
        elif op == b"Do" and operands:
            xobj = xobjects.get(NameObject(str(operands[0])))
            if xobj is None:
                continue
            form = xobj.get_object()
            if isinstance(form, StreamObject) and form.get("/Subtype") == "/Form":
                if depth >= _MAX_FORM_DEPTH:
                    # Skipping it would leave whatever it prints out of the digest.
                    raise PdfUnreadable(f"forms nested more than {_MAX_FORM_DEPTH} deep")
                inner = form.get("/Resources")
                inner_res = inner.get_object() if inner is not None else resources
                _walk(reader, form, inner_res, out, depth + 1)


def _annotations(
    reader: PdfReader, page: DictionaryObject, resources: DictionaryObject, out: list[str]
) -> None:
    """The text a page's annotations show over it (a PDF editor's "add text" writes one): its
    `/Contents` and the strings of its normal appearance. A copy as rendered has none."""
    annots = page.get("/Annots")
    if annots is None:
        return
    annots = annots.get_object()
    if not isinstance(annots, ArrayObject):
        return
    for ref in annots:
        annot = ref.get_object()
        if not isinstance(annot, DictionaryObject):
            continue
        if annot.get("/Subtype") in ("/Link", "/Popup"):
            continue  # not drawn as text (a popup's text is its parent's /Contents)
        contents = annot.get("/Contents")
        if contents is not None:
            out.append(str(contents.get_object()))
        ap = annot.get("/AP")
        normal = ap.get_object().get("/N") if ap is not None else None
        form = normal.get_object() if normal is not None else None
        if isinstance(form, DictionaryObject) and not isinstance(form, StreamObject):
            state = annot.get("/AS")  # one appearance per state (a check box): the one shown
            shown = form.get(state) if state is not None else None
            form = shown.get_object() if shown is not None else None
        if isinstance(form, StreamObject):
            inner = form.get("/Resources")
            _walk(reader, form, inner.get_object() if inner is not None else resources, out, 1)


def extract_printed_text(pdf: bytes) -> list[list[str]]:
    """Every page's drawn strings, in order, as the fonts' ToUnicode maps spell them."""
    try:
        reader = PdfReader(io.BytesIO(pdf), strict=False)
        if len(reader.pages) > MAX_PAGES:
            raise PdfUnreadable(f"more than {MAX_PAGES} pages")
        pages: list[list[str]] = []
        for page in reader.pages:
            strings: list[str] = []
            contents = page.get_contents()
            if contents is not None:
                res = page.get("/Resources")
                resources = res.get_object() if res is not None else DictionaryObject()
                _walk(reader, contents, resources, strings, 0)
            _annotations(reader, page, resources, strings)
            pages.append(strings)
        return pages
    except PdfUnreadable:
        raise
    except Exception as exc:
        # The bytes come from whoever asks; whatever a broken or hostile PDF makes the parser
        # raise (struct, zlib, assertion errors…) means only that it cannot be read.
        raise PdfUnreadable(f"cannot read the PDF: {type(exc).__name__}") from None
