"""Hostile input to the parsers: each returns a value or raises its one documented error.

Round trips of well-formed input live beside each codec (test_apdu, test_bcl_csvformat,
test_ereview_files); these properties feed what a broken card, a broken spreadsheet or an
attacker sends:

- APDU responses of any bytes parse back exactly or raise `ApduFormatError`;
- the kiosk's JPKI middleware talking to a card that answers anything raises only
  `CardProtocolError` (a resident or a reader cannot make it crash);
- a BCL upload file of any bytes, or a valid file with bytes spliced in, never raises: every
  problem is a reported error at a row, and a row that is yielded has no error;
- the e-review residents file raises only `ResidentsFileError`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.kiosk.jpki import CardProtocolError, JpkiClient, PinStatus
from hardware_sim.card.apdu import ApduFormatError, ResponseApdu
from server.bcl.csvformat import FILES, CsvWriter, ErrorSink, FileSchema, read_stream
from server.bcl.records import ResidentRecord, Sex, individual_number_check_digit
from server.ereview.residents_csv import ResidentsFileError, read_residents, write_residents

# -- APDU responses -------------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_any_response_bytes_parse_exactly_or_fail_with_the_format_error(raw: bytes) -> None:
    try:
        response = ResponseApdu.parse(raw)
    except ApduFormatError:
        assert len(raw) < 2  # only a response without its status word is not a response
        return
    assert response.to_bytes() == raw


# -- the middleware against a card that answers anything ------------------------------------------

_STATUS = st.one_of(
    st.sampled_from([(0x90, 0x00), (0x63, 0xC0), (0x63, 0xC2), (0x69, 0x84), (0x6B, 0x00)]),
    st.tuples(st.integers(0, 0xFF), st.integers(0, 0xFF)),
)
_DATA = st.one_of(
    st.binary(max_size=300),
    # The start of a DER certificate with a length that may lie.
    st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=255)).map(
        lambda t: b"\x30\x82" + t[0].to_bytes(2, "big") + t[1]
    ),
)


class HostileCard:
    """A reader connection whose card answers each APDU with the next scripted response."""

    def __init__(self, answers: Iterator[tuple[bytes, tuple[int, int]]]) -> None:
        self._answers = answers

    def transmit(self, apdu: list[int], /) -> tuple[list[int], int, int]:
        data, (sw1, sw2) = next(self._answers, (b"", (0x90, 0x00)))
        return list(data), sw1, sw2


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_DATA, _STATUS), max_size=40))
def test_the_middleware_raises_only_card_protocol_errors_whatever_the_card_answers(
    answers: list[tuple[bytes, tuple[int, int]]],
) -> None:
    client = JpkiClient(HostileCard(iter(answers)))
    steps = (
        client.select_ap,
        client.token_kind,
        client.auth_key_access,
        client.read_auth_certificate,
        client.auth_pin_tries_left,
    )
    for step in steps:
        with contextlib.suppress(CardProtocolError):
            step()
    try:
        verified = client.verify_auth_pin("1234").status is PinStatus.OK
    except CardProtocolError:
        return
    if verified:
        with contextlib.suppress(CardProtocolError):
            assert len(client.sign_with_auth_key(b"challenge")) == 256


# -- BCL upload files ----------------------------------------------------------------------------


def _read(schema: FileSchema, data: bytes) -> tuple[list[int], ErrorSink]:
    sink = ErrorSink(limit=10_000)
    rows = [row.number for row in read_stream(io.BytesIO(data), schema, sink)]
    return rows, sink


def _assert_consistent(rows: list[int], sink: ErrorSink) -> None:
    assert rows == sorted(set(rows)) and all(n >= 2 for n in rows)
    assert all(e.row >= 0 for e in sink.errors)
    assert not set(rows) & {e.row for e in sink.errors}  # a yielded row has no error


_SCHEMAS = st.sampled_from(FILES)
_CSVISH = st.lists(
    st.one_of(
        st.binary(max_size=20),
        st.sampled_from([b",", b'"', b"\r\n", b"\n", b"\x00", b"\xef\xbb\xbf", b"\xff", b'""']),
        st.text(max_size=10).map(str.encode),
    ),
    max_size=40,
).map(b"".join)


@settings(max_examples=300)
@given(_SCHEMAS, _CSVISH)
def test_any_bytes_as_an_upload_file_give_rows_and_errors_never_an_exception(
    schema: FileSchema, data: bytes
) -> None:
    _assert_consistent(*_read(schema, data))


@settings(max_examples=300)
@given(_SCHEMAS, _CSVISH)
def test_a_header_then_any_bytes_never_raise(schema: FileSchema, data: bytes) -> None:
    header = ",".join(schema.header).encode() + b"\r\n"
    _assert_consistent(*_read(schema, header + data))


_RESIDENT = ResidentRecord(
    resident_id="100000001",
    household_id="200000001",
    family_name="山田",
    given_name="太郎",
    family_name_kana="ヤマダ",
    given_name_kana="タロウ",
    birth_date=date(1980, 5, 3),
    sex=Sex.MALE,
    address="東京都千代田区千代田1-1",
    address_annex="",
    is_household_head=True,
    relationship="世帯主",
    honseki="",
    hittousha="",
    juminhyo_code="12345678901",
    individual_number="12345678901" + str(individual_number_check_digit("12345678901")),
    became_resident_on=date(2000, 4, 1),
    address_set_on=date(2000, 4, 1),
    former_family_name="",
    suppressed=False,
)


def _valid_residents_file() -> bytes:
    schema = next(f for f in FILES if f.name == "residents.csv")
    buf = io.BytesIO()
    writer = CsvWriter(buf, schema)
    writer.write_all([_RESIDENT])
    writer.close()
    return buf.getvalue()


@settings(max_examples=300)
@given(st.data())
def test_a_valid_file_with_bytes_spliced_in_never_raises(data: st.DataObject) -> None:
    schema = next(f for f in FILES if f.name == "residents.csv")
    good = _valid_residents_file()
    rows, sink = _read(schema, good)
    assert rows == [2] and not sink  # the file itself is valid
    at = data.draw(st.integers(0, len(good)))
    cut = data.draw(st.integers(0, 8))
    spliced = good[:at] + data.draw(st.binary(max_size=8)) + good[at + cut :]
    _assert_consistent(*_read(schema, spliced))


# -- the e-review residents file -------------------------------------------------------------------


def _residents_text() -> str:
    out = io.StringIO(newline="")
    write_residents(out, [_RESIDENT])
    return out.getvalue()


@settings(max_examples=300)
@given(st.data())
def test_the_residents_file_raises_only_its_own_error(data: st.DataObject) -> None:
    good = _residents_text()
    at = data.draw(st.integers(0, len(good)))
    cut = data.draw(st.integers(0, 8))
    inserted = data.draw(st.one_of(st.text(max_size=6), st.sampled_from(["\x00", '"', ",", "\n"])))
    text = good[:at] + inserted + good[at + cut :]
    try:
        records = list(read_residents(io.StringIO(text, newline="")))
    except ResidentsFileError as err:
        assert err.line >= 1
        return
    assert all(isinstance(r, ResidentRecord) for r in records)


def test_the_unspliced_residents_file_reads_back() -> None:
    assert list(read_residents(io.StringIO(_residents_text(), newline=""))) == [_RESIDENT]


@pytest.mark.parametrize("text", ["\x00", 'a,"b\x00c"\r\n', "x" * 200_000])
def test_what_the_csv_module_refuses_is_a_residents_file_error(text: str) -> None:
    with pytest.raises(ResidentsFileError):
        list(read_residents(io.StringIO(text, newline="")))
