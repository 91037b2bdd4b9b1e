"""Injected clocks: business rules use Asia/Tokyo, storage uses aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")

Clock = Callable[[], datetime]
"""A callable returning the current time as a timezone-aware datetime."""


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock for tests: returns `now` until moved with `advance`."""

    now: datetime = field(default_factory=lambda: datetime(2026, 4, 1, 10, 0, tzinfo=JST))

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now = self.now + delta
