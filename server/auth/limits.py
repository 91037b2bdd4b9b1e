"""Limits on authentication attempts, shared by every server process through the database.

Two counters, each over fixed windows (the window a moment falls in is `floor(t / length)`):

- failed authentications per card serial: a card whose signature, certificate or registration
  keeps failing is refused for the rest of the window before anything is checked, so a stolen
  or cloned certificate cannot be tried again and again (the card's own PIN counter cannot see
  failures the center finds);
- challenges per kiosk: a kiosk (or whoever holds its certificate) cannot mint challenges, and
  with them OCSP queries and signature checks, faster than a real terminal ever would.

Over a limit the call is RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` saying when the
window ends. Each check rides in a statement of the caller's own transaction: the kiosk's count
is one upsert beside the challenge's insert; the card's count is a scalar subquery of the
challenge's read (a card already over the limit is refused before anything is checked) and of
the statement that spends the challenge (checked again when the session opens), and a failure
is counted by one conditional upsert in the transaction that spends the challenge and records
the refusal. That upsert adds only while the card is under its limit, so the count never passes
it even when attempts of one card run in parallel: an attempt that finds the card already at
the limit when its failure is to be counted is refused as over the limit, its own outcome
withheld, and a valid signature is refused once the limit is reached in the same way. Several
processes share the rows, so the limits hold across a multi-process center. A fixed window lets
a burst of up to twice the limit straddle a boundary: enough for brute force to stay hopeless,
and far cheaper than a sliding log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col, delete

from server.auth.models import AuthAttemptWindow
from server.common.errors import RateLimited
from server.db.models import UtcDateTime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TABLE: sa.Table = AuthAttemptWindow.__table__  # type: ignore[attr-defined]


class Scope(StrEnum):
    CARD_FAILURES = "card_failures"
    KIOSK_CHALLENGES = "kiosk_challenges"


class CardAttemptsExceeded(RateLimited):
    reason = "CARD_ATTEMPTS_EXCEEDED"


class KioskRateExceeded(RateLimited):
    reason = "KIOSK_RATE_EXCEEDED"


@dataclass(frozen=True)
class AttemptLimits:
    """At most `card_failures` failed authentications of one card per `card_window`, and at
    most `kiosk_challenges` challenges to one kiosk per `kiosk_window`; 0 turns a limit off."""

    card_failures: int = 5
    card_window: timedelta = timedelta(minutes=15)
    # A real kiosk serves one resident in about three minutes; this is two orders above that.
    kiosk_challenges: int = 300
    kiosk_window: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        if self.card_failures < 0 or self.kiosk_challenges < 0:
            raise ValueError("attempt limits must be 0 (off) or positive")
        if self.card_window <= timedelta(0) or self.kiosk_window <= timedelta(0):
            raise ValueError("limit windows must be positive")


def window_of(now: datetime, length: timedelta) -> tuple[datetime, datetime]:
    """The fixed window `now` falls in: (start, end)."""
    start = _EPOCH + ((now - _EPOCH) // length) * length
    return start, start + length


# Statements built once (building a dialect's upsert costs more than running it on SQLite); the
# bind names are not the columns' own, which an INSERT reserves.
CARD_FAILURES = (
    sa.select(_TABLE.c.attempts)
    .where(_TABLE.c.scope == Scope.CARD_FAILURES.value)
    .where(_TABLE.c.key == sa.bindparam("failures_key"))
    .where(_TABLE.c.window_start == sa.bindparam("failures_start", type_=UtcDateTime()))
    .scalar_subquery()
)
"""The card's failures in a window (NULL: none yet), a scalar subquery for the caller's own
statement; its parameters come from `AttemptLimiter.card_failures`."""


def _counting(dialect: Any) -> Insert:
    """One more attempt in the row of (scope, key, window), atomically, while the count is under
    `count_below`: returns the new count, or no row (nothing added) once it is not."""
    upsert: Insert = (
        dialect.insert(_TABLE)
        .values(
            scope=sa.bindparam("count_scope"),
            key=sa.bindparam("count_key"),
            window_start=sa.bindparam("count_start", type_=UtcDateTime()),
            attempts=1,
        )
        .on_conflict_do_update(
            index_elements=["scope", "key", "window_start"],
            set_={"attempts": _TABLE.c.attempts + 1},
            where=_TABLE.c.attempts < sa.bindparam("count_below"),
        )
        .returning(_TABLE.c.attempts)
    )
    return upsert


class AttemptLimiter:
    def __init__(self, engine: Engine, limits: AttemptLimits) -> None:
        self._engine = engine
        self._limits = limits
        self.counting = _counting(postgresql if engine.dialect.name == "postgresql" else sqlite)
        """The counting upsert; `challenge_count` gives its parameters for a challenge."""

    def count_challenge(self, conn: Connection, kiosk_id: str, now: datetime) -> None:
        """Count one challenge for the kiosk in the caller's transaction (the one that adds
        the challenge); refuse it when the kiosk is already at its limit (nothing counted), so
        a kiosk over the limit stays over it until the window ends."""
        params = self.challenge_count(kiosk_id, now)
        if params is not None and conn.execute(self.counting, params).first() is None:
            raise self.kiosk_exceeded(now)

    def challenge_count(self, kiosk_id: str, now: datetime) -> dict[str, Any] | None:
        """The parameters of `counting` that count one challenge for the kiosk while it is under
        its limit (None: limit off). A caller may run `counting` inside its own statement (a
        CTE) instead of `count_challenge`."""
        limit = self._limits.kiosk_challenges
        if not limit:
            return None
        start, _ = window_of(now, self._limits.kiosk_window)
        return _count_params(Scope.KIOSK_CHALLENGES, kiosk_id, start, below=limit)

    def kiosk_exceeded(self, now: datetime) -> KioskRateExceeded:
        _, end = window_of(now, self._limits.kiosk_window)
        return KioskRateExceeded(
            f"this kiosk asked for more than {self._limits.kiosk_challenges} challenges in "
            f"{_span(self._limits.kiosk_window)}; try again shortly",
            retry_after=end - now,
        )

    def card_failures(self, serial: str, now: datetime) -> dict[str, Any] | None:
        """The parameters of `CARD_FAILURES` for the card in the current window; None when the
        limit is off (the caller then leaves the subquery out)."""
        if not self._limits.card_failures:
            return None
        start, _ = window_of(now, self._limits.card_window)
        return {"failures_key": serial, "failures_start": start}

    def check_card(self, failures: int | None, now: datetime) -> None:
        """Refuse a card whose failures in this window (as `CARD_FAILURES` read them) already
        reached the limit."""
        limit = self._limits.card_failures
        if limit and (failures or 0) >= limit:
            raise self._card_exceeded(now)

    def count_card_failure(
        self, conn: Connection, serial: str, now: datetime
    ) -> CardAttemptsExceeded | None:
        """Count one failed authentication of the card in the caller's transaction (the one that
        spends the challenge). A card already at its limit is not counted further: the refusal
        to give instead of the attempt's own outcome is returned (it raced other attempts of the
        same card past the check before the signature)."""
        limit = self._limits.card_failures
        if not limit:
            return None
        start, _ = window_of(now, self._limits.card_window)
        params = _count_params(Scope.CARD_FAILURES, serial, start, below=limit)
        counted = conn.execute(self.counting, params).first()
        return None if counted is not None else self._card_exceeded(now)

    def _card_exceeded(self, now: datetime) -> CardAttemptsExceeded:
        _, end = window_of(now, self._limits.card_window)
        return CardAttemptsExceeded(
            f"this card failed to authenticate {self._limits.card_failures} times in "
            f"{_span(self._limits.card_window)}; try again later",
            retry_after=end - now,
        )

    def purge(self, before: datetime) -> int:
        """Delete the rows of windows that started before `before`."""
        with Session(self._engine) as db:
            gone = db.exec(
                delete(AuthAttemptWindow).where(col(AuthAttemptWindow.window_start) < before)
            ).rowcount
            db.commit()
        return int(gone)


def _count_params(scope: Scope, key: str, start: datetime, *, below: int) -> dict[str, Any]:
    return {
        "count_scope": scope.value,
        "count_key": key,
        "count_start": start,
        "count_below": below,
    }


def _span(length: timedelta) -> str:
    minutes = length.total_seconds() / 60
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"
