"""Helpers for the verification tests: seeded seal keys, and editing a PDF's printed text.

`edit_text` changes one character of a drawn string the way a forger with a PDF editor would:
in the page's content stream, the glyph code of that character is replaced by the code of
another character the embedded font subset already has, so the copy still renders cleanly.
"""

from __future__ import annotations

import io
from typing import cast

from cryptography.hazmat.primitives.asymmetric import ec
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ByteStringObject, ContentStream, DictionaryObject, NameObject

from server.verify.keys import SealSigner
from server.verify.printed import parse_to_unicode, string_bytes


def seeded_signer(municipality_code: str, seed: int) -> SealSigner:
    """A real P-256 key from a fixed scalar, so tests are repeatable."""
    scalar = 0x1F2E3D4C5B6A79880011223344556677 * (seed + 1) + seed
    return SealSigner(municipality_code, ec.derive_private_key(scalar, ec.SECP256R1()))


class FixedSigners:
    """A `SignerSource` over keys given up front (the center's is `SealKeyStore`)."""

    def __init__(self, *signers: SealSigner) -> None:
        self._signers = {s.municipality_code: s for s in signers}

    def signer(self, municipality_code: str) -> SealSigner:
        return self._signers[municipality_code]


def edit_text(pdf: bytes, old: str, new_char: str | None = None, *, page: int = 0) -> bytes:
    """The PDF with the first character of `old` (in the first string drawing it) replaced.

    `new_char` must be in the font subset; by default another character of the subset is used.
    """
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter(clone_from=reader)
    target = writer.pages[page]
    resources = cast(DictionaryObject, target["/Resources"])
    font = next(iter(cast(DictionaryObject, resources["/Font"]).values())).get_object()
    chars = parse_to_unicode(font["/ToUnicode"].get_object().get_data())
    codes = {ch: code for code, ch in chars.items()}
    if new_char is None:
        new_char = next(ch for ch in codes if ch != old[0] and ord(ch) > 0x3000)
    contents = target.get_contents()
    assert contents is not None
    stream = ContentStream(contents, writer)
    for operands, op in stream.operations:
        if op != b"Tj":
            continue
        raw = string_bytes(operands[0])
        text = "".join(
            chars.get(int.from_bytes(raw[i : i + 2], "big"), "?") for i in range(0, len(raw), 2)
        )
        at = text.find(old)
        if at < 0:
            continue
        edited = text[:at] + new_char + text[at + 1 :]
        operands[0] = ByteStringObject(b"".join(codes[c].to_bytes(2, "big") for c in edited))
        break
    else:
        raise LookupError(f"{old!r} is not drawn on page {page + 1}")
    stream.set_data(stream.get_data())  # re-serialise the edited operations
    target[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
