"""Settlement queries: what was issued and charged, per municipality and month (Asia/Tokyo)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from server.common.clock import JST
from server.common.errors import InvalidArgument
from server.db.models import Issuance, SettlementEntry
from server.issuance.states import IssuanceState

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(month: str) -> tuple[datetime, datetime]:
    """'2026-04' → [start, end) of that month in Asia/Tokyo, as UTC datetimes."""
    m = _MONTH.match(month)
    if not m:
        raise InvalidArgument("month must be YYYY-MM", field="month")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=JST)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=JST)
    return start.astimezone(UTC), end.astimezone(UTC)


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
        return self.total_fees_yen - self.total_commission_yen


class SettlementQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_issuances(
        self, municipality_code: str, month: str, *, page_size: int, after_id: int
    ) -> tuple[list[SettlementEntry], int | None]:
        check_municipality_code(municipality_code)
        parse_month(month)
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
        start, end = parse_month(month)
        e = SettlementEntry
        with Session(self._engine) as db:
            grouped = db.exec(
                select(
                    e.kind,
                    func.count(),
                    func.sum(e.fee_yen),
                    func.sum(e.commission_yen),
                    func.sum(e.bcl_fee_yen),
                )
                .where(e.municipality_code == municipality_code)
                .where(e.month == month)
                .group_by(e.kind)
                .order_by(e.kind)
            ).all()
            voided = db.exec(
                select(func.count())
                .select_from(Issuance)
                .where(Issuance.municipality_code == municipality_code)
                .where(Issuance.state == IssuanceState.VOIDED.value)
                .where(sa.and_(col(Issuance.finished_at) >= start, col(Issuance.finished_at) < end))
            ).one()
        return MonthlySummary(
            municipality_code=municipality_code,
            month=month,
            kinds=tuple(
                KindTotals(kind, int(n), int(fees or 0), int(comm or 0), int(bcl or 0))
                for kind, n, fees, comm, bcl in grouped
            ),
            voided_copies=int(voided),
        )
