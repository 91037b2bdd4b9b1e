"""The BCL upload format: every kind of error found, at its row and column; records round-trip."""

from __future__ import annotations

import base64
import hashlib
import io
import string
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clients.bcl.generate import GENERATED_FILES, generate_dataset, resident_tax
from server.bcl.csvformat import (
    CARD_SERIALS,
    DELETIONS,
    FILES,
    FILES_BY_NAME,
    FUHYO,
    KOSEKI,
    PNG_SIGNATURE,
    RESIDENTS,
    SEAL_IMAGES,
    SEALS,
    TAXES,
    CsvWriter,
    ErrorCode,
    ErrorSink,
    FileSchema,
    RowError,
    check_file_set,
    read_rows,
    read_stream,
)
from server.bcl.records import ResidentRecord, Sex, individual_number_check_digit
from server.bcl.registers import (
    CardSerialRecord,
    DeletionRecord,
    FuhyoEntryRecord,
    KosekiMemberRecord,
    SealEntry,
    SealImage,
    TaxRecord,
    TokenCarrier,
)

HEAD = ",".join(RESIDENTS.header)
GOOD = (
    "0000000001,00000001,山田,太郎,ヤマダ,タロウ,,1980-01-02,男,東京都千代田区九段北一丁目2番3号,"
    ",世帯主,東京都千代田区九段北一丁目2番,山田　太郎,12345678901,{inum},2000-01-01,2001-01-01,0"
)


def inum(body: str = "12345678901") -> str:
    return f"{body}{individual_number_check_digit(body)}"


def good_row(**changes: str) -> str:
    fields = GOOD.format(inum=inum()).split(",")
    for column, value in changes.items():
        fields[RESIDENTS.header.index(column)] = value
    return ",".join(fields)


def check(schema: FileSchema, text: str | bytes) -> tuple[list[dict[str, Any]], list[RowError]]:
    sink = ErrorSink()
    raw = text.encode() if isinstance(text, str) else text
    rows = [r.values for r in read_stream(io.BytesIO(raw), schema, sink)]
    assert sink.count == len(sink.errors)
    return rows, sink.errors


def where(errors: list[RowError]) -> list[tuple[int, str, ErrorCode]]:
    return [(e.row, e.column, e.code) for e in errors]


# --- one valid row, then each way a row can be wrong ------------------------------------------


def test_a_valid_row_parses_to_typed_values() -> None:
    rows, errors = check(RESIDENTS, f"{HEAD}\n{good_row()}\n")
    assert errors == []
    (v,) = rows
    assert v["birth_date"] == date(1980, 1, 2) and v["sex"] is Sex.MALE
    assert v["suppressed"] is False and v["address_annex"] == ""


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("resident_id", "", ErrorCode.REQUIRED),
        ("resident_id", "12a", ErrorCode.FORMAT),
        ("resident_id", "1234567890123456", ErrorCode.FORMAT),
        ("family_name", "山" * 51, ErrorCode.TOO_LONG),
        ("family_name_kana", "やまだ", ErrorCode.FORMAT),
        ("birth_date", "1980/01/02", ErrorCode.DATE),
        ("birth_date", "1980-02-30", ErrorCode.DATE),
        ("sex", "M", ErrorCode.CHOICE),
        ("suppressed", "yes", ErrorCode.CHOICE),
        ("juminhyo_code", "1234567890", ErrorCode.FORMAT),
        ("individual_number", "１２３４５６７８９０１２", ErrorCode.FORMAT),
        ("individual_number", "123456789010" if inum()[-1] != "0" else "123456789011",
         ErrorCode.CHECK_DIGIT),
        ("became_resident_on", "1979-12-31", ErrorCode.INCONSISTENT),
        ("address_set_on", "1999-12-31", ErrorCode.INCONSISTENT),
    ],
)  # fmt: skip
def test_each_field_error_names_its_row_column_and_code(
    column: str, value: str, code: ErrorCode
) -> None:
    text = f"{HEAD}\n{good_row()}\n{good_row(**{column: value})}\n"
    rows, errors = check(RESIDENTS, text)
    assert len(rows) == 1
    assert where(errors) == [(3, column, code)]
    assert errors[0].file == "residents.csv" and errors[0].message


def test_every_error_of_a_row_and_of_the_file_is_reported() -> None:
    bad = good_row(resident_id="", birth_date="yesterday", sex="X")
    text = f"{HEAD}\n{bad}\n{good_row()}\n{bad}\n"
    _, errors = check(RESIDENTS, text)
    cells = [("resident_id", ErrorCode.REQUIRED), ("birth_date", ErrorCode.DATE),
             ("sex", ErrorCode.CHOICE)]  # fmt: skip
    assert where(errors) == [(2, c, k) for c, k in cells] + [(4, c, k) for c, k in cells]


