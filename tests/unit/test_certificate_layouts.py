"""Every certificate of SPEC section 3 as printed: its title, items, certification and pages."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

import pypdf
import pytest

from server.bcl.records import ResidentRecord
from server.issuance.documents import (
    CertificateDocument,
    CertificateKind,
    JuminhyoOptions,
    KosekiExtract,
)
from server.issuance.layouts.tax import tax_names
from server.issuance.pdf import CertificateRenderer, RendererConfig
from tests.certificates import HITTOUSHA, HONSEKI, NUMBER, document, koseki, member, own_server
from tests.certificates import tax as tax_of
from tests.unit.test_certificate_pdf import CREATED, HOUSEHOLD, MINCHO, MUNICIPALITY, resident

K = CertificateKind
ME = HOUSEHOLD[:1]
Render = Callable[[CertificateDocument], bytes]

pytestmark = pytest.mark.skipif(not MINCHO.is_file(), reason="IPAex fonts not installed")


@pytest.fixture(scope="module")
def render() -> Render:
    renderer = CertificateRenderer(RendererConfig(font_path=MINCHO))
    return lambda doc: renderer.render(doc, created_at=CREATED)


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def flat(pdf: bytes) -> str:
    """All text without whitespace: extraction puts spaces and breaks where it likes."""
    return "".join("".join(pages_text(pdf)).split())


def assert_furniture(pdf: bytes, title: str, certification: str) -> list[str]:
    """Title and issue number with page x/y on every sheet; the certification on the last."""
    texts = pages_text(pdf)
    for page, text in enumerate(texts, start=1):
        squeezed = "".join(text.split())
        assert title in squeezed
        assert f"交付番号{NUMBER.format()}" in squeezed
        assert f"{page}/{len(texts)}" in squeezed
        assert ("".join(certification.split()) in squeezed) is (page == len(texts))
    last = "".join(texts[-1].split())
    assert "令和8年4月1日" in last and "東京都千代田区長山田太郎" in last
    return texts


def household(n: int) -> tuple[ResidentRecord, ...]:
    """A household of `n` (the sample names repeat; ids do not)."""
    return tuple(
        dataclasses.replace(
            resident(i % 12),
            resident_id=f"R{i:06d}",
            is_household_head=i == 0,
            relationship="世帯主" if i == 0 else "孫",
        )
        for i in range(n)
    )


# -- 住民票記載事項証明書 ------------------------------------------------------------------------


def test_kisai_lists_the_basic_items_of_each_member(render: Render) -> None:
    pdf = render(document(K.JUMINHYO_KISAI, own_server(MUNICIPALITY), HOUSEHOLD[:3]))
    assert_furniture(pdf, "住民票記載事項証明書", "上記は、世帯全員の住民票に記載されている事項")
    text = flat(pdf)
    for p in HOUSEHOLD[:3]:
        assert "".join(p.full_name.split()) in text
    assert "昭和55年5月3日" in text and "平成22年4月1日" in text and "令和3年4月1日" in text
    assert "長男" not in text and "省略" in text  # 続柄 unless chosen
    assert HOUSEHOLD[0].honseki not in text
    for p in HOUSEHOLD[:3]:
        assert p.individual_number not in text and p.juminhyo_code not in text


def test_kisai_prints_relationships_when_chosen(render: Render) -> None:
    opts = JuminhyoOptions(show_head_and_relationship=True)
    pdf = render(document(K.JUMINHYO_KISAI, own_server(MUNICIPALITY), HOUSEHOLD[:3], options=opts))
    text = flat(pdf)
    assert "世帯主髙橋一郎" in text and "長男" in text and "妻" in text


def test_a_large_household_kisai_spans_pages_each_numbered(render: Render) -> None:
    people = household(30)
    doc = document(K.JUMINHYO_KISAI, own_server(MUNICIPALITY), people)
    texts = assert_furniture(render(doc), "住民票記載事項証明書", "住民票に記載されている事項")
    assert len(texts) >= 2
    assert sum("".join(t.split()).count("髙橋") for t in texts) >= 30


# -- tax certificates ---------------------------------------------------------------------------


def test_income_certificate_shows_the_income_of_the_year_before(render: Render) -> None:
    t = tax_of(ME[0])
    pdf = render(document(K.TAX_INCOME, MUNICIPALITY, ME, tax=t))
    assert_furniture(pdf, "所得証明書", "上記のとおり相違ないことを証明する。")
    text = flat(pdf)
    assert "令和7年度（令和6年分）" in text
    assert "髙橋一郎" in text and "昭和55年5月3日" in text
    for amount in (
        t.salary_income,
        t.total_income - t.other_income,
        t.other_income,
        t.total_income,
        t.deductions,
        t.taxable_income,
    ):
        assert f"{amount:,}円" in text
    assert "課税" in text


def test_assessment_certificate_shows_each_levy_by_its_own_name(render: Render) -> None:
    t = tax_of(ME[0])
    text = flat(render(document(K.TAX_ASSESSMENT, MUNICIPALITY, ME, tax=t)))
    assert "課税（非課税）証明書" in text
    assert "特別区民税" in text and "都民税" in text  # a Tokyo ward
    for amount in (
        t.municipal_income_levy,
        t.municipal_per_capita,
        t.prefectural_income_levy,
        t.prefectural_per_capita,
        t.annual_tax,
    ):
        assert f"{amount:,}円" in text
    assert "上記のとおり相違ないことを証明する。" in text


def test_an_exempt_resident_gets_a_non_taxation_certification(render: Render) -> None:
    t = tax_of(ME[0], salary=0)
    assert t.tax_exempt
    text = flat(render(document(K.TAX_ASSESSMENT, MUNICIPALITY, ME, tax=t)))
    assert "非課税" in text
    assert "上記の者は、令和7年度の個人住民税が非課税であることを証明する。" in text


def test_payment_certificate_shows_paid_and_unpaid(render: Render) -> None:
    t = tax_of(ME[0])
    text = flat(render(document(K.TAX_PAYMENT, MUNICIPALITY, ME, tax=t)))
    assert "納税証明書" in text and "令和7年度" in text and "年分" not in text
    assert f"{t.annual_tax:,}円" in text and "0円" in text
    assert "上記のとおり納付済みであることを証明する。" in text
    owing = dataclasses.replace(t, paid=t.annual_tax - 10_000, unpaid=10_000)
    text = flat(render(document(K.TAX_PAYMENT, MUNICIPALITY, ME, tax=owing)))
    assert "10,000円" in text and "納付済みであること" not in text


def test_local_taxes_are_named_after_the_municipality_and_prefecture() -> None:
    osaka = dataclasses.replace(MUNICIPALITY, prefecture="大阪府", name="大阪市")
    town = dataclasses.replace(MUNICIPALITY, prefecture="北海道", name="ニセコ町")
    village = dataclasses.replace(MUNICIPALITY, prefecture="長野県", name="白馬村")
    assert tax_names(MUNICIPALITY) == ("特別区民税", "都民税")
    assert tax_names(osaka) == ("市民税", "府民税")
    assert tax_names(town) == ("町民税", "道民税")
    assert tax_names(village) == ("村民税", "県民税")


# -- 戸籍 and 附票 --------------------------------------------------------------------------------


def test_zenbu_shows_every_member_with_the_one_who_left_marked(render: Render) -> None:
    pdf = render(document(K.KOSEKI_ZENBU, MUNICIPALITY, ME))
    texts = assert_furniture(
        pdf, "戸籍全部事項証明書", "これは、戸籍に記録されている事項の全部を証明した書面である。"
    )
    text = "".join("".join(texts).split())
    assert "".join(HONSEKI.split()) in text and "甲野義太郎" in text
    for given in ("義太郎", "梅子", "啓太郎", "花子"):
        assert f"【名】{given}" in text
    assert "【生年月日】昭和40年6月21日" in text
    assert "【配偶者区分】妻" in text and "【続柄】長女" in text
    assert "【父】甲野幸雄" in text and "【母】甲野松子" in text
    assert "出生【出生日】昭和40年6月21日" in text and "婚姻【婚姻日】平成2年10月1日" in text
    assert "除籍" in text and "【除籍事由】婚姻" in text
    assert "【名の振り仮名】ギタロウ" in text


def test_kojin_shows_only_the_members_chosen(render: Render) -> None:
    doc = document(K.KOSEKI_KOJIN, MUNICIPALITY, ME, koseki=KosekiExtract(koseki(), 1, (4,)))
    texts = assert_furniture(
        render(doc),
        "戸籍個人事項証明書",
        "これは、戸籍中の一部の者について記録されている事項の全部を証明した書面である。",
    )
    text = "".join("".join(texts).split())
    assert "【名】花子" in text and "梅子" in text  # 梅子 only as her mother
    assert "【名】梅子" not in text and "【名】義太郎" not in text and "啓太郎" not in text


def test_fuhyo_shows_each_members_addresses_oldest_first(render: Render) -> None:
    whole = KosekiExtract(koseki(), 1, (1, 2, 4))  # every current member (3 left)
    text = flat(render(document(K.KOSEKI_FUHYO, MUNICIPALITY, ME, koseki=whole)))
    assert (
        "戸籍の附票の写し" in text and "筆頭者氏名" in text and HITTOUSHA.replace("　", "") in text
    )
    assert "この写しは、戸籍の附票の原本と相違ないことを証明する。" in text
    first = text.index("【住所】大阪府大阪市北区梅田三丁目3番地")
    assert first < text.index("【住所】東京都千代田区平河町一丁目4番5号")
    assert "【住所を定めた年月日】平成22年4月1日" in text
    assert text.count("附票に記録されている者") == 3
    part = flat(render(document(K.KOSEKI_FUHYO, MUNICIPALITY, ME)))
    assert "原本の一部と相違ない" in part and part.count("附票に記録されている者") == 1


def test_a_large_koseki_spans_pages_each_numbered(render: Render) -> None:
    big = koseki(18)
    doc = document(
        K.KOSEKI_ZENBU, MUNICIPALITY, ME, koseki=KosekiExtract(big, 1, tuple(range(1, 19)))
    )
    texts = assert_furniture(
        render(doc),
        "戸籍全部事項証明書",
        "これは、戸籍に記録されている事項の全部を証明した書面である。",
    )
    assert len(texts) >= 4
    joined = "".join("".join(texts).split())
    assert joined.count("戸籍に記録されている者") == 18
    for page in texts:  # the 本籍 and 筆頭者 head every sheet
        assert "".join(HONSEKI.split()) in "".join(page.split())


def test_a_member_with_a_long_history_continues_on_the_next_sheet(render: Render) -> None:
    events = "；".join(f"転籍 {1990 + i}-04-01 東京都千代田区から転籍" for i in range(60))
    k = koseki()
    long = dataclasses.replace(k, members=(member(1, events=events), *k.members[1:]))
    doc = document(K.KOSEKI_KOJIN, MUNICIPALITY, ME, koseki=KosekiExtract(long, 1, (1,)))
    texts = assert_furniture(
        render(doc), "戸籍個人事項証明書", "一部の者について記録されている事項の全部"
    )
    assert len(texts) >= 2
    joined = "".join("".join(texts).split())
    assert joined.count("【転籍日】") == 60  # every event printed, none lost at a page break


# -- every kind ---------------------------------------------------------------------------------


def every_kind() -> list[CertificateDocument]:
    muni = own_server(MUNICIPALITY)
    return [
        document(K.JUMINHYO_KISAI, muni, HOUSEHOLD[:2]),
        *(document(k, MUNICIPALITY, ME) for k in (K.TAX_INCOME, K.TAX_ASSESSMENT, K.TAX_PAYMENT)),
        *(document(k, MUNICIPALITY, ME) for k in (K.KOSEKI_ZENBU, K.KOSEKI_KOJIN, K.KOSEKI_FUHYO)),
    ]


@pytest.mark.parametrize("doc", every_kind(), ids=lambda d: d.kind.value)
def test_every_kind_renders_the_same_bytes_and_names_only_itself(
    render: Render, doc: CertificateDocument
) -> None:
    pdf = render(doc)
    assert render(doc) == pdf
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and reader.metadata.title == doc.title
    values = " ".join(str(v) for v in reader.metadata.values())
    assert "髙橋" not in values and "甲野" not in values
    text = flat(pdf)
    assert ME[0].individual_number not in text and ME[0].juminhyo_code not in text
