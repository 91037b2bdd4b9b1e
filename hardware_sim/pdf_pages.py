"""What the emulated printer reads of a PDF before it feeds paper: its pages, found the quick way.

A PDF written in one go with a classic cross-reference table (what the center's renderer writes:
PDF 1.7 §7.5) is read here in tens of microseconds: the trailer, every in-use entry of the table
checked against the object it points to, the catalogue, and the page tree walked to its leaves.
Anything else (a cross-reference stream, an incremental update, an encrypted file, an offset
that does not point at its object, a page tree that is not a tree, a token this small reader
does not know) is not judged here: `quick_page_count` returns None and the caller reads the
file the slow way (pypdf), which may still refuse it or repair it. So this reader only ever
agrees with pypdf, sooner; `tests/unit/test_printer_pdf_pages.py` checks that on mutated files.
"""

from __future__ import annotations

import re
from typing import NamedTuple, TypeAlias

# The last three lines, each on a line of its own (pypdf reads them so).
_TAIL = re.compile(rb"(?<=[\r\n])startxref(?:\r\n|\r|\n)(\d+)(?:\r\n|\r|\n)%%EOF[\r\n]*\Z")
_XREF_HEAD = re.compile(rb"xref[\r\n ]+0 (\d+)[\r\n ]+")
# One 20-byte entry (§7.5.4): 10-digit offset, 5-digit generation, n or f, a 2-byte EOL.
_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?: \r| \n|\r\n)")
_ENTRY_SIZE = 20
# White space without NUL: the standard counts NUL as white space, pypdf reads it into a name
# ("/Page\x00" is no page to it), so a file with one there is left to pypdf.
_SPACE = rb"[\t\n\x0c\r ]"
# A regular character: printable ASCII, neither a delimiter nor white space (the standard
# allows any other byte; pypdf takes some controls for white space, so they go to pypdf).
_REGULAR = rb"[!-$&'*-.0-;=?-Z\\^-z|~]"
# One token after white space and comments: a reference ("12 0 R", groups 1 and 2), else
# (group 3) a dictionary or array bracket, the "(" of a literal string (scanned by
# `_skip_string`), a hex string, a name, or a regular run (a number, a keyword).
_TOKEN = re.compile(
    rb"(?:%s|%%[^\r\n]*)*" % _SPACE
    + rb"(?:(\d+)%s+(\d+)%s+R(?!%s)" % (_SPACE, _SPACE, _REGULAR)
    + rb"|(<<|>>|\[|\]|\(|<[0-9A-Fa-f\t\n\x0c\r ]*>|/%s*|%s+))" % (_REGULAR, _REGULAR)
)
_INTEGER = re.compile(rb"[+-]?\d+")
_REAL = re.compile(rb"[+-]?(?:\d+\.\d*|\.\d+)")
# A trailer with any of these is an update or an encrypted file: not for the quick reader.
_UPDATED = frozenset({b"/Prev", b"/Encrypt", b"/XRefStm"})
_MAX_DEPTH = 32  # nesting of arrays and dictionaries, and of the page tree


class _Unsure(Exception):
    """The file is not laid out as this reader expects: pypdf decides."""


class _Ref(NamedTuple):
    number: int
    generation: int


class _Str:
    """A literal or hex string; the printer needs none of their contents."""


_STRING = _Str()
_Value: TypeAlias = (
    int | float | bool | bytes | _Ref | _Str | list["_Value"] | dict[bytes, "_Value"] | None
)
_KEYWORDS: dict[bytes, _Value] = {b"true": True, b"false": False, b"null": None}


def quick_page_count(pdf: bytes) -> int | None:
    """The number of pages when the file is a whole, classically laid-out PDF; else None."""
    try:
        return _Reader(pdf).page_count()
    except (_Unsure, ValueError, IndexError, RecursionError):
        return None