def test_header_problems_are_each_reported_and_stop_the_file() -> None:
    header = RESIDENTS.header
    text = ",".join([*header[1:], "nickname", "sex"]) + "\n" + good_row() + "\n"
    rows, errors = check(RESIDENTS, text)
    assert rows == []
    assert where(errors) == [
        (1, "nickname", ErrorCode.HEADER),  # unknown
        (1, "sex", ErrorCode.HEADER),  # named twice
        (1, "resident_id", ErrorCode.HEADER),  # missing
    ]


def test_columns_may_come_in_any_order_and_a_bom_is_accepted() -> None:
    order = list(reversed(RESIDENTS.header))
    fields = dict(zip(RESIDENTS.header, good_row().split(","), strict=True))
    text = "\ufeff" + ",".join(order) + "\n" + ",".join(fields[c] for c in order) + "\n"
    rows, errors = check(RESIDENTS, text)
    assert errors == [] and rows[0]["resident_id"] == "0000000001"


def test_an_empty_file_and_wrong_field_counts() -> None:
    assert where(check(RESIDENTS, "")[1]) == [(0, "", ErrorCode.EMPTY_FILE)]
    text = f"{HEAD}\n{good_row()},extra\n\n{good_row()}\n"
    rows, errors = check(RESIDENTS, text)
    assert len(rows) == 1
    assert where(errors) == [(2, "", ErrorCode.FIELD_COUNT), (3, "", ErrorCode.FIELD_COUNT)]


def test_bytes_that_are_not_utf8_are_found_at_their_cell() -> None:
    raw = f"{HEAD}\n{good_row()}\n".encode() + good_row().encode().replace(
        "山田,太郎".encode(), "山田".encode() + b",\x82\xa0"  # Shift_JIS あ in the given name
    ) + b"\n"  # fmt: skip
    rows, errors = check(RESIDENTS, raw)
    assert len(rows) == 1
    assert where(errors) == [(3, "given_name", ErrorCode.ENCODING)]


def test_quoted_line_breaks_keep_row_numbers_right_and_control_characters_are_refused() -> None:
    quoted = good_row(address_annex='"Room\n5"')  # one record over two lines
    text = f"{HEAD}\n{quoted}\n{good_row(family_name='a' + chr(0) + 'b')}\n{good_row()}\n"
    rows, errors = check(RESIDENTS, text)
    assert where(errors) == [
        (2, "address_annex", ErrorCode.FORMAT),  # the format allows no line break in a field
        (3, "family_name", ErrorCode.FORMAT),  # nor a control character
    ]
    assert len(rows) == 1


def test_an_unterminated_quote_is_a_syntax_error() -> None:
    text = f"{HEAD}\n{good_row(family_name=chr(34) + '山田')}\n"
    _, errors = check(RESIDENTS, text)
    assert where(errors) == [(2, "", ErrorCode.CSV_SYNTAX)]


def test_tax_rows_must_add_up() -> None:
    ok = resident_tax("0000000001", 2025, 4_000_000, 0, 1.0)
    wrong = [
        (replace(ok, annual_tax=ok.annual_tax + 1, paid=ok.paid + 1), "annual_tax"),
        (replace(ok, unpaid=1), "unpaid"),
        (replace(ok, tax_exempt=True), "tax_exempt"),
        (replace(ok, taxable_income=ok.total_income + 1), "taxable_income"),
    ]
    lines = [",".join(TAXES.header), ",".join(TAXES.encode(ok))]
    lines += [",".join(TAXES.encode(t)) for t, _ in wrong]
    rows, errors = check(TAXES, "\n".join(lines) + "\n")
    assert len(rows) == 1
    assert where(errors) == [
        (3 + i, column, ErrorCode.INCONSISTENT) for i, (_, column) in enumerate(wrong)
    ]


def test_money_and_years_are_plain_whole_numbers() -> None:
    ok = TAXES.encode(resident_tax("1", 2025, 0, 0, 1.0))
    bad_year = ",".join([*ok[:1], "２０２５", *ok[2:]])
    bad_yen = ",".join([*ok[:2], "-5", *ok[3:]])
    leading_zero = ",".join([*ok[:2], "05", *ok[3:]])
    text = "\n".join([",".join(TAXES.header), bad_year, bad_yen, leading_zero]) + "\n"
    _, errors = check(TAXES, text)
    assert where(errors) == [
        (2, "fiscal_year", ErrorCode.NUMBER),
        (3, "salary_income", ErrorCode.NUMBER),
        (4, "salary_income", ErrorCode.NUMBER),
    ]


