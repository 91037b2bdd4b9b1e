"""Counter hours (窓口開庁時間) of a municipality, to tell which copies were issued 時間外.

The seed reports, per municipality, the share of kiosk copies issued outside the town hall's
counter hours (49.7% nationally): the reason kiosks exist at all. Counter hours were not
modelled before settlement needed them, so each municipality may store its own (the
`counter_hours` table); without a row the usual hours apply: weekdays 8:30–17:15 JST, closed on
Saturdays, Sundays, national holidays and the year-end closure (年末年始, 29 December –
3 January), which are the 行政機関の休日.

The holiday list is deliberately small and explicit: fiscal 2025 and 2026 (April 2025 – March
2027), as published (国民の祝日, 振替休日, 国民の休日). Outside that range only weekends and the
year-end closure are known; extend `HOLIDAYS` when a new year's list is published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from server.common.clock import JST
from server.common.errors import InvalidArgument

HOLIDAYS: Mapping[date, str] = {
    date(2025, 4, 29): "昭和の日",
    date(2025, 5, 3): "憲法記念日",
    date(2025, 5, 4): "みどりの日",
    date(2025, 5, 5): "こどもの日",
    date(2025, 5, 6): "振替休日",
    date(2025, 7, 21): "海の日",
    date(2025, 8, 11): "山の日",
    date(2025, 9, 15): "敬老の日",
    date(2025, 9, 23): "秋分の日",
    date(2025, 10, 13): "スポーツの日",
    date(2025, 11, 3): "文化の日",
    date(2025, 11, 23): "勤労感謝の日",
    date(2025, 11, 24): "振替休日",
    date(2026, 1, 1): "元日",
    date(2026, 1, 12): "成人の日",
    date(2026, 2, 11): "建国記念の日",
    date(2026, 2, 23): "天皇誕生日",
    date(2026, 3, 20): "春分の日",
    date(2026, 4, 29): "昭和の日",
    date(2026, 5, 3): "憲法記念日",
    date(2026, 5, 4): "みどりの日",
    date(2026, 5, 5): "こどもの日",
    date(2026, 5, 6): "振替休日",
    date(2026, 7, 20): "海の日",
    date(2026, 8, 11): "山の日",
    date(2026, 9, 21): "敬老の日",
    date(2026, 9, 22): "国民の休日",
    date(2026, 9, 23): "秋分の日",
    date(2026, 10, 12): "スポーツの日",
    date(2026, 11, 3): "文化の日",
    date(2026, 11, 23): "勤労感謝の日",
    date(2027, 1, 1): "元日",
    date(2027, 1, 11): "成人の日",
    date(2027, 2, 11): "建国記念の日",
    date(2027, 2, 23): "天皇誕生日",
    date(2027, 3, 21): "春分の日",
    date(2027, 3, 22): "振替休日",
}

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def is_year_end_closure(day: date) -> bool:
    """年末年始: 29 December to 3 January."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def parse_hhmm(text: str, *, field: str) -> time:
    m = _HHMM.match(text)
    if not m:
        raise InvalidArgument(f"{field} must be HH:MM (24-hour)", field=field)
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class CounterHours:
    """When the municipality's counter serves; a copy issued at any other time is 時間外."""

    opens: time = time(8, 30)
    closes: time = time(17, 15)  # exclusive: 17:15:00 is already after hours
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO: 1 = Monday … 7 = Sunday
    closed_on_holidays: bool = True

    def __post_init__(self) -> None:
        if self.opens >= self.closes:
            raise InvalidArgument("the counter must open before it closes", field="closes")
        if not self.weekdays <= frozenset(range(1, 8)):
            raise InvalidArgument("weekdays are 1 (Monday) to 7 (Sunday)", field="weekdays")

    def is_open(self, at: datetime) -> bool:
        if at.tzinfo is None:
            raise ValueError("counter hours need an aware datetime")
        local = at.astimezone(JST)
        day = local.date()
        if day.isoweekday() not in self.weekdays:
            return False
        if self.closed_on_holidays and (day in HOLIDAYS or is_year_end_closure(day)):
            return False
        return self.opens <= local.time().replace(tzinfo=None) < self.closes

    def is_after_hours(self, at: datetime) -> bool:
        """時間外: issued while the counter was closed."""
        return not self.is_open(at)

    @property
    def weekdays_text(self) -> str:
        """Storage form: ISO weekday digits in order, e.g. "12345"."""
        return "".join(str(d) for d in sorted(self.weekdays))

    @classmethod
    def from_text(
        cls, *, opens: str, closes: str, weekdays: str, closed_on_holidays: bool
    ) -> CounterHours:
        if not re.fullmatch(r"[1-7]*", weekdays):
            raise InvalidArgument("weekdays are digits 1 (Monday) to 7 (Sunday)", field="weekdays")
        return cls(
            opens=parse_hhmm(opens, field="opens"),
            closes=parse_hhmm(closes, field="closes"),
            weekdays=frozenset(int(c) for c in weekdays),
            closed_on_holidays=closed_on_holidays,
        )


DEFAULT_COUNTER_HOURS = CounterHours()
