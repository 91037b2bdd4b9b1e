"""Reading the audit log: entries matching filters, oldest first, for `konbini audit list`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.audit.models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    """Every field set narrows the list; `event` matches a name or a dotted prefix ("auth")."""

    event: str = ""
    actor: str = ""
    subject: str = ""
    municipality_code: str = ""
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int = 0
    limit: int = 100

    def __post_init__(self) -> None:
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("since/until must be timezone-aware")
        if self.limit < 1:
            raise ValueError("limit must be at least 1")


def list_entries(engine: Engine, where: AuditFilter) -> Iterator[AuditEntry]:
    query = select(AuditEntry).where(col(AuditEntry.seq) > where.after_seq)
    if where.event:
        query = query.where(
            sa.or_(
                col(AuditEntry.event) == where.event,
                col(AuditEntry.event).startswith(where.event + ".", autoescape=True),
            )
        )
    if where.actor:
        query = query.where(col(AuditEntry.actor) == where.actor)
    if where.subject:
        query = query.where(col(AuditEntry.subject) == where.subject)
    if where.municipality_code:
        query = query.where(col(AuditEntry.municipality_code) == where.municipality_code)
    if where.since is not None:
        query = query.where(col(AuditEntry.at) >= where.since)
    if where.until is not None:
        query = query.where(col(AuditEntry.at) < where.until)
    query = query.order_by(col(AuditEntry.seq)).limit(where.limit)
    with Session(engine) as db:
        yield from db.exec(query).all()
