"""When a certificate can be issued at a kiosk: pure rules, no database.

Kiosks serve 6:30–23:00 Japan time every day (SPEC section 3). Inside that, a municipality may
suspend all of its service or one kind for a window (maintenance), and may limit a kind to
its own daily hours (e.g. 戸籍 on weekdays in office hours). Each refusal has its own reason
so the kiosk can say which it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from server.common.clock import JST
from server.common.errors import FailedPrecondition, InvalidArgument

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def parse_hhmm(text: str, *, field: str = "time") -> int:
    """'06:30' → minutes after midnight; '24:00' is the end of the day."""
    m = _HHMM.match(text)
    if not m:
        raise InvalidArgument(f"{field} must be HH:MM, got {text!r}", field=field)
    minutes = int(m.group(1)) * 60 + int(m.group(2))
    if minutes > 24 * 60:
        raise InvalidArgument(f"{field} is past 24:00", field=field)
    return minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class DailyHours:
    """[opens, closes) in minutes after local midnight, Asia/Tokyo."""

    opens: int
    closes: int
    weekdays_only: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.opens < self.closes <= 24 * 60:
            raise InvalidArgument("hours must open before they close, within one day")

    @classmethod
    def parse(cls, text: str, *, weekdays_only: bool = False) -> DailyHours:
        """'06:30-23:00'."""
        opens, sep, closes = text.partition("-")
        if not sep:
            raise InvalidArgument(f"hours must be HH:MM-HH:MM, got {text!r}", field="hours")
        return cls(
            parse_hhmm(opens, field="opens"), parse_hhmm(closes, field="closes"), weekdays_only
        )

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(JST)
        if self.weekdays_only and local.weekday() >= 5:
            return False
        minute = local.hour * 60 + local.minute
        return self.opens <= minute < self.closes

    def __str__(self) -> str:
        return f"{format_hhmm(self.opens)}-{format_hhmm(self.closes)}"


NATIONAL_KIOSK_HOURS = DailyHours.parse("06:30-23:00")


@dataclass(frozen=True)
class SuspensionSpan:
    kind: str  # "" for every kind
    starts_at: datetime
    ends_at: datetime
    reason: str

    def covers(self, kind: str, moment: datetime) -> bool:
        return (not self.kind or self.kind == kind) and self.starts_at <= moment < self.ends_at


class Unavailability(StrEnum):
    OUTSIDE_SERVICE_HOURS = "OUTSIDE_SERVICE_HOURS"
    SUSPENDED = "SUSPENDED"
    OUTSIDE_CERTIFICATE_HOURS = "OUTSIDE_CERTIFICATE_HOURS"


@dataclass(frozen=True)
class Availability:
    reason: Unavailability | None = None
    message: str = ""

    @property
    def available(self) -> bool:
        return self.reason is None


OPEN = Availability()


def kiosk_open(now: datetime, hours: DailyHours) -> Availability:
    if hours.contains(now):
        return OPEN
    return Availability(
        Unavailability.OUTSIDE_SERVICE_HOURS,
        f"コンビニ交付の利用時間は{hours.opens // 60}時{hours.opens % 60:02d}分から"
        f"{hours.closes // 60}時{hours.closes % 60:02d}分までです。",
    )


def kind_availability(
    now: datetime,
    kind: str,
    *,
    kiosk_hours: DailyHours,
    suspensions: Sequence[SuspensionSpan],
    certificate_hours: DailyHours | None,
) -> Availability:
    """Can `kind` be issued at `now`? The first rule that refuses gives the reason."""
    national = kiosk_open(now, kiosk_hours)
    if not national.available:
        return national
    for span in suspensions:
        if span.covers(kind, now):
            return Availability(
                Unavailability.SUSPENDED,
                span.reason or "ただいま証明書の交付を停止しています。",
            )
    if certificate_hours is not None and not certificate_hours.contains(now):
        days = "平日の" if certificate_hours.weekdays_only else ""
        return Availability(
            Unavailability.OUTSIDE_CERTIFICATE_HOURS,
            f"この証明書は{days}{certificate_hours}に交付しています。",
        )
    return OPEN


class ServiceNotAvailable(FailedPrecondition):
    """Refused by the service rules; `reason` is the Unavailability."""

    def __init__(self, availability: Availability) -> None:
        assert availability.reason is not None
        super().__init__(availability.message, reason=availability.reason.value)
