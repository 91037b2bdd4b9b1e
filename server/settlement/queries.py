"""Settlement queries kept from the first API: the copy register and the monthly summary.

`ListIssuances` pages through the per-copy register (`settlement_entries`: what was printed,
where, for how much). `MonthlySummary` is read from the ledger, like every statement, so that
corrections and the void log count the same way everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from server.common.errors import InvalidArgument
from server.db.models import SettlementEntry
from server.settlement.models import VoidedCopy
from server.settlement.periods import Month
from server.settlement.statements import group, month_cells


def parse_month(month: str) -> tuple[datetime, datetime]:
    """'2026-04' → [start, end) of that month in Asia/Tokyo, as UTC datetimes."""
    m = Month.parse(month)
    return m.start(), m.end()


def check_municipality_code(code: str) -> str:
    if not re.fullmatch(r"\d{6}", code):
        raise InvalidArgument("municipality_code must be 6 digits", field="municipality_code")
    return code


@dataclass(frozen=True)
class KindTotals:
    kind: str
    copies: int
    fees_yen: int
    commission_yen: int
    bcl_fee_yen: int
    # What operators pass on (operator_receivable): fees less commission of kiosk copies; a
    # counter copy's fee is in the municipality's own till and adds nothing here.
    net_remittance_yen: int = 0


@dataclass(frozen=True)
class MonthlySummary:
    municipality_code: str
    month: str
    kinds: tuple[KindTotals, ...]
    voided_copies: int

    @property
    def total_copies(self) -> int:
        return sum(k.copies for k in self.kinds)

    @property
    def total_fees_yen(self) -> int:
        return sum(k.fees_yen for k in self.kinds)

    @property
    def total_commission_yen(self) -> int:
        return sum(k.commission_yen for k in self.kinds)

    @property
    def total_bcl_fee_yen(self) -> int:
        return sum(k.bcl_fee_yen for k in self.kinds)

    @property
    def net_remittance_yen(self) -> int:
        return sum(k.net_remittance_yen for k in self.kinds)


class SettlementQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def list_issuances(
        self, municipality_code: str, month: str, *, page_size: int, after_id: int
    ) -> tuple[list[SettlementEntry], int | None]:
        check_municipality_code(municipality_code)
        Month.parse(month)
        size = min(max(page_size, 1), 1000)
        with Session(self._engine) as db:
            rows = db.exec(
                select(SettlementEntry)
                .where(SettlementEntry.municipality_code == municipality_code)
                .where(SettlementEntry.month == month)
                .where(col(SettlementEntry.id) > after_id)
                .order_by(col(SettlementEntry.id))
                .limit(size + 1)
            ).all()
        more = len(rows) > size
        rows = rows[:size]
        return list(rows), (rows[-1].id if more and rows else None)

    def monthly_summary(self, municipality_code: str, month: str) -> MonthlySummary:
        check_municipality_code(municipality_code)
        m = Month.parse(month)
        with Session(self._engine) as db:
            cells = month_cells(db, [m], municipality_code=municipality_code)
            voided = db.exec(
                select(func.count())
                .select_from(VoidedCopy)
                .where(VoidedCopy.municipality_code == municipality_code)
                .where(VoidedCopy.month == str(m))
            ).one()
        return MonthlySummary(
            municipality_code=municipality_code,
            month=str(m),
            kinds=tuple(
                KindTotals(
                    c.certificate_kind,
                    c.copies,
                    c.fees_yen,
                    c.commission_yen,
                    c.bcl_fee_yen,
                    c.net_remittance_yen,
                )
                for c in group(cells, "certificate_kind")
            ),
            voided_copies=int(voided),
        )
