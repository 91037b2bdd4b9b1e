"""The settlement ledger (精算台帳): double-entry, integer yen, fed by issued and voided copies.

Whose books: the issuance center keeps one journal of what flows between the parties of a copy
— the resident's fee, the kiosk operator (コンビニ事業者), the municipality and J-LIS/BCL. Every
line names an account and carries the municipality, operator and certificate kind it concerns;
debits are positive, credits negative, and every entry sums to zero, so the whole ledger does.

An issued copy with fee F (交付手数料), commission C = 117 (委託手数料) and BCL fee B = 180
(証明発行機能利用料, BCL-backed municipalities only) is one entry:

    Dr operator_receivable   F − C   the operator collected F at the kiosk and keeps C
    Dr commission_expense    C
    Cr fee_income            F
    Dr bcl_fee_expense       B       accrued monthly …
    Cr bcl_fee_accrued       B       … and billed once at fiscal-year end (bcl_billing)

A counter copy (らくらく窓口, `Channel.COUNTER`) is paid to the clerk when it is handed over: no
operator, no commission, the fee is in the municipality's own till (`server.settlement.fees`
says why the BCL fee still applies):

    Dr counter_cash          F       窓口収納: collected at the town hall's counter
    Cr fee_income            F
    Dr bcl_fee_expense       B / Cr bcl_fee_accrued B, as above

Its entry carries channel "counter", so statistics count it as a counter copy.

The yearly contribution (運営負担金) is posted by the close of the first month of the fiscal
year in which the municipality takes part; the BCL fees accrued are moved to `bcl_fee_billed`
by the close of March. A correction (a wrongly issued copy taken back) is a new entry that
mirrors the original with opposite signs, posted in the open month: a closed month is never
written again. A voided copy never reaches the journal; it goes to the void log only.

The two hooks `post_issued_copy` and `record_voided_copy` run inside the issuance desk's
transaction, so money moves exactly when the state does, and a retried request (the same
idempotency key reaches the same issuance) can never post twice: `entry_key` is unique.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any, Protocol, TypeVarTuple

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from server.bcl.records import IssuingBackend, MunicipalityClass
from server.db.models import Municipality, SettlementEntry
from server.issuance.states import Channel, IssuanceState
from server.settlement.contribution import contribution_for_year
from server.settlement.counter_hours import DEFAULT_COUNTER_HOURS, CounterHours
from server.settlement.errors import (
    CopyNotSettled,
    EarlierMonthOpen,
    MonthNotOver,
    UnbalancedEntry,
)
from server.settlement.fees import CopyCharges, charges_for_copy
from server.settlement.models import (
    CounterHoursSetting,
    LedgerEntry,
    LedgerLine,
    LedgerPeriod,
    OperatorReportedCount,
    VoidedCopy,
)
from server.settlement.periods import Month


class Account(StrEnum):
    OPERATOR_RECEIVABLE = "operator_receivable"  # コンビニ事業者未収金: to be remitted
    FEE_INCOME = "fee_income"  # 交付手数料収入
    COMMISSION_EXPENSE = "commission_expense"  # 委託手数料
    BCL_FEE_EXPENSE = "bcl_fee_expense"  # 証明発行機能利用料
    BCL_FEE_ACCRUED = "bcl_fee_accrued"  # 未払利用料, accrued month by month
    BCL_FEE_BILLED = "bcl_fee_billed"  # 請求済利用料, billed at fiscal-year end
    CONTRIBUTION_EXPENSE = "contribution_expense"  # 運営負担金
    CONTRIBUTION_PAYABLE = "contribution_payable"  # 未払運営負担金
    COUNTER_CASH = "counter_cash"  # 窓口収納: counter copies, paid to the clerk


class EntryKind(StrEnum):
    COPY_ISSUED = "copy_issued"
    COPY_REVERSED = "copy_reversed"  # correction of a wrongly issued copy
    CONTRIBUTION = "contribution"
    BCL_BILLING = "bcl_billing"


@dataclass(frozen=True)
class Posting:
    account: Account
    amount_yen: int  # debit positive, credit negative


def balanced(postings: Sequence[Posting]) -> tuple[Posting, ...]:
    """The non-zero postings, after checking they sum to zero."""
    if sum(p.amount_yen for p in postings) != 0:
        raise UnbalancedEntry(f"postings do not balance: {postings!r}")
    return tuple(p for p in postings if p.amount_yen != 0)


# Few distinct fees exist (one per municipality and kind), so the desk builds each entry's
# postings once: they are immutable.
@lru_cache(maxsize=1024)
def copy_postings(charges: CopyCharges, channel: Channel = Channel.KIOSK) -> tuple[Posting, ...]:
    counter = channel is Channel.COUNTER
    return balanced(
        (
            Posting(Account.COUNTER_CASH, charges.fee_yen if counter else 0),
            Posting(Account.OPERATOR_RECEIVABLE, 0 if counter else charges.operator_remits_yen),
            Posting(Account.COMMISSION_EXPENSE, charges.commission_yen),
            Posting(Account.FEE_INCOME, -charges.fee_yen),
            Posting(Account.BCL_FEE_EXPENSE, charges.bcl_fee_yen),
            Posting(Account.BCL_FEE_ACCRUED, -charges.bcl_fee_yen),
        )
    )


def reversed_postings(postings: Sequence[Posting]) -> tuple[Posting, ...]:
    return balanced([Posting(p.account, -p.amount_yen) for p in postings])


def contribution_postings(amount_yen: int) -> tuple[Posting, ...]:
    return balanced(
        (
            Posting(Account.CONTRIBUTION_EXPENSE, amount_yen),
            Posting(Account.CONTRIBUTION_PAYABLE, -amount_yen),
        )
    )


def bcl_billing_postings(accrued_yen: int) -> tuple[Posting, ...]:
    """Move the fiscal year's accrued BCL fees (a credit balance) to the bill."""
    return balanced(
        (
            Posting(Account.BCL_FEE_ACCRUED, accrued_yen),
            Posting(Account.BCL_FEE_BILLED, -accrued_yen),
        )
    )


