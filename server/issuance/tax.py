"""Tax certificates (各種税証明書): which fiscal years a kiosk issues, and how years are named.

所得証明書, 課税（非課税）証明書 and 納税証明書 certify one fiscal year (年度) of 個人住民税 for
the taxpayer only. A fiscal year's tax is assessed in June (the income of the calendar year
before), so until June the latest year there is to certify is the previous one. A municipality
issues the latest few years at kiosks (`TaxYears.count`, three by default); a year in that
range for which the resident has no record is refused with its own reason, so the kiosk can
say so rather than "not available".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.common.era import era_of
from server.common.errors import FailedPrecondition, NotFound


class FiscalYearNotOffered(FailedPrecondition):
    reason = "FISCAL_YEAR_OUT_OF_RANGE"


class NoTaxRecord(NotFound):
    reason = "NO_TAX_RECORD"


@dataclass(frozen=True)
class TaxYears:
    """The fiscal years of tax certificates issued at kiosks: the latest `count`."""

    count: int = 3
    assessment_month: int = 6  # 住民税 is assessed (課税決定) in June

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 10:
            raise ValueError("a kiosk issues 1 to 10 fiscal years of tax certificates")
        if not 1 <= self.assessment_month <= 12:
            raise ValueError("assessment_month is a month")

    def latest(self, today: date) -> int:
        """The newest assessed fiscal year on `today` (a JST date)."""
        return today.year if today.month >= self.assessment_month else today.year - 1

    def offered(self, today: date) -> tuple[int, ...]:
        """Newest first."""
        latest = self.latest(today)
        return tuple(range(latest, latest - self.count, -1))

    def check(self, fiscal_year: int, today: date) -> None:
        years = self.offered(today)
        if fiscal_year not in years:
            first, last = fiscal_year_label(years[-1]), fiscal_year_label(years[0])
            raise FiscalYearNotOffered(
                f"kiosks issue tax certificates of {first} to {last}; ask the counter for others",
                metadata={"first": str(years[-1]), "last": str(years[0])},
            )


KIOSK_TAX_YEARS = TaxYears()  # the latest three assessed years


def fiscal_year_label(fiscal_year: int) -> str:
    """2025 → 令和7年度; 2019 → 令和元年度 (a fiscal year is named by the era of its end of
    year, as municipalities do)."""
    return f"{_era_year(fiscal_year)}年度"


def income_year_label(fiscal_year: int) -> str:
    """The income a fiscal year is assessed on: 2025 → 令和6年分 (calendar 2024)."""
    return f"{_era_year(fiscal_year - 1)}年分"


def _era_year(year: int) -> str:
    era = era_of(date(year, 12, 31))
    n = year - era.start.year + 1
    return f"{era.name}{'元' if n == 1 else n}"