class _Reader:
    def __init__(self, pdf: bytes) -> None:
        if not pdf.startswith(b"%PDF-"):
            raise _Unsure
        tail = _TAIL.search(pdf, max(0, len(pdf) - 64))
        if tail is None:
            raise _Unsure
        start = int(tail[1])
        head = _XREF_HEAD.match(pdf, start)
        if head is None:
            raise _Unsure
        size = int(head[1])
        entries = head.end()
        trailer = entries + size * _ENTRY_SIZE
        self._pdf = pdf
        self._offsets: dict[int, int] = {}
        for number in range(size):
            at = entries + number * _ENTRY_SIZE
            entry = _ENTRY.fullmatch(pdf, at, at + _ENTRY_SIZE)
            if entry is None:
                raise _Unsure
            offset, generation = int(entry[1]), int(entry[2])
            if entry[3] == b"f":
                continue
            header = b"%d %d obj" % (number, generation)
            if generation or not 0 < offset < start or not pdf.startswith(header, offset):
                raise _Unsure
            self._offsets[number] = offset + len(header)
        keyword, after = self._token(trailer)
        dictionary, end = self._value(after, 0) if keyword == b"trailer" else (None, 0)
        if not isinstance(dictionary, dict) or self._token(end)[0] != b"startxref":
            raise _Unsure
        if not _is_int(dictionary.get(b"/Size"), size) or _UPDATED & dictionary.keys():
            raise _Unsure
        self._trailer = dictionary

    def page_count(self) -> int:
        catalogue = self._dictionary(self._trailer.get(b"/Root"), b"/Catalog")
        root = catalogue.get(b"/Pages")
        if not isinstance(root, _Ref):
            raise _Unsure
        pages = self._leaves(self._dictionary(root, b"/Pages"), {root}, 0)
        if pages < 1:
            raise _Unsure
        return pages

    def _leaves(self, node: dict[bytes, _Value], seen: set[_Ref], depth: int) -> int:
        """Pages under a /Pages node, which must say as many in its /Count."""
        kids = node.get(b"/Kids")
        if depth > _MAX_DEPTH or not isinstance(kids, list):
            raise _Unsure
        pages = 0
        for kid in kids:
            if not isinstance(kid, _Ref) or kid in seen:
                raise _Unsure  # not a tree: pypdf decides what it makes of it
            seen.add(kid)
            child = self._dictionary(kid, None)
            if child.get(b"/Type") == b"/Page":
                pages += 1
            elif child.get(b"/Type") == b"/Pages":
                pages += self._leaves(child, seen, depth + 1)
            else:
                raise _Unsure
        if not _is_int(node.get(b"/Count"), pages):
            raise _Unsure
        return pages

    def _dictionary(self, ref: _Value, kind: bytes | None) -> dict[bytes, _Value]:
        """The dictionary object `ref` points to (of /Type `kind` when given)."""
        if not isinstance(ref, _Ref) or ref.generation or ref.number not in self._offsets:
            raise _Unsure
        value, _ = self._value(self._offsets[ref.number], 0)
        if not isinstance(value, dict) or (kind is not None and value.get(b"/Type") != kind):
            raise _Unsure
        return value

    # -- the object syntax (§7.3), as much as a page tree uses -------------------------------

    def _token(self, at: int) -> tuple[bytes, int]:
        """The next token (b"R" for a whole reference) and the position after it."""
        token = _TOKEN.match(self._pdf, at)
        if token is None:
            raise _Unsure
        return token[3] or b"R", token.end()

    def _value(self, at: int, depth: int) -> tuple[_Value, int]:
        if depth > _MAX_DEPTH:
            raise _Unsure
        match = _TOKEN.match(self._pdf, at)
        if match is None:
            raise _Unsure
        token, at = match[3], match.end()
        if token is None:
            return _Ref(int(match[1]), int(match[2])), at
        if token == b"<<":
            dictionary: dict[bytes, _Value] = {}
            while True:
                key, after = self._token(at)
                if key == b">>":
                    return dictionary, after
                if not key.startswith(b"/"):
                    raise _Unsure
                dictionary[key], at = self._value(after, depth + 1)
        if token == b"[":
            array: list[_Value] = []
            while True:
                item, after = self._token(at)
                if item == b"]":
                    return array, after
                value, at = self._value(at, depth + 1)
                array.append(value)
        if token == b"(":
            return _STRING, _skip_string(self._pdf, at)
        if token[:1] == b"<":
            return _STRING, at
        if token[:1] == b"/":
            return token, at
        if _INTEGER.fullmatch(token):
            return int(token), at
        if _REAL.fullmatch(token):
            return float(token), at
        if token in _KEYWORDS:
            return _KEYWORDS[token], at
        raise _Unsure  # R, obj, stream or anything else where a value should be


def _is_int(value: _Value, expected: int) -> bool:
    return type(value) is int and value == expected  # not True for 1


def _skip_string(pdf: bytes, at: int) -> int:
    """The position after a literal string whose "(" ends at `at` (balanced, with escapes)."""
    depth = 1
    while depth:
        char = pdf[at]  # IndexError at the end of the file: an unterminated string
        if char == 0x5C:  # backslash: the next byte is escaped
            at += 1
        elif char == 0x28:
            depth += 1
        elif char == 0x29:
            depth -= 1
        at += 1
    return at
