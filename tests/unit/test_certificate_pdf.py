"""Certificate documents and their PDFs: what is printed, what never is, and byte-stability."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pypdf
import pytest
from fontTools import ttLib  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from pypdf.generic import ArrayObject, DictionaryObject, PdfObject, StreamObject

from server.bcl.records import (
    IssuingBackend,
    MunicipalityClass,
    MunicipalityProfile,
    ResidentRecord,
    SealRegistrationRecord,
    Sex,
)
from server.common.clock import JST
from server.issuance.documents import (
    CertificateDocument,
    CertificateKind,
    IssueNumber,
    JuminhyoOptions,
)
from server.issuance.pdf import CertificateRenderer, RendererConfig, UnprintableCharacters

MINCHO = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")
GOTHIC = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
ISSUED = date(2026, 4, 1)
CREATED = datetime(2026, 4, 1, 10, 15, 30, tzinfo=JST)
NUMBER = IssueNumber(ISSUED, "131016", "K0001", "P1", 123)

pytestmark = pytest.mark.skipif(not MINCHO.is_file(), reason="IPAex fonts not installed")


# -- fixtures ---------------------------------------------------------------------------------


def seal_png(size: int = 240) -> bytes:
    """A red ring on a transparent ground: enough of a seal impression for layout tests."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((6, 6, size - 6, size - 6), outline=(200, 32, 38, 255), width=12)
    draw.rectangle((size // 3, size // 3, 2 * size // 3, 2 * size // 3), fill=(200, 32, 38, 255))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


MUNICIPALITY = MunicipalityProfile(
    code="131016",
    prefecture="東京都",
    name="千代田区",
    mayor_title="区長",
    mayor_name="山田　太郎",
    municipality_class=MunicipalityClass.CITY_50K,
    backend=IssuingBackend.BCL,
    population=68_000,
    joined_on=date(2010, 2, 1),
    fees={"juminhyo": 200, "inkan": 200},
    seal_png=seal_png(300),
)

GIVEN = ["一郎", "花子", "健太", "美咲", "翔", "陽菜", "蓮", "結衣", "大翔", "葵", "湊", "凛"]
KANA = [
    "イチロウ",
    "ハナコ",
    "ケンタ",
    "ミサキ",
    "ショウ",
    "ヒナ",
    "レン",
    "ユイ",
    "ヒロト",
    "アオイ",
]
KANA += ["ミナト", "リン"]
RELATION = ["世帯主", "妻", "長男", "長女", "二男", "二女", "三男", "三女", "母", "父", "孫", "孫"]


def resident(i: int, household: str = "H000001", **changes: Any) -> ResidentRecord:
    base = ResidentRecord(
        resident_id=f"R{i:06d}",
        household_id=household,
        family_name="髙橋",
        given_name=GIVEN[i],
        family_name_kana="タカハシ",
        given_name_kana=KANA[i],
        birth_date=date(1980 + i, 5, 3),
        sex=Sex.MALE if i % 2 == 0 else Sex.FEMALE,
        address="東京都千代田区千代田一丁目1番1号",
        address_annex="コーポ千代田101号",
        is_household_head=i == 0,
        relationship=RELATION[i],
        honseki="大阪府大阪市北区梅田三丁目3番地",
        hittousha="髙橋　一郎",
        juminhyo_code=f"{98765432100 + i:011d}",
        individual_number=f"{876543210980 + i:012d}",
        became_resident_on=date(2010, 4, 1),
        address_set_on=date(2021, 4, 1),
    )
    return dataclasses.replace(base, **changes)


HOUSEHOLD = tuple(resident(i) for i in range(12))
SEAL = SealRegistrationRecord(
    resident_id=HOUSEHOLD[0].resident_id,
    registration_number="0001234",
    registered_on=date(2015, 6, 1),
    impression_png=seal_png(),
)


def juminhyo(
    persons: tuple[ResidentRecord, ...] = HOUSEHOLD[:3],
    options: JuminhyoOptions | None = None,
    household_size: int = 3,
) -> CertificateDocument:
    return CertificateDocument(
        kind=CertificateKind.JUMINHYO,
        municipality=MUNICIPALITY,
        issued_on=ISSUED,
        issue_number=NUMBER,
        persons=persons,
        options=options or JuminhyoOptions(),
        household_head=HOUSEHOLD[0],
        household_size=household_size,
    )


def inkan() -> CertificateDocument:
    return CertificateDocument(
        kind=CertificateKind.INKAN,
        municipality=MUNICIPALITY,
        issued_on=ISSUED,
        issue_number=NUMBER,
        persons=(HOUSEHOLD[0],),
        household_head=HOUSEHOLD[0],
        household_size=3,
        seal=SEAL,
    )


@pytest.fixture(scope="module")
def renderer() -> CertificateRenderer:
    return CertificateRenderer(RendererConfig(font_path=MINCHO))


Render = Callable[[CertificateDocument], bytes]


@pytest.fixture(scope="module")
def render(renderer: CertificateRenderer) -> Render:
    return lambda doc: renderer.render(doc, created_at=CREATED)


def obj(value: object) -> DictionaryObject:
    """A PDF dictionary, resolved through indirect references."""
    resolved = value.get_object() if isinstance(value, PdfObject) else value
    assert isinstance(resolved, DictionaryObject)
    return resolved


def fonts_of(pdf: bytes) -> list[DictionaryObject]:
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    return [obj(f) for f in obj(obj(page["/Resources"])["/Font"]).values()]


def font_program(font: DictionaryObject) -> bytes:
    (cid,) = (obj(d) for d in cast(ArrayObject, font["/DescendantFonts"]))
    stream = obj(cid["/FontDescriptor"])["/FontFile2"].get_object()
    assert isinstance(stream, StreamObject)
    return stream.get_data()


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def text_of(pdf: bytes) -> str:
    return "\n".join(pages_text(pdf))


# -- the 住民票の写し ---------------------------------------------------------------------------


def test_juminhyo_shows_the_title_names_dates_and_issue_number(render: Render) -> None:
    text = text_of(render(juminhyo()))
    assert "住民票の写し" in text
    for p in HOUSEHOLD[:3]:
        assert p.full_name in text  # 髙橋　一郎, with the ideographic space
        assert p.full_name_kana in text
    assert "昭和55年5月3日" in text  # birth dates in the era calendar
    assert "令和3年4月1日" in text  # 住所を定めた日
    assert f"交付番号 {NUMBER.format()}" in text
    assert "この写しは、世帯全員の住民票の原本と相違ないことを証明する。" in text
    assert "令和8年4月1日" in text
    assert "東京都千代田区長　山田　太郎" in text
    assert "東京都千代田区千代田一丁目1番1号　コーポ千代田101号" in text


def test_part_of_a_household_is_certified_as_such(render: Render) -> None:
    text = text_of(render(juminhyo(HOUSEHOLD[:2], household_size=3)))
    assert "世帯の一部の住民票の原本と相違ないことを証明する。" in text
    assert HOUSEHOLD[2].given_name not in text


def test_my_number_and_juminhyo_code_are_never_printed(render: Render) -> None:
    everything = JuminhyoOptions(show_head_and_relationship=True, show_honseki=True)
    pdf = render(juminhyo(HOUSEHOLD, everything, household_size=12))
    flat = "".join(text_of(pdf).split())
    assert "個人番号" in flat and "住民票コード" in flat
    for p in HOUSEHOLD:
        assert p.individual_number not in flat
        assert p.juminhyo_code not in flat
    assert flat.count("省略") >= 2 * len(HOUSEHOLD)


def test_honseki_is_printed_only_when_chosen(render: Render) -> None:
    plain = text_of(render(juminhyo()))
    assert HOUSEHOLD[0].honseki not in plain
    assert "本籍" in plain and "省略" in plain
    full = text_of(render(juminhyo(options=JuminhyoOptions(show_honseki=True))))
    assert HOUSEHOLD[0].honseki in full


def test_head_and_relationship_are_printed_only_when_chosen(render: Render) -> None:
    plain = text_of(render(juminhyo()))
    assert "長男" not in plain and "妻" not in plain
    shown = text_of(render(juminhyo(options=JuminhyoOptions(show_head_and_relationship=True))))
    assert "長男" in shown and "妻" in shown


def test_a_large_household_spans_pages_each_numbered(render: Render) -> None:
    pdf = render(juminhyo(HOUSEHOLD, household_size=12))
    texts = pages_text(pdf)
    total = len(texts)
    assert total > 1
    for page, text in enumerate(texts, start=1):
        assert "住民票の写し" in text
        assert f"交付番号 {NUMBER.format()}" in text
        assert f"{page}/{total}" in text
    joined = "\n".join(texts)
    for p in HOUSEHOLD:
        assert joined.count(p.full_name) >= 1
    # The certification closes the last sheet only, with at least one entry above it.
    assert all("原本と相違ない" not in t for t in texts[:-1])
    assert "原本と相違ない" in texts[-1] and "氏名" in texts[-1]


def test_the_real_ipaex_font_is_embedded_as_a_cid_truetype_subset(render: Render) -> None:
    (font,) = fonts_of(render(juminhyo()))
    assert str(font["/Subtype"]) == "/Type0"
    assert "IPAex" in str(font["/BaseFont"])
    (cid,) = (obj(d) for d in cast(ArrayObject, font["/DescendantFonts"]))
    assert str(cid["/Subtype"]) == "/CIDFontType2"  # TrueType outlines
    assert len(font_program(font)) < 200_000  # a subset, not the 7.8 MB font


def test_embedded_glyphs_are_the_fonts_own(render: Render) -> None:
    """The trimmed per-document font must carry the very outlines of the installed font."""
    (font,) = fonts_of(render(juminhyo()))
    embedded = ttLib.TTFont(io.BytesIO(font_program(font)))
    original = ttLib.TTFont(str(MINCHO))
    for ch in "髙橋一郎住民票の写しタカハシ令和8年":
        mine = embedded["glyf"][embedded.getBestCmap()[ord(ch)]]
        theirs = original["glyf"][original.getBestCmap()[ord(ch)]]
        assert mine.numberOfContours == theirs.numberOfContours > 0
        coords_mine = mine.getCoordinates(embedded["glyf"])[0]
        coords_theirs = theirs.getCoordinates(original["glyf"])[0]
        assert list(coords_mine) == list(coords_theirs)
        advance = embedded["hmtx"][embedded.getBestCmap()[ord(ch)]][0]
        assert advance == original["hmtx"][original.getBestCmap()[ord(ch)]][0]


def test_a_gothic_face_can_be_added_for_headings() -> None:
    if not GOTHIC.is_file():
        pytest.skip("IPAex Gothic not installed")
    renderer = CertificateRenderer(RendererConfig(font_path=MINCHO, gothic_font_path=GOTHIC))
    pdf = renderer.render(juminhyo(), created_at=CREATED)
    names = sorted(str(f["/BaseFont"]) for f in fonts_of(pdf))
    assert any("IPAexGothic" in n for n in names) and any("IPAexMincho" in n for n in names)
    assert "住民票の写し" in text_of(pdf)


def test_the_copy_evident_ground_is_one_image_used_many_times(render: Render) -> None:
    reader = pypdf.PdfReader(io.BytesIO(render(juminhyo())))
    page = reader.pages[0]
    content = page.get_contents()
    assert content is not None
    ops = content.get_data()
    xobjects = obj(obj(page["/Resources"])["/XObject"])
    ground = [
        name for name, ref in xobjects.items() if str(obj(ref)["/ColorSpace"]) == "/DeviceGray"
    ]
    assert len(ground) == 1
    assert ops.count(f"{ground[0]} Do".encode()) > 20


# -- the 印鑑登録証明書 -------------------------------------------------------------------------


def test_inkan_shows_the_impression_and_the_registrant(render: Render) -> None:
    pdf = render(inkan())
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    images = reader.pages[0].images
    assert any(img.image is not None and img.image.size == (240, 240) for img in images)
    text = text_of(pdf)
    assert "印鑑登録証明書" in text
    assert HOUSEHOLD[0].full_name in text
    assert "昭和55年5月3日" in text
    assert "東京都千代田区千代田一丁目1番1号" in text
    assert SEAL.registration_number in text
    assert "この写しは、登録されている印影と相違ないことを証明する。" in text
    assert "東京都千代田区長　山田　太郎" in text
    assert "1/1" in text and NUMBER.format() in text
    flat = "".join(text.split())
    assert HOUSEHOLD[0].individual_number not in flat
    assert HOUSEHOLD[0].juminhyo_code not in flat


def test_a_municipality_without_a_seal_image_gets_a_drawn_seal(
    renderer: CertificateRenderer,
) -> None:
    doc = dataclasses.replace(
        juminhyo(), municipality=dataclasses.replace(MUNICIPALITY, seal_png=b"")
    )
    text = text_of(renderer.render(doc, created_at=CREATED))
    assert "之" in text and "印" in text  # 千代田区長之印 drawn in vectors


# -- determinism and metadata -----------------------------------------------------------------


@pytest.mark.parametrize("make", [juminhyo, inkan])
def test_same_inputs_give_the_same_bytes(
    renderer: CertificateRenderer, make: Callable[[], CertificateDocument]
) -> None:
    first = renderer.render(make(), created_at=CREATED)
    assert renderer.render(make(), created_at=CREATED) == first
    fresh = CertificateRenderer(RendererConfig(font_path=MINCHO))
    assert fresh.render(make(), created_at=CREATED) == first
    later = renderer.render(make(), created_at=CREATED.replace(second=31))
    assert later != first


def test_metadata_names_the_certificate_only(render: Render) -> None:
    for doc in (juminhyo(HOUSEHOLD, household_size=12), inkan()):
        reader = pypdf.PdfReader(io.BytesIO(render(doc)))
        meta = reader.metadata
        assert meta is not None
        assert meta.title == doc.title
        assert meta.creation_date == CREATED
        assert set(meta) <= {"/Title", "/CreationDate", "/Producer", "/Creator"}
        values = " ".join(str(v) for v in meta.values())
        for p in HOUSEHOLD:
            assert p.family_name not in values and p.given_name not in values
        assert "/Metadata" not in obj(reader.trailer["/Root"])  # no XMP packet either


def test_a_naive_creation_time_is_refused(renderer: CertificateRenderer) -> None:
    with pytest.raises(ValueError):
        renderer.render(juminhyo(), created_at=datetime(2026, 4, 1, 10, 0))


def test_characters_the_font_lacks_are_refused_not_printed_as_tofu(render: Render) -> None:
    odd = resident(1, given_name="\ue000子")  # a private-use 外字 code point
    with pytest.raises(UnprintableCharacters) as err:
        render(juminhyo((HOUSEHOLD[0], odd), household_size=2))
    assert err.value.chars == "\ue000"


def test_a_missing_font_fails_at_construction() -> None:
    with pytest.raises(FileNotFoundError):
        RendererConfig(font_path=Path("/nonexistent/font.ttf"))


# -- the document rules -----------------------------------------------------------------------


def test_inkan_needs_exactly_one_person_and_their_active_seal() -> None:
    base = inkan()
    with pytest.raises(ValueError, match="exactly one"):
        dataclasses.replace(base, persons=HOUSEHOLD[:2])
    with pytest.raises(ValueError, match="active seal"):
        dataclasses.replace(base, seal=None)
    with pytest.raises(ValueError, match="active seal"):
        dataclasses.replace(base, seal=dataclasses.replace(SEAL, active=False))
    with pytest.raises(ValueError, match="another person"):
        dataclasses.replace(base, persons=(HOUSEHOLD[1],))
    with pytest.raises(ValueError, match="住民票 only"):
        dataclasses.replace(base, options=JuminhyoOptions(show_honseki=True))


def test_juminhyo_rules() -> None:
    base = juminhyo()
    with pytest.raises(ValueError, match="at least one"):
        dataclasses.replace(base, persons=())
    with pytest.raises(ValueError, match="twice"):
        dataclasses.replace(base, persons=(HOUSEHOLD[0], HOUSEHOLD[0]))
    with pytest.raises(ValueError, match="household head"):
        dataclasses.replace(base, household_head=None)
    with pytest.raises(ValueError, match="household"):
        dataclasses.replace(base, persons=(HOUSEHOLD[0], resident(1, household="H000002")))
    with pytest.raises(ValueError, match="household_size"):
        dataclasses.replace(base, household_size=2)
    with pytest.raises(ValueError, match="suppression"):
        dataclasses.replace(base, persons=(HOUSEHOLD[0], resident(1, suppressed=True)))
    with pytest.raises(ValueError, match="seal"):
        dataclasses.replace(base, seal=SEAL)
    with pytest.raises(ValueError, match="municipality"):
        dataclasses.replace(
            base, issue_number=dataclasses.replace(NUMBER, municipality_code="011002")
        )
    with pytest.raises(ValueError, match="date"):
        dataclasses.replace(base, issued_on=date(2026, 4, 2))
    assert base.whole_household and base.title == "住民票の写し"
    assert CertificateKind.INKAN.printed_title == "印鑑登録証明書"


def test_issue_number_format() -> None:
    assert NUMBER.format() == "20260401-131016-K0001-P1-000123"
    assert str(NUMBER) == NUMBER.format()
    assert IssueNumber.parse("20260401-131016-K0001-P1-000123") == NUMBER


@pytest.mark.parametrize(
    "text",
    [
        "",
        "20260401-131016-K0001-P1",
        "20261301-131016-K0001-P1-000123",
        "20260401-13101-K1-P1-000001",
        "20260401-131016-K-1-P1-000001",
        "20260401-131016-K1-P1-000000",
    ],
)
def test_issue_number_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        IssueNumber.parse(text)


ids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_",
    min_size=1,
    max_size=32,
)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(9999, 12, 31)),
    st.from_regex(r"\A[0-9]{6}\Z"),
    ids,
    ids,
    st.integers(min_value=1, max_value=999_999),
)
def test_issue_number_round_trip(d: date, muni: str, terminal: str, printer: str, seq: int) -> None:
    number = IssueNumber(d, muni, terminal, printer, seq)
    assert IssueNumber.parse(number.format()) == number