def copy_key(issuance_id: str) -> str:
    return f"copy:{issuance_id}"


def reversal_key(issuance_id: str) -> str:
    return f"reversal:{issuance_id}"


def contribution_key(municipality_code: str, fiscal_year: int) -> str:
    return f"contribution:{municipality_code}:{fiscal_year}"


def bcl_billing_key(municipality_code: str, fiscal_year: int) -> str:
    return f"bcl-billing:{municipality_code}:{fiscal_year}"


@dataclass(frozen=True)
class CopyFacts:
    """What the ledger needs to know about one issued copy."""

    issuance_id: str
    municipality_code: str
    operator_id: str
    kiosk_id: str
    kiosk_municipality_code: str
    certificate_kind: str
    issued_at: datetime
    fee_yen: int
    backend: IssuingBackend
    channel: Channel = Channel.KIOSK  # a counter copy owes no commission


@dataclass(frozen=True)
class EntryDraft:
    """A journal entry before it is written: one builder serves the desk and bulk loaders."""

    entry_key: str
    kind: EntryKind
    month: Month
    occurred_at: datetime
    municipality_code: str
    postings: tuple[Posting, ...]
    operator_id: str = ""
    kiosk_id: str = ""
    certificate_kind: str = ""
    issuance_id: str | None = None
    reverses_entry_id: int | None = None
    copies: int = 0
    after_hours: bool = False
    other_municipality: bool = False
    memo: str = ""
    channel: str = Channel.KIOSK.value

    def __post_init__(self) -> None:
        balanced(self.postings)
        if self.kind in (EntryKind.COPY_ISSUED, EntryKind.COPY_REVERSED) and not self.issuance_id:
            raise ValueError("a copy entry must trace to its issuance")

    def entry_row(self, *, posted_at: datetime, entry_id: int | None = None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "entry_key": self.entry_key,
            "kind": self.kind.value,
            "month": str(self.month),
            "posted_at": posted_at,
            "occurred_at": self.occurred_at,
            "municipality_code": self.municipality_code,
            "operator_id": self.operator_id,
            "kiosk_id": self.kiosk_id,
            "certificate_kind": self.certificate_kind,
            "issuance_id": self.issuance_id,
            "reverses_entry_id": self.reverses_entry_id,
            "copies": self.copies,
            "after_hours": self.after_hours,
            "other_municipality": self.other_municipality,
            "memo": self.memo,
            "channel": self.channel,
        }
        if entry_id is not None:
            row["id"] = entry_id
        return row

    def line_rows(self, entry_id: int) -> list[dict[str, Any]]:
        return [
            {
                "entry_id": entry_id,
                "account": p.account.value,
                "amount_yen": p.amount_yen,
                "month": str(self.month),
                "municipality_code": self.municipality_code,
                "operator_id": self.operator_id,
                "certificate_kind": self.certificate_kind,
            }
            for p in self.postings
        ]


