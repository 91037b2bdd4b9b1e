"""Statements read from the ledger: monthly per municipality and per operator, the fiscal-year
report, and the statistics a municipality and the national operator look at.

Everything here is derived from journal lines and entries of closed or open months; nothing is
stored twice. A statement of a closed month is final (its month is never written again), one
of an open month is provisional (速報) and says so.

The yen figures come from account balances: fees = −fee_income, commission =
commission_expense, BCL fees = bcl_fee_expense, net remittance = operator_receivable (what the
operator passes on: fees less commission), contribution = contribution_expense, BCL billed =
−bcl_fee_billed. Copies and the 時間外 / 他市区町村 counts come from the entries (+1 per issued
copy, −1 per corrected one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from server.db.models import Municipality, Operator
from server.issuance.states import Channel
from server.settlement.errors import MunicipalityNotFound, OperatorNotFound
from server.settlement.ledger import Account, EntryKind, rows
from server.settlement.models import LedgerEntry, LedgerLine, LedgerPeriod, VoidedCopy
from server.settlement.periods import Month, fiscal_year_months


@dataclass(frozen=True)
class Cell:
    """One municipality × operator × certificate kind in one period."""

    municipality_code: str
    operator_id: str
    certificate_kind: str
    copies: int = 0
    fees_yen: int = 0  # 交付手数料 collected at the kiosk
    commission_yen: int = 0  # 委託手数料 kept by the operator
    bcl_fee_yen: int = 0  # 証明発行機能利用料 accrued
    net_remittance_yen: int = 0  # fees − commission, passed on to the municipality
    after_hours_copies: int = 0  # 時間外
    other_municipality_copies: int = 0  # 他市区町村
    counter_copies: int = 0  # らくらく窓口: printed at the town hall, paid at its counter

    def plus(self, other: Cell) -> Cell:
        return replace(
            self,
            copies=self.copies + other.copies,
            fees_yen=self.fees_yen + other.fees_yen,
            commission_yen=self.commission_yen + other.commission_yen,
            bcl_fee_yen=self.bcl_fee_yen + other.bcl_fee_yen,
            net_remittance_yen=self.net_remittance_yen + other.net_remittance_yen,
            after_hours_copies=self.after_hours_copies + other.after_hours_copies,
            other_municipality_copies=self.other_municipality_copies
            + other.other_municipality_copies,
            counter_copies=self.counter_copies + other.counter_copies,
        )


def total(cells: Iterable[Cell], **labels: str) -> Cell:
    """The sum of `cells`, labelled with `labels` (municipality_code, operator_id, …)."""
    out = Cell(
        labels.get("municipality_code", ""),
        labels.get("operator_id", ""),
        labels.get("certificate_kind", ""),
    )
    for c in cells:
        out = out.plus(c)
    return out


def group(cells: Iterable[Cell], by: str) -> tuple[Cell, ...]:
    """Cells summed per value of one label, in label order."""
    groups: dict[str, list[Cell]] = defaultdict(list)
    for c in cells:
        groups[getattr(c, by)].append(c)
    return tuple(total(cs, **{by: key}) for key, cs in sorted(groups.items()))


@dataclass(frozen=True)
class MunicipalityStatement:
    """月次精算書 of one municipality."""

    month: str
    municipality_code: str
    municipality_name: str
    backend: str
    closed_at: datetime | None  # None: the month is still open (provisional)
    cells: tuple[Cell, ...]
    contribution_yen: int = 0  # 運営負担金 posted this month
    bcl_billed_yen: int = 0  # BCL fees billed this month (fiscal-year end)
    voided_copies: int = 0  # from the void log: never charged

    @property
    def total(self) -> Cell:
        return total(self.cells, municipality_code=self.municipality_code)

    @property
    def total_cost_yen(self) -> int:
        """What the month cost the municipality: commission + BCL fees + contribution."""
        t = self.total
        return t.commission_yen + t.bcl_fee_yen + self.contribution_yen


@dataclass(frozen=True)
class OperatorStatement:
    """月次精算書 of a kiosk operator: what it collected, kept and must remit, per municipality."""

    month: str
    operator_id: str
    operator_name: str
    closed_at: datetime | None
    cells: tuple[Cell, ...]

    @property
    def total(self) -> Cell:
        return total(self.cells, operator_id=self.operator_id)

    @property
    def by_municipality(self) -> tuple[Cell, ...]:
        return group(self.cells, "municipality_code")


@dataclass(frozen=True)
class MonthTotals:
    """One month of a municipality's fiscal year (or the year's sum)."""

    month: str
    copies: int = 0
    fees_yen: int = 0
    commission_yen: int = 0
    bcl_fee_yen: int = 0
    net_remittance_yen: int = 0
    contribution_yen: int = 0
    bcl_billed_yen: int = 0
    closed: bool = False

    @property
    def total_cost_yen(self) -> int:
        return self.bcl_fee_yen + self.contribution_yen + self.commission_yen

    @property
    def balance_yen(self) -> int:
        """Fees received less total cost: negative when the service costs more than it earns."""
        return self.fees_yen - self.total_cost_yen


@dataclass(frozen=True)
class Count:
    key: str
    copies: int


@dataclass(frozen=True)
class FiscalYearReport:
    """年度報告: a municipality's year, month by month, with its total cost against its fees."""

    municipality_code: str
    municipality_name: str
    fiscal_year: int
    backend: str
    municipality_class: str
    months: tuple[MonthTotals, ...]
    copies_by_kind: tuple[Count, ...]

    @property
    def total(self) -> MonthTotals:
        t = MonthTotals(month=f"FY{self.fiscal_year}", closed=all(m.closed for m in self.months))
        for m in self.months:
            t = replace(
                t,
                copies=t.copies + m.copies,
                fees_yen=t.fees_yen + m.fees_yen,
                commission_yen=t.commission_yen + m.commission_yen,
                bcl_fee_yen=t.bcl_fee_yen + m.bcl_fee_yen,
                net_remittance_yen=t.net_remittance_yen + m.net_remittance_yen,
                contribution_yen=t.contribution_yen + m.contribution_yen,
                bcl_billed_yen=t.bcl_billed_yen + m.bcl_billed_yen,
            )
        return t


