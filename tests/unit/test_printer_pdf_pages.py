"""The printer's quick PDF reader: it counts what pypdf counts, or leaves the file to pypdf."""

from __future__ import annotations

import io

import pypdf
import pytest
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_sim.pdf_pages import quick_page_count
from hardware_sim.printer import KioskPrinter, PrinterFault
from server.issuance.pdf import CertificateRenderer, RendererConfig
from server.verify.seal import CopySealer
from tests.unit.test_certificate_pdf import CREATED, HOUSEHOLD, MINCHO, MUNICIPALITY, juminhyo
from tests.verify_tools import FixedSigners, seeded_signer


def fpdf_file(pages: int) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.text(20, 20, f"page {n + 1}")
    return bytes(pdf.output())


def pypdf_count(pdf: bytes) -> int | None:
    """What the printer read every file with before: pypdf's page count, None if it fails."""
    try:
        return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    except Exception:
        return None


def classic_file(objects: dict[int, bytes], root: int) -> bytes:
    """A PDF with these objects (number -> text between "obj" and "endobj") and a classic
    cross-reference table, for page trees fpdf2 does not write."""
    size = max(objects) + 1
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        if number in offsets:
            out += b"%010d 00000 n \n" % offsets[number]
        else:
            out += b"0000000000 00000 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, start)
    return bytes(out)


PAGE = b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595.28 841.89] >>"


def nested_tree() -> dict[int, bytes]:
    """Catalogue 1, root /Pages 2 with a page (3) and a /Pages node (4) of two pages (5, 6)."""
    return {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 3 >>",
        3: PAGE % 2,
        4: b"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 6 0 R] /Count 2 >>",
        5: PAGE % 4,
        6: PAGE % 4,
    }


ONE = fpdf_file(1)


@pytest.mark.parametrize("pages", [1, 2, 3, 7, 12])
def test_files_fpdf2_writes_are_counted_the_quick_way_as_pypdf_counts_them(pages: int) -> None:
    pdf = fpdf_file(pages)
    assert quick_page_count(pdf) == pypdf_count(pdf) == pages


@pytest.mark.skipif(not MINCHO.is_file(), reason="IPAex fonts not installed")
@pytest.mark.parametrize("household", [3, 12])
def test_the_centers_sealed_copies_are_counted_the_quick_way(household: int) -> None:
    renderer = CertificateRenderer(
        RendererConfig(font_path=MINCHO),
        sealer=CopySealer(FixedSigners(seeded_signer(MUNICIPALITY.code, 1))),
    )
    pdf = renderer.render(
        juminhyo(HOUSEHOLD[:household], household_size=household), created_at=CREATED
    )
    assert quick_page_count(pdf) == pypdf_count(pdf)
    assert quick_page_count(pdf) is not None


def test_a_nested_page_tree_is_walked_to_its_leaves() -> None:
    pdf = classic_file(nested_tree(), root=1)
    assert quick_page_count(pdf) == pypdf_count(pdf) == 3


@pytest.mark.parametrize(
    "change",
    [
        {2: b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 4 >>"},  # /Count says another number
        {4: b"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 2 0 R] /Count 2 >>"},  # a cycle
        {4: b"<< /Type /Pages /Kids [5 0 R 5 0 R] /Count 2 >>"},  # one page twice
        {3: b"<< /Type /Pagex /Parent 2 0 R >>"},  # neither a page nor a node
        {2: b"<< /Type /Pages /Kids [3 0 R 9 0 R] /Count 2 >>"},  # a kid not in the table
        {1: b"<< /Type /Catalog /Pages 2 0 R /Metadata (open >>"},  # a string never closed
        {2: b"<< /Type /Pages /Kids [] /Count 0 >>"},  # no pages
    ],
)
def test_a_page_tree_it_cannot_vouch_for_is_left_to_pypdf(change: dict[int, bytes]) -> None:
    assert quick_page_count(classic_file(nested_tree() | change, root=1)) is None


def test_an_offset_that_misses_its_object_is_left_to_pypdf() -> None:
    pdf = classic_file(nested_tree(), root=1)
    shifted = pdf.replace(b"\n3 0 obj", b"\n 3 0 obj", 1)  # the table still says the old place
    assert quick_page_count(shifted) is None


@pytest.mark.parametrize(
    ("standard", "odd"),
    [
        (b"/Type /Page\n", b"/Type /Page\x00"),  # NUL: white space to the standard, not to pypdf
        (b"/Contents", b"/Cont\x0bnts"),  # a control character inside a name
        (b">>\nstartxref", b">>startxref"),  # startxref not on a line of its own
    ],
)
def test_bytes_pypdf_reads_otherwise_than_the_standard_are_left_to_it(
    standard: bytes, odd: bytes
) -> None:
    assert standard in ONE
    assert quick_page_count(ONE.replace(standard, odd)) is None


def test_an_incremental_update_is_left_to_pypdf() -> None:
    writer = pypdf.PdfWriter(io.BytesIO(ONE), incremental=True)
    writer.add_metadata({"/Title": "updated"})
    out = io.BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert b"/Prev" in updated
    assert quick_page_count(updated) is None
    assert KioskPrinter("P1").print_pdf(updated).pages_expected == 1  # pypdf reads it


@pytest.mark.parametrize(
    "damaged", [ONE[: len(ONE) // 2], ONE[100:], ONE.replace(b"/Type /Page\n", b"/Type /Pagx\n")]
)
def test_a_damaged_copy_is_still_refused_by_the_printer(damaged: bytes) -> None:
    assert quick_page_count(damaged) is None
    outcome = KioskPrinter("P1").print_pdf(damaged)
    assert outcome.fault is PrinterFault.INVALID_DOCUMENT


_MUTATION = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, len(ONE)), st.just(b"")),
    st.tuples(st.just("set"), st.integers(0, len(ONE) - 1), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("insert"), st.integers(0, len(ONE)), st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("drop"), st.integers(0, len(ONE) - 1), st.binary(min_size=1, max_size=40)),
)


@settings(max_examples=300)
@given(st.lists(_MUTATION, min_size=1, max_size=3))
def test_whatever_the_quick_reader_counts_pypdf_counts_the_same(
    mutations: list[tuple[str, int, bytes]],
) -> None:
    pdf = ONE
    for kind, at, data in mutations:
        at = min(at, len(pdf))
        if kind == "cut":
            pdf = pdf[:at]
        elif kind == "set":
            pdf = pdf[:at] + data + pdf[at + len(data) :]
        elif kind == "insert":
            pdf = pdf[:at] + data + pdf[at:]
        else:
            pdf = pdf[:at] + pdf[at + len(data) :]
    quick = quick_page_count(pdf)
    if quick is not None:
        assert quick == pypdf_count(pdf)
