"""Operator reports (CSV) and their reconciliation against the center's records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.common.errors import InvalidArgument
from server.settlement.periods import Month
from server.settlement.reconcile import (
    REPORT_COLUMNS,
    DifferenceKind,
    ReportedCount,
    check_report,
    format_report_csv,
    parse_report_csv,
    reconcile,
)

rows = st.builds(
    ReportedCount,
    operator_id=st.from_regex(r"\A[A-Za-z0-9_-]{1,32}\Z"),
    month=st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(2000, 2999), st.integers(1, 12)),
    municipality_code=st.from_regex(r"\A[0-9]{6}\Z"),
    certificate_kind=st.from_regex(r"\A[a-z][a-z0-9_]{0,31}\Z"),
    copies=st.integers(0, 10**9 - 1),
)


@given(st.lists(rows, max_size=20))
def test_report_csv_round_trips(report: list[ReportedCount]) -> None:
    assert parse_report_csv(format_report_csv(report)) == tuple(report)


def test_the_documented_format_parses() -> None:
    text = (
        "operator_id,month,municipality_code,certificate_kind,copies\n"
        "seven,2026-04,131016,juminhyo,1520\n"
        "seven,2026-04,131016,inkan,980\n"
    )
    parsed = parse_report_csv("\ufeff" + text)  # a BOM from a spreadsheet is tolerated
    assert [r.copies for r in parsed] == [1520, 980]
    assert check_report(parsed) == ("seven", Month(2026, 4))
    assert ",".join(REPORT_COLUMNS) == text.splitlines()[0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("operator,month\n", "first line"),
        (
            "operator_id,month,municipality_code,certificate_kind,copies\nseven,2026-04,131016\n",
            "line 2",
        ),
        (
            "operator_id,month,municipality_code,certificate_kind,copies\n"
            "seven,2026-04,131016,juminhyo,-3\n",
            "whole number",
        ),
        (
            "operator_id,month,municipality_code,certificate_kind,copies\n"
            "seven,2026-13,131016,juminhyo,3\n",
            "line 2",
        ),
        (
            "operator_id,month,municipality_code,certificate_kind,copies\n"
            "seven,2026-04,13101,juminhyo,3\n",
            "6 digits",
        ),
    ],
)
def test_malformed_reports_name_their_line(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_report_csv(text)
    assert fragment in err.value.message and err.value.field == "csv"


def test_a_report_is_one_operator_one_month_each_cell_once() -> None:
    a = ReportedCount("seven", "2026-04", "131016", "juminhyo", 1)
    for bad in (
        [],
        [a, ReportedCount("lawson", "2026-04", "131016", "inkan", 1)],
        [a, ReportedCount("seven", "2026-05", "131016", "inkan", 1)],
        [a, a],
    ):
        with pytest.raises(InvalidArgument):
            check_report(bad)


def test_reconciliation_lists_every_difference_with_both_numbers() -> None:
    reported = {
        ("seven", "131016", "juminhyo"): 10,  # agrees
        ("seven", "131016", "inkan"): 5,  # the center recorded 4
        ("seven", "131024", "juminhyo"): 2,  # the center has nothing
    }
    recorded = {
        ("seven", "131016", "juminhyo"): 10,
        ("seven", "131016", "inkan"): 4,
        ("seven", "139998", "juminhyo"): 7,  # the operator did not report it
    }
    r = reconcile(
        Month(2026, 4), "seven", reported=reported, recorded=recorded, reports_received=["seven"]
    )
    got = {
        (d.municipality_code, d.certificate_kind): (d.reported, d.recorded, d.kind)
        for d in r.differences
    }
    assert got == {
        ("131016", "inkan"): (5, 4, DifferenceKind.DIFFERENT),
        ("131024", "juminhyo"): (2, 0, DifferenceKind.NOT_RECORDED),
        ("139998", "juminhyo"): (0, 7, DifferenceKind.NOT_REPORTED),
    }
    assert (r.matched_cells, r.reported_copies, r.recorded_copies) == (1, 17, 21)
    assert not r.agrees
    assert [d.difference for d in r.differences] == [1, 2, -7]


keys = st.tuples(
    st.sampled_from(["seven", "lawson"]),
    st.sampled_from(["131016", "139998"]),
    st.sampled_from(["juminhyo", "inkan"]),
)


@given(st.dictionaries(keys, st.integers(0, 50)), st.dictionaries(keys, st.integers(0, 50)))
def test_every_cell_either_matches_or_is_listed(
    reported: dict[tuple[str, str, str], int], recorded: dict[tuple[str, str, str], int]
) -> None:
    r = reconcile(Month(2026, 4), "", reported=reported, recorded=recorded, reports_received=[])
    listed = {(d.operator_id, d.municipality_code, d.certificate_kind) for d in r.differences}
    for key in set(reported) | set(recorded):
        same = reported.get(key, 0) == recorded.get(key, 0)
        assert (key in listed) is not same
    assert r.matched_cells + len(r.differences) == len(set(reported) | set(recorded))
    assert sum(d.difference for d in r.differences) == r.reported_copies - r.recorded_copies