@dataclass(frozen=True)
class MonthPoint:
    month: str
    copies: int
    participating_municipalities: int


@dataclass(frozen=True)
class Statistics:
    """Copies of a fiscal year, nationally (municipality_code "") or for one municipality."""

    fiscal_year: int
    municipality_code: str
    months: tuple[MonthPoint, ...]
    by_kind: tuple[Count, ...]
    by_operator: tuple[Count, ...]
    copies: int
    after_hours_copies: int
    other_municipality_copies: int
    counter_copies: int = 0  # らくらく窓口 copies (channel "counter"), among `copies`

    @property
    def after_hours_share(self) -> float:
        """時間外: share of copies issued while the municipality's counter was closed."""
        return self.after_hours_copies / self.copies if self.copies else 0.0

    @property
    def other_municipality_share(self) -> float:
        """他市区町村: share of copies printed at kiosks in another municipality."""
        return self.other_municipality_copies / self.copies if self.copies else 0.0


# -- reading the ledger ----------------------------------------------------------------------

_CELL_ACCOUNTS = (
    Account.FEE_INCOME,
    Account.COMMISSION_EXPENSE,
    Account.BCL_FEE_EXPENSE,
    Account.OPERATOR_RECEIVABLE,
)
_COPY_KINDS = (EntryKind.COPY_ISSUED.value, EntryKind.COPY_REVERSED.value)


def _apply(cell: Cell, account: str, amount: int) -> Cell:
    if account == Account.FEE_INCOME:
        return replace(cell, fees_yen=cell.fees_yen - amount)
    if account == Account.COMMISSION_EXPENSE:
        return replace(cell, commission_yen=cell.commission_yen + amount)
    if account == Account.BCL_FEE_EXPENSE:
        return replace(cell, bcl_fee_yen=cell.bcl_fee_yen + amount)
    if account == Account.OPERATOR_RECEIVABLE:
        return replace(cell, net_remittance_yen=cell.net_remittance_yen + amount)
    return cell


