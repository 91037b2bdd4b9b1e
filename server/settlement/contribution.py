"""The yearly operating contribution (運営負担金, tax included), SPEC section 4.

Each participating municipality pays J-LIS a fixed amount per fiscal year, by its class
(`MunicipalityClass`: designated city, city band by population, town/village). BCL-backed
small municipalities pay less: cities under 30,000 and towns/villages (the deck's 「町村及び3万人
未満の市は減額あり」). The class itself is decided at onboarding by
`server.bcl.synthetic.municipality_class` and stored with the municipality; this module only
prices it.

In the fiscal year a municipality joins, the contribution is pro-rated by months of
participation (月割): the month of `joined_on` counts as a whole month, and the amount is
`annual × months ÷ 12` with any fraction of a yen truncated (円未満切り捨て, the rule of 国等の
債権債務等の金額の端数計算に関する法律 for amounts owed). Joining in October gives 6 months,
e.g. a BCL town pays 345,481 × 6 ÷ 12 = 172,740.5 → 172,740 yen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from server.bcl.records import IssuingBackend, MunicipalityClass
from server.settlement.periods import Month, check_fiscal_year, fiscal_year_months

_C = MunicipalityClass
_BCL, _OWN = IssuingBackend.BCL, IssuingBackend.OWN_SERVER

ANNUAL_CONTRIBUTION_YEN: Mapping[tuple[MunicipalityClass, IssuingBackend], int] = {
    (_C.DESIGNATED_CITY_LARGE, _OWN): 9_879_630,  # 政令市 人口100万人以上
    (_C.DESIGNATED_CITY_LARGE, _BCL): 9_879_630,
    (_C.DESIGNATED_CITY, _OWN): 7_842_593,  # 政令市 人口100万人未満
    (_C.DESIGNATED_CITY, _BCL): 7_842_593,
    (_C.CITY_150K, _OWN): 4_787_037,  # 市・特別区 15万人以上
    (_C.CITY_150K, _BCL): 4_787_037,
    (_C.CITY_50K, _OWN): 2_728_000,  # 5万人以上15万人未満
    (_C.CITY_50K, _BCL): 2_728_000,
    (_C.CITY_30K, _OWN): 2_218_741,  # 3万人以上5万人未満
    (_C.CITY_30K, _BCL): 2_218_741,
    (_C.CITY_SMALL, _OWN): 2_218_741,  # 3万人未満
    (_C.CITY_SMALL, _BCL): 1_873_259,  # BCL reduction (減額)
    (_C.TOWN_VILLAGE, _OWN): 690_963,  # 町村
    (_C.TOWN_VILLAGE, _BCL): 345_481,  # BCL reduction (R5年度以降 345千円)
}


def annual_contribution(cls: MunicipalityClass, backend: IssuingBackend) -> int:
    """The full-year contribution in yen for a municipality of this class and backend."""
    return ANNUAL_CONTRIBUTION_YEN[(cls, backend)]


def participating_months(joined_on: date, fiscal_year: int) -> int:
    """Months of `fiscal_year` from the month of joining to March, inclusive (0 to 12)."""
    joined = Month.of_date(joined_on)
    return sum(1 for m in fiscal_year_months(fiscal_year) if m >= joined)


def prorate(annual_yen: int, months: int) -> int:
    """月割: annual × months / 12, fractions of a yen truncated."""
    if annual_yen < 0 or not 0 <= months <= 12:
        raise ValueError("annual must be non-negative and months between 0 and 12")
    return annual_yen * months // 12


def contribution_for_year(
    cls: MunicipalityClass, backend: IssuingBackend, *, joined_on: date, fiscal_year: int
) -> int:
    """What the municipality owes for `fiscal_year`, pro-rated in its first year."""
    check_fiscal_year(fiscal_year)
    return prorate(annual_contribution(cls, backend), participating_months(joined_on, fiscal_year))