def copy_issued_draft(facts: CopyFacts, *, month: Month, hours: CounterHours) -> EntryDraft:
    charges = charges_for_copy(fee_yen=facts.fee_yen, backend=facts.backend, channel=facts.channel)
    return _copy_draft(facts, charges, month=month, hours=hours)


def _copy_draft(
    facts: CopyFacts, charges: CopyCharges, *, month: Month, hours: CounterHours
) -> EntryDraft:
    return EntryDraft(
        entry_key=copy_key(facts.issuance_id),
        kind=EntryKind.COPY_ISSUED,
        month=month,
        occurred_at=facts.issued_at,
        municipality_code=facts.municipality_code,
        postings=copy_postings(charges, facts.channel),
        operator_id=facts.operator_id,
        kiosk_id=facts.kiosk_id,
        certificate_kind=facts.certificate_kind,
        issuance_id=facts.issuance_id,
        copies=1,
        after_hours=hours.is_after_hours(facts.issued_at),
        other_municipality=facts.kiosk_municipality_code != facts.municipality_code,
        channel=facts.channel.value,
    )


_ENTRIES: sa.Table = LedgerEntry.__table__  # type: ignore[attr-defined]
_LINES: sa.Table = LedgerLine.__table__  # type: ignore[attr-defined]
_PERIODS: sa.Table = LedgerPeriod.__table__  # type: ignore[attr-defined]
_REGISTER: sa.Table = SettlementEntry.__table__  # type: ignore[attr-defined]

# The statements that write the journal are built once, with bound parameters, so each is
# compiled once per database: building and compiling one cost several times running it.
# Parameters: an entry's are named as its columns (`EntryDraft.entry_row`), its i-th line's
# `account_<i>` and `amount_yen_<i>` (the dimensions a line repeats come from the entry), a
# register row's `register_<column>`.
_ENTRY_COLUMNS = tuple(c.name for c in _ENTRIES.c if not c.primary_key)
_REGISTER_COLUMNS = tuple(c.name for c in _REGISTER.c if not c.primary_key)
_LINE_DIMENSIONS = ("month", "municipality_code", "operator_id", "certificate_kind")


def _bind(table: sa.Table, column: str, name: str | None = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name or column, type_=table.c[column].type)


def _posted_as_wanted(month: sa.BindParameter[Any]) -> sa.ColumnElement[bool]:
    """The usual case of `open_month`, as a condition on the period row: `month` is open and
    later than every closed month."""
    closed = _PERIODS.alias("closed")
    return sa.and_(
        _PERIODS.c.month == month,
        _PERIODS.c.closed_at.is_(None),
        ~sa.exists().where(closed.c.closed_at.is_not(None), closed.c.month >= month),
    )


# The same shared lock as `_period_closed_at` (rendered on PostgreSQL only).
_OPEN_AS_WANTED = (
    sa.select(_PERIODS.c.month)
    .where(_posted_as_wanted(_bind(_PERIODS, "month")))
    .with_for_update(read=True, of=_PERIODS)
)
_REGISTER_INSERT = sa.insert(_REGISTER).values(
    {c: _bind(_REGISTER, c, f"register_{c}") for c in _REGISTER_COLUMNS}
)


@cache
def _entry_insert(*, as_wanted: bool) -> sa.Insert:
    """The entry's INSERT, returning its id and what its lines repeat of it. `as_wanted`: only
    if its month is as `open_month` would want it in the usual case, taking the period row's
    shared lock; otherwise it inserts nothing and returns no row."""
    values = [_bind(_ENTRIES, c) for c in _ENTRY_COLUMNS]
    if as_wanted:
        month = values[_ENTRY_COLUMNS.index("month")]
        source = (
            sa.select(*values)
            .where(_posted_as_wanted(month))
            .with_for_update(read=True, of=_PERIODS)
        )
        insert = sa.insert(_ENTRIES).from_select(_ENTRY_COLUMNS, source)
    else:
        insert = sa.insert(_ENTRIES).values(dict(zip(_ENTRY_COLUMNS, values, strict=True)))
    return insert.returning(_ENTRIES.c.id, *(_ENTRIES.c[d] for d in _LINE_DIMENSIONS))


_LINE_COLUMNS = ("entry_id", "account", "amount_yen", *_LINE_DIMENSIONS)