def test_seal_images_must_be_base64_pngs() -> None:
    png = PNG_SIGNATURE + b"rest"
    sha = hashlib.sha256(png).hexdigest()
    lines = [
        "sha256,png_base64",
        f"{sha},{base64.b64encode(png).decode()}",
        f"{sha},not*base64",
        f"{sha},{base64.b64encode(b'GIF89a').decode()}",
        f"{sha.upper()},{base64.b64encode(png).decode()}",
    ]
    rows, errors = check(SEAL_IMAGES, "\n".join(lines) + "\n")
    assert len(rows) == 1 and rows[0]["png"] == png
    assert where(errors) == [
        (3, "png_base64", ErrorCode.SEAL_IMAGE),
        (4, "png_base64", ErrorCode.SEAL_IMAGE),
        (5, "sha256", ErrorCode.FORMAT),
    ]


def test_the_file_set_of_each_kind_of_upload() -> None:
    sink = ErrorSink()
    schemas = check_file_set(["taxes.csv", "extra.csv", "taxes.csv"], full=True, sink=sink)
    assert [s.name for s in schemas] == ["taxes.csv"]
    assert [(e.file, e.code) for e in sink.errors] == [
        ("extra.csv", ErrorCode.FILE_UNKNOWN),
        ("taxes.csv", ErrorCode.FILE_DUPLICATE),
        ("residents.csv", ErrorCode.FILE_MISSING),
    ]
    sink = ErrorSink()
    check_file_set(["residents.csv", "deletions.csv"], full=True, sink=sink)
    assert [(e.file, e.code) for e in sink.errors] == [
        ("deletions.csv", ErrorCode.FILE_NOT_ALLOWED)
    ]
    sink = ErrorSink()
    schemas = check_file_set(["deletions.csv"], full=False, sink=sink)
    assert not sink and [s.name for s in schemas] == ["deletions.csv"]


def test_the_sink_counts_every_error_but_lists_only_its_limit() -> None:
    sink = ErrorSink(limit=2)
    for row in range(5):
        sink.add("residents.csv", row, "", ErrorCode.FORMAT, "x")
    assert sink.count == 5 and [e.row for e in sink.errors] == [0, 1]


# --- round trips -------------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n\x85\u2028\u2029"
    ),
    max_size=20,
)
_KANA = st.text(alphabet="アイウエオカキクケコガギヤユヨッャーン・　", min_size=1, max_size=12)
_DIGITS = st.text(alphabet=string.digits, min_size=1, max_size=15)
_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 3, 31))


@st.composite
def residents(draw: st.DrawFn) -> ResidentRecord:
    birth = draw(_DATES)
    became = draw(st.dates(min_value=birth, max_value=date(2026, 3, 31)))
    moved = draw(st.dates(min_value=became, max_value=date(2026, 3, 31)))
    head = draw(st.booleans())
    return ResidentRecord(
        resident_id=draw(_DIGITS),
        household_id=draw(_DIGITS),
        family_name=draw(_TEXT.filter(bool)),
        given_name=draw(_TEXT),
        family_name_kana=draw(_KANA),
        given_name_kana=draw(st.one_of(st.just(""), _KANA)),
        birth_date=birth,
        sex=draw(st.sampled_from(Sex)),
        address=draw(_TEXT.filter(bool)),
        address_annex=draw(_TEXT),
        is_household_head=head,
        relationship="世帯主" if head else draw(st.sampled_from(["妻", "子", "子の子", "母"])),
        honseki=draw(_TEXT),
        hittousha=draw(_TEXT),
        juminhyo_code=draw(st.text(alphabet=string.digits, min_size=11, max_size=11)),
        individual_number=inum(draw(st.text(alphabet=string.digits, min_size=11, max_size=11))),
        became_resident_on=became,
        address_set_on=moved,
        former_family_name=draw(_TEXT),
        suppressed=draw(st.booleans()),
    )


def _round_trip(schema: FileSchema, records: list[object]) -> list[dict[str, Any]]:
    buf = io.BytesIO()
    writer = CsvWriter(buf, schema)
    writer.write_all(records)
    writer.close()
    rows, errors = check(schema, buf.getvalue())
    assert errors == []
    return rows


