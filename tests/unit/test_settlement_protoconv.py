"""Settlement values survive the trip through protobuf, both ways (the client renders what
the server computed, not an approximation of it)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from hypothesis import given
from hypothesis import strategies as st

from server.settlement import protoconv as conv
from server.settlement.counter_hours import CounterHours
from server.settlement.ledger import MonthClose
from server.settlement.reconcile import CountDifference, DifferenceKind, Reconciliation
from server.settlement.statements import (
    Cell,
    Count,
    FiscalYearReport,
    MonthPoint,
    MonthTotals,
    MunicipalityStatement,
    OperatorStatement,
    Statistics,
)

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
yen = st.integers(-(2**62), 2**62)
count = st.integers(0, 2**40)
months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(2000, 2999), st.integers(1, 12))
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
)
cells = st.builds(
    Cell,
    municipality_code=text,
    operator_id=text,
    certificate_kind=text,
    copies=yen,
    fees_yen=yen,
    commission_yen=yen,
    bcl_fee_yen=yen,
    net_remittance_yen=yen,
    after_hours_copies=yen,
    other_municipality_copies=yen,
)
counts = st.lists(st.builds(Count, key=text, copies=yen), max_size=4).map(tuple)


@given(
    st.builds(
        MunicipalityStatement,
        month=months,
        municipality_code=text,
        municipality_name=text,
        backend=text,
        closed_at=st.none() | moments,
        cells=st.lists(cells, max_size=4).map(tuple),
        contribution_yen=yen,
        bcl_billed_yen=yen,
        voided_copies=count,
    )
)
def test_municipality_statement(s: MunicipalityStatement) -> None:
    assert conv.municipality_statement_from_proto(conv.municipality_statement_to_proto(s)) == s


@given(
    st.builds(
        OperatorStatement,
        month=months,
        operator_id=text,
        operator_name=text,
        closed_at=st.none() | moments,
        cells=st.lists(cells, max_size=4).map(tuple),
    )
)
def test_operator_statement(s: OperatorStatement) -> None:
    assert conv.operator_statement_from_proto(conv.operator_statement_to_proto(s)) == s


small_yen = st.integers(-(2**50), 2**50)  # a year of them still fits int64
month_totals = st.builds(
    MonthTotals,
    month=months,
    copies=small_yen,
    fees_yen=small_yen,
    commission_yen=small_yen,
    bcl_fee_yen=small_yen,
    net_remittance_yen=small_yen,
    contribution_yen=small_yen,
    bcl_billed_yen=small_yen,
    closed=st.booleans(),
)


@given(
    st.builds(
        FiscalYearReport,
        municipality_code=text,
        municipality_name=text,
        fiscal_year=st.integers(2000, 2998),
        backend=text,
        municipality_class=text,
        months=st.lists(month_totals, max_size=12).map(tuple),
        copies_by_kind=counts,
    )
)
def test_fiscal_year_report(r: FiscalYearReport) -> None:
    assert conv.fiscal_year_report_from_proto(conv.fiscal_year_report_to_proto(r)) == r


@given(
    st.builds(
        Statistics,
        fiscal_year=st.integers(2000, 2998),
        municipality_code=text,
        months=st.lists(
            st.builds(MonthPoint, month=months, copies=yen, participating_municipalities=count),
            max_size=12,
        ).map(tuple),
        by_kind=counts,
        by_operator=counts,
        copies=yen,
        after_hours_copies=yen,
        other_municipality_copies=yen,
    )
)
def test_statistics(s: Statistics) -> None:
    assert conv.statistics_from_proto(conv.statistics_to_proto(s)) == s


@given(
    st.builds(
        Reconciliation,
        month=months,
        operator_id=text,
        reports_received=st.lists(text, max_size=3).map(tuple),
        differences=st.lists(
            st.builds(
                CountDifference,
                operator_id=text,
                municipality_code=text,
                certificate_kind=text,
                reported=count,
                recorded=count,
                kind=st.sampled_from(DifferenceKind),
            ),
            max_size=4,
        ).map(tuple),
        matched_cells=count,
        reported_copies=count,
        recorded_copies=count,
    )
)
def test_reconciliation(r: Reconciliation) -> None:
    assert conv.reconciliation_from_proto(conv.reconciliation_to_proto(r)) == r


@given(
    st.builds(
        MonthClose,
        month=months,
        closed_at=moments,
        newly_closed=st.booleans(),
        municipality_codes=st.lists(text, max_size=3).map(tuple),
        operator_ids=st.lists(text, max_size=3).map(tuple),
        entry_count=count,
        line_count=count,
        debit_total_yen=yen,
        digest=text,
    )
)
def test_month_close(c: MonthClose) -> None:
    assert conv.month_close_from_proto(conv.month_close_to_proto(c)) == c


@given(
    st.frozensets(st.integers(1, 7)),
    st.booleans(),
    st.integers(0, 23 * 60 - 1),
    st.integers(1, 60),
)
def test_counter_hours(days: frozenset[int], holidays: bool, opens: int, length: int) -> None:
    closes = min(opens + length, 24 * 60 - 1)
    hours = CounterHours(
        opens=time(opens // 60, opens % 60),
        closes=time(closes // 60, closes % 60),
        weekdays=days,
        closed_on_holidays=holidays,
    )
    assert conv.counter_hours_from_proto(conv.counter_hours_to_proto("131016", hours)) == hours
