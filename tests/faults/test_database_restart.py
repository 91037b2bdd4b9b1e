"""PostgreSQL stops and starts again under the running center (a throwaway cluster of its own).

While the database is down every call fails with UNAVAILABLE (`DATABASE_UNAVAILABLE`), never
with an internal error; a transaction cut short leaves nothing behind; and when the database is
back the same center process serves again, without a restart (its pool checks connections
before use). The books are then checked against what the kiosks saw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from konbini.auth.v1 import auth_pb2_grpc

from clients.errors import decode_error
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle
from server.app import create_server
from server.config import ServerConfig
from tests.faults.books import audit_books, sweep_later
from tests.faults.conftest import Recorder
from tests.faults.kiosks import EmulatedKiosk, KioskNotebook, run_kiosks, sign_in, wait_for
from tests.faults.pgcluster import Cluster
from tests.faults.world import seed, write_anchor

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KIOSKS = 3


def test_a_database_restart_mid_run_is_unavailable_then_served_again_without_a_restart(
    authority: tuple[JpkiAuthority, ResponderHandle],
    clusters: Callable[[], Cluster],
    tmp_path: Path,
    record_figures: Recorder,
) -> None:
    jpki, responder = authority
    cluster = clusters()
    url = cluster.create_database("konbini")
    seeded = seed(url, jpki, kiosks=KIOSKS)
    center = create_server(
        ServerConfig(
            trust_anchor_path=write_anchor(jpki, tmp_path),
            authority_url=responder.url,
            database_url=url,
            port=0,
            kiosk_hours="00:00-24:00",
            max_workers=8,
            insecure=True,  # plaintext loopback, kiosks named by a header (the demo mode)
        )
    )
    center.server.start()
    target = f"127.0.0.1:{center.port}"
    book = KioskNotebook()
    kiosks = [EmulatedKiosk(target, k, seeded.cards, book, seed=15) for k in seeded.kiosk_ids]
    probe_channel = grpc.insecure_channel(target)
    probe = auth_pb2_grpc.AuthServiceStub(probe_channel)
    threads, stop_kiosks = run_kiosks(kiosks, max_visits=60)
    outages = 0
    try:
        wait_for(book.progressed(KIOSKS), "the kiosks to get going")
        # 1. Down for a while: a call made meanwhile is told the database is unavailable.
        cluster.stop("fast")
        outages += 1
        with pytest.raises(grpc.RpcError) as refused:
            sign_in(probe, seeded.kiosk_ids[0], seeded.cards[0], timeout=10)
        details = decode_error(refused.value)
        assert (details.code, details.reason) == (
            grpc.StatusCode.UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
        )
        cluster.start()
        wait_for(book.progressed(KIOSKS), "the kiosks to be served again")
        assert sign_in(probe, seeded.kiosk_ids[0], seeded.cards[0], timeout=10)
        # 2. A quick restart in the middle of the kiosks' transactions.
        cluster.restart("fast")
        outages += 1
        wait_for(book.progressed(KIOSKS), "the kiosks to be served after the restart")
    finally:
        stop_kiosks()
        for t in threads:
            t.join(timeout=180)
        probe_channel.close()
        center.server.stop(grace=None).wait()
    try:
        assert not any(t.is_alive() for t in threads), "a kiosk did not finish"
        assert book.errors == []
        before = audit_books(center.engine, book.copies, require_closed=False)
        assert before.differences == ()
        swept = sweep_later(center.engine)
        books = audit_books(center.engine, book.copies)
    finally:
        center.engine.dispose()

    record_figures(
        faults_injected=outages,
        copies_checked=books.copies_checked,
        ledger_differences=len(books.differences),
        database_outages=outages,
        kiosks=KIOSKS,
        visits=book.visits,
        printed=books.printed,
        issued=books.issued,
        voided=books.voided,
        voided_by_sweeper=swept,
        database_unavailable_seen=book.unavailable("DATABASE_UNAVAILABLE"),
        unavailable_seen=book.unavailable(),
        failures_seen=dict(book.failures),
    )
    assert books.differences == ()
    assert books.printed > 0
    assert book.unavailable("DATABASE_UNAVAILABLE") > 0
