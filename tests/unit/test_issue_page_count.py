"""The page count stored with a copy: read from the page tree, as pypdf counts it."""

from __future__ import annotations

import io

import pypdf
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st

from server.issuance.service import pdf_page_count


def _fpdf(pages: int) -> bytes:
    """A file laid out as the certificate renderer's (fpdf2): one xref table, no streams of
    objects."""
    pdf = FPDF()
    for n in range(pages):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.cell(text=f"/Count {n + 99} /Type /Pages")  # text that looks like a page tree
    return bytes(pdf.output())


def _pypdf_count(data: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=12))
def test_the_count_is_the_page_trees(pages: int) -> None:
    data = _fpdf(pages)
    assert pdf_page_count(data) == pages == _pypdf_count(data)


def test_a_file_written_otherwise_is_counted_by_pypdf() -> None:
    writer = pypdf.PdfWriter()
    for _ in range(3):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    assert pdf_page_count(out.getvalue()) == 3


def test_an_unreadable_cross_reference_falls_back_to_a_full_parse() -> None:
    data = _fpdf(4)
    at = data.rindex(b"startxref")
    broken = data[:at] + b"startxref\n7\n%%EOF\n"  # points into the header
    assert pdf_page_count(broken) == 4 == _pypdf_count(broken)
    incremental = data + b"\n% an update appended after the end\n"
    assert pdf_page_count(incremental) == 4