def _lines_source(count: int, repeated: Sequence[Any]) -> sa.Select[Any] | sa.CompoundSelect[Any]:
    """The rows of `count` lines, in order: the i-th line's account and amount are bound as
    `account_<i>` and `amount_yen_<i>`; `repeated` gives its entry id and the dimensions it
    repeats. (A SELECT per line, not one multi-row VALUES: SQLAlchemy caches no statement
    that holds one, and would compile it for every entry.)"""
    entry_id, *dimensions = repeated
    rows = [
        sa.select(
            entry_id,
            _bind(_LINES, "account", f"account_{i}"),
            _bind(_LINES, "amount_yen", f"amount_yen_{i}"),
            *dimensions,
        )
        for i in range(count)
    ]
    return rows[0] if count == 1 else sa.union_all(*rows)


@cache
def _lines_insert(count: int) -> sa.Insert:
    """`count` lines of the entry `entry_id` in one INSERT."""
    repeated = [_bind(_LINES, "entry_id"), *(_bind(_LINES, d) for d in _LINE_DIMENSIONS)]
    return sa.insert(_LINES).from_select(_LINE_COLUMNS, _lines_source(count, repeated))


@cache
def _journal_in_one(count: int, *, as_wanted: bool, register: bool) -> sa.Select[Any]:
    """PostgreSQL: the entry with its `count` lines (and the register row) in one statement,
    by data-modifying WITHs; it returns the entry's id, or no row if `as_wanted` found the
    month not so (nothing of the journal is written then; the register row is)."""
    entry = _entry_insert(as_wanted=as_wanted).cte("entry")
    query = sa.select(entry.c.id)
    if count:
        repeated = [entry.c.id, *(entry.c[d] for d in _LINE_DIMENSIONS)]
        lines = sa.insert(_LINES).from_select(_LINE_COLUMNS, _lines_source(count, repeated))
        query = query.add_cte(lines.cte("lines"))
    if register:
        query = query.add_cte(_REGISTER_INSERT.cte("register"))
    return query


def _write_journal(
    conn: sa.Connection,
    draft: EntryDraft,
    *,
    posted_at: datetime,
    as_wanted: bool = False,
    register: dict[str, Any] | None = None,
) -> int | None:
    """Write `draft` (with `register`, the register row's values, before it); its id, or None
    when `as_wanted` and its month is not open as wanted (only the register row is written)."""
    params = draft.entry_row(posted_at=posted_at)
    for i, posting in enumerate(draft.postings):
        params[f"account_{i}"] = posting.account.value
        params[f"amount_yen_{i}"] = posting.amount_yen
    if register is not None:
        params.update({f"register_{c}": v for c, v in register.items()})
    count = len(draft.postings)
    if conn.dialect.name == "postgresql":  # one round trip
        one = _journal_in_one(count, as_wanted=as_wanted, register=register is not None)
        found = conn.execute(one, params).scalar()
        return None if found is None else int(found)
    if register is not None:
        conn.execute(_REGISTER_INSERT, params)
    found = conn.execute(_entry_insert(as_wanted=as_wanted), params).scalar()
    if found is None:
        return None
    if count:
        params["entry_id"] = found
        conn.execute(_lines_insert(count), params)
    return int(found)


def write_entry(db: Session, draft: EntryDraft, *, posted_at: datetime) -> int:
    """Write the entry and all its lines: one statement on PostgreSQL, two elsewhere, whatever
    the number of lines; the entry's id comes back from its INSERT, nothing is read back.
    Returns the entry's id."""
    entry_id = _write_journal(db.connection(), draft, posted_at=posted_at)
    assert entry_id is not None
    return entry_id


_Ts = TypeVarTuple("_Ts")


def rows(db: Session, stmt: sa.Select[*_Ts]) -> Sequence[Row[*_Ts]]:
    """Run a plain SQLAlchemy select in the session's transaction (wide GROUP BYs, which
    sqlmodel's `select` does not type beyond four columns)."""
    return db.connection().execute(stmt).all()


# -- periods ---------------------------------------------------------------------------------


def _period_closed_at(db: Session, month: Month, *, for_update: bool) -> datetime | None:
    """Lock the period row (shared for a posting, exclusive for a close) and read it.

    The row is created on first use. On PostgreSQL the locks order a close after every posting
    already in flight for that month, and a posting after the close; SQLite writers are
    serialised by BEGIN IMMEDIATE anyway.
    """
    stmt = select(LedgerPeriod.month, LedgerPeriod.closed_at).where(
        LedgerPeriod.month == str(month)
    )
    locked = stmt.with_for_update(read=not for_update)
    for _ in range(3):
        row = db.exec(locked).first()
        if row is not None:
            return row[1]
        try:
            with db.begin_nested():
                db.add(LedgerPeriod(month=str(month)))
        except IntegrityError:
            continue  # a concurrent transaction created it: read it again
    raise RuntimeError(f"ledger period {month} could neither be read nor created")


