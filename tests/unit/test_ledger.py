"""The settlement ledger over a real (SQLite) database: postings, voids, closes, corrections."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bench.settlement_data import (
    CopySpec,
    Place,
    add_municipality,
    issue_copy,
    jst_now_after,
    void_copy,
)
from server.bcl.records import IssuingBackend
from server.common.clock import JST, FrozenClock
from server.db.engine import make_engine, upgrade
from server.db.models import Issuance
from server.issuance.states import IssuanceState
from server.settlement.counter_hours import CounterHours
from server.settlement.desk import SettlementDesk
from server.settlement.errors import CopyNotSettled, EarlierMonthOpen, MonthNotOver
from server.settlement.ledger import (
    Account,
    EntryKind,
    post_issued_copy,
    trial_balance,
    unbalanced_entries,
)
from server.settlement.models import LedgerEntry, LedgerLine, VoidedCopy
from server.settlement.periods import Month, fiscal_year_months


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[Place, ...]]:
    """A migrated database with a BCL town, an own-server city, and a BCL town that joins in
    October 2026; each test works on its own copy of the file."""
    path = tmp_path_factory.mktemp("ledger") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with Session(engine) as db:
        town = add_municipality(
            db, first_five="13999", name="桜町", prefecture="東京都", population=8_000
        )
        city = add_municipality(
            db,
            first_five="22999",
            name="港市",
            prefecture="静岡県",
            population=60_000,
            backend=IssuingBackend.OWN_SERVER,
        )
        newcomer = add_municipality(
            db,
            first_five="14888",
            name="新町",
            prefecture="神奈川県",
            population=5_000,
            joined_on=date(2026, 10, 1),
        )
        db.commit()
    engine.dispose()
    return path, (town, city, newcomer)


@dataclass
class World:
    engine: Engine
    desk: SettlementDesk
    clock: FrozenClock
    town: Place
    city: Place
    newcomer: Place
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def issue(
        self,
        place: Place,
        at: datetime,
        *,
        kind: str = "juminhyo",
        operator: int = 0,
        kiosk_place: Place | None = None,
    ) -> str:
        with Session(self.engine) as db:
            row = issue_copy(
                db, CopySpec(place, kiosk_place or place, operator, kind, at), next(self._seq)
            )
            db.commit()
            return row.id

    def void(self, place: Place, at: datetime, from_state: IssuanceState) -> str:
        with Session(self.engine) as db:
            spec = CopySpec(place, place, 0, "juminhyo", at)
            row = void_copy(db, spec, next(self._seq), from_state=from_state)
            db.commit()
            return row.id

    def close(self, month: str) -> None:
        self.clock.now = max(self.clock.now, jst_now_after(Month.parse(month)))
        self.desk.close_month(month)

    def entries(self, issuance_id: str) -> list[LedgerEntry]:
        with Session(self.engine) as db:
            return list(
                db.exec(
                    select(LedgerEntry)
                    .where(LedgerEntry.issuance_id == issuance_id)
                    .order_by(col(LedgerEntry.id))
                ).all()
            )

    def lines(self, entry_id: int | None) -> dict[str, int]:
        with Session(self.engine) as db:
            found = db.exec(select(LedgerLine).where(LedgerLine.entry_id == entry_id)).all()
            return {ln.account: ln.amount_yen for ln in found}


@pytest.fixture
def world(template: tuple[Path, tuple[Place, ...]], tmp_path: Path) -> Iterator[World]:
    source, (town, city, newcomer) = template
    path = tmp_path / "ledger.db"
    shutil.copyfile(source, path)
    engine = make_engine(f"sqlite:///{path}")
    clock = FrozenClock(datetime(2026, 4, 1, 9, 0, tzinfo=JST))
    yield World(engine, SettlementDesk(engine, clock=clock), clock, town, city, newcomer)
    engine.dispose()


def at(month: str, day: int = 8, hour: int = 10) -> datetime:
    m = Month.parse(month)
    return datetime(m.year, m.month, day, hour, 0, tzinfo=JST)


# -- one copy ----------------------------------------------------------------------------------


def test_an_issued_copy_is_one_balanced_entry_that_traces_to_its_issuance(world: World) -> None:
    iid = world.issue(world.town, at("2026-04"))
    [entry] = world.entries(iid)
    assert (entry.kind, entry.copies, entry.month) == ("copy_issued", 1, "2026-04")
    assert world.lines(entry.id) == {
        "operator_receivable": 300 - 117,
        "commission_expense": 117,
        "fee_income": -300,
        "bcl_fee_expense": 180,
        "bcl_fee_accrued": -180,
    }
    assert sum(world.lines(entry.id).values()) == 0


def test_a_copy_of_an_own_server_municipality_has_no_bcl_fee(world: World) -> None:
    iid = world.issue(world.city, at("2026-04"))
    [entry] = world.entries(iid)
    assert "bcl_fee_expense" not in world.lines(entry.id)
    assert world.desk.municipality_statement(world.city.code, "2026-04").total.bcl_fee_yen == 0


def test_a_copy_cannot_be_posted_twice(world: World) -> None:
    iid = world.issue(world.town, at("2026-04"))
    with Session(world.engine) as db:
        row = db.get(Issuance, iid)
        assert row is not None
        with pytest.raises(IntegrityError):
            post_issued_copy(db, row, at("2026-04", 9))
            db.flush()
        db.rollback()
    assert len(world.entries(iid)) == 1


@pytest.mark.parametrize("from_state", [IssuanceState.RESERVED, IssuanceState.PRINTING])
def test_a_voided_copy_costs_nothing_and_is_only_in_the_void_log(
    world: World, from_state: IssuanceState
) -> None:
    iid = world.void(world.town, at("2026-04"), from_state)
    assert world.entries(iid) == []
    statement = world.desk.municipality_statement(world.town.code, "2026-04")
    assert statement.cells == () and statement.voided_copies == 1
    [logged] = world.desk.void_log(world.town.code, "2026-04")
    assert logged.issuance_id == iid
    # The fee is handed back only if it was taken (printing had started).
    assert logged.refunded_yen == (300 if from_state is IssuanceState.PRINTING else 0)
    with Session(world.engine) as db:
        assert db.exec(select(VoidedCopy).where(VoidedCopy.issuance_id == iid)).one()


def test_after_hours_and_other_municipality_are_recorded_per_copy(world: World) -> None:
    world.issue(world.town, at("2026-04", day=8, hour=10))  # Wednesday morning: counter open
    world.issue(world.town, at("2026-04", day=8, hour=19))  # evening: 時間外
    world.issue(world.town, at("2026-04", day=11, hour=10))  # Saturday: 時間外
    world.issue(world.town, at("2026-04", day=9, hour=10), kiosk_place=world.city)  # 他市区町村
    t = world.desk.municipality_statement(world.town.code, "2026-04").total
    assert (t.copies, t.after_hours_copies, t.other_municipality_copies) == (4, 2, 1)


def test_a_municipality_s_own_counter_hours_decide_what_is_after_hours(world: World) -> None:
    world.desk.set_counter_hours(
        world.town.code,
        CounterHours.from_text(
            opens="08:30", closes="19:30", weekdays="123456", closed_on_holidays=True
        ),
    )
    world.issue(world.town, at("2026-04", day=8, hour=19))  # open late on Wednesdays
    world.issue(world.town, at("2026-04", day=11, hour=10))  # and on Saturdays
    assert (
        world.desk.municipality_statement(world.town.code, "2026-04").total.after_hours_copies == 0
    )
    assert world.desk.counter_hours(world.town.code).weekdays_text == "123456"


# -- closing months ----------------------------------------------------------------------------


def test_a_month_closes_only_once_it_is_over_and_in_order(world: World) -> None:
    world.issue(world.town, at("2026-04"))
    world.issue(world.town, at("2026-05"))
    world.clock.now = at("2026-04", day=30, hour=23)
    with pytest.raises(MonthNotOver):
        world.desk.close_month("2026-04")
    world.clock.now = jst_now_after(Month.parse("2026-05"))
    with pytest.raises(EarlierMonthOpen):
        world.desk.close_month("2026-05")
    first = world.desk.close_month("2026-04")
    again = world.desk.close_month("2026-04")
    assert first.newly_closed and not again.newly_closed
    assert (first.digest, first.entry_count) == (again.digest, again.entry_count)
    assert world.desk.close_month("2026-05").newly_closed


def test_a_closed_month_is_immutable_and_a_correction_lands_in_the_open_month(
    world: World,
) -> None:
    iid = world.issue(world.town, at("2026-04"))
    world.close("2026-04")
    before = world.desk.municipality_statement(world.town.code, "2026-04")
    # A copy reported late (its print confirmed in April, after the close) goes to May.
    late = world.issue(world.town, at("2026-04", day=30, hour=22))
    # A wrongly issued April copy is taken back in May.
    world.clock.now = at("2026-05", day=12)
    correction = world.desk.correct_copy(iid, "誤交付: wrong person")
    assert correction.month == "2026-05" and correction.refunded_yen == 300
    assert world.desk.correct_copy(iid, "retried").entry_id == correction.entry_id
    assert world.desk.municipality_statement(world.town.code, "2026-04") == before
    assert world.desk.closed_month_intact("2026-04")
    assert [e.month for e in world.entries(late)] == ["2026-05"]
    may = world.desk.municipality_statement(world.town.code, "2026-05").total
    assert (may.copies, may.fees_yen, may.bcl_fee_yen) == (0, 0, 0)  # +1 late, −1 corrected
    original, reversal = world.entries(iid)
    assert reversal.reverses_entry_id == original.id and reversal.kind == "copy_reversed"
    assert world.lines(reversal.id) == {k: -v for k, v in world.lines(original.id).items()}


def test_only_issued_copies_can_be_corrected(world: World) -> None:
    iid = world.void(world.town, at("2026-04"), IssuanceState.PRINTING)
    with pytest.raises(CopyNotSettled):
        world.desk.correct_copy(iid, "not a copy")


def test_tampering_with_a_closed_month_is_detected(world: World) -> None:
    iid = world.issue(world.town, at("2026-04"))
    world.close("2026-04")
    [entry] = world.entries(iid)
    with world.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE ledger_lines SET amount_yen = amount_yen + 1"
            " WHERE entry_id = ? AND account = ?",
            (entry.id, "commission_expense"),
        )
    assert not world.desk.closed_month_intact("2026-04")


# -- the fiscal year ---------------------------------------------------------------------------


def test_the_seed_worked_example_through_the_ledger(world: World) -> None:
    """A BCL town issuing 1,000 copies in a fiscal year: 180,000 yen + 345,481 yen."""
    months = fiscal_year_months(2026)
    for i in range(1_000):
        m = months[i % 12]
        world.issue(world.town, datetime(m.year, m.month, 1 + i % 27, 7 + i % 15, tzinfo=JST))
    for m in months:
        world.close(str(m))
    report = world.desk.fiscal_year_report(world.town.code, 2026)
    t = report.total
    assert (t.copies, t.bcl_fee_yen, t.contribution_yen) == (1_000, 180_000, 345_481)
    assert t.commission_yen == 117_000 and t.fees_yen == 300_000
    assert t.total_cost_yen == 180_000 + 345_481 + 117_000
    assert t.closed
    # The contribution is posted in April; the BCL fees are billed at fiscal-year end (March).
    assert report.months[0].contribution_yen == 345_481
    assert [m.bcl_billed_yen for m in report.months] == [0] * 11 + [180_000]
    assert trial_balance_is_zero(world)


def test_a_municipality_joining_in_october_pays_six_twelfths(world: World) -> None:
    world.issue(world.newcomer, at("2026-10"))
    for m in fiscal_year_months(2026)[:7]:  # April to October
        world.close(str(m))
    report = world.desk.fiscal_year_report(world.newcomer.code, 2026)
    assert [m.contribution_yen for m in report.months[:7]] == [0] * 6 + [172_740]
    assert (
        world.desk.statistics(2026, world.newcomer.code).months[5].participating_municipalities == 0
    )
    assert (
        world.desk.statistics(2026, world.newcomer.code).months[6].participating_municipalities == 1
    )


def trial_balance_is_zero(world: World) -> bool:
    with Session(world.engine) as db:
        balances = trial_balance(db)
        assert unbalanced_entries(db) == []
    assert balances[Account.BCL_FEE_ACCRUED] == 0  # everything accrued was billed
    return sum(balances.values()) == 0


def test_statistics_count_copies_by_kind_operator_and_month(world: World) -> None:
    world.issue(world.town, at("2026-04"), kind="juminhyo", operator=0)
    world.issue(world.town, at("2026-04", hour=20), kind="inkan", operator=1)
    world.issue(world.city, at("2026-05"), kind="inkan", operator=1, kiosk_place=world.town)
    national = world.desk.statistics(2026)
    assert [p.copies for p in national.months[:2]] == [2, 1]
    assert national.months[0].participating_municipalities == 2  # the newcomer joins in October
    assert {c.key: c.copies for c in national.by_kind} == {"inkan": 2, "juminhyo": 1}
    assert {c.key: c.copies for c in national.by_operator} == {"lawson": 2, "seven": 1}
    assert (national.after_hours_copies, national.other_municipality_copies) == (1, 1)
    town = world.desk.statistics(2026, world.town.code)
    assert town.copies == 2 and town.after_hours_share == 0.5


def test_entry_kinds_are_the_four_business_events() -> None:
    assert {k.value for k in EntryKind} == {
        "copy_issued",
        "copy_reversed",
        "contribution",
        "bcl_billing",
    }
