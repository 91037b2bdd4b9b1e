"""Posting an issued copy (`post_issued_copy`) on SQLite and, when KONBINI_TEST_DATABASE_URL is
set, on PostgreSQL: the register row, the journal entry and its lines, the month rules, and on
PostgreSQL the period row's shared lock that orders a posting after a close of its month."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bench.settlement_data import CopySpec, Place, _issuance, add_municipality, jst_now_after
from server.bcl.records import IssuingBackend
from server.common.clock import JST
from server.db.engine import make_engine, upgrade
from server.db.models import Issuance
from server.issuance.states import Channel, IssuanceState
from server.settlement.counter_hours import DEFAULT_COUNTER_HOURS
from server.settlement.ledger import (
    CopyFacts,
    close_month,
    copy_issued_draft,
    post_issued_copy,
)
from server.settlement.periods import Month
from tests.databases import BACKENDS, PG_URL, fresh_postgres


@dataclass
class Books:
    engine: Engine
    town: Place  # BCL-backed: the BCL fee is due
    city: Place  # its own server, and free copies of 住民票
    _seq: Iterator[int]

    def copy(
        self,
        db: Session,
        place: Place,
        at: datetime,
        *,
        channel: Channel = Channel.KIOSK,
        kiosk_place: Place | None = None,
    ) -> Issuance:
        """An ISSUED issuance row, not yet posted."""
        spec = CopySpec(place, kiosk_place or place, 1, "juminhyo", at)
        row = _issuance(spec, state=IssuanceState.ISSUED, seq=next(self._seq))
        row.channel = channel.value
        db.add(row)
        db.flush()
        return row

    def post(self, place: Place, at: datetime, **kw: Any) -> str:
        with Session(self.engine) as db:
            row = self.copy(db, place, at, **kw)
            post_issued_copy(db, row, at)
            db.commit()
            return row.id

    def close(self, month: Month) -> None:
        with Session(self.engine) as db:
            close_month(db, month, now=jst_now_after(month))
            db.commit()

    def rows(self, statement: str, **params: object) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(statement), params)]

    def entry(self, issuance_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            [row] = conn.execute(
                sa.text("SELECT * FROM ledger_entries WHERE issuance_id = :i"), {"i": issuance_id}
            ).mappings()
            return dict(row)

    def lines(self, entry_id: int) -> list[tuple[Any, ...]]:
        return self.rows(
            "SELECT entry_id, account, amount_yen, month, municipality_code, operator_id,"
            " certificate_kind FROM ledger_lines WHERE entry_id = :e ORDER BY id",
            e=entry_id,
        )

    def periods(self) -> list[tuple[str, bool]]:
        found = self.rows("SELECT month, closed_at IS NOT NULL FROM ledger_periods ORDER BY month")
        return [(m, bool(closed)) for m, closed in found]


@pytest.fixture(params=BACKENDS)
def books(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Books]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'posting.db'}"
        else:
            url = stack.enter_context(fresh_postgres("konbini_posting"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        with Session(engine) as db:
            town = add_municipality(
                db, first_five="13999", name="桜町", prefecture="東京都", population=8_000
            )
            city = add_municipality(
                db,
                first_five="22999",
                name="港市",
                prefecture="静岡県",
                population=60_000,
                backend=IssuingBackend.OWN_SERVER,
                fees={"juminhyo": 0, "inkan": 300},
            )
            db.commit()
        yield Books(engine, town, city, itertools.count(1))


def at(month: str, day: int = 8, hour: int = 10) -> datetime:
    m = Month.parse(month)
    return datetime(m.year, m.month, day, hour, tzinfo=JST)


def _expected_journal(row: Issuance, at: datetime, month: Month, entry_id: int) -> Any:
    """The entry and lines the bulk loaders' builder makes of the same copy."""
    facts = CopyFacts(
        issuance_id=row.id,
        municipality_code=row.municipality_code,
        operator_id=row.operator_id,
        kiosk_id=row.kiosk_id,
        kiosk_municipality_code=row.kiosk_municipality_code,
        certificate_kind=row.kind,
        issued_at=at,
        fee_yen=row.fee_yen,
        backend=IssuingBackend.BCL,
        channel=Channel(row.channel),
    )
    draft = copy_issued_draft(facts, month=month, hours=DEFAULT_COUNTER_HOURS)
    lines = [tuple(line.values()) for line in draft.line_rows(entry_id)]
    return draft.entry_row(posted_at=at, entry_id=entry_id), lines