def month_cells(
    db: Session,
    months: Sequence[Month],
    *,
    municipality_code: str | None = None,
    operator_id: str | None = None,
) -> tuple[Cell, ...]:
    """Copies and yen per municipality × operator × kind over `months` (posting months)."""
    names = [str(m) for m in months]
    ln, en = LedgerLine, LedgerEntry
    money = (
        sa.select(
            col(ln.municipality_code),
            col(ln.operator_id),
            col(ln.certificate_kind),
            col(ln.account),
            func.sum(ln.amount_yen),
        )
        .where(col(ln.month).in_(names))
        .where(col(ln.account).in_([a.value for a in _CELL_ACCOUNTS]))
        .group_by(ln.municipality_code, ln.operator_id, ln.certificate_kind, ln.account)
    )
    copies = (
        sa.select(
            col(en.municipality_code),
            col(en.operator_id),
            col(en.certificate_kind),
            func.sum(en.copies),
            func.sum(sa.case((col(en.after_hours), en.copies), else_=0)),
            func.sum(sa.case((col(en.other_municipality), en.copies), else_=0)),
            func.sum(sa.case((col(en.channel) == Channel.COUNTER.value, en.copies), else_=0)),
        )
        .where(col(en.month).in_(names))
        .where(col(en.kind).in_(_COPY_KINDS))
        .group_by(en.municipality_code, en.operator_id, en.certificate_kind)
    )
    if municipality_code is not None:
        money = money.where(col(ln.municipality_code) == municipality_code)
        copies = copies.where(col(en.municipality_code) == municipality_code)
    if operator_id is not None:
        money = money.where(col(ln.operator_id) == operator_id)
        copies = copies.where(col(en.operator_id) == operator_id)
    cells: dict[tuple[str, str, str], Cell] = {}
    for muni, op, kind, account, amount in rows(db, money):
        key = (muni, op, kind)
        cells[key] = _apply(cells.get(key) or Cell(*key), account, int(amount))
    for muni, op, kind, n, after, other, counter in rows(db, copies):
        key = (muni, op, kind)
        cells[key] = replace(
            cells.get(key) or Cell(*key),
            copies=int(n),
            after_hours_copies=int(after),
            other_municipality_copies=int(other),
            counter_copies=int(counter),
        )
    return tuple(cells[k] for k in sorted(cells))


def _account_sum(
    db: Session, months: Sequence[Month], municipality_code: str, account: Account
) -> dict[str, int]:
    ln = LedgerLine
    found = db.exec(
        select(ln.month, func.sum(ln.amount_yen))
        .where(col(ln.month).in_([str(m) for m in months]))
        .where(ln.municipality_code == municipality_code)
        .where(ln.account == account.value)
        .group_by(col(ln.month))
    ).all()
    return {m: int(s) for m, s in found}


def closed_at(db: Session, month: Month) -> datetime | None:
    period = db.get(LedgerPeriod, str(month))
    return None if period is None else period.closed_at


def _municipality(db: Session, code: str) -> Municipality:
    muni = db.get(Municipality, code)
    if muni is None:
        raise MunicipalityNotFound(f"no municipality {code}", metadata={"code": code})
    return muni


def municipality_statement(db: Session, code: str, month: Month) -> MunicipalityStatement:
    muni = _municipality(db, code)
    contribution = _account_sum(db, [month], code, Account.CONTRIBUTION_EXPENSE)
    billed = _account_sum(db, [month], code, Account.BCL_FEE_BILLED)
    voided = db.exec(
        select(func.count())
        .select_from(VoidedCopy)
        .where(VoidedCopy.month == str(month))
        .where(VoidedCopy.municipality_code == code)
    ).one()
    return MunicipalityStatement(
        month=str(month),
        municipality_code=code,
        municipality_name=muni.full_name(),
        backend=muni.backend,
        closed_at=closed_at(db, month),
        cells=month_cells(db, [month], municipality_code=code),
        contribution_yen=contribution.get(str(month), 0),
        bcl_billed_yen=-billed.get(str(month), 0),
        voided_copies=int(voided),
    )


def operator_statement(db: Session, operator_id: str, month: Month) -> OperatorStatement:
    op = db.get(Operator, operator_id)
    if op is None:
        raise OperatorNotFound(f"no operator {operator_id}", metadata={"operator": operator_id})
    return OperatorStatement(
        month=str(month),
        operator_id=operator_id,
        operator_name=op.name,
        closed_at=closed_at(db, month),
        cells=month_cells(db, [month], operator_id=operator_id),
    )