def test_concurrent_renders_match_sequential_ones(renderer: CertificateRenderer) -> None:
    """The issuance desk renders on a thread pool; documents must not share subset state."""
    docs = [juminhyo(HOUSEHOLD[:n], household_size=12) for n in range(1, 13)] + [inkan()] * 4
    expected = [renderer.render(d, created_at=CREATED) for d in docs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda d: renderer.render(d, created_at=CREATED), docs))
    assert got == expected


def test_the_embedded_subset_is_numbered_compactly(render: Render) -> None:
    """Only the glyphs drawn (and the four every font keeps), not 12,000 empty slots."""
    pdf = render(juminhyo())
    (font,) = fonts_of(pdf)
    embedded = ttLib.TTFont(io.BytesIO(font_program(font)))
    drawn = set("".join(text_of(pdf).split()))
    assert len(drawn) < embedded["maxp"].numGlyphs < len(drawn) + 20  # spaces, .notdef, …
    assert embedded["maxp"].numGlyphs == len(embedded.getGlyphOrder())


def test_a_seal_image_prepared_once_gives_the_same_bytes_as_a_fresh_one(
    renderer: CertificateRenderer,
) -> None:
    other = dataclasses.replace(MUNICIPALITY, seal_png=seal_png(200))
    first = renderer.render(juminhyo(), created_at=CREATED)
    renderer.render(dataclasses.replace(juminhyo(), municipality=other), created_at=CREATED)
    assert renderer.render(juminhyo(), created_at=CREATED) == first