def latest_closed_month(db: Session) -> Month | None:
    latest = db.exec(
        select(func.max(LedgerPeriod.month)).where(col(LedgerPeriod.closed_at).is_not(None))
    ).one()
    return None if latest is None else Month.parse(latest)


def open_month(db: Session, wanted: Month) -> Month:
    """The month a posting dated `wanted` goes to: that month, or the first open one after the
    closed months (corrections of a closed month land in the open month)."""
    # The usual case in one statement: the wanted month's row exists, is open and is later
    # than every closed month. It takes the same shared lock as `_period_closed_at`.
    if db.connection().execute(_OPEN_AS_WANTED, {"month": str(wanted)}).first() is not None:
        return wanted
    latest = latest_closed_month(db)
    target = wanted if latest is None or wanted > latest else latest.next()
    while _period_closed_at(db, target, for_update=False) is not None:
        target = target.next()
    return target


# -- the hooks the issuance desk calls -------------------------------------------------------


_HOURS_COLUMNS = (
    CounterHoursSetting.opens,
    CounterHoursSetting.closes,
    CounterHoursSetting.weekdays,
    CounterHoursSetting.closed_on_holidays,
)


def _hours(opens: str | None, closes: str, weekdays: str, closed_on_holidays: bool) -> CounterHours:
    if opens is None:  # no row of its own (an outer join's NULLs)
        return DEFAULT_COUNTER_HOURS
    return CounterHours.from_text(
        opens=opens, closes=closes, weekdays=weekdays, closed_on_holidays=closed_on_holidays
    )


def counter_hours_of(db: Session, municipality_code: str) -> CounterHours:
    row = db.get(CounterHoursSetting, municipality_code)
    if row is None:
        return DEFAULT_COUNTER_HOURS
    return _hours(row.opens, row.closes, row.weekdays, row.closed_on_holidays)


@dataclass(frozen=True)
class PostingTerms:
    """What posting a copy needs of its municipality: its issuing backend (BCL fee) and its
    counter hours (after-hours kiosk copies)."""

    backend: IssuingBackend
    hours: CounterHours


# The columns `posting_terms` reads, for a caller that reads them with its own row.
POSTING_TERMS_COLUMNS = (col(Municipality.backend), *(col(c) for c in _HOURS_COLUMNS))


def join_posting_terms(
    query: sa.Select[*tuple[Any, ...]], left: Any, municipality_code: Any
) -> sa.Select[*tuple[Any, ...]]:
    """`query` with `POSTING_TERMS_COLUMNS` of the municipality `municipality_code` (a column
    of `left`, an entity of the query) added after its own columns: a caller that reads the
    issuance in the transaction that posts it reads these with it, instead of
    `post_issued_copy` reading them by another statement."""
    return (
        query.add_columns(*POSTING_TERMS_COLUMNS)
        .join_from(left, Municipality, col(Municipality.code) == municipality_code)
        .join_from(
            Municipality,
            CounterHoursSetting,
            col(CounterHoursSetting.municipality_code) == col(Municipality.code),
            isouter=True,
        )
    )


def posting_terms(values: Sequence[Any]) -> PostingTerms:
    """The terms from the values of `POSTING_TERMS_COLUMNS`, in that order."""
    backend, *hours = values
    return PostingTerms(IssuingBackend(backend), _hours(*hours))


_TERMS_OF = (
    sa.select(*POSTING_TERMS_COLUMNS)
    .outerjoin(
        CounterHoursSetting, col(CounterHoursSetting.municipality_code) == col(Municipality.code)
    )
    .where(col(Municipality.code) == sa.bindparam("code"))
)


def _terms_of(db: Session, municipality_code: str) -> PostingTerms:
    """What a copy's posting needs of its municipality, in one statement."""
    found = db.connection().execute(_TERMS_OF, {"code": municipality_code}).all()
    assert len(found) == 1, f"municipality {municipality_code!r} is not registered"
    return posting_terms(found[0])


