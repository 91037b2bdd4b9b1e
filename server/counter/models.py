"""The reception of a counter copy (らくらく窓口), created when the counter printer put it out."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.db.models import UtcDateTime


class CounterReception(SQLModel, table=True):
    """One counter copy waiting for (or past) the clerk: its 受付番号 and what became of it.

    The copy itself is the issuance row (state AWAITING_HANDOVER, then ISSUED or VOIDED); this
    row holds what only a counter copy has: the number printed on the 受付票, the deadline after
    which the sweeper voids an uncollected copy, and who handed it over."""

    __tablename__ = "counter_receptions"
    __table_args__ = (
        sa.UniqueConstraint(
            "municipality_code", "reception_number", name="uq_counter_receptions_number"
        ),
    )

    issuance_id: str = Field(primary_key=True, foreign_key="issuances.id")
    municipality_code: str = Field(foreign_key="municipalities.code")
    reception_number: str  # 受付番号: YYYYMMDD-NNNN, per municipality and day
    terminal_id: str
    printed_at: datetime = Field(sa_type=UtcDateTime)
    collect_by: datetime = Field(sa_type=UtcDateTime, index=True)  # voided unless handed over
    handed_over_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    handed_over_by: str | None = None  # staff id
