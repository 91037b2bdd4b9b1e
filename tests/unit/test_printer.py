"""The emulated kiosk printer: whole jobs, faults mid-job, garbage in, and recovery."""

from __future__ import annotations

import io

import pypdf
import pytest
from fpdf import FPDF
from hypothesis import given
from hypothesis import strategies as st

from hardware_sim.printer import (
    KioskPrinter,
    PrintedDocument,
    PrinterFault,
    PrinterState,
    PrintOutcome,
)


def make_pdf(pages: int) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.text(20, 20, f"page {n + 1}")
    return bytes(pdf.output())


ONE, TWO, THREE = make_pdf(1), make_pdf(2), make_pdf(3)


def test_a_whole_job_consumes_one_sheet_per_page() -> None:
    printer = KioskPrinter("P1", paper_sheets=10)
    outcome = printer.print_pdf(TWO)
    assert outcome == PrintOutcome(ok=True, pages_printed=2, pages_expected=2, fault=None)
    assert outcome.fault_name == ""
    assert printer.status().paper_left == 8
    assert printer.status().state is PrinterState.READY
    assert printer.printed == [PrintedDocument(TWO, pages=2, pages_printed=2)]
    assert printer.printed[0].complete


def test_a_printer_told_to_keep_the_last_jobs_forgets_older_ones_and_still_parses_each() -> None:
    printer = KioskPrinter("P1", paper_sheets=10, keep_printed=2)
    for pdf in (ONE, TWO, THREE):
        assert printer.print_pdf(pdf).ok
    assert [d.pdf for d in printer.printed] == [TWO, THREE]
    assert printer.status().paper_left == 4
    assert not printer.print_pdf(b"%PDF-1.4 not really").ok  # still parsed, still refused
    nothing_kept = KioskPrinter("P2", keep_printed=0)
    assert nothing_kept.print_pdf(ONE).ok and nothing_kept.printed == []


def test_jam_after_one_page_of_two() -> None:
    printer = KioskPrinter("P1")
    printer.inject(PrinterFault.JAM, after_pages=1)
    outcome = printer.print_pdf(TWO)
    assert not outcome.ok
    assert (outcome.pages_printed, outcome.pages_expected) == (1, 2)
    assert outcome.fault is PrinterFault.JAM
    assert outcome.fault_name == "jam"
    assert printer.status().state is PrinterState.JAMMED
    # The partial copy is kept for inspection and marked incomplete: the kiosk must void it.
    assert printer.printed == [PrintedDocument(TWO, pages=2, pages_printed=1)]
    assert not printer.printed[0].complete


def test_a_jammed_printer_prints_nothing_until_cleared() -> None:
    printer = KioskPrinter("P1")
    printer.inject(PrinterFault.JAM)
    assert printer.status().state is PrinterState.JAMMED
    assert printer.print_pdf(ONE) == PrintOutcome(False, 0, 1, PrinterFault.JAM)
    assert printer.printed == []
    printer.clear()
    assert printer.print_pdf(ONE).ok


def test_paper_runs_out_mid_job() -> None:
    printer = KioskPrinter("P1", paper_sheets=2)
    outcome = printer.print_pdf(THREE)
    assert outcome == PrintOutcome(False, 2, 3, PrinterFault.OUT_OF_PAPER)
    assert printer.status().state is PrinterState.OUT_OF_PAPER
    assert printer.status().paper_left == 0
    assert printer.print_pdf(ONE).fault is PrinterFault.OUT_OF_PAPER
    printer.clear()  # clearing adds no paper
    assert printer.status().state is PrinterState.OUT_OF_PAPER
    printer.load_paper(100)
    assert printer.print_pdf(THREE).ok


def test_the_last_sheet_finishes_a_job() -> None:
    printer = KioskPrinter("P1", paper_sheets=2)
    assert printer.print_pdf(TWO).ok
    assert printer.status().state is PrinterState.OUT_OF_PAPER


def test_injected_out_of_paper_empties_the_tray() -> None:
    printer = KioskPrinter("P1")
    printer.inject(PrinterFault.OUT_OF_PAPER)
    assert printer.print_pdf(ONE) == PrintOutcome(False, 0, 1, PrinterFault.OUT_OF_PAPER)
    printer = KioskPrinter("P1")
    printer.inject(PrinterFault.OUT_OF_PAPER, after_pages=1)
    assert printer.print_pdf(TWO) == PrintOutcome(False, 1, 2, PrinterFault.OUT_OF_PAPER)


def test_cover_open_now_and_later() -> None:
    printer = KioskPrinter("P1")
    printer.inject(PrinterFault.COVER_OPEN)
    assert printer.status().state is PrinterState.COVER_OPEN
    assert printer.print_pdf(ONE).fault is PrinterFault.COVER_OPEN
    printer.clear()
    printer.inject(PrinterFault.COVER_OPEN, after_pages=2)
    assert printer.print_pdf(THREE) == PrintOutcome(False, 2, 3, PrinterFault.COVER_OPEN)


def test_an_open_cover_hides_other_faults() -> None:
    printer = KioskPrinter("P1", paper_sheets=0)
    printer.inject(PrinterFault.COVER_OPEN)
    assert printer.status().state is PrinterState.COVER_OPEN
    printer.clear()
    assert printer.status().state is PrinterState.OUT_OF_PAPER


