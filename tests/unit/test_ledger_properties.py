"""Property: whatever stream of issues, voids, corrections and closes comes in, the ledger
balances, closed months stay as they were closed, voids cost nothing, and the monthly
statements add up to the fiscal-year report (and to what a plain model of the stream says)."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, func, select

from bench.settlement_data import CopySpec, Place, add_municipality, issue_copy, void_copy
from server.bcl.records import IssuingBackend
from server.common.clock import JST, FrozenClock
from server.db.engine import make_engine, upgrade
from server.issuance.states import IssuanceState
from server.settlement.desk import SettlementDesk
from server.settlement.ledger import trial_balance, unbalanced_entries
from server.settlement.models import LedgerEntry
from server.settlement.periods import Month, fiscal_year_months
from server.settlement.statements import MonthTotals

FY = 2026
MONTHS = fiscal_year_months(FY)
FEE = 300


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[Place, Place]]:
    path = tmp_path_factory.mktemp("ledger-props") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with Session(engine) as db:
        town = add_municipality(
            db,
            first_five="13999",
            name="桜町",
            prefecture="東京都",
            population=8_000,
            joined_on=date(2026, 7, 1),  # joins in July: 9/12 of 345,481
        )
        city = add_municipality(
            db,
            first_five="22999",
            name="港市",
            prefecture="静岡県",
            population=60_000,
            backend=IssuingBackend.OWN_SERVER,
        )
        db.commit()
    engine.dispose()
    return path, (town, city)


@dataclass(frozen=True)
class Issue:
    month: int
    place: int
    operator: int
    kind: str
    day: int
    hour: int


@dataclass(frozen=True)
class Void:
    month: int
    place: int
    printing: bool


@dataclass(frozen=True)
class Correct:
    which: int  # index into the copies issued so far (modulo)


@dataclass(frozen=True)
class Close:
    pass


Event = Issue | Void | Correct | Close

events = st.lists(
    st.one_of(
        st.builds(
            Issue,
            month=st.integers(0, 11),
            place=st.integers(0, 1),
            operator=st.integers(0, 3),
            kind=st.sampled_from(["juminhyo", "inkan"]),
            day=st.integers(1, 28),
            hour=st.integers(0, 23),
        ),
        st.builds(Void, month=st.integers(0, 11), place=st.integers(0, 1), printing=st.booleans()),
        st.builds(Correct, which=st.integers(0, 1_000)),
        st.just(Close()),
    ),
    max_size=30,
)


def _sum(rows: list[MonthTotals]) -> tuple[int, ...]:
    return tuple(
        sum(getattr(r, f) for r in rows)
        for f in (
            "copies",
            "fees_yen",
            "commission_yen",
            "bcl_fee_yen",
            "net_remittance_yen",
            "contribution_yen",
            "bcl_billed_yen",
        )
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stream=events)
def test_the_ledger_balances_and_months_sum_to_the_year(
    template: tuple[Path, tuple[Place, Place]],
    tmp_path_factory: pytest.TempPathFactory,
    stream: list[Event],
) -> None:
    source, places = template
    path = tmp_path_factory.mktemp("example") / "ledger.db"
    shutil.copyfile(source, path)
    engine = make_engine(f"sqlite:///{path}")
    clock = FrozenClock(datetime(FY, 4, 1, 0, 0, tzinfo=JST))
    desk = SettlementDesk(engine, clock=clock)
    seq = itertools.count(1)
    issued: list[tuple[str, Place]] = []
    corrected: set[str] = set()
    voided: list[tuple[str, Place]] = []
    closed: list[Month] = []
    try:
        for event in stream:
            if isinstance(event, Issue):
                m = MONTHS[event.month]
                at = datetime(m.year, m.month, event.day, event.hour, tzinfo=JST)
                at = max(at, clock.now)  # time only moves forward; a past date is a late copy
                clock.now = at
                place = places[event.place]
                spec = CopySpec(place, places[1 - event.place], event.operator, event.kind, at)
                with Session(engine) as db:
                    issued.append((issue_copy(db, spec, next(seq)).id, place))
                    db.commit()
            elif isinstance(event, Void):
                place = places[event.place]
                state = IssuanceState.PRINTING if event.printing else IssuanceState.RESERVED
                with Session(engine) as db:
                    row = void_copy(
                        db,
                        CopySpec(place, place, 0, "juminhyo", clock.now),
                        next(seq),
                        from_state=state,
                    )
                    voided.append((row.id, place))
                    db.commit()
            elif isinstance(event, Correct) and issued:
                iid, _ = issued[event.which % len(issued)]
                desk.correct_copy(iid, "誤交付")
                corrected.add(iid)
            elif isinstance(event, Close):
                month = closed[-1].next() if closed else MONTHS[0]
                clock.now = max(clock.now, month.end() + timedelta(hours=1))
                desk.close_month(str(month))
                closed.append(month)
        # Close the rest of the year, so that contributions and the BCL bill are posted.
        for month in MONTHS:
            if month not in closed and (not closed or month > closed[-1]):
                clock.now = max(clock.now, month.end() + timedelta(hours=1))
                desk.close_month(str(month))
                closed.append(month)

        with Session(engine) as db:
            assert unbalanced_entries(db) == []
            assert sum(trial_balance(db).values()) == 0
            in_ledger = db.exec(
                select(func.count())
                .select_from(LedgerEntry)
                .where(col(LedgerEntry.issuance_id).in_([v for v, _ in voided]))
            ).one()
            assert in_ledger == 0  # a voided copy is nowhere in the journal
        for month in closed:
            assert desk.closed_month_intact(str(month))

        all_months = [MONTHS[0]]
        while all_months[-1] < Month.of(clock.now):
            all_months.append(all_months[-1].next())
        for place in places:
            report = desk.fiscal_year_report(place.code, FY)
            monthly = [desk.municipality_statement(place.code, str(m)) for m in all_months]
            # The monthly statements of the year add up to the year's report.
            in_year = [
                MonthTotals(
                    month=s.month,
                    copies=s.total.copies,
                    fees_yen=s.total.fees_yen,
                    commission_yen=s.total.commission_yen,
                    bcl_fee_yen=s.total.bcl_fee_yen,
                    net_remittance_yen=s.total.net_remittance_yen,
                    contribution_yen=s.contribution_yen,
                    bcl_billed_yen=s.bcl_billed_yen,
                )
                for s in monthly
                if Month.parse(s.month).fiscal_year == FY
            ]
            assert _sum(in_year) == _sum(list(report.months)) == _sum([report.total])
            # And all statements together say what the stream says.
            net = sum(1 for iid, p in issued if p is place and iid not in corrected)
            bcl = 180 if place is places[0] else 0
            everything = [
                MonthTotals(
                    month=s.month,
                    copies=s.total.copies,
                    fees_yen=s.total.fees_yen,
                    commission_yen=s.total.commission_yen,
                    bcl_fee_yen=s.total.bcl_fee_yen,
                    net_remittance_yen=s.total.net_remittance_yen,
                )
                for s in monthly
            ]
            copies, fees, commission, bcl_fees, remittance, _, _ = _sum(everything)
            assert (copies, fees, commission, bcl_fees) == (net, FEE * net, 117 * net, bcl * net)
            assert remittance == fees - commission
            expected_contribution = 345_481 * 9 // 12 if place is places[0] else 2_728_000
            assert report.total.contribution_yen == expected_contribution
            assert report.total.bcl_billed_yen == report.total.bcl_fee_yen  # billed at year end
            assert sum(s.voided_copies for s in monthly) == sum(1 for _, p in voided if p is place)
    finally:
        engine.dispose()
