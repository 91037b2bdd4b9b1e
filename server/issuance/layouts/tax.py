"""Tax certificates (各種税証明書): one fiscal year of 個人住民税 for one taxpayer, on one sheet.

Laid out as municipalities' kiosk copies are: the fiscal year (and the income year it assesses)
under the title, the taxpayer's address, name and birth date, then framed tables of amounts in
integer yen — the income (所得証明書), the levy by tax and kind (課税（非課税）証明書), or what was
due, paid and is unpaid (納税証明書) — and the certification under them.
"""

from __future__ import annotations

from server.bcl.records import MunicipalityProfile
from server.bcl.registers import TaxRecord
from server.common.era import to_wareki
from server.issuance.documents import CertificateKind
from server.issuance.sheet import LEFT, PAGE_W, VALUE_PT, Sheet, yen
from server.issuance.tax import fiscal_year_label, income_year_label

TAXPAYER_TOP = 42.0


def tax_certificate(sheet: Sheet) -> None:
    doc = sheet.doc
    tax = doc.tax
    assert tax is not None  # CertificateDocument checks it
    p = doc.persons[0]
    sheet.new_page(1, 1)
    year = fiscal_year_label(tax.fiscal_year)
    if doc.kind is not CertificateKind.TAX_PAYMENT:
        year = f"{year}（{income_year_label(tax.fiscal_year)}）"
    sheet.text(PAGE_W / 2, 35.5, year, VALUE_PT + 2.0, align="C")
    address = f"{p.address}　{p.address_annex}" if p.address_annex else p.address
    y = sheet.label_value_rows(
        TAXPAYER_TOP,
        [("住所", address), ("氏名", p.full_name), ("生年月日", to_wareki(p.birth_date))],
    )
    if doc.kind is CertificateKind.TAX_INCOME:
        y, sentence = _income(sheet, y + 8.0, tax)
    elif doc.kind is CertificateKind.TAX_ASSESSMENT:
        y, sentence = _assessment(sheet, y + 8.0, tax, doc.municipality)
    else:
        y, sentence = _payment(sheet, y + 8.0, tax, doc.municipality)
    sheet.close(y + 4.0, sentence)


def _heading(sheet: Sheet, y: float, text: str) -> float:
    """A section heading (所得の状況, …) above a table; returns the table's top."""
    sheet.text(LEFT, y + 3.5, f"■ {text}", VALUE_PT)
    return y + 5.5


def _income(sheet: Sheet, y: float, tax: TaxRecord) -> tuple[float, str]:
    """所得証明書: the income of the year before the fiscal year, and what it leaves taxable."""
    y = _heading(sheet, y, "所得の状況")
    y = sheet.grid(
        y,
        [("給与収入", 45.0), ("給与所得", 45.0), ("その他の所得", 45.0), ("合計所得金額", 45.0)],
        [
            [
                yen(tax.salary_income),
                yen(tax.total_income - tax.other_income),
                yen(tax.other_income),
                yen(tax.total_income),
            ]
        ],
        align="R",
    )
    y = _heading(sheet, y + 6.0, "控除と課税標準")
    y = sheet.grid(
        y,
        [("所得控除額合計", 60.0), ("課税標準額", 60.0), ("課税区分", 60.0)],
        [[yen(tax.deductions), yen(tax.taxable_income), _levied(tax)]],
        align="R",
    )
    return y, "上記のとおり相違ないことを証明する。"


def _assessment(
    sheet: Sheet, y: float, tax: TaxRecord, m: MunicipalityProfile
) -> tuple[float, str]:
    """課税（非課税）証明書: the income, and each tax's 所得割 and 均等割."""
    y = _heading(sheet, y, "所得と課税標準")
    y = sheet.grid(
        y,
        [
            ("合計所得金額", 45.0),
            ("所得控除額合計", 45.0),
            ("課税標準額", 45.0),
            ("課税区分", 45.0),
        ],
        [[yen(tax.total_income), yen(tax.deductions), yen(tax.taxable_income), _levied(tax)]],
        align="R",
    )
    municipal, prefectural = tax_names(m)
    y = _heading(sheet, y + 6.0, "税額")
    municipal_sum = tax.municipal_income_levy + tax.municipal_per_capita
    prefectural_sum = tax.prefectural_income_levy + tax.prefectural_per_capita
    y = sheet.grid(
        y,
        [("区分", 45.0), ("所得割額", 45.0), ("均等割額", 45.0), ("計", 45.0)],
        [
            [
                municipal,
                yen(tax.municipal_income_levy),
                yen(tax.municipal_per_capita),
                yen(municipal_sum),
            ],
            [
                prefectural,
                yen(tax.prefectural_income_levy),
                yen(tax.prefectural_per_capita),
                yen(prefectural_sum),
            ],
            [
                "年税額",
                yen(tax.municipal_income_levy + tax.prefectural_income_levy),
                yen(tax.municipal_per_capita + tax.prefectural_per_capita),
                yen(tax.annual_tax),
            ],
        ],
        align="LRRR",
    )
    if tax.tax_exempt:
        year = fiscal_year_label(tax.fiscal_year)
        return y, f"上記の者は、{year}の個人住民税が非課税であることを証明する。"
    return y, "上記のとおり相違ないことを証明する。"


def _payment(sheet: Sheet, y: float, tax: TaxRecord, m: MunicipalityProfile) -> tuple[float, str]:
    """納税証明書: what was levied, paid and is still unpaid for the fiscal year."""
    municipal, prefectural = tax_names(m)
    y = _heading(sheet, y, "納税の状況")
    y = sheet.grid(
        y,
        [("税目", 60.0), ("年度", 30.0), ("年税額", 30.0), ("納付済額", 30.0), ("未納額", 30.0)],
        [
            [
                f"個人住民税（{municipal}・{prefectural}）",
                fiscal_year_label(tax.fiscal_year),
                yen(tax.annual_tax),
                yen(tax.paid),
                yen(tax.unpaid),
            ]
        ],
        align="LLRRR",
    )
    if tax.unpaid == 0:
        return y, "上記のとおり納付済みであることを証明する。"
    return y, "上記のとおり相違ないことを証明する。"


def _levied(tax: TaxRecord) -> str:
    return "非課税" if tax.tax_exempt else "課税"


def tax_names(m: MunicipalityProfile) -> tuple[str, str]:
    """The 住民税 of a municipality and of its prefecture by their own names.

    特別区民税・都民税 in Tokyo's wards, 市民税 / 町民税 / 村民税, and 道・府・県民税."""
    if m.prefecture == "東京都" and m.name.endswith("区"):
        municipal = "特別区民税"
    else:
        municipal = f"{m.name[-1] if m.name[-1] in '市町村' else '市'}民税"
    prefectural = f"{m.prefecture[-1]}民税"  # 都, 道, 府, 県
    return municipal, prefectural