class LedgerCopy(Protocol):
    """What the ledger reads of a copy it posts or logs as void: an `Issuance`, or the columns
    of its row as a caller read them without the ORM."""

    @property
    def id(self) -> str: ...
    @property
    def issue_number(self) -> str | None: ...
    @property
    def municipality_code(self) -> str: ...
    @property
    def operator_id(self) -> str: ...
    @property
    def kiosk_id(self) -> str: ...
    @property
    def kiosk_municipality_code(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def fee_yen(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def page_count(self) -> int | None: ...
    @property
    def void_reason(self) -> str | None: ...


def post_issued_copy(
    db: Session, issuance: LedgerCopy, now: datetime, terms: PostingTerms | None = None
) -> SettlementEntry:
    """Record an issued copy: its register row and its journal entry, in the caller's
    transaction (the one that moves the issuance to ISSUED). `terms`: its municipality's, read
    by the caller in this transaction; else read here. The issuance row must be in the database
    already (read or flushed): the rows that refer to it are written at once, by plain
    statements, while the caller's own ORM changes wait for its flush.

    Returns the register row as written, not added to the session and without its id (nothing
    is read back): callers take the copy's money from it."""
    assert issuance.issue_number is not None
    if terms is None:
        terms = _terms_of(db, issuance.municipality_code)
    channel = Channel(issuance.channel)
    facts = CopyFacts(
        issuance_id=issuance.id,
        municipality_code=issuance.municipality_code,
        operator_id=issuance.operator_id,
        kiosk_id=issuance.kiosk_id,
        kiosk_municipality_code=issuance.kiosk_municipality_code,
        certificate_kind=issuance.kind,
        issued_at=now,
        fee_yen=issuance.fee_yen,
        backend=terms.backend,
        channel=channel,
    )
    charges = charges_for_copy(fee_yen=issuance.fee_yen, backend=terms.backend, channel=channel)
    month = Month.of(now)
    register: dict[str, Any] = {
        "issuance_id": issuance.id,
        "issue_number": issuance.issue_number,
        "municipality_code": issuance.municipality_code,
        "month": str(month),
        "kind": issuance.kind,
        "issued_at": now,
        "kiosk_id": issuance.kiosk_id,
        "operator_id": issuance.operator_id,
        "kiosk_municipality_code": issuance.kiosk_municipality_code,
        "fee_yen": charges.fee_yen,
        "commission_yen": charges.commission_yen,
        "bcl_fee_yen": charges.bcl_fee_yen,
        "sheets": issuance.page_count or 1,
    }
    # Plain statements, no ORM object: the register row, then the entry in its own month if
    # that is open as `open_month` wants it in the usual case (one statement on PostgreSQL).
    draft = _copy_draft(facts, charges, month=month, hours=terms.hours)
    conn = db.connection()
    if _write_journal(conn, draft, posted_at=now, as_wanted=True, register=register) is None:
        # Dated in a closed month, or the month's first posting (its period row is made here).
        write_entry(db, replace(draft, month=open_month(db, month)), posted_at=now)
    return SettlementEntry.model_construct(**register)


def record_voided_copy(
    db: Session, issuance: LedgerCopy, now: datetime, *, from_state: str
) -> None:
    """Log a void (cancelled, expired or failed print): no money, no journal entry."""
    # A kiosk takes the fee when printing starts; a counter copy is paid only at hand-over.
    paid = from_state == IssuanceState.PRINTING.value and issuance.channel == Channel.KIOSK.value
    db.add(
        VoidedCopy(
            issuance_id=issuance.id,
            issue_number=issuance.issue_number,
            month=str(Month.of(now)),
            voided_at=now,
            municipality_code=issuance.municipality_code,
            operator_id=issuance.operator_id,
            kiosk_id=issuance.kiosk_id,
            certificate_kind=issuance.kind,
            from_state=from_state,
            reason=issuance.void_reason or "",
            refunded_yen=issuance.fee_yen if paid else 0,
        )
    )


# -- corrections -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    entry_id: int
    month: str
    refunded_yen: int  # the fee handed back to the resident
    newly_posted: bool


def correct_copy(db: Session, issuance_id: str, *, reason: str, now: datetime) -> Correction:
    """Take back a wrongly issued copy: the mirror of its entry, posted in the open month.

    Idempotent: correcting the same copy again returns the first correction."""
    original = db.exec(
        select(LedgerEntry).where(LedgerEntry.entry_key == copy_key(issuance_id))
    ).first()
    if original is None or original.id is None:
        raise CopyNotSettled("no issued copy with that id is in the ledger")
    lines = db.exec(select(LedgerLine).where(LedgerLine.entry_id == original.id)).all()
    postings = tuple(Posting(Account(ln.account), ln.amount_yen) for ln in lines)
    refund = -sum(p.amount_yen for p in postings if p.account is Account.FEE_INCOME)
    done = db.exec(
        select(LedgerEntry).where(LedgerEntry.entry_key == reversal_key(issuance_id))
    ).first()
    if done is not None and done.id is not None:
        return Correction(done.id, done.month, refund, newly_posted=False)
    draft = EntryDraft(
        entry_key=reversal_key(issuance_id),
        kind=EntryKind.COPY_REVERSED,
        month=open_month(db, Month.of(now)),
        occurred_at=original.occurred_at,
        municipality_code=original.municipality_code,
        postings=reversed_postings(postings),
        operator_id=original.operator_id,
        kiosk_id=original.kiosk_id,
        certificate_kind=original.certificate_kind,
        issuance_id=issuance_id,
        reverses_entry_id=original.id,
        copies=-1,
        after_hours=original.after_hours,
        other_municipality=original.other_municipality,
        memo=reason,
        channel=original.channel,
    )
    entry_id = write_entry(db, draft, posted_at=now)
    return Correction(entry_id, str(draft.month), refund, newly_posted=True)


# -- the monthly close -----------------------------------------------------------------------


@dataclass(frozen=True)
class MonthClose:
    month: str
    closed_at: datetime
    newly_closed: bool
    municipality_codes: tuple[str, ...]
    operator_ids: tuple[str, ...]
    entry_count: int
    line_count: int
    debit_total_yen: int
    digest: str


@dataclass(frozen=True)
class _Totals:
    entry_count: int
    line_count: int
    debit_total_yen: int
    digest: str
    municipality_codes: frozenset[str] = field(default_factory=frozenset)
    operator_ids: frozenset[str] = field(default_factory=frozenset)


def _month_totals(db: Session, month: Month) -> _Totals:
    """What the month holds, grouped as the statements read it, with a digest over it all."""
    ln = LedgerLine
    grouped = rows(
        db,
        sa.select(
            col(ln.municipality_code),
            col(ln.operator_id),
            col(ln.certificate_kind),
            col(ln.account),
            func.sum(ln.amount_yen),
            func.count(),
            # Debits apart: a group's sum nets them against credits, and a digest over both
            # also catches a change that moves yen between two lines of one group.
            func.sum(sa.case((col(ln.amount_yen) > 0, ln.amount_yen), else_=0)),
        )
        .where(col(ln.month) == str(month))
        .group_by(ln.municipality_code, ln.operator_id, ln.certificate_kind, ln.account)
        .order_by(ln.municipality_code, ln.operator_id, ln.certificate_kind, ln.account),
    )
    entries, copies = db.exec(
        select(func.count(), func.coalesce(func.sum(LedgerEntry.copies), 0)).where(
            LedgerEntry.month == str(month)
        )
    ).one()
    h = hashlib.sha256(f"{month}|entries={entries}|copies={copies}\n".encode())
    line_count = debit = 0
    munis: set[str] = set()
    operators: set[str] = set()
    for muni, op, kind, account, amount, n, debits in grouped:
        h.update(f"{muni}|{op}|{kind}|{account}|{int(amount)}|{n}|{int(debits)}\n".encode())
        line_count += int(n)
        debit += int(debits)
        munis.add(muni)
        if op:
            operators.add(op)
    return _Totals(
        int(entries), line_count, debit, h.hexdigest(), frozenset(munis), frozenset(operators)
    )


def participating(db: Session, month: Month) -> list[Municipality]:
    """Municipalities taking part in `month`: joined on or before its last day."""
    return list(
        db.exec(
            select(Municipality)
            .where(col(Municipality.joined_on) <= month.last_day)
            .order_by(col(Municipality.code))
        ).all()
    )


def _entry_exists(db: Session, key: str) -> bool:
    return db.exec(select(LedgerEntry.id).where(LedgerEntry.entry_key == key)).first() is not None


def _post_contributions(db: Session, month: Month, now: datetime) -> None:
    fy = month.fiscal_year
    for muni in participating(db, month):
        key = contribution_key(muni.code, fy)
        if _entry_exists(db, key):
            continue
        amount = contribution_for_year(
            MunicipalityClass(muni.municipality_class),
            IssuingBackend(muni.backend),
            joined_on=muni.joined_on,
            fiscal_year=fy,
        )
        if amount == 0:
            continue
        draft = EntryDraft(
            entry_key=key,
            kind=EntryKind.CONTRIBUTION,
            month=month,
            occurred_at=month.start(),
            municipality_code=muni.code,
            postings=contribution_postings(amount),
            memo=f"運営負担金 {fy}年度",
        )
        write_entry(db, draft, posted_at=now)


def _post_bcl_billing(db: Session, month: Month, now: datetime) -> None:
    """At fiscal-year end, bill each municipality the BCL fees still accrued."""
    fy = month.fiscal_year
    ln = LedgerLine
    balances = db.exec(
        select(ln.municipality_code, func.sum(ln.amount_yen))
        .where(ln.account == Account.BCL_FEE_ACCRUED.value)
        .where(ln.month <= str(month))
        .group_by(ln.municipality_code)
        .order_by(ln.municipality_code)
    ).all()
    for code, balance in balances:
        accrued = -int(balance)  # a credit balance: what is owed
        key = bcl_billing_key(code, fy)
        if accrued == 0 or _entry_exists(db, key):
            continue
        draft = EntryDraft(
            entry_key=key,
            kind=EntryKind.BCL_BILLING,
            month=month,
            occurred_at=month.end(),
            municipality_code=code,
            postings=bcl_billing_postings(accrued),
            memo=f"証明発行機能利用料 {fy}年度 請求",
        )
        write_entry(db, draft, posted_at=now)


def _reporting_operators(db: Session, month: Month) -> set[str]:
    return set(
        db.exec(
            select(OperatorReportedCount.operator_id)
            .where(OperatorReportedCount.month == str(month))
            .distinct()
        ).all()
    )


def close_month(db: Session, month: Month, *, now: datetime) -> MonthClose:
    """Close `month` for every municipality and operator; idempotent once closed.

    The month must have ended (Japan time) and every earlier month must be closed. The close
    posts what falls due in it (contributions, and in March the BCL bill), then records the
    month's totals and their digest; from then on nothing is posted in it."""
    if now < month.end():
        raise MonthNotOver(f"{month} has not ended yet", metadata={"month": str(month)})
    closed_at = _period_closed_at(db, month, for_update=True)
    if closed_at is None:
        earlier = db.exec(
            select(LedgerPeriod.month)
            .where(LedgerPeriod.month < str(month))
            .where(col(LedgerPeriod.closed_at).is_(None))
            .order_by(col(LedgerPeriod.month))
        ).first()
        if earlier is not None:
            raise EarlierMonthOpen(
                f"close {earlier} first: months close in order", metadata={"month": earlier}
            )
        _post_contributions(db, month, now)
        if month.month == 3:
            _post_bcl_billing(db, month, now)
        db.flush()
    totals = _month_totals(db, month)
    period = db.get(LedgerPeriod, str(month))
    assert period is not None
    newly = closed_at is None
    if newly:
        period.closed_at = now
        period.entry_count = totals.entry_count
        period.line_count = totals.line_count
        period.debit_total_yen = totals.debit_total_yen
        period.digest = totals.digest
        db.add(period)
    assert period.closed_at is not None
    munis = totals.municipality_codes | {m.code for m in participating(db, month)}
    operators = totals.operator_ids | _reporting_operators(db, month)
    return MonthClose(
        month=str(month),
        closed_at=period.closed_at,
        newly_closed=newly,
        municipality_codes=tuple(sorted(munis)),
        operator_ids=tuple(sorted(operators)),
        entry_count=period.entry_count,
        line_count=period.line_count,
        debit_total_yen=period.debit_total_yen,
        digest=period.digest,
    )


def closed_month_intact(db: Session, month: Month) -> bool:
    """Whether a closed month still holds exactly what it held when it was closed."""
    period = db.get(LedgerPeriod, str(month))
    if period is None or period.closed_at is None:
        return False
    return _month_totals(db, month).digest == period.digest


def unbalanced_entries(db: Session) -> list[int]:
    """Ids of entries whose lines do not sum to zero (always empty unless the data is damaged)."""
    ln = LedgerLine
    rows = db.exec(
        select(ln.entry_id).group_by(col(ln.entry_id)).having(func.sum(ln.amount_yen) != 0)
    ).all()
    return [int(r) for r in rows]


def trial_balance(db: Session) -> dict[Account, int]:
    """Balance of every account over the whole ledger; they sum to zero."""
    ln = LedgerLine
    rows = db.exec(select(ln.account, func.sum(ln.amount_yen)).group_by(ln.account)).all()
    return {Account(a): int(s) for a, s in rows}