# -- the fast paths write what fpdf2 writes ----------------------------------------------------


def test_the_embedded_font_file_has_valid_checksums(render: Render) -> None:
    """The program is written without fontTools: its table and file checksums must hold."""
    (font,) = fonts_of(render(juminhyo()))
    data = font_program(font)
    embedded = ttLib.TTFont(io.BytesIO(data), checkChecksums=2)  # raises on a bad table sum
    tables = embedded.reader.keys()
    assert {"glyf", "loca", "hmtx", "cmap", "head", "hhea", "maxp"} <= set(tables)
    for tag in tables:
        embedded[tag]  # every table decodes
    total = sum(int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data), 4))
    assert total & 0xFFFFFFFF == 0xB1B0AFBA  # the head's checkSumAdjustment


def test_the_sheet_text_is_byte_for_byte_what_fpdf2_writes() -> None:
    """`_Pdf`'s text, string widths and rotations skip fpdf2's machinery; the operators must
    not change, nor the graphics state after a turn."""
    from fpdf import FPDF
    from fpdf.enums import TextMode

    from server.issuance.pdf import _Font, _Pdf

    face = _Font(MINCHO, "mincho")
    fast, plain = _Pdf([]), FPDF(orientation="P", unit="mm", format="A4")
    micro = "東京都千代田区 (1)\\ 氏名生年月日証明書 20260401-131016-K0001-P1-0123 "
    widths: dict[int, list[float]] = {}
    for pdf in (fast, plain):
        face.install(pdf)
        pdf.add_page()
        got = widths.setdefault(id(pdf), [])
        for size, color, text in (
            (9.5, (0, 0, 0), "住所（東京都）\\ 1-2"),
            (7.5, (60, 60, 60), "氏名"),
            (7.5, (60, 60, 60), "生年月日"),
            (13.0, (200, 32, 38), ""),
            (13.0, (0, 0, 0), "髙橋　一郎 (ﾀｶﾊｼ)"),
            # long enough for the micro text's path; codes 13, 40 and 41 (escaped) among them
            (1.5, (0, 0, 0), micro * 7),
            (1.5, (0, 0, 0), micro * 9 + "東京"),
        ):
            pdf.set_font("mincho", size=size)
            got.append(pdf.get_string_width(text))
            pdf.set_text_color(*color)
            pdf.text(15.0, 40.0 + size, text)
        with pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.25):
            pdf.text(105.0, 27.0, "住民票の写し")
        for angle, x, y in ((90, 20.0, 20.0), (-90, 9.7, 9.2), (90, 20.0, 20.0)):
            with pdf.rotation(angle, x, y):
                pdf.set_line_width(0.7)  # inside the turn only
                pdf.text(x, y, "千代田区 20260401")
            pdf.line(x, y, x + 5.0, y)
    assert widths[id(fast)] == widths[id(plain)]
    assert fast.pages[1].contents == plain.pages[1].contents


