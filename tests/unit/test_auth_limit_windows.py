"""The attempt limiter on its own: fixed windows, counts per key, limits that are off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from server.auth.limits import (
    CARD_FAILURES,
    AttemptLimiter,
    AttemptLimits,
    CardAttemptsExceeded,
    KioskRateExceeded,
    window_of,
)
from server.db.engine import make_engine, upgrade

NOW = datetime(2026, 4, 1, 1, 0, 30, tzinfo=UTC)


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2199, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(1, 86_400),
)
def test_every_moment_falls_in_exactly_one_aligned_window(now: datetime, seconds: int) -> None:
    length = timedelta(seconds=seconds)
    start, end = window_of(now, length)
    assert start <= now < end and end - start == length
    assert window_of(start, length) == (start, end)  # windows are aligned, not relative to now
    assert window_of(end, length)[0] == end


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'limits.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _challenge(limiter: AttemptLimiter, engine: Engine, kiosk_id: str, now: datetime) -> None:
    with engine.begin() as conn:  # the server counts on the transaction that writes the challenge
        limiter.count_challenge(conn, kiosk_id, now)


def test_challenges_are_counted_per_kiosk_and_per_window(engine: Engine) -> None:
    limiter = AttemptLimiter(engine, AttemptLimits(kiosk_challenges=2))
    for _ in range(2):
        _challenge(limiter, engine, "K1", NOW)
    with pytest.raises(KioskRateExceeded) as refused:
        _challenge(limiter, engine, "K1", NOW)
    assert refused.value.retry_after == timedelta(seconds=30)  # to the end of the minute
    _challenge(limiter, engine, "K2", NOW)
    _challenge(limiter, engine, "K1", NOW + timedelta(seconds=30))  # the next window


def _failures(limiter: AttemptLimiter, engine: Engine, serial: str, now: datetime) -> int | None:
    """What the card's failure count reads as in a statement of the caller's (None: off)."""
    params = limiter.card_failures(serial, now)
    if params is None:
        return None
    with engine.connect() as conn:
        return conn.execute(sa.select(CARD_FAILURES), params).scalar_one_or_none()


def _fail(
    limiter: AttemptLimiter, engine: Engine, serial: str, now: datetime
) -> CardAttemptsExceeded | None:
    with engine.begin() as conn:
        return limiter.count_card_failure(conn, serial, now)


def test_card_failures_are_counted_until_the_limit_then_refused(engine: Engine) -> None:
    limiter = AttemptLimiter(engine, AttemptLimits(card_failures=2))
    assert _failures(limiter, engine, "123", NOW) is None  # no row yet
    for counted in (1, 2):
        limiter.check_card(_failures(limiter, engine, "123", NOW), NOW)
        assert _fail(limiter, engine, "123", NOW) is None
        assert _failures(limiter, engine, "123", NOW) == counted
    with pytest.raises(CardAttemptsExceeded) as refused:
        limiter.check_card(_failures(limiter, engine, "123", NOW), NOW)
    assert refused.value.retry_after == timedelta(minutes=14, seconds=30)
    limiter.check_card(_failures(limiter, engine, "456", NOW), NOW)
    later = NOW + timedelta(minutes=14, seconds=30)
    limiter.check_card(_failures(limiter, engine, "123", later), later)


def test_a_failure_past_the_limit_is_not_counted_but_answered_as_over_it(engine: Engine) -> None:
    """Attempts that passed the check together: only as many failures count as the limit
    allows; each one after that gets the over-the-limit refusal instead of its own outcome."""
    limiter = AttemptLimiter(engine, AttemptLimits(card_failures=2))
    assert _fail(limiter, engine, "123", NOW) is None
    assert _fail(limiter, engine, "123", NOW) is None
    for _ in range(3):
        over = _fail(limiter, engine, "123", NOW)
        assert isinstance(over, CardAttemptsExceeded)
        assert over.retry_after == timedelta(minutes=14, seconds=30)
    assert _failures(limiter, engine, "123", NOW) == 2


def test_a_limit_of_zero_is_off(engine: Engine) -> None:
    limiter = AttemptLimiter(engine, AttemptLimits(card_failures=0, kiosk_challenges=0))
    for _ in range(20):
        _challenge(limiter, engine, "K1", NOW)
        assert _fail(limiter, engine, "123", NOW) is None
        limiter.check_card(_failures(limiter, engine, "123", NOW), NOW)
        limiter.check_card(20, NOW)
    assert limiter.purge(NOW + timedelta(days=1)) == 0  # nothing was even written


@pytest.mark.parametrize(
    "kwargs",
    [
        {"card_failures": -1},
        {"kiosk_challenges": -1},
        {"card_window": timedelta(0)},
        {"kiosk_window": timedelta(seconds=-1)},
    ],
)
def test_impossible_limits_cannot_be_configured(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        AttemptLimits(**kwargs)  # type: ignore[arg-type]