@pytest.mark.parametrize("channel", list(Channel))
def test_a_copy_posts_its_register_row_and_the_entry_the_bulk_builder_describes(
    books: Books, channel: Channel
) -> None:
    printed = at("2026-04", day=8, hour=19)  # Wednesday 19:00: after the counter's hours
    with Session(books.engine, expire_on_commit=False) as db:
        row = books.copy(db, books.town, printed, channel=channel, kiosk_place=books.city)
        returned = post_issued_copy(db, row, printed)
        db.commit()
    commission = 117 if channel is Channel.KIOSK else 0
    assert (returned.fee_yen, returned.commission_yen, returned.bcl_fee_yen) == (
        300,
        commission,
        180,
    )
    [register] = books.rows(
        "SELECT issuance_id, issue_number, municipality_code, month, kind, kiosk_id, operator_id,"
        " kiosk_municipality_code, fee_yen, commission_yen, bcl_fee_yen, sheets"
        " FROM settlement_entries"
    )
    assert register == (
        row.id,
        row.issue_number,
        books.town.code,
        "2026-04",
        "juminhyo",
        row.kiosk_id,
        row.operator_id,
        books.city.code,
        300,
        commission,
        180,
        1,
    )
    entry = books.entry(row.id)
    expected_entry, expected_lines = _expected_journal(row, printed, Month(2026, 4), entry["id"])
    assert {k: entry[k] for k in expected_entry if k not in ("posted_at", "occurred_at")} == {
        k: v for k, v in expected_entry.items() if k not in ("posted_at", "occurred_at")
    }
    assert entry["after_hours"] and entry["other_municipality"]
    assert books.lines(entry["id"]) == expected_lines


def test_the_first_posting_of_a_month_creates_its_period_open(books: Books) -> None:
    assert books.periods() == []
    first = books.post(books.town, at("2026-04"))
    second = books.post(books.town, at("2026-04", day=9))
    assert books.periods() == [("2026-04", False)]
    assert books.entry(first)["month"] == books.entry(second)["month"] == "2026-04"


def test_a_copy_dated_in_a_closed_month_goes_to_the_first_open_month_after_it(
    books: Books,
) -> None:
    books.post(books.town, at("2026-04"))
    books.close(Month(2026, 4))
    books.post(books.town, at("2026-05"))
    books.close(Month(2026, 5))
    late = books.post(books.town, at("2026-04", day=30, hour=23))  # reported after both closes
    assert books.entry(late)["month"] == "2026-06"
    assert books.periods() == [("2026-04", True), ("2026-05", True), ("2026-06", False)]
    # The register keeps the calendar month the copy was issued in.
    assert books.rows("SELECT month FROM settlement_entries WHERE issuance_id = :i", i=late) == [
        ("2026-04",)
    ]
    # A copy dated in the open month itself, after the closed ones, stays in it.
    books.post(books.town, at("2026-06"))
    assert books.rows("SELECT count(*) FROM ledger_entries WHERE month = '2026-06'") == [(2,)]


def test_a_copy_posted_twice_is_refused_and_nothing_of_the_second_is_kept(books: Books) -> None:
    iid = books.post(books.town, at("2026-04"))
    with Session(books.engine) as db:
        row = db.get(Issuance, iid)
        assert row is not None
        with pytest.raises(IntegrityError):
            post_issued_copy(db, row, at("2026-04", day=9))
        db.rollback()
    assert books.rows("SELECT count(*) FROM settlement_entries") == [(1,)]
    assert books.rows("SELECT count(*) FROM ledger_entries") == [(1,)]


def test_a_free_counter_copy_without_any_fee_is_an_entry_without_lines(books: Books) -> None:
    # Own server (no BCL fee), at the counter (no commission), a free 住民票: no money moves,
    # but the copy is still counted.
    iid = books.post(books.city, at("2026-04"), channel=Channel.COUNTER)
    entry = books.entry(iid)
    assert (entry["copies"], entry["channel"]) == (1, "counter")
    assert books.lines(entry["id"]) == []


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="KONBINI_TEST_DATABASE_URL not set")
def test_a_posting_waits_for_a_close_of_its_month_in_flight_and_then_goes_to_the_next() -> None:
    with fresh_postgres("konbini_posting_lock") as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            with Session(engine) as db:
                town = add_municipality(
                    db, first_five="13999", name="桜町", prefecture="東京都", population=8_000
                )
                db.commit()
            books = Books(engine, town, town, itertools.count(1))
            books.post(town, at("2026-04"))
            with Session(engine) as db:
                waiting = books.copy(db, town, at("2026-04", day=30, hour=23))
                db.commit()
                waiting_id = waiting.id

            closing = Session(engine)
            close_month(closing, Month(2026, 4), now=jst_now_after(Month(2026, 4)))
            closing.flush()  # April is closed in this transaction, which holds its row

            def post_late_copy() -> None:
                with Session(engine) as db:
                    row = db.get(Issuance, waiting_id)
                    assert row is not None
                    db.execute(sa.text("SET application_name = 'late_copy'"))
                    post_issued_copy(db, row, at("2026-04", day=30, hour=23))
                    db.commit()

            poster = threading.Thread(target=post_late_copy)
            poster.start()
            try:
                _wait_until_blocked_on_a_lock(engine, "late_copy")
            finally:
                closing.commit()
                closing.close()
                poster.join(timeout=60)
            assert not poster.is_alive()
            assert books.entry(waiting_id)["month"] == "2026-05"
            assert books.periods() == [("2026-04", True), ("2026-05", False)]
        finally:
            engine.dispose()


def _wait_until_blocked_on_a_lock(engine: Engine, application: str) -> None:
    """Until the backend named `application` waits for a row lock (not a timing assertion: it
    only waits for the state the test is about, and gives up after a generous while)."""
    for _ in range(6_000):
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT wait_event_type FROM pg_stat_activity WHERE application_name = :a"),
                {"a": application},
            ).scalar()
        if found == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError(f"{application} never waited for the period row's lock")
