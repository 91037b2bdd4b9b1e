"""印鑑登録証明書: the registered impression (印影) beside the registrant's particulars."""

from __future__ import annotations

from server.common.era import to_wareki
from server.issuance.sheet import KANA_PT, LEFT, NAME_PT, RIGHT, VALUE_PT, Artwork, Sheet


def inkan(sheet: Sheet) -> None:
    doc = sheet.doc
    p = doc.persons[0]
    seal = doc.seal
    assert seal is not None  # CertificateDocument checks it
    sheet.new_page(1, 1)
    pdf = sheet.pdf

    # The registered impression (印影) in a framed box.
    box_x, box_top, box = LEFT, 40.0, 56.0
    pdf.set_line_width(0.35)
    pdf.rect(box_x, box_top, box, 7.0 + box)
    pdf.set_line_width(0.2)
    sheet.hline(box_x, box_x + box, box_top + 7.0)
    sheet.label(box_x, box_top, box, 7.0, "印　影")
    inner = box - 10.0
    pdf.artwork(Artwork(seal.impression_png), box_x + 5.0, box_top + 12.0, inner, inner, fit=True)

    # The registrant's particulars beside it.
    address = f"{p.address}　{p.address_annex}" if p.address_annex else p.address
    tx, label_w = box_x + box + 5.0, 22.0
    vx = tx + label_w
    rows: list[tuple[str, str, float]] = [
        ("氏名", "", 16.0),
        ("生年月日", to_wareki(p.birth_date), 11.0),
        ("性別", p.sex.value, 11.0),
        ("住所", address, 11.0),
        ("登録番号", seal.registration_number, 14.0),
    ]
    total = sum(h for _, _, h in rows)
    pdf.set_line_width(0.35)
    pdf.rect(tx, box_top, RIGHT - tx, total)
    pdf.set_line_width(0.2)
    sheet.vline(vx, box_top, box_top + total)
    y = box_top
    for label, value, h in rows:
        if y > box_top:
            sheet.hline(tx, RIGHT, y)
        sheet.label(tx, y, label_w, h, label)
        if label == "氏名":
            sheet.text(vx + 1.5, y + 4.5, p.full_name_kana, KANA_PT, width=RIGHT - vx - 3)
            sheet.text(vx + 1.5, y + 12.5, p.full_name, NAME_PT + 1, width=RIGHT - vx - 3)
        else:
            sheet.cell_text(vx, y, RIGHT - vx, h, value, VALUE_PT + 0.5)
        y += h

    sheet.certification(
        box_top + 7.0 + box + 20.0, "この写しは、登録されている印影と相違ないことを証明する。"
    )
