"""Tables of the audit log, through sqlmodel (created by migration 0007a).

- `audit_entries`: one row per audited action. `seq` counts from 1 without gaps; each row
  carries the hash of the row before it (`prev_hash`) and its own (`entry_hash`), so that a
  changed, removed or reordered row breaks the chain at a seq anyone can name.
- `audit_chain_head`: exactly one row, the last seq and its hash. Every append updates it in
  the caller's transaction; the row lock (PostgreSQL) or the write lock (SQLite) on it is what
  makes appends from many threads and processes one chain.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.db.models import UtcDateTime

GENESIS_HASH = "0" * 64
"""The `prev_hash` of entry 1, and the head's hash while the log is empty."""

HEAD_ROW_ID = 1


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entries"
    __table_args__ = (
        sa.Index("ix_audit_entries_event_at", "event", "at"),
        sa.Index("ix_audit_entries_subject", "subject"),
        sa.Index("ix_audit_entries_municipality_at", "municipality_code", "at"),
    )

    seq: int = Field(
        primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    at: datetime = Field(sa_type=UtcDateTime)
    event: str = Field(max_length=64)
    actor: str = Field(max_length=128)
    subject: str = Field(max_length=128)
    municipality_code: str = Field(max_length=6)
    details: str  # canonical JSON of a str -> str mapping
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    __tablename__ = "audit_chain_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=sa.BigInteger)
    head_hash: str = Field(max_length=64)