def test_a_fault_armed_for_later_fires_in_a_later_job() -> None:
    printer = KioskPrinter("P1")
    printer.inject(PrinterFault.JAM, after_pages=3)
    assert printer.print_pdf(TWO).ok
    assert printer.status().state is PrinterState.READY
    assert printer.print_pdf(TWO) == PrintOutcome(False, 1, 2, PrinterFault.JAM)


def test_toner_runs_out() -> None:
    printer = KioskPrinter("P1", toner_pages=1)
    assert printer.print_pdf(TWO) == PrintOutcome(False, 1, 2, PrinterFault.TONER_EMPTY)
    assert printer.status().state is PrinterState.TONER_EMPTY
    assert printer.status().toner_percent == 0
    printer.replace_toner()
    assert printer.status().toner_percent == 100
    assert printer.print_pdf(ONE).ok


@pytest.mark.parametrize(
    "garbage",
    [b"", b"hello", b"%PDF-1.4\n%%EOF", ONE[: len(ONE) // 2], b"\x00" * 64, ONE[100:]],
)
def test_garbage_is_an_outcome_not_an_exception(garbage: bytes) -> None:
    printer = KioskPrinter("P1", paper_sheets=5)
    outcome = printer.print_pdf(garbage)
    assert outcome == PrintOutcome(False, 0, 0, PrinterFault.INVALID_DOCUMENT)
    assert printer.status().paper_left == 5
    assert printer.printed == []
    assert printer.status().state is PrinterState.READY


@given(st.binary(max_size=300))
def test_no_bytes_make_the_printer_raise(data: bytes) -> None:
    outcome = KioskPrinter("P1").print_pdf(data)
    assert outcome.ok == (outcome.fault is None)


def test_misuse_is_refused() -> None:
    with pytest.raises(ValueError):
        KioskPrinter("")
    with pytest.raises(ValueError):
        KioskPrinter("P1", paper_sheets=-1)
    with pytest.raises(ValueError):
        KioskPrinter("P1", keep_printed=-1)
    printer = KioskPrinter("P1")
    with pytest.raises(ValueError):
        printer.inject(PrinterFault.INVALID_DOCUMENT)
    with pytest.raises(ValueError):
        printer.inject(PrinterFault.JAM, after_pages=-1)
    with pytest.raises(ValueError):
        printer.load_paper(0)
    with pytest.raises(ValueError):
        PrintOutcome(ok=True, pages_printed=1, pages_expected=2)


def test_status_is_a_snapshot() -> None:
    printer = KioskPrinter("P7", paper_sheets=3)
    before = printer.status()
    printer.print_pdf(ONE)
    assert before.paper_left == 3 and printer.status().paper_left == 2
    assert before.ready


# -- what a kiosk asks before it takes money ------------------------------------------------------


def test_can_print_says_whether_a_job_would_come_out_whole() -> None:
    printer = KioskPrinter("P1", paper_sheets=2, toner_pages=3)
    status = printer.status()
    assert (status.paper_left, status.toner_pages_left) == (2, 3)
    assert status.can_print(1) and status.can_print(2)
    assert not status.can_print(3)  # not enough paper: it would stop part-way
    printer.inject(PrinterFault.COVER_OPEN)
    assert not printer.status().can_print(1)
    with pytest.raises(ValueError):
        status.can_print(0)


def test_toner_too_low_for_the_whole_job_is_seen_before_printing() -> None:
    status = KioskPrinter("P1", paper_sheets=10, toner_pages=1).status()
    assert status.ready and status.can_print(1) and not status.can_print(2)


def test_a_mid_job_jam_gives_no_warning_and_stops_the_job() -> None:
    printer = KioskPrinter("P1")
    printer.inject_mid_job(PrinterFault.JAM)
    assert printer.status().can_print(2)  # nothing shows until a sheet is fed
    assert printer.print_pdf(TWO) == PrintOutcome(False, 0, 2, PrinterFault.JAM)
    assert printer.status().state is PrinterState.JAMMED
    printer.clear()
    printer.inject_mid_job(PrinterFault.COVER_OPEN, after_pages=1)
    assert printer.print_pdf(TWO) == PrintOutcome(False, 1, 2, PrinterFault.COVER_OPEN)
    with pytest.raises(ValueError):
        printer.inject_mid_job(PrinterFault.OUT_OF_PAPER)  # an empty tray shows in the status
    with pytest.raises(ValueError):
        printer.inject_mid_job(PrinterFault.JAM, after_pages=-1)


def test_the_sheets_that_came_out_are_kept_one_page_each() -> None:
    printer = KioskPrinter("P1")
    printer.inject(PrinterFault.JAM, after_pages=2)
    printer.print_pdf(THREE)
    [partial] = printer.printed
    sheets = partial.sheets()
    assert len(sheets) == 2
    for number, sheet in enumerate(sheets, start=1):
        reader = pypdf.PdfReader(io.BytesIO(sheet))
        assert len(reader.pages) == 1
        assert f"page {number}" in reader.pages[0].extract_text()
