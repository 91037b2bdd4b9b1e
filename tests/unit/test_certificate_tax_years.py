"""Which fiscal years of tax certificates a kiosk issues, and how years are printed."""

from __future__ import annotations

from datetime import date

import pytest

from server.common.errors import FailedPrecondition
from server.issuance.tax import (
    KIOSK_TAX_YEARS,
    FiscalYearNotOffered,
    TaxYears,
    fiscal_year_label,
    income_year_label,
)


def test_a_fiscal_years_tax_is_certified_from_its_assessment_in_june() -> None:
    assert KIOSK_TAX_YEARS.latest(date(2026, 5, 31)) == 2025
    assert KIOSK_TAX_YEARS.latest(date(2026, 6, 1)) == 2026
    assert KIOSK_TAX_YEARS.offered(date(2026, 4, 1)) == (2025, 2024, 2023)
    assert TaxYears(count=5).offered(date(2026, 7, 1)) == (2026, 2025, 2024, 2023, 2022)


def test_a_year_outside_the_range_is_refused_with_its_own_reason() -> None:
    today = date(2026, 4, 1)
    KIOSK_TAX_YEARS.check(2023, today)
    for year in (2022, 2026, 0):
        with pytest.raises(FiscalYearNotOffered) as err:
            KIOSK_TAX_YEARS.check(year, today)
        assert isinstance(err.value, FailedPrecondition)
        assert err.value.error_reason == "FISCAL_YEAR_OUT_OF_RANGE"
        assert err.value.metadata == {"first": "2023", "last": "2025"}


@pytest.mark.parametrize("count", [0, 11])
def test_a_range_is_one_to_ten_years(count: int) -> None:
    with pytest.raises(ValueError):
        TaxYears(count=count)


@pytest.mark.parametrize(
    ("fiscal_year", "label", "income"),
    [
        (2025, "令和7年度", "令和6年分"),
        (2020, "令和2年度", "令和元年分"),
        (2019, "令和元年度", "平成30年分"),
        (2018, "平成30年度", "平成29年分"),
        (1989, "平成元年度", "昭和63年分"),
    ],
)
def test_years_are_named_in_the_era_calendar(fiscal_year: int, label: str, income: str) -> None:
    assert fiscal_year_label(fiscal_year) == label
    assert income_year_label(fiscal_year) == income
