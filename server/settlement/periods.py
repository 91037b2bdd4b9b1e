"""Settlement periods: the month (YYYY-MM, Asia/Tokyo) and the fiscal year (年度, April–March).

Every money rule in SPEC section 4 is stated per month or per fiscal year, and the boundaries
are Japanese civil time: a copy printed at 00:30 JST on 1 April belongs to April and to the new
fiscal year, although it is still 31 March in UTC. One value type keeps that in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from server.common.clock import JST
from server.common.errors import InvalidArgument

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FISCAL_YEAR_START_MONTH = 4  # 年度 runs April to March
MIN_YEAR, MAX_YEAR = 2000, 2999


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Asia/Tokyo; `str(m)` is the YYYY-MM used in storage and the API."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not MIN_YEAR <= self.year <= MAX_YEAR or not 1 <= self.month <= 12:
            raise InvalidArgument(f"no such month: {self.year}-{self.month}", field="month")

    @classmethod
    def parse(cls, text: str, *, field: str = "month") -> Month:
        m = _MONTH.match(text)
        if not m:
            raise InvalidArgument(f"{field} must be YYYY-MM", field=field)
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, at: datetime) -> Month:
        """The month an aware datetime falls in, in Japan time."""
        if at.tzinfo is None:
            raise ValueError("a naive datetime has no month in Japan")
        local = at.astimezone(JST)
        return cls(local.year, local.month)

    @classmethod
    def of_date(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def prev(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def fiscal_year(self) -> int:
        """年度: April 2026 – March 2027 is fiscal 2026 (令和8年度)."""
        return self.year if self.month >= FISCAL_YEAR_START_MONTH else self.year - 1

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def start(self) -> datetime:
        """00:00 JST on the first day, as an aware UTC datetime."""
        return datetime(self.year, self.month, 1, tzinfo=JST).astimezone(UTC)

    def end(self) -> datetime:
        """00:00 JST on the first day of the next month (exclusive), as aware UTC."""
        return self.next().start()


def fiscal_year_months(fiscal_year: int) -> tuple[Month, ...]:
    """April of `fiscal_year` through March of the next calendar year."""
    check_fiscal_year(fiscal_year)
    first = Month(fiscal_year, FISCAL_YEAR_START_MONTH)
    months = [first]
    while len(months) < 12:
        months.append(months[-1].next())
    return tuple(months)


def check_fiscal_year(fiscal_year: int) -> int:
    if not MIN_YEAR <= fiscal_year < MAX_YEAR:
        raise InvalidArgument("fiscal_year must be a year such as 2026", field="fiscal_year")
    return fiscal_year
