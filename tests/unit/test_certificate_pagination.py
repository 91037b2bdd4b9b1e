"""How entries flow over sheets: nothing lost, nothing reordered, nothing overflows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.issuance.layouts.koseki import LINE_H, PAD, Band, Block, _split
from server.issuance.sheet import paginate

heights = st.lists(st.floats(min_value=1.0, max_value=300.0), min_size=1, max_size=60)


@given(heights, st.floats(min_value=20.0, max_value=250.0), st.floats(min_value=0.0, max_value=1.0))
def test_pages_hold_every_block_in_order_within_their_room(
    hs: list[float], room: float, share: float
) -> None:
    last_room = max(1.0, room * share)
    pages = paginate(hs, room=room, last_room=last_room)
    assert [i for page in pages for i in page] == list(range(len(hs)))
    assert all(len(page) >= 1 for page in pages)
    for page in pages[:-1]:  # a full sheet, unless one block alone is taller than a sheet
        assert sum(hs[i] for i in page) <= room or len(page) == 1
    last = [hs[i] for i in pages[-1]]
    assert sum(last) <= last_room or len(last) == 1


@given(st.integers(min_value=1, max_value=40))
def test_blocks_of_equal_height_fill_sheets_as_the_juminhyo_always_did(n: int) -> None:
    room, last_room, h = 211.0, 159.0, 50.5
    per_page, per_last = int(room // h), int(last_room // h)
    expected, rest = [], n
    while rest > per_last:
        take = min(per_page, rest - 1)
        expected.append(take)
        rest -= take
    expected.append(rest)
    assert [len(p) for p in paginate([h] * n, room=room, last_room=last_room)] == expected


bands = st.lists(
    st.tuples(
        st.sampled_from(["戸籍に記録されている者", "身分事項", "住所"]),
        st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=80),
    ),
    min_size=1,
    max_size=4,
)


@given(bands, st.booleans(), st.floats(min_value=2 * PAD + LINE_H, max_value=200.0))
def test_a_split_block_keeps_every_line_in_order_and_each_piece_fits(
    spec: list[tuple[str, list[str]]], removed: bool, limit: float
) -> None:
    block = Block(tuple(Band(label, tuple(lines)) for label, lines in spec), removed)
    pieces = _split(block, limit)
    lines = [(b.label, line) for p in pieces for b in p.bands for line in b.lines]
    assert lines == [(b.label, line) for b in block.bands for line in b.lines]
    assert all(p.removed is removed for p in pieces)
    if block.height <= limit:
        assert pieces == [block]
    else:
        assert all(
            p.height <= limit or (len(p.bands) == 1 and len(p.bands[0].lines) == 1) for p in pieces
        )
