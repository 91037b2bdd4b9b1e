"""Appending to the audit log inside the caller's own transaction.

`append` stages an entry on the caller's `Session`; the entries are written when that session
commits (a `before_commit` hook), after the caller's own changes are flushed. So an action and
its audit entry commit or roll back together, and the chain head — the one row every append
must lock — is locked only for the last moment of the transaction. Taking it earlier would
hold every audited transaction of the center in line behind one another for their whole
length, and could deadlock against the row locks the action itself takes.

An entry rolled back with a savepoint (`begin_nested`) is dropped with it.

What goes in an entry: `event` a dotted name ("auth.success", "issuance.issued"); `actor` who
acted (kiosk id, staff id, client id); `subject` an opaque id (issuance id, generation id, the
SHA-256 prefix of a card serial). Never a name, address, birth date, 個人番号 or 住民票コード:
the log is kept for years and read by auditors, and it must not become a copy of the register.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from server.audit.models import HEAD_ROW_ID, AuditChainHead, AuditEntry

_EVENT = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_MAX_EVENT = 64
_MAX_ID = 128
_MAX_DETAIL = 512

# Keys that would mean personal data is being written; refused outright.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {
        "name",
        "family_name",
        "given_name",
        "kana",
        "address",
        "birth_date",
        "birthdate",
        "individual_number",
        "my_number",
        "juminhyo_code",
        "pin",
    }
)

_PENDING = "konbini.audit.pending"
_hooks_lock = threading.Lock()
_hooks_installed = False


@dataclass(frozen=True)
class EntryFields:
    """The fields of an entry that its hash covers (besides seq and prev_hash)."""

    at: datetime
    event: str
    actor: str
    subject: str
    municipality_code: str
    details: str  # canonical JSON

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("audit time must be timezone-aware")


def canonical_details(details: Mapping[str, str] | None) -> str:
    """The one JSON text of a details mapping: sorted keys, no spaces, UTF-8 as is."""
    items = dict(details or {})
    for key, value in items.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError("audit details are a mapping of str to str")
        if key.lower() in _FORBIDDEN_DETAIL_KEYS:
            raise ValueError(f"audit details must not carry personal data ({key!r})")
        if len(value) > _MAX_DETAIL:
            raise ValueError(f"audit detail {key!r} is longer than {_MAX_DETAIL} characters")
    return json.dumps(items, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(seq: int, prev_hash: str, fields: EntryFields) -> str:
    """SHA-256 over the canonical encoding of (seq, prev_hash, fields), as lower-case hex."""
    return hashlib.sha256(_HASH_PREFIX + _canonical(seq, prev_hash, fields)).hexdigest()


_HASH_PREFIX = b"konbini-audit\n"
_CHAINED = '"prev_hash":"","seq":0,'  # the two chained fields, adjacent in sorted key order


def _hash_parts(fields: EntryFields) -> tuple[str, str, str]:
    """The hashed bytes around prev_hash and seq, so that the database can compute the hash
    once it holds the head: prefix + prev_hash + middle + str(seq) + suffix."""
    text = (_HASH_PREFIX + _canonical(0, "", fields)).decode("utf-8")
    # Inside a JSON string a quote is escaped, so this text occurs only as the keys themselves.
    before, after = text.split(_CHAINED)
    return before + '"prev_hash":"', '","seq":', "," + after


def _canonical(seq: int, prev_hash: str, fields: EntryFields) -> bytes:
    payload = {
        "v": 1,
        "seq": seq,
        "prev_hash": prev_hash,
        "at": fields.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "event": fields.event,
        "actor": fields.actor,
        "subject": fields.subject,
        "municipality_code": fields.municipality_code,
        "details": fields.details,
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return encoded.encode("utf-8")


def opaque_id(value: str) -> str:
    """A stable id for something that must not be logged as is (a card serial): SHA-256 prefix."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:24]


def _bounded(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"audit {what} must be a str")
    # An overlong id (say a kiosk id a caller made up) is still recorded, as its digest.
    return value if len(value) <= _MAX_ID else opaque_id(value)