def fiscal_year_report(db: Session, code: str, fiscal_year: int) -> FiscalYearReport:
    muni = _municipality(db, code)
    months = fiscal_year_months(fiscal_year)
    cells = month_cells_by_month(db, months, code)
    contribution = _account_sum(db, months, code, Account.CONTRIBUTION_EXPENSE)
    billed = _account_sum(db, months, code, Account.BCL_FEE_BILLED)
    closed = set(
        db.exec(
            select(LedgerPeriod.month)
            .where(col(LedgerPeriod.month).in_([str(m) for m in months]))
            .where(col(LedgerPeriod.closed_at).is_not(None))
        ).all()
    )
    rows_: list[MonthTotals] = []
    by_kind: dict[str, int] = defaultdict(int)
    for m in months:
        t = total(cells.get(str(m), ()))
        for c in cells.get(str(m), ()):
            by_kind[c.certificate_kind] += c.copies
        rows_.append(
            MonthTotals(
                month=str(m),
                copies=t.copies,
                fees_yen=t.fees_yen,
                commission_yen=t.commission_yen,
                bcl_fee_yen=t.bcl_fee_yen,
                net_remittance_yen=t.net_remittance_yen,
                contribution_yen=contribution.get(str(m), 0),
                bcl_billed_yen=-billed.get(str(m), 0),
                closed=str(m) in closed,
            )
        )
    return FiscalYearReport(
        municipality_code=code,
        municipality_name=muni.full_name(),
        fiscal_year=fiscal_year,
        backend=muni.backend,
        municipality_class=muni.municipality_class,
        months=tuple(rows_),
        copies_by_kind=tuple(Count(k, n) for k, n in sorted(by_kind.items()) if n),
    )


def month_cells_by_month(
    db: Session, months: Sequence[Month], municipality_code: str
) -> dict[str, tuple[Cell, ...]]:
    """`month_cells` of each month separately (one query per month keeps one code path)."""
    return {str(m): month_cells(db, [m], municipality_code=municipality_code) for m in months}


def statistics(db: Session, fiscal_year: int, municipality_code: str = "") -> Statistics:
    months = fiscal_year_months(fiscal_year)
    if municipality_code:
        muni = _municipality(db, municipality_code)
    en = LedgerEntry
    per_month = (
        sa.select(col(en.month), func.sum(en.copies))
        .where(col(en.month).in_([str(m) for m in months]))
        .where(col(en.kind).in_(_COPY_KINDS))
        .group_by(en.month)
    )
    if municipality_code:
        per_month = per_month.where(col(en.municipality_code) == municipality_code)
    copies_in = {m: int(n) for m, n in rows(db, per_month)}
    points = []
    for m in months:
        if municipality_code:
            joined = int(muni.joined_on <= m.last_day)
        else:
            joined = int(
                db.exec(
                    select(func.count())
                    .select_from(Municipality)
                    .where(col(Municipality.joined_on) <= m.last_day)
                ).one()
            )
        points.append(MonthPoint(str(m), copies_in.get(str(m), 0), joined))
    cells = month_cells(db, months, municipality_code=municipality_code or None)
    t = total(cells)
    return Statistics(
        fiscal_year=fiscal_year,
        municipality_code=municipality_code,
        months=tuple(points),
        by_kind=tuple(
            Count(c.certificate_kind, c.copies) for c in group(cells, "certificate_kind")
        ),
        by_operator=tuple(Count(c.operator_id, c.copies) for c in group(cells, "operator_id")),
        copies=t.copies,
        after_hours_copies=t.after_hours_copies,
        other_municipality_copies=t.other_municipality_copies,
        counter_copies=t.counter_copies,
    )


@dataclass(frozen=True)
class VoidRecord:
    issuance_id: str
    issue_number: str
    voided_at: datetime
    operator_id: str
    kiosk_id: str
    certificate_kind: str
    from_state: str
    reason: str
    refunded_yen: int


def void_log(db: Session, code: str, month: Month) -> tuple[VoidRecord, ...]:
    _municipality(db, code)
    found = db.exec(
        select(VoidedCopy)
        .where(VoidedCopy.municipality_code == code)
        .where(VoidedCopy.month == str(month))
        .order_by(col(VoidedCopy.voided_at), col(VoidedCopy.id))
    ).all()
    return tuple(
        VoidRecord(
            v.issuance_id,
            v.issue_number or "",
            v.voided_at,
            v.operator_id,
            v.kiosk_id,
            v.certificate_kind,
            v.from_state,
            v.reason,
            v.refunded_yen,
        )
        for v in found
    )
