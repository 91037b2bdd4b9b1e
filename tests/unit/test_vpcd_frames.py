"""The vpcd frame codec: round trips however the stream is chunked, and malformed streams."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware_sim.card.vpcd import MAX_PAYLOAD, FrameDecoder, FrameError, encode_frame

payloads = st.binary(min_size=1, max_size=600)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(st.lists(payloads, max_size=8), st.lists(st.integers(min_value=0), max_size=40))
def test_any_payloads_in_any_chunks_decode_back(messages: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(m) for m in messages)
    decoder = FrameDecoder()
    decoded: list[bytes] = []
    for chunk in _chunked(stream, cuts):
        decoder.feed(chunk)
        decoded.extend(decoder)
    decoder.end_of_stream()
    assert decoded == messages
    assert decoder.pending == 0


@given(payloads, st.data())
def test_a_frame_cut_short_is_incomplete_then_malformed_at_the_end(
    payload: bytes, data: st.DataObject
) -> None:
    frame = encode_frame(payload)
    cut = data.draw(st.integers(min_value=1, max_value=len(frame) - 1))
    decoder = FrameDecoder()
    decoder.feed(frame[:cut])
    assert decoder.next_payload() is None
    assert decoder.pending == cut
    with pytest.raises(FrameError, match="inside a frame"):
        decoder.end_of_stream()


def test_the_length_is_two_bytes_big_endian() -> None:
    assert encode_frame(b"\x04") == b"\x00\x01\x04"
    assert encode_frame(bytes(300))[:2] == b"\x01\x2c"
    assert len(encode_frame(bytes(MAX_PAYLOAD))) == MAX_PAYLOAD + 2


@pytest.mark.parametrize("size", [0, MAX_PAYLOAD + 1])
def test_encoding_refuses_what_the_length_cannot_say(size: int) -> None:
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        encode_frame(bytes(size))


def test_a_zero_length_frame_is_malformed_and_the_error_sticks() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(b"\x01") + b"\x00\x00" + encode_frame(b"\x04"))
    assert decoder.next_payload() == b"\x01"  # frames before the bad one still come out
    with pytest.raises(FrameError, match="zero-length"):
        decoder.next_payload()
    # The framing is lost: nothing after it is trusted.
    with pytest.raises(FrameError):
        decoder.next_payload()
    with pytest.raises(FrameError):
        decoder.end_of_stream()


def test_a_lone_length_byte_waits_for_the_second() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00")
    assert decoder.next_payload() is None
    decoder.feed(b"\x01")
    assert decoder.next_payload() is None
    decoder.feed(b"\x02")
    assert decoder.next_payload() == b"\x02"


def test_a_clean_end_of_stream_is_fine_and_final() -> None:
    decoder = FrameDecoder()
    decoder.end_of_stream()
    with pytest.raises(ValueError, match="after end_of_stream"):
        decoder.feed(b"\x00")
