from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.bcl.records import IssuingBackend
from server.common.errors import InvalidArgument
from server.settlement.fees import charges_for_copy
from server.settlement.queries import parse_month


def test_bcl_municipality_pays_commission_and_bcl_fee_per_copy() -> None:
    c = charges_for_copy(fee_yen=200, backend=IssuingBackend.BCL)
    assert (c.fee_yen, c.commission_yen, c.bcl_fee_yen) == (200, 117, 180)
    assert c.operator_remits_yen == 83


def test_own_server_municipality_pays_no_bcl_fee() -> None:
    assert charges_for_copy(fee_yen=300, backend=IssuingBackend.OWN_SERVER).bcl_fee_yen == 0


def test_month_boundaries_are_in_japan_time() -> None:
    start, end = parse_month("2026-04")
    # 2026-04-01 00:00 JST is 2026-03-31 15:00 UTC.
    assert start == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    assert end == datetime(2026, 4, 30, 15, 0, tzinfo=UTC)


def test_december_rolls_into_the_next_year() -> None:
    _, end = parse_month("2026-12")
    assert end == datetime(2026, 12, 31, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["2026-13", "2026-4", "26-04", "", "2026-04-01", "abcd-ef"])
def test_malformed_months_are_invalid_arguments(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_month(bad)