def append(
    db: Session | sa.Connection,
    *,
    event: str,
    actor: str,
    subject: str = "",
    municipality_code: str = "",
    details: Mapping[str, str] | None = None,
    at: datetime,
) -> None:
    """Record `event` in the audit log when (and only if) `db`'s transaction commits.

    On a `Session` the entry is staged and written at commit. On a Core `Connection` (the bulk
    paths that have no session) it is written at once: call it last before the commit, since
    from then on the transaction holds the chain head.
    """
    if len(event) > _MAX_EVENT or not _EVENT.match(event):
        raise ValueError(f"audit event must be a dotted lower-case name, not {event!r}")
    if len(municipality_code) > 6:
        raise ValueError("municipality_code is at most 6 characters")
    fields = EntryFields(
        at=at.astimezone(UTC),
        event=event,
        actor=_bounded(actor, "actor"),
        subject=_bounded(subject, "subject"),
        municipality_code=municipality_code,
        details=canonical_details(details),
    )
    if isinstance(db, sa.Connection):
        write_entries(db, [fields])
        return
    _install_hooks()
    # Remember the innermost transaction, so that a savepoint rolled back drops its entries.
    # (None: no transaction begun yet; the one that autobegins is the outermost.)
    tx = db.get_nested_transaction() or db.get_transaction()
    db.info.setdefault(_PENDING, []).append((tx, fields))


def _install_hooks() -> None:
    # Once per process, on the Session class: a listener per session instance would cost more
    # than the append itself. Sessions without pending entries pay a dict lookup per commit.
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        sa_event.listen(OrmSession, "before_commit", _write_pending)
        sa_event.listen(OrmSession, "after_soft_rollback", _drop_rolled_back)
        sa_event.listen(OrmSession, "after_transaction_end", _drop_on_end)
        _hooks_installed = True


def _write_pending(db: Any) -> None:
    pending: list[tuple[SessionTransaction | None, EntryFields]] = db.info.pop(_PENDING, [])
    if not pending:
        return
    db.flush()  # the action's own row locks first, the chain head last
    write_entries(db.connection(), [fields for _tx, fields in pending])


_HEAD = AuditChainHead.__table__  # type: ignore[attr-defined]
# UPDATE first: it takes the head's lock (SQLite: the write lock) before anything is read, so
# two writers can never both read the same head.
_ADVANCE = (
    sa.update(_HEAD)
    .where(_HEAD.c.id == HEAD_ROW_ID)
    .values(seq=_HEAD.c.seq + sa.bindparam("count", type_=sa.BigInteger))
    .returning(_HEAD.c.seq, _HEAD.c.head_hash)
)
_SET_HASH = (
    sa.update(_HEAD)
    .where(_HEAD.c.id == HEAD_ROW_ID)
    .values(head_hash=sa.bindparam("new_head_hash"))
)
_ENTRIES: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]
_INSERT = sa.insert(_ENTRIES)


# PostgreSQL, one entry: lock the head, advance it, hash and insert the entry in one statement
# (one round trip). The head is read FOR UPDATE, so under READ COMMITTED a writer that waited
# for the lock chains onto the head the other one committed, never onto the one it first saw.
_APPEND_ONE = sa.text(
    """
WITH old AS (
    SELECT seq, head_hash FROM audit_chain_head WHERE id = :head_id FOR UPDATE
), head AS (
    UPDATE audit_chain_head AS h
    SET seq = old.seq + 1,
        head_hash = encode(sha256(convert_to(
            :before || old.head_hash || :middle || (old.seq + 1)::text || :after, 'UTF8')), 'hex')
    FROM old
    WHERE h.id = :head_id
    RETURNING h.seq, h.head_hash, old.head_hash AS prev_hash
)
INSERT INTO audit_entries
    (seq, at, event, actor, subject, municipality_code, details, prev_hash, entry_hash)
SELECT head.seq, :at, :event, :actor, :subject, :municipality_code, :details,
       head.prev_hash, head.head_hash
FROM head
"""
).bindparams(sa.bindparam("at", type_=_ENTRIES.c.at.type))


def _append_one_with(conn: sa.Connection, statement: sa.TextClause, fields: EntryFields) -> None:
    """Run a one-entry append (`statement` chains and hashes the entry from the head row)."""
    before, middle, after = _hash_parts(fields)
    written = conn.execute(
        statement,
        {
            "head_id": HEAD_ROW_ID,
            "before": before,
            "middle": middle,
            "after": after,
            "at": fields.at,
            "event": fields.event,
            "actor": fields.actor,
            "subject": fields.subject,
            "municipality_code": fields.municipality_code,
            "details": fields.details,
        },
    )
    if written.rowcount != 1:
        raise RuntimeError("audit_chain_head has no row: run the migrations (0007a)")


