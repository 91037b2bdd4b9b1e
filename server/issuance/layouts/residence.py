"""住民票の写し and 住民票記載事項証明書: the household's address and head, then its members.

The 住民票の写し follows real kiosk copies: one framed entry per person with every item of the
register, 「省略」 where an item is not printed (個人番号 and 住民票コード always; 世帯主・続柄
and 本籍・筆頭者 unless the resident chose them). The 記載事項証明書 certifies only the basic
items, one table row per person, and is issued by municipalities with their own issuing
server (SPEC section 3).
"""

from __future__ import annotations

from server.bcl.records import ResidentRecord
from server.common.era import to_wareki
from server.issuance.sheet import (
    CONTENT_BOTTOM,
    KANA_PT,
    LEFT,
    NAME_PT,
    NOT_RECORDED,
    OMITTED,
    RIGHT,
    VALUE_PT,
    WIDTH,
    Sheet,
    paginate,
)

PERSON_ROWS = (13.0, 7.0, 7.0, 7.0, 7.0, 7.0)  # name row, then five item rows
PERSON_GAP = 2.5
PERSON_H = sum(PERSON_ROWS) + PERSON_GAP
ENTRIES_TOP = 55.0  # under the address block
CERTIFICATION_H = 52.0
# Column edges inside an entry: label | value | label | value (| label | value on the name row).
COL_A, COL_B, COL_C, COL_D = LEFT, LEFT + 22.0, LEFT + 100.0, LEFT + 122.0
COL_SEX, COL_SEX_V = LEFT + 158.0, LEFT + 168.0


# -- 住民票の写し --------------------------------------------------------------------------------


def juminhyo(sheet: Sheet) -> None:
    doc = sheet.doc
    head = doc.household_head
    assert head is not None  # CertificateDocument checks it
    # The head's entry comes first, as on the register; the rest keep the order chosen.
    persons = sorted(doc.persons, key=lambda p: not p.is_household_head)
    pages = paginate(
        [PERSON_H] * len(persons),
        room=CONTENT_BOTTOM - ENTRIES_TOP,
        last_room=CONTENT_BOTTOM - ENTRIES_TOP - CERTIFICATION_H,
    )
    y = ENTRIES_TOP
    for page, entries in enumerate(pages, start=1):
        sheet.new_page(page, len(pages))
        _household_block(sheet, head)
        y = ENTRIES_TOP
        for i in entries:
            _person_entry(sheet, y, persons[i])
            y += PERSON_H
    scope = "世帯全員" if doc.whole_household else "世帯の一部"
    sheet.close(y, f"この写しは、{scope}の住民票の原本と相違ないことを証明する。")


def _household_block(sheet: Sheet, head: ResidentRecord) -> None:
    opts = sheet.doc.options
    address = f"{head.address}　{head.address_annex}" if head.address_annex else head.address
    head_name = head.full_name if opts.show_head_and_relationship else OMITTED
    top, h = 34.0, 8.5
    pdf = sheet.pdf
    pdf.set_line_width(0.35)
    pdf.rect(LEFT, top, WIDTH, 2 * h)
    pdf.set_line_width(0.2)
    sheet.hline(LEFT, RIGHT, top + h)
    sheet.vline(COL_B, top, top + 2 * h)
    for i, (label, value) in enumerate((("住所", address), ("世帯主", head_name))):
        y = top + i * h
        sheet.label(COL_A, y, COL_B - COL_A, h, label)
        sheet.cell_text(COL_B, y, RIGHT - COL_B, h, value, VALUE_PT + 1.0)


