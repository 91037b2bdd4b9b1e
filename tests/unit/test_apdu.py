"""The short-APDU codec: round trips, the four ISO 7816-4 cases, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware_sim.card.apdu import (
    ApduFormatError,
    CommandApdu,
    ResponseApdu,
    StatusWord,
    counter_sw,
    tries_left_of,
)

byte = st.integers(0, 0xFF)
commands = st.builds(
    CommandApdu,
    cla=byte,
    ins=byte,
    p1=byte,
    p2=byte,
    data=st.binary(max_size=255),
    le=st.none() | st.integers(1, 256),
)
responses = st.builds(ResponseApdu, data=st.binary(max_size=256), sw1=byte, sw2=byte)


@given(commands)
def test_command_round_trip(apdu: CommandApdu) -> None:
    assert CommandApdu.parse(apdu.to_bytes()) == apdu


@given(st.binary(max_size=300))
def test_any_bytes_parse_exactly_or_fail_cleanly(raw: bytes) -> None:
    try:
        apdu = CommandApdu.parse(raw)
    except ApduFormatError:
        return
    assert apdu.to_bytes() == raw


@given(responses)
def test_response_round_trip(response: ResponseApdu) -> None:
    assert ResponseApdu.parse(response.to_bytes()) == response
    assert response.sw == (response.sw1 << 8) | response.sw2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("00 20 00 80", CommandApdu(0x00, 0x20, 0x00, 0x80)),  # case 1
        ("00 B0 00 00 04", CommandApdu(0x00, 0xB0, 0x00, 0x00, le=4)),  # case 2
        ("00 B0 01 00 00", CommandApdu(0x00, 0xB0, 0x01, 0x00, le=256)),  # case 2, Le=00
        ("00 A4 02 0C 02 00 0A", CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x0a")),  # case 3
        ("80 2A 00 80 02 AB CD 00", CommandApdu(0x80, 0x2A, 0x00, 0x80, b"\xab\xcd", 256)),  # 4
    ],
)
def test_the_four_cases(raw: str, expected: CommandApdu) -> None:
    assert CommandApdu.parse(bytes.fromhex(raw)) == expected
    assert expected.to_bytes() == bytes.fromhex(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "00",
        "00 A4 04",  # no full header
        "00 20 00 80 04 31 32",  # Lc longer than the data
        "00 20 00 80 02 31 32 33 34",  # Lc shorter than the data (and not case 4)
        "00 B0 00 00 00 01 02",  # Lc=00 then data: extended length
        "00 B0 00 00 00 00 04",  # extended Le
    ],
)
def test_malformed_commands_are_rejected(raw: str) -> None:
    with pytest.raises(ApduFormatError):
        CommandApdu.parse(bytes.fromhex(raw))


def test_format_error_is_a_value_error() -> None:
    assert issubclass(ApduFormatError, ValueError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cla": 256},
        {"ins": -1},
        {"data": bytes(256)},
        {"le": 0},
        {"le": 257},
    ],
)
def test_impossible_commands_cannot_be_built(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"cla": 0, "ins": 0xA4, "p1": 0, "p2": 0} | kwargs
    with pytest.raises(ValueError):
        CommandApdu(**fields)  # type: ignore[arg-type]


def test_response_needs_a_status_word() -> None:
    with pytest.raises(ApduFormatError):
        ResponseApdu.parse(b"\x90")
    with pytest.raises(ValueError):
        ResponseApdu(b"", 0x100, 0)
    assert ResponseApdu.of(StatusWord.OK, b"\x01").to_bytes() == b"\x01\x90\x00"


def test_status_words_of_the_spec() -> None:
    assert {word.name: word.value for word in StatusWord} == {
        "OK": 0x9000,
        "WRONG_LENGTH": 0x6700,
        "SECURITY_STATUS_NOT_SATISFIED": 0x6982,
        "AUTH_METHOD_BLOCKED": 0x6984,
        "COMMAND_NOT_ALLOWED": 0x6986,
        "WRONG_DATA": 0x6A80,
        "FILE_NOT_FOUND": 0x6A82,
        "INCORRECT_P1_P2": 0x6A86,
        "WRONG_P1_P2": 0x6B00,
        "INS_NOT_SUPPORTED": 0x6D00,
        "CLA_NOT_SUPPORTED": 0x6E00,
    }


@given(st.integers(0, 15))
def test_retry_counter_word(tries: int) -> None:
    assert counter_sw(tries) == 0x63C0 + tries
    assert tries_left_of(counter_sw(tries)) == tries


def test_retry_counter_word_edges() -> None:
    assert tries_left_of(0x9000) is None
    assert tries_left_of(0x6300) is None
    with pytest.raises(ValueError):
        counter_sw(16)
