"""East/west: the primary PostgreSQL dies, the standby is promoted, the center moves to it.

The standby is a second cluster made with `tools/pg_standby.sh clone` (pg_basebackup, streaming
replication, a replication slot) and made synchronous with `pg_standby.sh require-sync`: a
commit returns only once the standby has the WAL, so nothing a kiosk was told is lost with the
primary. While kiosks work and a municipality uploads generations, the primary is stopped in
`immediate` mode (a crash: no shutdown checkpoint, no goodbye to the standby), the standby is
promoted, and the center is started again pointed at it (docs/operations.md, the operator's
steps). Then: every copy a kiosk printed is issued and charged once on the new primary, the
books balance, and every upload generation the uploader was told was committed is there and
restores byte for byte. The BCL files directory is shared storage here (one machine); east and
west need it replicated too (see the operations guide).
"""

from __future__ import annotations

import dataclasses
import filecmp
import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from clients.bcl.client import BclClient, UploadResult, upload_files
from clients.bcl.generate import generate_dataset
from clients.bcl.onboard import join_municipality
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle
from server.app import Center, create_server
from server.bcl.generations import list_generations
from server.bcl.servicer import create_bcl_server
from server.bcl.upload import BclSettings, BclUploads
from server.common.clock import system_clock
from server.config import ServerConfig
from server.db.engine import make_engine
from tests.credentials import staff_token
from tests.faults.books import audit_books, sweep_later
from tests.faults.conftest import Recorder
from tests.faults.kiosks import EmulatedKiosk, KioskNotebook, run_kiosks, wait_for
from tests.faults.pgcluster import Cluster, free_port
from tests.faults.world import seed, write_anchor

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KIOSKS = 3
BCL_CODE = "141003"  # a municipality of its own: its uploads do not touch the kiosks' residents


@dataclasses.dataclass
class Side:
    """The center and the BCL desk running against one database."""

    center: Center
    bcl: grpc.Server
    bcl_channel: grpc.Channel
    uploader: BclClient

    def stop(self) -> None:
        self.bcl_channel.close()
        self.bcl.stop(grace=None).wait()
        self.center.server.stop(grace=None).wait()
        self.center.engine.dispose()


def start_side(config: ServerConfig, bcl: BclSettings) -> Side:
    center = create_server(config)
    center.server.start()
    uploads = BclUploads(center.engine, bcl, clock=system_clock)
    uploads.recover()  # as a center does at start-up: leftovers of cut-short uploads go
    server, port = create_bcl_server(uploads, insecure=True)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    token = staff_token(center.engine, BCL_CODE)  # written to the primary, replicated
    return Side(center, server, channel, BclClient(channel, BCL_CODE, token=token))


