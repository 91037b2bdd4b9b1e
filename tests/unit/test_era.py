"""Japanese era dates (和暦): known dates, era boundaries, the forms residents write, round trip."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.common.era import ERAS, era_of, from_wareki, to_wareki


@pytest.mark.parametrize(
    ("d", "text"),
    [
        (date(1980, 5, 3), "昭和55年5月3日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1868, 10, 23), "明治元年10月23日"),
        (date(2026, 4, 1), "令和8年4月1日"),
    ],
)
def test_known_dates(d: date, text: str) -> None:
    assert to_wareki(d) == text
    assert from_wareki(text) == d


@pytest.mark.parametrize(
    "text",
    [
        "昭和55年5月3日",
        "S55.5.3",
        "s55.5.3",
        "S55/05/03",
        "S55-5-3",
        "昭55.5.3",
        "昭和５５年５月３日",
        "Ｓ５５．５．３",
        " 昭和 55 年 5 月 3 日 ",
        "昭和55年5月3",
    ],
)
def test_forms_residents_write(text: str) -> None:
    assert from_wareki(text) == date(1980, 5, 3)


def test_gannen_in_every_form() -> None:
    assert from_wareki("令和元年5月1日") == date(2019, 5, 1)
    assert from_wareki("R元.5.1") == date(2019, 5, 1)
    assert from_wareki("R1.5.1") == date(2019, 5, 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1980-05-03",
        "昭和",
        "昭和55年",
        "昭和55年13月1日",
        "昭和55年2月30日",
        "昭和0年1月1日",
        "昭和64年1月8日",  # that day is 平成元年1月8日
        "平成31年5月1日",  # that day is 令和元年5月1日
        "平成元年1月7日",  # still 昭和
        "明治元年1月1日",  # before 明治 here
        "X55.5.3",
        "昭和55年5月3日です",
        "昭和٥٥年5月3日",  # non-ASCII digits that NFKC leaves alone
    ],
)
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        from_wareki(text)


def test_before_meiji_has_no_era() -> None:
    with pytest.raises(ValueError):
        to_wareki(date(1868, 10, 22))


def test_eras_are_in_order() -> None:
    starts = [e.start for e in ERAS]
    assert starts == sorted(starts)
    assert era_of(date.today()).name == "令和"


dates = st.dates(min_value=ERAS[0].start, max_value=date(9999, 12, 31))


@given(dates)
def test_round_trip(d: date) -> None:
    assert from_wareki(to_wareki(d)) == d


@given(dates)
def test_round_trip_through_letter_form(d: date) -> None:
    era = era_of(d)
    text = f"{era.letter}{d.year - era.start.year + 1}.{d.month}.{d.day}"
    assert from_wareki(text) == d
    assert from_wareki(text.translate(_FULL_WIDTH)) == d


_FULL_WIDTH = str.maketrans("0123456789.MTSHR", "０１２３４５６７８９．ＭＴＳＨＲ")
