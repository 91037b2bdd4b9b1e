"""Tables of the settlement ledger, through sqlmodel (created by migration 0003).

- `ledger_periods`: one row per month; a closed month is never written again, and the close
  keeps the digest of what it held so that anyone can check it was not.
- `ledger_entries` / `ledger_lines`: the double-entry journal (仕訳). An entry is one business
  event (a copy issued, a copy corrected, a year's contribution, the BCL bill) and traces to
  its issuance; its lines are signed integer yen (debit positive, credit negative) summing to
  zero. Lines repeat the entry's month, municipality, operator and certificate kind so that a
  monthly close over a million lines is one indexed scan, not a join.
- `voided_copies`: the void log. A voided copy costs nothing, so it is here and nowhere else.
- `operator_reported_counts`: what a kiosk operator says it printed, for reconciliation.
- `counter_hours`: a municipality's own counter hours, for the 時間外 statistics.

"Not applicable" dimensions (the operator of a contribution entry) are stored as "", not NULL,
so that grouping and digests treat them as one value on every backend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.db.models import UtcDateTime


def _utc(**kw: Any) -> Any:
    return Field(sa_type=UtcDateTime, **kw)


class LedgerPeriod(SQLModel, table=True):
    """A settlement month (YYYY-MM, Asia/Tokyo); open until `closed_at` is set."""

    __tablename__ = "ledger_periods"

    month: str = Field(primary_key=True, max_length=7)
    closed_at: datetime | None = _utc(default=None)
    entry_count: int = 0
    line_count: int = 0
    debit_total_yen: int = Field(default=0, sa_type=sa.BigInteger)
    digest: str = ""  # sha256 of the month's totals at close


class LedgerEntry(SQLModel, table=True):
    """One journal entry (仕訳); `entry_key` makes posting the same event twice impossible."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.CheckConstraint(
            "kind NOT IN ('copy_issued', 'copy_reversed') OR issuance_id IS NOT NULL",
            name="ck_ledger_entries_copy_traces_issuance",
        ),
        sa.Index("ix_ledger_entries_month_muni", "month", "municipality_code"),
        sa.Index("ix_ledger_entries_kind_occurred", "kind", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_key: str = Field(unique=True)
    kind: str
    month: str = Field(foreign_key="ledger_periods.month")  # the period it is posted in
    posted_at: datetime = _utc()
    occurred_at: datetime = _utc()  # when the copy was issued (for a correction: the original)
    municipality_code: str = Field(foreign_key="municipalities.code")
    operator_id: str = ""
    kiosk_id: str = ""
    certificate_kind: str = ""
    issuance_id: str | None = Field(default=None, foreign_key="issuances.id", index=True)
    reverses_entry_id: int | None = Field(default=None, foreign_key="ledger_entries.id")
    copies: int = 0  # +1 issued, -1 corrected, 0 otherwise
    after_hours: bool = False  # 時間外
    other_municipality: bool = False  # 他市区町村: printed at a kiosk elsewhere
    memo: str = ""
    # "kiosk", or "counter" for a らくらく窓口 copy (paid at the counter, no commission).
    channel: str = Field(default="kiosk", sa_column_kwargs={"server_default": "kiosk"})


class LedgerLine(SQLModel, table=True):
    """One side of an entry: signed yen on one account (debit +, credit −)."""

    __tablename__ = "ledger_lines"
    __table_args__ = (sa.Index("ix_ledger_lines_month_muni", "month", "municipality_code"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="ledger_entries.id", index=True)
    account: str
    amount_yen: int = Field(sa_type=sa.BigInteger)
    month: str
    municipality_code: str
    operator_id: str = ""
    certificate_kind: str = ""


class VoidedCopy(SQLModel, table=True):
    """The void log: a reservation or print that never became an issued copy."""

    __tablename__ = "voided_copies"
    __table_args__ = (sa.Index("ix_voided_copies_month_muni", "month", "municipality_code"),)

    id: int | None = Field(default=None, primary_key=True)
    issuance_id: str = Field(foreign_key="issuances.id", unique=True)
    issue_number: str | None = None  # set once the copy went to the printer
    month: str
    voided_at: datetime = _utc()
    municipality_code: str
    operator_id: str
    kiosk_id: str
    certificate_kind: str
    from_state: str  # reserved | printing
    reason: str
    refunded_yen: int  # the fee handed back (paid only once printing started)


class OperatorReportedCount(SQLModel, table=True):
    """A kiosk operator's own count of copies for one month, municipality and kind."""

    __tablename__ = "operator_reported_counts"

    operator_id: str = Field(primary_key=True, foreign_key="operators.operator_id")
    month: str = Field(primary_key=True)
    municipality_code: str = Field(primary_key=True)
    certificate_kind: str = Field(primary_key=True)
    copies: int
    submitted_at: datetime = _utc()


class CounterHoursSetting(SQLModel, table=True):
    """A municipality's counter hours (窓口開庁時間); absent → weekdays 8:30–17:15."""

    __tablename__ = "counter_hours"

    municipality_code: str = Field(primary_key=True, foreign_key="municipalities.code")
    opens: str  # HH:MM, Asia/Tokyo
    closes: str
    weekdays: str  # ISO weekday digits, "12345" = Monday to Friday
    closed_on_holidays: bool = True
