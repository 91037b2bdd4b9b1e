"""The center is killed (SIGKILL) again and again while kiosks work, then started again.

The center is a real subprocess (`python -m clients.cli serve`) on SQLite and on PostgreSQL;
several emulated kiosks visit concurrently and retry with the same idempotency key on
UNAVAILABLE (tests/faults/kiosks.py). After the last restart the kiosks finish what they hold
(reports of printed copies included), then the center is started once more with short
lifetimes so that its sweeper voids every reservation and copy nobody finished, and the books
are checked against what the kiosks saw (tests/faults/books.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle
from server.db.engine import make_engine
from tests.faults.books import audit_books
from tests.faults.conftest import Recorder
from tests.faults.kiosks import EmulatedKiosk, KioskNotebook, run_kiosks, wait_for
from tests.faults.pgcluster import Cluster, free_port
from tests.faults.world import CenterProcess, seed, write_anchor

pytestmark = pytest.mark.slow

KIOSKS = 4
KILLS = 3
MAX_VISITS = 60  # per kiosk: a bound, the run stops well before it
# Short enough that the reservations nobody paid for run out soon after the run; long enough
# for a kiosk to pay across a restart. Lifetimes are stamped on a reservation when it is made.
RESERVATION_TTL_S = "15"


def open_copies(engine: Engine) -> int:
    with engine.connect() as conn:
        n = conn.execute(
            sa.text("SELECT count(*) FROM issuances WHERE state IN ('reserved', 'printing')")
        ).scalar_one()
    return int(n)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'center.db'}"
    clusters: Callable[[], Cluster] = request.getfixturevalue("clusters")  # may skip
    return clusters().create_database("konbini")


def test_every_printed_copy_is_charged_once_after_repeated_kills(
    database_url: str,
    authority: tuple[JpkiAuthority, ResponderHandle],
    tmp_path: Path,
    center_process: Callable[..., CenterProcess],
    record_figures: Recorder,
) -> None:
    jpki, responder = authority
    seeded = seed(database_url, jpki, kiosks=KIOSKS)
    center = center_process(
        database_url,
        write_anchor(jpki, tmp_path),
        responder.url,
        free_port(),
        settings={"KONBINI_RESERVATION_TTL": RESERVATION_TTL_S},
    )
    center.start()
    book = KioskNotebook()
    kiosks = [
        EmulatedKiosk(center.target, kiosk_id, seeded.cards, book, seed=2026)
        for kiosk_id in seeded.kiosk_ids
    ]
    threads, stop_kiosks = run_kiosks(kiosks, max_visits=MAX_VISITS)
    rng = random.Random(20260401)
    try:
        for _ in range(KILLS):
            wait_for(book.progressed(KIOSKS), "the kiosks to make progress")
            time.sleep(rng.uniform(0.0, 0.4))  # somewhere inside the kiosks' next calls
            center.kill()
            time.sleep(rng.uniform(0.2, 1.0))
            center.start()
        wait_for(book.progressed(KIOSKS), "the kiosks to carry on after restarts")
    finally:
        stop_kiosks()
        for t in threads:
            t.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a kiosk did not finish"
    assert book.errors == []
    assert book.unavailable() > 0, "the kills were never felt by a kiosk"

    engine = make_engine(database_url)
    try:
        # Before the sweeper's turn: everything printed is already issued and charged.
        before = audit_books(engine, book.copies, require_closed=False)
        assert before.differences == ()
        # What nobody finished is voided by the sweeper once its time is up (a copy handed to
        # a printer that never reported: one second from now on).
        center.kill()
        center.start(KONBINI_PRINTING_TTL="1", KONBINI_SWEEP_INTERVAL="0.2")
        wait_for(lambda: open_copies(engine) == 0, "the sweeper to void what was left")
        center.stop()
        books = audit_books(engine, book.copies)
    finally:
        engine.dispose()

    record_figures(
        faults_injected=center.kills,
        copies_checked=books.copies_checked,
        ledger_differences=len(books.differences),
        kills=center.kills,
        kiosks=KIOSKS,
        visits=book.visits,
        printed=books.printed,
        issued=books.issued,
        voided=books.voided,
        voided_by_sweeper=books.voided_by_sweeper,
        kiosk_retries=book.retries,
        unavailable_seen=book.unavailable(),
        same_key_fetches=sum(c.fetches for c in book.copies if c.fetches > 1),
        expired_while_down=sum(1 for c in book.copies if c.expired),
        fee_income_yen=books.fee_income_yen,
        failures_seen=dict(book.failures),
    )
    assert books.differences == ()
    assert books.printed > 0 and books.issued == books.printed
    assert books.voided_by_sweeper > 0  # abandoned copies were left for the sweeper
