"""Counter hours and 時間外: which copies were issued while the town hall was closed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from server.common.clock import JST
from server.common.errors import InvalidArgument
from server.settlement.counter_hours import (
    DEFAULT_COUNTER_HOURS,
    HOLIDAYS,
    CounterHours,
    is_year_end_closure,
)


def jst(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=JST)


@pytest.mark.parametrize(
    ("at", "after_hours"),
    [
        (jst(2026, 4, 1, 8, 29, 59), True),  # a Wednesday, just before opening
        (jst(2026, 4, 1, 8, 30), False),
        (jst(2026, 4, 1, 17, 14, 59), False),
        (jst(2026, 4, 1, 17, 15), True),  # closing time is already after hours
        (jst(2026, 4, 4, 11, 0), True),  # Saturday
        (jst(2026, 4, 5, 11, 0), True),  # Sunday
        (jst(2026, 4, 29, 11, 0), True),  # 昭和の日
        (jst(2026, 9, 22, 11, 0), True),  # 国民の休日 between 敬老の日 and 秋分の日
        (jst(2026, 12, 29, 11, 0), True),  # 年末年始
        (jst(2027, 1, 4, 11, 0), False),  # first working day of 2027
        (jst(2027, 3, 22, 11, 0), True),  # 振替休日 for 春分の日 on a Sunday
    ],
)
def test_default_hours(at: datetime, after_hours: bool) -> None:
    assert DEFAULT_COUNTER_HOURS.is_after_hours(at) is after_hours


def test_hours_are_judged_in_japan_time_not_utc() -> None:
    # 00:00 UTC is 09:00 JST on a Thursday: the counter is open.
    assert DEFAULT_COUNTER_HOURS.is_open(datetime(2026, 4, 2, 0, 0, tzinfo=UTC))
    # 09:00 UTC is 18:00 JST: closed.
    assert not DEFAULT_COUNTER_HOURS.is_open(datetime(2026, 4, 2, 9, 0, tzinfo=UTC))


def test_a_municipality_with_saturday_morning_counters() -> None:
    hours = CounterHours.from_text(
        opens="09:00", closes="12:00", weekdays="123456", closed_on_holidays=True
    )
    assert hours.is_open(jst(2026, 4, 4, 10, 0))  # Saturday
    assert not hours.is_open(jst(2026, 4, 4, 13, 0))
    assert hours.weekdays_text == "123456"


@pytest.mark.parametrize(
    ("opens", "closes", "weekdays"),
    [
        ("17:00", "09:00", "12345"),
        ("9:00", "17:00", "12345"),
        ("09:00", "24:00", "1"),
        ("09:00", "17:00", "08"),
    ],
)
def test_malformed_hours_are_invalid_arguments(opens: str, closes: str, weekdays: str) -> None:
    with pytest.raises(InvalidArgument):
        CounterHours.from_text(
            opens=opens, closes=closes, weekdays=weekdays, closed_on_holidays=True
        )


def test_the_holiday_list_covers_fiscal_2025_and_2026_on_plausible_days() -> None:
    assert min(HOLIDAYS) >= date(2025, 4, 1) and max(HOLIDAYS) <= date(2027, 3, 31)
    for day, name in HOLIDAYS.items():
        if name == "振替休日":  # a substitute holiday follows a holiday on a Sunday
            assert any(
                (day - prev).days <= 3 and prev.isoweekday() == 7 for prev in HOLIDAYS if prev < day
            )
        if name.endswith(("成人の日", "海の日", "敬老の日", "スポーツの日")):
            assert day.isoweekday() == 1  # ハッピーマンデー
    assert sum(1 for d in HOLIDAYS if d.year == 2026) == 18


def test_year_end_closure() -> None:
    assert is_year_end_closure(date(2026, 12, 29)) and is_year_end_closure(date(2027, 1, 3))
    assert not is_year_end_closure(date(2026, 12, 28)) and not is_year_end_closure(date(2027, 1, 4))
    assert time(8, 30) == DEFAULT_COUNTER_HOURS.opens
