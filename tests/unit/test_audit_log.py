"""append(): entries commit and roll back with the caller's transaction, chained by hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.audit.log import EntryFields, append, entry_hash
from server.audit.models import GENESIS_HASH, AuditChainHead, AuditEntry
from server.db.engine import make_engine, upgrade

AT = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    upgrade(engine)
    return engine


def entries(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as db:
        return list(db.exec(select(AuditEntry).order_by(col(AuditEntry.seq))))


def test_entries_are_written_when_the_caller_commits_and_chain_from_genesis(engine: Engine) -> None:
    with Session(engine) as db:
        append(db, event="auth.success", actor="K1", subject="sha256:ab", at=AT)
        append(
            db,
            event="issuance.issued",
            actor="K1",
            subject="iss-1",
            municipality_code="131016",
            details={"kind": "juminhyo", "fee_yen": "200"},
            at=AT + timedelta(seconds=1),
        )
        assert entries(engine) == []  # nothing before the commit
        db.commit()
    first, second = entries(engine)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.entry_hash
    fields = EntryFields(
        at=second.at,
        event=second.event,
        actor=second.actor,
        subject=second.subject,
        municipality_code=second.municipality_code,
        details=second.details,
    )
    assert entry_hash(2, first.entry_hash, fields) == second.entry_hash
    assert second.details == '{"fee_yen":"200","kind":"juminhyo"}'
    with Session(engine) as db:
        head = db.exec(select(AuditChainHead)).one()
    assert (head.seq, head.head_hash) == (2, second.entry_hash)


def test_one_entry_per_transaction_is_hashed_by_the_database_as_python_hashes_it(
    engine: Engine,
) -> None:
    """A transaction with one entry chains and hashes it in SQL (the usual case, two statements
    on SQLite); the hash is the one `entry_hash` computes, Japanese text and all."""
    details: tuple[dict[str, str], ...] = (
        {"reason": "交付抑止"},
        {},
        {"note": '髙﨑 1-2-3 \\ "quoted"'},
    )
    for n, detail in enumerate(details):
        with Session(engine) as db:
            append(db, event="auth.refused", actor=f"K{n}", details=detail, at=AT)
            db.commit()
    written = entries(engine)
    prev = GENESIS_HASH
    for n, entry in enumerate(written, start=1):
        fields = EntryFields(
            at=entry.at,
            event=entry.event,
            actor=entry.actor,
            subject=entry.subject,
            municipality_code=entry.municipality_code,
            details=entry.details,
        )
        assert (entry.seq, entry.prev_hash) == (n, prev)
        assert entry.entry_hash == entry_hash(n, prev, fields)
        prev = entry.entry_hash
    assert written[0].details == '{"reason":"交付抑止"}'
    with Session(engine) as db:
        head = db.exec(select(AuditChainHead)).one()
    assert (head.seq, head.head_hash) == (len(details), prev)


def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap(engine: Engine) -> None:
    with Session(engine) as db:
        append(db, event="issuance.voided", actor="K1", subject="iss-1", at=AT)
        db.rollback()
    with Session(engine) as db:
        append(db, event="issuance.voided", actor="K1", subject="iss-2", at=AT)
        # closed without commit
    with Session(engine) as db:
        append(db, event="issuance.voided", actor="K1", subject="iss-3", at=AT)
        db.commit()
    assert [(e.seq, e.subject) for e in entries(engine)] == [(1, "iss-3")]


def test_an_entry_made_in_a_rolled_back_savepoint_is_dropped_with_it(engine: Engine) -> None:
    with Session(engine) as db:
        append(db, event="staff.suppression_set", actor="S1", subject="outer", at=AT)
        nested = db.begin_nested()
        append(db, event="staff.suppression_set", actor="S1", subject="inner", at=AT)
        nested.rollback()
        db.commit()
    assert [e.subject for e in entries(engine)] == ["outer"]


def test_the_entry_fails_with_the_action_when_the_commit_fails(engine: Engine) -> None:
    with Session(engine) as db:
        append(db, event="issuance.issued", actor="K1", subject="dup", at=AT)
        db.commit()
    with Session(engine) as db:
        append(db, event="issuance.issued", actor="K1", subject="x", at=AT)
        # The action violates a constraint at flush: the audit entry must not survive it.
        db.add(AuditChainHead(id=1, seq=0, head_hash=GENESIS_HASH))
        with pytest.raises(sa.exc.IntegrityError):
            db.commit()
    assert [e.subject for e in entries(engine)] == ["dup"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "Auth Success"}, "dotted"),
        ({"event": "auth"}, "dotted"),
        ({"details": {"address": "x"}}, "personal data"),
        ({"details": {"kind": 1}}, "str to str"),
        ({"municipality_code": "1310160"}, "6 characters"),
    ],
)
def test_misuse_is_refused_at_the_call(
    engine: Engine, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"event": "auth.success", "actor": "K1", "at": AT} | kwargs
    with Session(engine) as db, pytest.raises(ValueError, match=message):
        append(db, **args)  # type: ignore[arg-type]


def test_an_overlong_actor_is_kept_as_its_digest(engine: Engine) -> None:
    with Session(engine) as db:
        append(db, event="auth.refused", actor="K" * 500, at=AT)
        db.commit()
    [entry] = entries(engine)
    assert entry.actor.startswith("sha256:") and len(entry.actor) <= 128


def test_on_a_core_connection_the_entry_is_written_in_its_transaction(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        append(conn, event="bcl.generation_committed", actor="bcl:131016", subject="g:1", at=AT)
        tx.rollback()
    with engine.begin() as conn:
        append(conn, event="bcl.generation_committed", actor="bcl:131016", subject="g:2", at=AT)
    assert [(e.seq, e.subject) for e in entries(engine)] == [(1, "g:2")]