@settings(max_examples=60, deadline=None)
@given(st.lists(residents(), max_size=5))
def test_resident_records_round_trip_through_csv(records: list[ResidentRecord]) -> None:
    rows = _round_trip(RESIDENTS, list(records))
    back = [ResidentRecord(**v, is_household_head=v["relationship"] == "世帯主") for v in rows]
    assert back == records


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.builds(
            CardSerialRecord,
            resident_id=_DIGITS,
            serial=st.integers(1, 2**159).map(str),
            carrier=st.sampled_from(TokenCarrier),
            active=st.booleans(),
        ),
        max_size=5,
    ),
    st.lists(
        st.builds(
            resident_tax,
            resident_id=_DIGITS,
            fiscal_year=st.integers(1989, 2200),
            salary=st.integers(0, 10**9),
            other=st.integers(0, 10**8),
            paid_share=st.floats(0, 1),
        ),
        max_size=5,
    ),
    st.lists(
        st.builds(
            KosekiMemberRecord,
            koseki_id=st.text(
                alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8
            ),
            honseki=_TEXT.filter(bool),
            hittousha=_TEXT.filter(bool),
            member_no=st.integers(1, 999),
            family_name=_TEXT.filter(bool),
            given_name=_TEXT.filter(bool),
            birth_date=_DATES,
            sex=st.sampled_from(Sex),
            relationship=st.sampled_from(["長男", "二女", "妻"]),
            resident_id=st.one_of(st.just(""), _DIGITS),
            family_name_kana=st.one_of(st.just(""), _KANA),
            events=_TEXT,
            removed_reason=st.sampled_from(["", "婚姻", "死亡"]),
        ),
        max_size=5,
    ),
)
def test_register_records_round_trip_through_csv(
    serials: list[CardSerialRecord], taxes: list[TaxRecord], koseki: list[KosekiMemberRecord]
) -> None:
    assert [CardSerialRecord(**v) for v in _round_trip(CARD_SERIALS, list(serials))] == serials
    assert [TaxRecord(**v) for v in _round_trip(TAXES, list(taxes))] == taxes
    assert [KosekiMemberRecord(**v) for v in _round_trip(KOSEKI, list(koseki))] == koseki


# --- the generator writes the format --------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "a"
    generate_dataset(out, residents=600, seed=11)
    return out


def test_the_generator_writes_valid_files_with_exactly_the_residents_asked_for(
    dataset: Path,
) -> None:
    for schema in GENERATED_FILES:
        sink = ErrorSink()
        rows = list(read_rows(dataset / schema.name, schema, sink))
        assert sink.errors == [], schema.name
        if schema is RESIDENTS:
            assert len(rows) == 600
            heads = [r for r in rows if r.values["relationship"] == "世帯主"]
            assert len(heads) == len({r.values["household_id"] for r in rows})
    assert {p.name for p in dataset.iterdir()} == {s.name for s in GENERATED_FILES}
    assert set(FILES_BY_NAME) == {s.name for s in FILES}


def test_the_generator_is_deterministic(dataset: Path, tmp_path: Path) -> None:
    again = generate_dataset(tmp_path / "b", residents=600, seed=11)
    for schema in GENERATED_FILES:
        assert (again.directory / schema.name).read_bytes() == (dataset / schema.name).read_bytes()
    other = generate_dataset(tmp_path / "c", residents=600, seed=12)
    assert (other.directory / "residents.csv").read_bytes() != (
        dataset / "residents.csv"
    ).read_bytes()


def test_the_published_schema_lists_every_file_and_column_in_order() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "bcl-upload-format.md").read_text(
        encoding="utf-8"
    )
    for schema in FILES:
        section = doc.split(f"### `{schema.name}`", 1)[1].split("\n#", 1)[0]
        listed = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
        assert listed == list(schema.header), schema.name
    for code in ErrorCode:
        assert f"| `{code.value}` |" in doc


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.builds(
            SealEntry,
            resident_id=_DIGITS,
            registration_number=st.text(
                alphabet=string.ascii_letters + "0123456789-", min_size=1, max_size=20
            ),
            registered_on=_DATES,
            impression_sha256=st.binary(min_size=32, max_size=32).map(bytes.hex),
            active=st.booleans(),
        ),
        max_size=4,
    ),
    st.lists(st.binary(max_size=64).map(lambda b: SealImage.of(PNG_SIGNATURE + b)), max_size=3),
    st.lists(
        st.builds(
            FuhyoEntryRecord,
            koseki_id=st.text(alphabet=string.digits, min_size=1, max_size=8),
            member_no=st.integers(1, 999),
            entry_no=st.integers(1, 9999),
            address=_TEXT.filter(bool),
            address_set_on=_DATES,
        ),
        max_size=4,
    ),
    st.lists(
        st.builds(
            DeletionRecord,
            resident_id=_DIGITS,
            reason=st.sampled_from(["転出", "死亡", "職権消除"]),
            removed_on=_DATES,
        ),
        max_size=4,
    ),
)
def test_seal_fuhyo_and_deletion_rows_round_trip_through_csv(
    seals: list[SealEntry],
    images: list[SealImage],
    fuhyo: list[FuhyoEntryRecord],
    deletions: list[DeletionRecord],
) -> None:
    assert [SealEntry(**v) for v in _round_trip(SEALS, list(seals))] == seals
    assert [SealImage(**v) for v in _round_trip(SEAL_IMAGES, list(images))] == images
    assert [FuhyoEntryRecord(**v) for v in _round_trip(FUHYO, list(fuhyo))] == fuhyo
    assert [DeletionRecord(**v) for v in _round_trip(DELETIONS, list(deletions))] == deletions