def test_composite_glyphs_keep_their_parts() -> None:
    """IPAex has no composite glyphs; a font that has some gets its parts renumbered."""
    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
    if not dejavu.is_file():
        pytest.skip("DejaVu fonts not installed")
    from server.issuance.pdf import _Font, _Output, _Pdf

    pdf = _Pdf([])
    _Font(dejavu, "dejavu").install(pdf)
    pdf.add_page()
    pdf.set_font("dejavu", size=12)
    text = "Ǻ Àé ñ Å Ǆ"
    pdf.text(20, 30, text)
    out = bytes(pdf.output(output_producer_class=_Output))
    assert pypdf.PdfReader(io.BytesIO(out)).pages[0].extract_text() == text
    (font,) = fonts_of(out)
    embedded = ttLib.TTFont(io.BytesIO(font_program(font)))
    original = ttLib.TTFont(str(dejavu))
    composites = 0
    for ch in set(text) - {" "}:
        mine = embedded["glyf"][embedded.getBestCmap()[ord(ch)]]
        theirs = original["glyf"][original.getBestCmap()[ord(ch)]]
        composites += theirs.isComposite()
        coords_mine = mine.getCoordinates(embedded["glyf"])[0]
        assert list(coords_mine) == list(theirs.getCoordinates(original["glyf"])[0])
    assert composites
