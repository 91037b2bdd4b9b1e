"""The 受付票 as a PDF for the counter terminal's own printer (a small, plain sheet).

Deterministic: the same slip gives the same bytes (the creation date is the print time). The
PDF carries nothing beyond the slip's lines: no name, no address, no issue number.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from server.counter.reception import ReceptionSlip

_WIDTH_MM, _HEIGHT_MM = 80.0, 120.0  # a receipt-roll slip


class SlipRenderer:
    def __init__(self, font_path: Path) -> None:
        if not Path(font_path).is_file():
            raise FileNotFoundError(f"font not found: {font_path}")
        self._font_path = Path(font_path)

    def render(self, slip: ReceptionSlip) -> bytes:
        pdf = FPDF(unit="mm", format=(_WIDTH_MM, _HEIGHT_MM))
        pdf.set_creation_date(slip.printed_at)
        pdf.set_title("受付票")
        pdf.set_auto_page_break(False)
        pdf.set_margins(6, 6, 6)
        pdf.add_font("slip", "", str(self._font_path))
        pdf.add_page()
        pdf.set_font("slip", size=16)
        pdf.cell(0, 9, "受付票", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("slip", size=9)
        pdf.cell(0, 6, "受付番号", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("slip", size=20)
        pdf.cell(0, 11, slip.reception_number, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        pdf.set_font("slip", size=8)
        for line in slip.lines():
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        pdf.multi_cell(
            0,
            5,
            "この受付票と手数料を窓口にお持ちください。引き換えに証明書をお渡しします。"
            "受取期限を過ぎた証明書は破棄します（手数料はかかりません）。",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        return bytes(pdf.output())