def test_no_committed_copy_or_generation_is_lost_when_the_primary_dies(
    authority: tuple[JpkiAuthority, ResponderHandle],
    clusters: Callable[[], Cluster],
    tmp_path: Path,
    record_figures: Recorder,
) -> None:
    jpki, responder = authority
    east = clusters()
    east_url = east.create_database("konbini")
    seeded = seed(east_url, jpki, kiosks=KIOSKS)
    engine = make_engine(east_url)
    join_municipality(engine, code=BCL_CODE, prefecture="神奈川県", name="横浜市")
    engine.dispose()
    datasets = []
    for n, residents in enumerate((240, 260, 280)):
        generate_dataset(
            tmp_path / f"upload{n}",
            residents=residents,
            seed=n,
            code=BCL_CODE,
            prefecture="神奈川県",
            name="横浜市",
        )
        datasets.append(tmp_path / f"upload{n}")

    west = east.clone_standby("west")
    east.require_sync(west)
    assert east.query("SELECT sync_state FROM pg_stat_replication") == [("sync",)]

    config = ServerConfig(
        trust_anchor_path=write_anchor(jpki, tmp_path),
        authority_url=responder.url,
        database_url=east_url,
        port=free_port(),  # the kiosks keep their address across the move
        kiosk_hours="00:00-24:00",
        max_workers=8,
        insecure=True,  # plaintext loopback (the demo mode)
    )
    bcl = BclSettings(data_dir=tmp_path / "bcl", retention=5)
    side = start_side(config, bcl)
    book = KioskNotebook()
    target = f"127.0.0.1:{config.port}"
    kiosks = [EmulatedKiosk(target, k, seeded.cards, book, seed=24) for k in seeded.kiosk_ids]
    threads, stop_kiosks = run_kiosks(kiosks, max_visits=60)
    committed: list[UploadResult] = []
    try:
        wait_for(book.progressed(KIOSKS), "the kiosks to get going")
        committed.append(side.uploader.upload(upload_files(datasets[0])))
        wait_for(book.progressed(KIOSKS), "more visits")
        committed.append(side.uploader.upload(upload_files(datasets[1])))
        assert all(r.committed for r in committed)

        east.stop("immediate")  # the primary dies mid-run
        west.promote()
        side.stop()
        side = start_side(dataclasses.replace(config, database_url=west.url("konbini")), bcl)

        wait_for(book.progressed(KIOSKS), "the kiosks to be served by the promoted standby")
        after = side.uploader.upload(upload_files(datasets[2]))
        assert after.committed and after.generation is not None
    finally:
        stop_kiosks()
        for t in threads:
            t.join(timeout=180)
        side.stop()

    assert not any(t.is_alive() for t in threads), "a kiosk did not finish"
    assert book.errors == []
    engine = make_engine(west.url("konbini"))
    try:
        before = audit_books(engine, book.copies, require_closed=False)
        assert before.differences == ()
        sweep_later(engine)
        books = audit_books(engine, book.copies)
        generations = {g.number: g for g in list_generations(engine, BCL_CODE)}
    finally:
        engine.dispose()

    lost = []
    for result in committed:
        assert result.generation is not None
        kept = generations.get(result.generation.number)
        if kept is None or kept.checksum != result.generation.checksum:
            lost.append(result.generation.number)
    assert after.generation.number == len(committed) + 1  # numbering went on where it was

    side = start_side(dataclasses.replace(config, database_url=west.url("konbini")), bcl)
    try:
        for n, result in enumerate(committed):
            assert result.generation is not None
            out = tmp_path / f"restored{n}"
            side.uploader.restore(out, number=result.generation.number)
            names = [p.name for p in upload_files(datasets[n])]
            _, mismatch, errors = filecmp.cmpfiles(datasets[n], out, names, shallow=False)
            assert (mismatch, errors) == ([], [])
    finally:
        side.stop()

    record_figures(
        faults_injected=1,
        copies_checked=books.copies_checked,
        ledger_differences=len(books.differences),
        primary_crashes=1,
        kiosks=KIOSKS,
        visits=book.visits,
        printed=books.printed,
        issued=books.issued,
        voided=books.voided,
        generations_committed_before_the_crash=len(committed),
        generations_lost=len(lost),
        unavailable_seen=book.unavailable(),
        failures_seen=dict(book.failures),
    )
    assert lost == []
    assert books.differences == ()
    assert books.printed > 0


def test_only_a_synchronous_standby_keeps_every_commit_the_client_was_told_of(
    clusters: Callable[[], Cluster], record_figures: Recorder
) -> None:
    """Why the pair runs with synchronous_standby_names: the same crash with and without it."""
    east = clusters()
    east.create_database("konbini")
    east.query("CREATE TABLE copies (n int PRIMARY KEY)", "konbini")
    west = east.clone_standby("west")
    east.require_sync(west)

    # Synchronous: with the standby away, a commit waits for it instead of being acknowledged.
    west.stop("fast")
    waiting = threading.Thread(
        target=east.query, args=("INSERT INTO copies VALUES (1)", "konbini"), daemon=True
    )
    waiting.start()
    wait_for(
        lambda: east.query("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'SyncRep'") != [],
        "the commit to wait for the standby",
    )
    west.start()
    waiting.join(timeout=60)
    assert not waiting.is_alive()

    # Asynchronous: the same commit is acknowledged at once, and dies with the primary.
    east.query("ALTER SYSTEM SET synchronous_standby_names = ''")
    east.query("SELECT pg_reload_conf()")
    west.stop("fast")
    east.query("INSERT INTO copies VALUES (2)", "konbini")  # the client is told: committed
    east.stop("immediate")
    west.start()
    west.promote()
    survived = [n for (n,) in west.query("SELECT n FROM copies ORDER BY n", "konbini")]
    record_figures(
        faults_injected=1,
        copies_checked=2,
        ledger_differences=0,
        commits_acknowledged=2,
        commits_kept_by_the_standby=len(survived),
        lost_without_synchronous_replication=2 - len(survived),
    )
    assert survived == [1]