def _append_one_in_postgres(conn: sa.Connection, fields: EntryFields) -> None:
    _append_one_with(conn, _APPEND_ONE, fields)


# SQLite, one entry: the entry is chained onto the head and hashed by one INSERT ... SELECT
# (sha256 is a function this module registers on the connection: SQLite has none), and the head
# advanced to it by one UPDATE; two statements instead of three. The writing transaction holds
# SQLite's write lock from its BEGIN IMMEDIATE, so nothing moves the head between the two.
_SQLITE_SHA256 = "konbini_sha256_hex"
_APPEND_ONE_SQLITE = sa.text(
    f"""
INSERT INTO audit_entries
    (seq, at, event, actor, subject, municipality_code, details, prev_hash, entry_hash)
SELECT seq + 1, :at, :event, :actor, :subject, :municipality_code, :details, head_hash,
       {_SQLITE_SHA256}(:before || head_hash || :middle || (seq + 1) || :after)
FROM audit_chain_head WHERE id = :head_id
"""
).bindparams(sa.bindparam("at", type_=_ENTRIES.c.at.type))
_ADVANCE_TO_ENTRY_SQLITE = sa.text(
    """
UPDATE audit_chain_head
SET seq = seq + 1,
    head_hash = (SELECT entry_hash FROM audit_entries WHERE seq = audit_chain_head.seq + 1)
WHERE id = :head_id
"""
)


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _append_one_in_sqlite(conn: sa.Connection, fields: EntryFields) -> None:
    pooled = conn.connection  # its `info` lives as long as the database connection
    if _SQLITE_SHA256 not in pooled.info:
        dbapi = pooled.dbapi_connection
        assert dbapi is not None
        dbapi.create_function(_SQLITE_SHA256, 1, _sha256_hex, deterministic=True)
        pooled.info[_SQLITE_SHA256] = True
    _append_one_with(conn, _APPEND_ONE_SQLITE, fields)
    conn.execute(_ADVANCE_TO_ENTRY_SQLITE, {"head_id": HEAD_ROW_ID})


def write_entries(conn: sa.Connection, entries: list[EntryFields]) -> None:
    """Chain `entries` onto the head and write them; the caller's transaction commits them."""
    if len(entries) == 1 and conn.dialect.name == "postgresql":
        _append_one_in_postgres(conn, entries[0])
        return
    if len(entries) == 1 and conn.dialect.name == "sqlite":
        _append_one_in_sqlite(conn, entries[0])
        return
    row = conn.execute(_ADVANCE, {"count": len(entries)}).one_or_none()
    if row is None:
        raise RuntimeError("audit_chain_head has no row: run the migrations (0007a)")
    seq = row.seq - len(entries)
    prev = row.head_hash
    rows = []
    for fields in entries:
        seq += 1
        digest = entry_hash(seq, prev, fields)
        rows.append(
            {
                "seq": seq,
                "at": fields.at,
                "event": fields.event,
                "actor": fields.actor,
                "subject": fields.subject,
                "municipality_code": fields.municipality_code,
                "details": fields.details,
                "prev_hash": prev,
                "entry_hash": digest,
            }
        )
        prev = digest
    if conn.dialect.name == "postgresql":
        # The entries and the new head in one statement (a data-modifying WITH): one round
        # trip after the head's lock instead of two. SQLite has no such WITH, and no round trips.
        written = sa.insert(_ENTRIES).values(rows).cte("written")
        conn.execute(_SET_HASH.add_cte(written), {"new_head_hash": prev})
        return
    conn.execute(_INSERT, rows)
    conn.execute(_SET_HASH, {"new_head_hash": prev})


def _drop_rolled_back(db: Any, previous_transaction: SessionTransaction) -> None:
    pending: list[tuple[SessionTransaction | None, EntryFields]] = db.info.get(_PENDING, [])
    if pending:
        db.info[_PENDING] = [(tx, f) for tx, f in pending if not _within(tx, previous_transaction)]


def _drop_on_end(db: Any, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit writing them (closed, rolled back).
    if transaction.parent is None:
        db.info.pop(_PENDING, None)


def _within(tx: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False
