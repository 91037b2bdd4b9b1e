"""The 受付票 as a PDF for the counter terminal's own printer (a small, plain sheet).

Deterministic: the same slip gives the same bytes (the creation date is the print time). The
PDF carries nothing beyond the slip's lines: no name, no address, no issue number. The font is
the certificates' (`server.issuance.pdf`), parsed once per renderer and subset per slip to the
characters it prints, so a slip costs milliseconds, not a parse of a 12,000-glyph font.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fpdf import FPDF

from server.counter.reception import ReceptionSlip
from server.issuance.pdf import _Font as PreparedFont  # one font loader for every PDF we print

_WIDTH_MM, _HEIGHT_MM = 80.0, 120.0  # a receipt-roll slip


_NOTE = (
    "この受付票と手数料を窓口にお持ちください。引き換えに証明書をお渡しします。"
    "受取期限を過ぎた証明書は破棄します（手数料はかかりません）。"
)


class SlipRenderer:
    def __init__(self, font_path: Path) -> None:
        if not Path(font_path).is_file():
            raise FileNotFoundError(f"font not found: {font_path}")
        self._font_path = Path(font_path)
        self._font: PreparedFont | None = None  # parsed at the first slip, not at start-up
        self._lock = threading.Lock()

    def _prepared(self) -> PreparedFont:
        with self._lock:
            if self._font is None:
                self._font = PreparedFont(self._font_path, "slip")
            return self._font

    def render(self, slip: ReceptionSlip) -> bytes:
        pdf = FPDF(unit="mm", format=(_WIDTH_MM, _HEIGHT_MM))
        pdf.set_creation_date(slip.printed_at)
        pdf.set_title("受付票")
        pdf.set_lang("ja")
        pdf.set_auto_page_break(False)
        pdf.set_margins(6, 6, 6)
        font = self._prepared()
        font.install(pdf)
        pdf.add_page()
        printed: list[str] = []

        def line(text: str, size: float, height: float, *, centred: bool = False) -> None:
            printed.append(text)
            pdf.set_font("slip", size=size)
            pdf.multi_cell(
                0, height, text, align="C" if centred else "L", new_x="LMARGIN", new_y="NEXT"
            )

        line("受付票", 16, 9, centred=True)
        line("受付番号", 9, 6, centred=True)
        line(slip.reception_number, 20, 11, centred=True)
        pdf.ln(3)
        for text in slip.lines():
            line(text, 8, 5)
        pdf.ln(3)
        line(_NOTE, 8, 5)
        font.prepare_subset(pdf, "".join(printed))
        return bytes(pdf.output())
