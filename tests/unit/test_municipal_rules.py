from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.common.clock import JST
from server.common.errors import InvalidArgument
from server.municipal.rules import (
    NATIONAL_KIOSK_HOURS,
    DailyHours,
    SuspensionSpan,
    Unavailability,
    kind_availability,
)


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 4, day, hour, minute, tzinfo=JST)  # 2026-04-01 is a Wednesday


def check(moment: datetime, **kw: object) -> Unavailability | None:
    args: dict[str, object] = {
        "kiosk_hours": NATIONAL_KIOSK_HOURS,
        "suspensions": [],
        "certificate_hours": None,
    }
    args.update(kw)
    return kind_availability(moment, "juminhyo", **args).reason  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (at(6, 29), False),
        (at(6, 30), True),
        (at(22, 59), True),
        (at(23, 0), False),
        (at(0, 0), False),
    ],
)
def test_kiosks_serve_from_0630_until_2300_japan_time(moment: datetime, open_: bool) -> None:
    assert (check(moment) is None) is open_


def test_hours_are_judged_in_japan_time_whatever_the_clock_zone() -> None:
    # 22:30 UTC is 07:30 JST the next day (open); 14:30 UTC is 23:30 JST (closed).
    assert check(datetime(2026, 4, 1, 22, 30, tzinfo=UTC)) is None
    assert check(datetime(2026, 4, 1, 14, 30, tzinfo=UTC)) is Unavailability.OUTSIDE_SERVICE_HOURS


def test_a_suspension_of_one_kind_leaves_the_others_open() -> None:
    span = SuspensionSpan("inkan", at(9), at(12), "メンテナンスのため")
    assert check(at(10), suspensions=[span]) is None
    res = kind_availability(
        at(10),
        "inkan",
        kiosk_hours=NATIONAL_KIOSK_HOURS,
        suspensions=[span],
        certificate_hours=None,
    )
    assert res.reason is Unavailability.SUSPENDED and res.message == "メンテナンスのため"


def test_a_municipality_wide_suspension_covers_every_kind_until_it_ends() -> None:
    span = SuspensionSpan("", at(9), at(12), "")
    assert check(at(11, 59), suspensions=[span]) is Unavailability.SUSPENDED
    assert check(at(12), suspensions=[span]) is None


def test_weekday_only_certificate_hours_close_at_weekends_and_after_hours() -> None:
    office = DailyHours.parse("08:30-17:15", weekdays_only=True)
    assert check(at(10), certificate_hours=office) is None
    assert check(at(17, 15), certificate_hours=office) is Unavailability.OUTSIDE_CERTIFICATE_HOURS
    saturday = at(10, day=4)
    assert check(saturday, certificate_hours=office) is Unavailability.OUTSIDE_CERTIFICATE_HOURS


def test_national_hours_win_over_certificate_hours() -> None:
    late = DailyHours.parse("00:00-24:00")
    assert check(at(23, 30), certificate_hours=late) is Unavailability.OUTSIDE_SERVICE_HOURS


@pytest.mark.parametrize(
    "bad", ["6:30-23:00", "06:30", "23:00-06:30", "25:00-26:00", "06:30-24:01"]
)
def test_malformed_hours_are_invalid_arguments(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        DailyHours.parse(bad)
