"""`konbini audit verify`: a clean chain is OK; every kind of tampering is named by its seq.

Run on SQLite, and on PostgreSQL when KONBINI_TEST_DATABASE_URL is set (a fresh database).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from clients.cli import main
from server.audit.anchor import (
    AnchorFileError,
    generate_key,
    load_private_key,
    load_public_key,
    read_anchors,
    write_anchor,
)
from server.audit.log import append
from server.audit.models import AuditEntry
from server.audit.verify import verify_chain
from server.db.engine import make_engine, upgrade
from tests.databases import BACKENDS, fresh_postgres

AT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
ENTRIES = 10


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    with fresh_postgres("konbini_audit") as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    for i in range(1, ENTRIES + 1):
        with Session(engine) as db:
            append(
                db,
                event="issuance.issued",
                actor=f"K{i % 3}",
                subject=f"iss-{i}",
                municipality_code="131016",
                details={"kind": "juminhyo", "fee_yen": "200"},
                at=AT + timedelta(seconds=i),
            )
            db.commit()
    yield engine
    engine.dispose()


def sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_a_clean_chain_verifies(engine: Engine) -> None:
    report = verify_chain(engine)
    assert report.ok, report.problems
    assert (report.entries, report.last_seq, report.head_seq) == (ENTRIES, ENTRIES, ENTRIES)


def test_an_updated_field_is_named_by_its_seq(engine: Engine) -> None:
    sql(engine, "UPDATE audit_entries SET actor = 'K9' WHERE seq = 4")
    report = verify_chain(engine)
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "altered")]


def test_an_updated_detail_is_named_by_its_seq(engine: Engine) -> None:
    sql(
        engine,
        """UPDATE audit_entries SET details = '{"fee_yen":"0","kind":"juminhyo"}' WHERE seq = 7""",
    )
    assert verify_chain(engine).bad_seqs() == [7]


def test_a_deleted_middle_entry_is_named_by_its_seq(engine: Engine) -> None:
    sql(engine, "DELETE FROM audit_entries WHERE seq = 5")
    report = verify_chain(engine)
    assert [(p.seq, p.kind) for p in report.problems] == [(5, "missing")]


def test_a_deleted_last_entry_is_named_as_truncated(engine: Engine) -> None:
    sql(engine, f"DELETE FROM audit_entries WHERE seq = {ENTRIES}")
    report = verify_chain(engine)
    assert [(p.seq, p.kind) for p in report.problems] == [(ENTRIES, "truncated")]


def test_two_swapped_entries_are_both_named(engine: Engine) -> None:
    # Swap everything but the seq of entries 3 and 8 (their order in the log).
    sql(engine, "UPDATE audit_entries SET seq = -3 WHERE seq = 3")
    sql(engine, "UPDATE audit_entries SET seq = 3 WHERE seq = 8")
    sql(engine, "UPDATE audit_entries SET seq = 8 WHERE seq = -3")
    report = verify_chain(engine)
    assert report.bad_seqs() == [3, 8]


def test_a_replaced_entry_with_a_recomputed_hash_breaks_the_next_link(engine: Engine) -> None:
    from server.audit.log import EntryFields, entry_hash

    with Session(engine) as db:
        row = db.get_one(AuditEntry, 6)
    forged = EntryFields(
        at=row.at,
        event=row.event,
        actor="K-forged",
        subject=row.subject,
        municipality_code=row.municipality_code,
        details=row.details,
    )
    sql(
        engine,
        "UPDATE audit_entries SET actor = 'K-forged', entry_hash = :h WHERE seq = 6",
        h=entry_hash(6, row.prev_hash, forged),
    )
    report = verify_chain(engine)
    assert [(p.seq, p.kind) for p in report.problems] == [(7, "chain_broken")]


def test_a_cut_tail_with_a_rewound_head_is_caught_only_by_an_anchor(
    engine: Engine, tmp_path: Path
) -> None:
    generate_key(tmp_path / "anchor.pem", tmp_path / "anchor.pub")
    anchors_file = tmp_path / "anchors.jsonl"
    write_anchor(engine, load_private_key(tmp_path / "anchor.pem"), anchors_file, now=AT)
    with engine.connect() as conn:
        hash_8 = conn.execute(
            sa.text("SELECT entry_hash FROM audit_entries WHERE seq = 8")
        ).scalar()
    sql(engine, "DELETE FROM audit_entries WHERE seq > 8")
    sql(engine, "UPDATE audit_chain_head SET seq = 8, head_hash = :h", h=hash_8)
    assert verify_chain(engine).ok  # the chain alone cannot tell
    anchors = read_anchors(anchors_file, load_public_key(tmp_path / "anchor.pub"))
    report = verify_chain(engine, anchors)
    assert [(p.seq, p.kind) for p in report.problems] == [(9, "truncated")]


def test_a_forged_anchor_line_is_refused(engine: Engine, tmp_path: Path) -> None:
    generate_key(tmp_path / "anchor.pem", tmp_path / "anchor.pub")
    anchors_file = tmp_path / "anchors.jsonl"
    write_anchor(engine, load_private_key(tmp_path / "anchor.pem"), anchors_file, now=AT)
    anchors_file.write_text(anchors_file.read_text().replace('"seq": 10', '"seq": 3'))
    with pytest.raises(AnchorFileError, match="signature"):
        read_anchors(anchors_file, load_public_key(tmp_path / "anchor.pub"))


def test_the_cli_exits_nonzero_and_prints_the_seq(
    engine: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--database-url", database_url]) == 0
    assert f"OK: {ENTRIES} entries" in capsys.readouterr().out
    sql(engine, "DELETE FROM audit_entries WHERE seq = 2")
    assert main(["audit", "verify", "--database-url", database_url]) == 1
    assert "seq 2: missing" in capsys.readouterr().out


def test_the_cli_lists_by_event_prefix_actor_and_time(
    engine: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Session(engine) as db:
        append(db, event="auth.success", actor="K1", subject="sha256:00", at=AT)
        db.commit()
    base = ["audit", "list", "--database-url", database_url, "--json"]
    assert main([*base, "--event", "auth"]) == 0
    assert [
        line.count('"event": "auth.success"') for line in capsys.readouterr().out.splitlines()
    ] == [1]
    assert main([*base, "--event", "issuance", "--actor", "K1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len([i for i in range(1, ENTRIES + 1) if i % 3 == 1])
    since = (AT + timedelta(seconds=9)).isoformat()
    assert main([*base, "--event", "issuance", "--since", since]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_the_cli_anchors_the_head_and_verify_uses_the_anchors(
    engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, pub, anchors = tmp_path / "a.pem", tmp_path / "a.pub", tmp_path / "anchors.jsonl"
    assert main(["audit", "keygen", "--private", str(key), "--public", str(pub)]) == 0
    base = ["--database-url", database_url]
    assert (
        main(["audit", "anchor", *base, "--anchor-key", str(key), "--anchors", str(anchors)]) == 0
    )
    check = ["audit", "verify", *base, "--anchors", str(anchors), "--anchor-public-key", str(pub)]
    assert main(check) == 0
    assert "1 anchors hold" in capsys.readouterr().out
    sql(engine, f"DELETE FROM audit_entries WHERE seq = {ENTRIES}")
    sql(engine, f"UPDATE audit_chain_head SET seq = {ENTRIES - 1}")
    assert main(check) == 1
    assert f"seq {ENTRIES}: truncated" in capsys.readouterr().out
