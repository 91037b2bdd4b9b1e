"""The emulated kiosk printer: takes a certificate PDF, puts sheets out, or fails like a real one.

A sans-IO state machine: no threads, clocks or devices. `print_pdf` consumes one sheet (and
some toner) per page and returns a `PrintOutcome` value; faults are outcomes, never
exceptions, because a kiosk must handle each of them (SPEC section 4: a copy that did not
come out whole is voided and refunded). Faults can be injected to fire at once or after a
given number of further sheets, so tests can jam a printer in the middle of a 2-page job.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

import pypdf

from hardware_sim.pdf_pages import quick_page_count


class PrinterState(StrEnum):
    READY = "ready"
    OUT_OF_PAPER = "out_of_paper"  # 用紙切れ
    JAMMED = "jammed"  # 紙詰まり
    COVER_OPEN = "cover_open"
    TONER_EMPTY = "toner_empty"


class PrinterFault(StrEnum):
    """Why a job did not come out whole."""

    OUT_OF_PAPER = "out_of_paper"
    JAM = "jam"
    COVER_OPEN = "cover_open"
    TONER_EMPTY = "toner_empty"
    INVALID_DOCUMENT = "invalid_document"  # not a PDF, or one without pages: nothing fed


# Which state each fault leaves the printer in; INVALID_DOCUMENT leaves it READY.
_STATE_OF_FAULT: dict[PrinterFault, PrinterState] = {
    PrinterFault.OUT_OF_PAPER: PrinterState.OUT_OF_PAPER,
    PrinterFault.JAM: PrinterState.JAMMED,
    PrinterFault.COVER_OPEN: PrinterState.COVER_OPEN,
    PrinterFault.TONER_EMPTY: PrinterState.TONER_EMPTY,
}
# When several conditions hold, the panel shows the first: an open cover hides the rest.
_PRIORITY: tuple[PrinterFault, ...] = (
    PrinterFault.COVER_OPEN,
    PrinterFault.JAM,
    PrinterFault.OUT_OF_PAPER,
    PrinterFault.TONER_EMPTY,
)
INJECTABLE: frozenset[PrinterFault] = frozenset(_STATE_OF_FAULT)

DEFAULT_TONER_PAGES = 10_000  # pages a full toner cartridge prints


@dataclass(frozen=True)
class PrinterStatus:
    state: PrinterState
    paper_left: int  # sheets in the tray
    toner_percent: int  # 0-100, rounded down
    toner_pages_left: int  # pages the cartridge still prints

    @property
    def ready(self) -> bool:
        return self.state is PrinterState.READY

    def can_print(self, pages: int) -> bool:
        """Whether a job of `pages` pages can come out whole, barring a jam or an opened cover.

        A kiosk asks this before it takes money and again before it prints a paid copy.
        """
        if pages < 1:
            raise ValueError("a job has at least one page")
        return self.ready and self.paper_left >= pages and self.toner_pages_left >= pages


@dataclass(frozen=True)
class PrintOutcome:
    ok: bool
    pages_printed: int
    pages_expected: int
    fault: PrinterFault | None = None

    def __post_init__(self) -> None:
        whole = self.fault is None and self.pages_printed == self.pages_expected
        if self.ok != whole:
            raise ValueError("a job is ok exactly when every page came out without a fault")
        if not 0 <= self.pages_printed <= self.pages_expected:
            raise ValueError("pages_printed must be between 0 and pages_expected")

    @property
    def fault_name(self) -> str:
        """The fault as reported to the center ("" when ok)."""
        return self.fault.value if self.fault is not None else ""


@dataclass(frozen=True)
class PrintedDocument:
    """A job that put at least one sheet out; an incomplete one must be voided by the kiosk."""

    pdf: bytes
    pages: int  # pages in the document
    pages_printed: int  # sheets that came out

    @property
    def complete(self) -> bool:
        return self.pages_printed == self.pages

    def sheets(self) -> tuple[bytes, ...]:
        """The sheets that came out, one single-page PDF each, for inspection."""
        reader = pypdf.PdfReader(io.BytesIO(self.pdf))
        out = []
        for page in reader.pages[: self.pages_printed]:
            writer = pypdf.PdfWriter()
            writer.add_page(page)
            buffer = io.BytesIO()
            writer.write(buffer)
            out.append(buffer.getvalue())
        return tuple(out)


@dataclass
class _Armed:
    fault: PrinterFault
    sheets_left: int  # sheets that still come out before the fault fires


class KioskPrinter:
    """One kiosk's printer. Not thread-safe: a kiosk drives its printer from one place."""

    def __init__(
        self,
        printer_id: str,
        paper_sheets: int = 500,
        *,
        toner_pages: int = DEFAULT_TONER_PAGES,
        keep_printed: int | None = None,
    ) -> None:
        if not printer_id:
            raise ValueError("printer_id must not be empty")
        if paper_sheets < 0 or toner_pages < 0:
            raise ValueError("paper and toner must not be negative")
        if keep_printed is not None and keep_printed < 0:
            raise ValueError("keep_printed must not be negative")
        self.printer_id = printer_id
        # Every job that put a sheet out, in order, kept for inspection (`sheets()`); only the
        # last `keep_printed` when given (a load run prints thousands of copies).
        self.printed: list[PrintedDocument] = []
        self._keep = keep_printed
        self._paper = paper_sheets
        self._toner = toner_pages
        self._toner_capacity = max(toner_pages, DEFAULT_TONER_PAGES)
        self._active: set[PrinterFault] = set()
        self._armed: list[_Armed] = []

    # -- what the kiosk sees -----------------------------------------------------------------

    def status(self) -> PrinterStatus:
        return PrinterStatus(
            state=self._state(),
            paper_left=self._paper,
            toner_percent=100 * self._toner // self._toner_capacity,
            toner_pages_left=self._toner,
        )

    def print_pdf(self, pdf: bytes) -> PrintOutcome:
        """Print every page, or stop at the first fault. Never raises for a bad document."""
        pages = _page_count(pdf)
        if pages is None:
            return PrintOutcome(False, 0, 0, PrinterFault.INVALID_DOCUMENT)
        fault = self._blocking_fault()
        printed = 0
        while fault is None and printed < pages:
            fault = self._feed_one()
            if fault is None:
                printed += 1
                fault = self._blocking_fault() if printed < pages else None
        if printed:
            self.printed.append(PrintedDocument(pdf, pages, printed))
            if self._keep is not None and len(self.printed) > self._keep:
                del self.printed[: len(self.printed) - self._keep]
        return PrintOutcome(fault is None and printed == pages, printed, pages, fault)

    # -- what the operator (or a test) does --------------------------------------------------

    def inject(self, fault: PrinterFault, after_pages: int = 0) -> None:
        """Make `fault` happen now (after_pages=0) or once that many more sheets come out.

        OUT_OF_PAPER empties the tray at that point: the tray holds only `after_pages` sheets.
        """
        if fault not in INJECTABLE:
            raise ValueError(f"{fault} cannot be injected")
        if after_pages < 0:
            raise ValueError("after_pages must not be negative")
        if fault is PrinterFault.OUT_OF_PAPER:
            self._paper = min(self._paper, after_pages)
        elif fault is PrinterFault.TONER_EMPTY:
            self._toner = min(self._toner, after_pages)
        elif after_pages == 0:
            self._active.add(fault)
        else:
            self._armed.append(_Armed(fault, after_pages))

    def inject_mid_job(self, fault: PrinterFault, after_pages: int = 0) -> None:
        """A jam or an opened cover that strikes while a job is printing, unannounced.

        The printer stays ready (a kiosk's status check passes) until `after_pages` more sheets
        have come out; the fault then stops the job feeding the next sheet (0: the first one).
        """
        if fault not in (PrinterFault.JAM, PrinterFault.COVER_OPEN):
            raise ValueError(f"{fault} is seen before a job starts; use inject()")
        if after_pages < 0:
            raise ValueError("after_pages must not be negative")
        self._armed.append(_Armed(fault, after_pages))

    def clear(self) -> None:
        """Close the cover, pull out jammed paper, cancel pending faults. Adds no paper."""
        self._active.clear()
        self._armed.clear()

    def load_paper(self, sheets: int) -> None:
        if sheets < 1:
            raise ValueError("load at least one sheet")
        self._paper += sheets

    def replace_toner(self) -> None:
        self._toner = self._toner_capacity

    # -- internals -----------------------------------------------------------------------------

    def _conditions(self) -> set[PrinterFault]:
        found = set(self._active)
        if self._paper == 0:
            found.add(PrinterFault.OUT_OF_PAPER)
        if self._toner == 0:
            found.add(PrinterFault.TONER_EMPTY)
        return found

    def _blocking_fault(self) -> PrinterFault | None:
        found = self._conditions()
        return next((f for f in _PRIORITY if f in found), None)

    def _state(self) -> PrinterState:
        fault = self._blocking_fault()
        return PrinterState.READY if fault is None else _STATE_OF_FAULT[fault]

    def _feed_one(self) -> PrinterFault | None:
        """Feed one sheet; a fault whose count has run out fires instead."""
        due = [a for a in self._armed if a.sheets_left == 0]
        if due:
            for armed in due:
                self._armed.remove(armed)
                self._active.add(armed.fault)
            if any(a.fault is PrinterFault.JAM for a in due):
                self._paper -= 1  # the jammed sheet is pulled out and thrown away
            return self._blocking_fault()
        self._paper -= 1
        self._toner -= 1
        for armed in self._armed:
            armed.sheets_left -= 1
        return None


def _page_count(pdf: bytes) -> int | None:
    """Pages in the PDF, or None when it is not a readable PDF with at least one page.

    A whole file laid out as the center writes it is read the quick way (`pdf_pages`, ~60 us);
    anything else, a damaged file included, is read by pypdf (~270 us), as every file was.
    """
    if not isinstance(pdf, bytes | bytearray) or not pdf:
        return None
    data = bytes(pdf)
    quick = quick_page_count(data)
    if quick is not None:
        return quick
    try:
        pages = len(pypdf.PdfReader(io.BytesIO(data)).pages)
    except Exception:  # any parse failure is the document's fault, never the kiosk's crash
        return None
    return pages if pages >= 1 else None