def _person_entry(sheet: Sheet, top: float, p: ResidentRecord) -> None:
    opts = sheet.doc.options
    relationship = p.relationship if opts.show_head_and_relationship else OMITTED
    honseki = p.honseki if opts.show_honseki else OMITTED
    hittousha = p.hittousha if opts.show_honseki else OMITTED
    notified = NOT_RECORDED  # 届出日: not in the resident records handed to BCL
    rows: list[tuple[tuple[str, str], ...]] = [
        (("続柄", relationship), ("住民となった日", to_wareki(p.became_resident_on))),
        (("住所を定めた日", to_wareki(p.address_set_on)), ("届出日", notified)),
        (("本籍", honseki),),
        (("筆頭者", hittousha), ("旧氏", p.former_family_name or NOT_RECORDED)),
        (("個人番号", OMITTED), ("住民票コード", OMITTED)),
    ]
    pdf = sheet.pdf
    height = sum(PERSON_ROWS)
    pdf.set_line_width(0.35)
    pdf.rect(LEFT, top, WIDTH, height)
    pdf.set_line_width(0.2)

    # Name row: 氏名 with its reading (ふりがな), 生年月日, 性別.
    h = PERSON_ROWS[0]
    sheet.label(COL_A, top, COL_B - COL_A, h, "氏名")
    sheet.text(COL_B + 1.5, top + 3.6, p.full_name_kana, KANA_PT, width=COL_C - COL_B - 3)
    sheet.text(COL_B + 1.5, top + 10.0, p.full_name, NAME_PT, width=COL_C - COL_B - 3)
    sheet.label(COL_C, top, COL_D - COL_C, h, "生年月日")
    sheet.cell_text(COL_D, top, COL_SEX - COL_D, h, to_wareki(p.birth_date), VALUE_PT)
    sheet.label(COL_SEX, top, COL_SEX_V - COL_SEX, h, "性別")
    sheet.cell_text(COL_SEX_V, top, RIGHT - COL_SEX_V, h, p.sex.value, VALUE_PT)
    for x in (COL_B, COL_C, COL_D, COL_SEX, COL_SEX_V):
        sheet.vline(x, top, top + h)

    y = top + h
    for row, rh in zip(rows, PERSON_ROWS[1:], strict=True):
        sheet.hline(LEFT, RIGHT, y)
        sheet.vline(COL_B, y, y + rh)
        (label, value), *second = row
        value_end = COL_C if second else RIGHT
        sheet.label(COL_A, y, COL_B - COL_A, rh, label)
        sheet.cell_text(COL_B, y, value_end - COL_B, rh, value, VALUE_PT)
        if second:
            ((label2, value2),) = second
            sheet.vline(COL_C, y, y + rh)
            sheet.vline(COL_D, y, y + rh)
            sheet.label(COL_C, y, COL_D - COL_C, rh, label2)
            sheet.cell_text(COL_D, y, RIGHT - COL_D, rh, value2, VALUE_PT)
        y += rh


# -- 住民票記載事項証明書 ------------------------------------------------------------------------

KISAI_COLUMNS = (
    ("氏名", 52.0),
    ("生年月日", 30.0),
    ("性別", 12.0),
    ("続柄", 20.0),
    ("住民となった日", 33.0),
    ("住所を定めた日", 33.0),
)
KISAI_HEAD_H, KISAI_ROW_H = 7.0, 12.0


def kisai(sheet: Sheet) -> None:
    """住民票記載事項証明書: the basic items of each chosen member, as table rows."""
    doc = sheet.doc
    head = doc.household_head
    assert head is not None  # CertificateDocument checks it
    persons = sorted(doc.persons, key=lambda p: not p.is_household_head)
    pages = paginate(
        [KISAI_ROW_H] * len(persons),
        room=CONTENT_BOTTOM - ENTRIES_TOP - KISAI_HEAD_H,
        last_room=CONTENT_BOTTOM - ENTRIES_TOP - KISAI_HEAD_H - CERTIFICATION_H,
    )
    y = ENTRIES_TOP
    for page, rows in enumerate(pages, start=1):
        sheet.new_page(page, len(pages))
        _household_block(sheet, head)
        y = sheet.grid(ENTRIES_TOP, KISAI_COLUMNS, [])
        for i in rows:
            _kisai_row(sheet, y, persons[i])
            y += KISAI_ROW_H
        sheet.pdf.set_line_width(0.35)
        sheet.pdf.rect(LEFT, ENTRIES_TOP, WIDTH, y - ENTRIES_TOP)
        sheet.pdf.set_line_width(0.2)
    scope = "世帯全員" if doc.whole_household else "世帯の一部"
    sheet.close(y + 2.5, f"上記は、{scope}の住民票に記載されている事項と相違ないことを証明する。")


def _kisai_row(sheet: Sheet, top: float, p: ResidentRecord) -> None:
    show = sheet.doc.options.show_head_and_relationship
    values = (
        to_wareki(p.birth_date),
        p.sex.value,
        p.relationship if show else OMITTED,
        to_wareki(p.became_resident_on),
        to_wareki(p.address_set_on),
    )
    sheet.hline(LEFT, RIGHT, top + KISAI_ROW_H)
    x = LEFT
    (_, name_w), *rest = KISAI_COLUMNS
    sheet.text(x + 1.5, top + 3.6, p.full_name_kana, KANA_PT, width=name_w - 3.0)
    sheet.text(x + 1.5, top + 9.6, p.full_name, VALUE_PT + 1.5, width=name_w - 3.0)
    x += name_w
    for (_, w), value in zip(rest, values, strict=True):
        sheet.vline(x, top, top + KISAI_ROW_H)
        sheet.cell_text(x, top, w, KISAI_ROW_H, value, VALUE_PT - 0.5)
        x += w
