"""Sealed copies, offline: the QR payload, the printed-text digest, signatures, key exports.

The renderer seals each copy with a real P-256 key; these tests read the copy back the way a
verifier does (PDFium raster → zxing-cpp for the QR code, the content streams for the text)
and check the outcomes that need no database. The online outcomes (voided, unknown issue
number) and the gRPC service are in tests/integration/test_verify_service.py.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from pypdf.annotations import FreeText
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject

from clients.cli import main as konbini
from server.common.errors import InvalidArgument
from server.issuance.documents import CertificateDocument, CertificateKind, IssueNumber
from server.issuance.pdf import CertificateRenderer, RendererConfig
from server.verify.keys import export_keys, import_keys
from server.verify.payload import KIND_CODES, PayloadMalformed, SealPayload
from server.verify.printed import (
    PdfUnreadable,
    extract_printed_text,
    parse_to_unicode,
    printed_digest,
)
from server.verify.qr import read_qr_texts
from server.verify.seal import CopySealer, seal_payload
from server.verify.verifier import Outcome, Submission, check_offline, read_submission
from tests.certificates import document
from tests.unit.test_certificate_pdf import (
    CREATED,
    HOUSEHOLD,
    MINCHO,
    MUNICIPALITY,
    inkan,
    juminhyo,
)
from tests.verify_tools import FixedSigners, edit_text, seeded_signer

pytestmark = pytest.mark.skipif(not MINCHO.is_file(), reason="IPAex fonts not installed")

SIGNER = seeded_signer(MUNICIPALITY.code, 1)
KEYS = {SIGNER.key_id: SIGNER.published}
# One sealed copy, rendered once at import for the hostile-input property.
SAMPLE_PDF = (
    CertificateRenderer(
        RendererConfig(font_path=MINCHO), sealer=CopySealer(FixedSigners(SIGNER))
    ).render(juminhyo(), created_at=CREATED)
    if MINCHO.is_file()
    else b""
)


class RecordingSealer(CopySealer):
    """The real sealer, remembering what it was given (to compare with what is read back)."""

    def __init__(self) -> None:
        super().__init__(FixedSigners(SIGNER))
        self.printed: list[list[str]] = []
        self.payloads: list[str] = []

    def seal(self, doc: CertificateDocument, printed: object) -> str:
        self.printed = [list(page) for page in printed]  # type: ignore[attr-defined]
        text = super().seal(doc, printed)  # type: ignore[arg-type]
        self.payloads.append(text)
        return text


@pytest.fixture(scope="module")
def sealer() -> RecordingSealer:
    return RecordingSealer()


@pytest.fixture(scope="module")
def renderer(sealer: RecordingSealer) -> CertificateRenderer:
    return CertificateRenderer(RendererConfig(font_path=MINCHO), sealer=sealer)


def check(pdf: bytes) -> tuple[Outcome, str]:
    [text] = read_qr_texts(pdf)
    verdict = check_offline(SealPayload.from_text(text), KEYS, extract_printed_text(pdf))
    return verdict.outcome, verdict.reason


# -- the payload ------------------------------------------------------------------------------

ids = st.from_regex(r"[0-9A-Za-z_]{1,12}", fullmatch=True)


@given(
    key_id=st.binary(min_size=4, max_size=4),
    code=st.from_regex(r"[0-9]{6}", fullmatch=True),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2199, 12, 31)),
    kind=st.sampled_from(list(KIND_CODES)),
    terminal=ids,
    printer=ids,
    seq=st.integers(1, 999_999),
    digest=st.binary(min_size=32, max_size=32),
    signature=st.binary(min_size=64, max_size=64),
)
def test_payload_text_round_trips(
    key_id: bytes,
    code: str,
    day: date,
    kind: CertificateKind,
    terminal: str,
    printer: str,
    seq: int,
    digest: bytes,
    signature: bytes,
) -> None:
    number = IssueNumber(day, code, terminal, printer, seq).format()
    payload = SealPayload(key_id, code, day, kind, number, digest, signature)
    text = payload.to_text()
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")  # QR alphanumeric mode
    assert SealPayload.from_text(text) == payload
    assert SealPayload.from_text(text.lower()) == payload


def sample_payload() -> SealPayload:
    return seal_payload(SIGNER, juminhyo(), [["住民票の写し"]])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-8],  # truncated
        lambda t: t + "AAAAAAAA",  # trailing bytes
        lambda t: "B" + t[1:],  # version 8
        lambda t: t[:20] + "1" + t[21:],  # not base32
        lambda t: "",
        lambda t: "Q" * 600,  # too long
    ],
    ids=["truncated", "trailing", "version", "alphabet", "empty", "too-long"],
)
def test_malformed_payload_text_is_refused(mangle: object) -> None:
    text = sample_payload().to_text()
    with pytest.raises(PayloadMalformed):
        SealPayload.from_text(mangle(text))  # type: ignore[operator]


def test_a_payload_whose_date_disagrees_with_its_issue_number_is_refused() -> None:
    payload = sample_payload()
    with pytest.raises(PayloadMalformed):
        dataclasses.replace(payload, issue_date=date(2026, 4, 2))


# -- sealed copies read back ------------------------------------------------------------------


KINDS = [
    CertificateKind.JUMINHYO,
    CertificateKind.INKAN,
    CertificateKind.TAX_INCOME,
    CertificateKind.KOSEKI_ZENBU,
    CertificateKind.KOSEKI_FUHYO,
]


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_every_kind_reads_back_its_printed_text_and_qr_payload(
    renderer: CertificateRenderer, sealer: RecordingSealer, kind: CertificateKind
) -> None:
    if kind is CertificateKind.INKAN:
        doc = inkan()
    else:
        doc = document(kind, MUNICIPALITY, (HOUSEHOLD[0],))
    pdf = renderer.render(doc, created_at=CREATED)
    assert extract_printed_text(pdf) == sealer.printed
    assert read_qr_texts(pdf) == [sealer.payloads[-1]]
    payload = SealPayload.from_text(sealer.payloads[-1])
    assert (payload.issue_number, payload.kind, payload.issue_date) == (
        doc.issue_number.format(),
        kind,
        doc.issued_on,
    )
    assert payload.text_digest == printed_digest(sealer.printed)
    assert check(pdf) == (Outcome.AUTHENTIC, "")


def test_every_sheet_of_a_long_copy_carries_the_same_qr_code(
    renderer: CertificateRenderer,
) -> None:
    pdf = renderer.render(juminhyo(HOUSEHOLD, household_size=12), created_at=CREATED)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    texts = set()
    for i in range(len(reader.pages)):
        one = PdfWriter()
        one.add_page(reader.pages[i])
        buf = io.BytesIO()
        one.write(buf)
        texts.update(read_qr_texts(buf.getvalue()))
    assert len(texts) == 1


def test_sealed_rendering_is_still_deterministic(renderer: CertificateRenderer) -> None:
    assert renderer.render(juminhyo(), created_at=CREATED) == renderer.render(
        juminhyo(), created_at=CREATED
    )


def test_one_character_of_a_name_changed_is_detected(renderer: CertificateRenderer) -> None:
    pdf = renderer.render(juminhyo(), created_at=CREATED)
    name = HOUSEHOLD[1].given_name
    edited = edit_text(pdf, name)
    assert edited != pdf
    assert name not in "".join(extract_printed_text(edited)[0])
    assert check(edited) == (Outcome.ALTERED, "TEXT_ALTERED")


def test_one_character_of_the_address_changed_is_detected(renderer: CertificateRenderer) -> None:
    pdf = renderer.render(juminhyo(), created_at=CREATED)
    assert check(edit_text(pdf, "1番1号", "2")) == (Outcome.ALTERED, "TEXT_ALTERED")


def test_a_copy_saved_again_unchanged_is_still_authentic(renderer: CertificateRenderer) -> None:
    pdf = renderer.render(inkan(), created_at=CREATED)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.compress_identical_objects()
    out = io.BytesIO()
    writer.write(out)
    assert out.getvalue() != pdf
    assert check(out.getvalue()) == (Outcome.AUTHENTIC, "")


def annotated(pdf: bytes, annotation: DictionaryObject) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.add_annotation(page_number=0, annotation=annotation)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_text_added_as_an_annotation_is_detected(renderer: CertificateRenderer) -> None:
    # A PDF editor's "add text" tool typically writes a FreeText annotation, which viewers and
    # printers draw over the page: its text is printed text like any other.
    pdf = renderer.render(juminhyo(), created_at=CREATED)
    box = FreeText(text="転出済", rect=(300, 600, 400, 630), background_color="ffffff")
    assert check(annotated(pdf, box)) == (Outcome.ALTERED, "TEXT_ALTERED")


def test_text_in_an_annotations_appearance_is_detected(renderer: CertificateRenderer) -> None:
    pdf = renderer.render(juminhyo(), created_at=CREATED)
    look = StreamObject()
    look.set_data(b"BT /F1 12 Tf 0 0 Td (VOID) Tj ET")
    look.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject([NumberObject(n) for n in (0, 0, 99, 99)]),
        }
    )
    stamp = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Stamp"),
            NameObject("/Rect"): ArrayObject([NumberObject(n) for n in (100, 100, 199, 199)]),
            NameObject("/AP"): DictionaryObject({NameObject("/N"): look}),
        }
    )
    assert check(annotated(pdf, stamp)) == (Outcome.ALTERED, "TEXT_ALTERED")


def form(content: bytes, resources: DictionaryObject) -> StreamObject:
    xobject = StreamObject()
    xobject.set_data(content)
    xobject.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject([NumberObject(n) for n in (0, 0, 99, 99)]),
            NameObject("/Resources"): resources,
        }
    )
    return xobject


def test_text_nested_deeper_than_the_reader_walks_is_never_authentic(
    renderer: CertificateRenderer,
) -> None:
    # Forms within forms, as deep as it takes to pass under the reader's depth limit: the text
    # inside is printed all the same, so a copy the reader cannot follow is no proof.
    pdf = renderer.render(juminhyo(), created_at=CREATED)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    page: Any = writer.pages[0]  # pypdf types its dictionaries' values loosely
    fonts = page["/Resources"]["/Font"]
    text = b"BT /F1 12 Tf 0 0 Td (VOID) Tj ET"
    inner = form(text, DictionaryObject({NameObject("/Font"): fonts}))
    for _ in range(8):
        named = DictionaryObject({NameObject("/Fx"): writer._add_object(inner)})
        inner = form(b"/Fx Do", DictionaryObject({NameObject("/XObject"): named}))
    page["/Resources"]["/XObject"][NameObject("/Forged")] = writer._add_object(inner)
    extra = StreamObject()
    extra.set_data(b"q /Forged Do Q")
    contents: Any = page.get("/Contents")
    resolved = contents.get_object()
    parts = list(resolved) if isinstance(resolved, ArrayObject) else [contents]
    page[NameObject("/Contents")] = ArrayObject([*parts, writer._add_object(extra)])
    out = io.BytesIO()
    writer.write(out)
    try:
        verdict = check(out.getvalue())
    except PdfUnreadable:
        return  # refused as unreadable: INVALID_ARGUMENT, not a verdict
    assert verdict == (Outcome.ALTERED, "TEXT_ALTERED")


def test_text_painted_as_a_tiling_pattern_is_detected(renderer: CertificateRenderer) -> None:
    # A pattern cell is a content stream of its own: text in it is printed wherever it fills.
    pdf = renderer.render(juminhyo(), created_at=CREATED)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    page: Any = writer.pages[0]  # pypdf types its dictionaries' values loosely
    cell = form(
        b"BT /F1 12 Tf 0 0 Td (VOID) Tj ET",
        DictionaryObject({NameObject("/Font"): page["/Resources"]["/Font"]}),
    )
    cell.update(
        {
            NameObject("/Type"): NameObject("/Pattern"),
            NameObject("/PatternType"): NumberObject(1),
            NameObject("/PaintType"): NumberObject(1),
            NameObject("/TilingType"): NumberObject(1),
            NameObject("/XStep"): NumberObject(99),
            NameObject("/YStep"): NumberObject(99),
        }
    )
    del cell["/Subtype"]
    page["/Resources"][NameObject("/Pattern")] = DictionaryObject(
        {NameObject("/P9"): writer._add_object(cell)}
    )
    extra = StreamObject()
    extra.set_data(b"q /Pattern cs /P9 scn 100 100 200 50 re f Q")
    contents: Any = page.get("/Contents")
    resolved = contents.get_object()
    parts = list(resolved) if isinstance(resolved, ArrayObject) else [contents]
    page[NameObject("/Contents")] = ArrayObject([*parts, writer._add_object(extra)])
    out = io.BytesIO()
    writer.write(out)
    assert check(out.getvalue()) == (Outcome.ALTERED, "TEXT_ALTERED")


def test_a_pdf_without_a_qr_code_has_no_seal() -> None:
    unsealed = CertificateRenderer(RendererConfig(font_path=MINCHO))
    assert read_qr_texts(unsealed.render(juminhyo(), created_at=CREATED)) == []


# -- forgeries --------------------------------------------------------------------------------


def test_a_payload_signed_with_another_key_under_the_real_key_id_is_altered() -> None:
    forger = seeded_signer(MUNICIPALITY.code, 99)
    genuine = sample_payload()
    forged = dataclasses.replace(genuine, signature=forger.sign(genuine.signed_bytes()))
    assert check_offline(forged, KEYS).outcome is Outcome.ALTERED
    assert check_offline(forged, KEYS).reason == "SIGNATURE_INVALID"


def test_a_payload_signed_with_an_unpublished_key_is_unknown() -> None:
    forger = seeded_signer(MUNICIPALITY.code, 99)
    forged = seal_payload(forger, juminhyo(), [["住民票の写し"]])
    verdict = check_offline(forged, KEYS)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNKNOWN, "KEY_UNKNOWN")


def test_a_changed_field_breaks_the_signature() -> None:
    genuine = sample_payload()
    other = IssueNumber(genuine.issue_date, genuine.municipality_code, "K0001", "P1", 124)
    changed = dataclasses.replace(genuine, issue_number=other.format())
    assert check_offline(genuine, KEYS).outcome is Outcome.AUTHENTIC
    assert check_offline(changed, KEYS).reason == "SIGNATURE_INVALID"
    kind = dataclasses.replace(genuine, kind=CertificateKind.INKAN)
    assert check_offline(kind, KEYS).reason == "SIGNATURE_INVALID"


def test_a_key_of_another_municipality_cannot_seal_this_one() -> None:
    osaka = seeded_signer("271004", 5)
    forged = dataclasses.replace(sample_payload(), key_id=osaka.key_id)
    forged = dataclasses.replace(forged, signature=osaka.sign(forged.signed_bytes()))
    keys = {**KEYS, osaka.key_id: osaka.published}
    assert check_offline(forged, keys).reason == "KEY_OTHER_MUNICIPALITY"


# -- published keys ---------------------------------------------------------------------------


def test_exported_keys_import_and_verify() -> None:
    at = datetime(2026, 4, 1, tzinfo=UTC)
    keys = import_keys(export_keys(KEYS.values(), exported_at=at))
    assert keys.keys() == KEYS.keys()
    assert check_offline(sample_payload(), keys).outcome is Outcome.AUTHENTIC


def test_an_export_whose_key_id_does_not_match_its_key_is_refused() -> None:
    text = export_keys(KEYS.values(), exported_at=datetime(2026, 4, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        import_keys(text.replace(SIGNER.key_id.hex(), "00000000"))


def test_a_key_file_naming_one_key_for_two_municipalities_is_refused() -> None:
    # Which municipality the key seals for decides KEY_OTHER_MUNICIPALITY: a file that says
    # both cannot be trusted for either, whichever entry happens to come last.
    doc = json.loads(export_keys(KEYS.values(), exported_at=datetime(2026, 4, 1, tzinfo=UTC)))
    doc["keys"].append({**doc["keys"][0], "municipality_code": "271004"})
    with pytest.raises(ValueError, match="twice"):
        import_keys(json.dumps(doc))


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: "{not json",
        lambda doc: json.dumps({**doc, "keys": [{"key_id": "00"}]}),
        lambda doc: json.dumps({**doc, "keys": "none"}),
        lambda doc: json.dumps([doc]),
        lambda doc: json.dumps({**doc, "keys": [{**doc["keys"][0], "municipality_code": "13101"}]}),
        lambda doc: json.dumps({**doc, "keys": [{**doc["keys"][0], "public_key_pem": "x"}]}),
    ],
)
def test_a_damaged_key_file_is_refused_with_a_value_error(damage: Any) -> None:
    doc = json.loads(export_keys(KEYS.values(), exported_at=datetime(2026, 4, 1, tzinfo=UTC)))
    with pytest.raises(ValueError):
        import_keys(damage(doc))


def test_konbini_verify_offline_with_a_damaged_key_file_says_so_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "seal-keys.json"
    keys.write_text('{"format": "konbini-seal-keys/1", "keys": [{}]}', encoding="utf-8")
    payload = sample_payload().to_text()
    assert konbini(["verify", "--offline", "--keys-file", str(keys), payload]) == 2
    assert "seal key file" in capsys.readouterr().err


# -- hostile input ----------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=8)), max_size=6))
def test_a_damaged_pdf_is_read_or_refused_never_a_crash(
    cuts: list[tuple[int, bytes]],
) -> None:
    pdf = bytearray(SAMPLE_PDF)
    for at, junk in cuts:
        at %= len(pdf)
        pdf[at : at + len(junk)] = junk
    try:
        reading = read_submission(Submission(pdf=bytes(pdf)))
    except InvalidArgument as exc:
        assert exc.field == "pdf"
        return
    assert reading.payload is not None or reading.failure in ("NO_SEAL", "SEAL_UNREADABLE")


@given(
    st.dictionaries(
        st.integers(0, 0xFFFF),
        st.characters(exclude_categories=["Cs"]),
        max_size=250,
    )
)
def test_to_unicode_bfchar_entries_round_trip(mapping: dict[int, str]) -> None:
    items = sorted(mapping.items())
    blocks = []
    for start in range(0, len(items), 100):  # a CMap block holds at most 100 entries
        chunk = items[start : start + 100]
        lines = [f"<{code:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for code, ch in chunk]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(lines) + "\nendbfchar")
    cmap = ("begincmap\n" + "\n".join(blocks) + "\nendcmap").encode("ascii")
    assert parse_to_unicode(cmap) == mapping


def test_to_unicode_bfrange_entries_are_expanded() -> None:
    cmap = b"2 beginbfrange\n<0010> <0012> <4E00>\n<0020> <0021> [<0041> <D842DFB7>]\nendbfrange"
    assert parse_to_unicode(cmap) == {
        0x10: "一",
        0x11: "丁",
        0x12: "丂",
        0x20: "A",
        0x21: "𠮷",
    }
