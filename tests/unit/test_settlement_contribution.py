"""The yearly operating contribution (運営負担金): every class and band, BCL reductions, 月割."""

from __future__ import annotations

from datetime import date

import pytest

from server.bcl.records import IssuingBackend, MunicipalityClass
from server.bcl.synthetic import municipality_class
from server.settlement.contribution import (
    annual_contribution,
    contribution_for_year,
    participating_months,
    prorate,
)
from server.settlement.fees import BCL_ISSUING_FEE_YEN

BCL, OWN = IssuingBackend.BCL, IssuingBackend.OWN_SERVER
C = MunicipalityClass


def test_the_seed_worked_example_a_bcl_town_with_1000_copies() -> None:
    # 「年間1,000通でも18万円+35万円 = 53万円」: 180 × 1,000 plus the town's BCL contribution.
    bcl_fees = BCL_ISSUING_FEE_YEN * 1_000
    contribution = contribution_for_year(
        C.TOWN_VILLAGE, BCL, joined_on=date(2020, 4, 1), fiscal_year=2026
    )
    assert (bcl_fees, contribution) == (180_000, 345_481)
    assert bcl_fees + contribution == 525_481  # the deck rounds it to 53万円


# (name, population, designated city?) → class; the boundaries are where a band starts.
BANDS = [
    ("横浜市", 1_000_000, True, C.DESIGNATED_CITY_LARGE),
    ("大阪市", 999_999, True, C.DESIGNATED_CITY),
    ("某市", 1_000_000, False, C.DESIGNATED_CITY_LARGE),  # every city of a million is designated
    ("某市", 999_999, False, C.CITY_150K),
    ("某市", 150_000, False, C.CITY_150K),
    ("某市", 149_999, False, C.CITY_50K),
    ("某区", 50_000, False, C.CITY_50K),
    ("某市", 49_999, False, C.CITY_30K),
    ("某市", 30_000, False, C.CITY_30K),
    ("某市", 29_999, False, C.CITY_SMALL),
    ("某町", 2_000_000, False, C.TOWN_VILLAGE),  # a town is a town whatever its size
    ("某村", 500, False, C.TOWN_VILLAGE),
]


@pytest.mark.parametrize(("name", "population", "designated", "expected"), BANDS)
def test_population_bands_start_at_their_boundary(
    name: str, population: int, designated: bool, expected: MunicipalityClass
) -> None:
    assert municipality_class(name, population, designated_city=designated) is expected


# SPEC section 4, 運営負担金 (tax included): own issuing server / BCL.
SPEC_FIGURES = [
    (C.DESIGNATED_CITY_LARGE, 9_879_630, 9_879_630),
    (C.DESIGNATED_CITY, 7_842_593, 7_842_593),
    (C.CITY_150K, 4_787_037, 4_787_037),
    (C.CITY_50K, 2_728_000, 2_728_000),
    (C.CITY_30K, 2_218_741, 2_218_741),
    (C.CITY_SMALL, 2_218_741, 1_873_259),
    (C.TOWN_VILLAGE, 690_963, 345_481),
]


@pytest.mark.parametrize(("cls", "own", "bcl"), SPEC_FIGURES)
def test_each_class_pays_the_spec_figure(cls: MunicipalityClass, own: int, bcl: int) -> None:
    assert annual_contribution(cls, OWN) == own
    assert annual_contribution(cls, BCL) == bcl


@pytest.mark.parametrize(("name", "population", "designated", "cls"), BANDS)
def test_band_boundaries_give_the_spec_figure_end_to_end(
    name: str, population: int, designated: bool, cls: MunicipalityClass
) -> None:
    figures = {c: (own, bcl) for c, own, bcl in SPEC_FIGURES}
    derived = municipality_class(name, population, designated_city=designated)
    for backend, figure in zip((OWN, BCL), figures[cls], strict=True):
        assert (
            contribution_for_year(derived, backend, joined_on=date(2019, 4, 1), fiscal_year=2026)
            == figure
        )


def test_only_small_cities_and_towns_get_the_bcl_reduction() -> None:
    reduced = {
        c for c in MunicipalityClass if annual_contribution(c, BCL) < annual_contribution(c, OWN)
    }
    assert reduced == {C.CITY_SMALL, C.TOWN_VILLAGE}


@pytest.mark.parametrize(
    ("joined_on", "months"),
    [
        (date(2026, 3, 31), 12),  # joined before the fiscal year: a whole year
        (date(2026, 4, 1), 12),
        (date(2026, 4, 30), 12),  # the month of joining counts in full
        (date(2026, 10, 1), 6),  # October → October..March
        (date(2026, 10, 31), 6),
        (date(2027, 1, 15), 3),
        (date(2027, 3, 1), 1),
        (date(2027, 4, 1), 0),  # joins next year: nothing this year
    ],
)
def test_months_of_participation_in_fiscal_2026(joined_on: date, months: int) -> None:
    assert participating_months(joined_on, 2026) == months


def test_joining_in_october_pays_six_twelfths_truncated_to_the_yen() -> None:
    # 345,481 × 6 / 12 = 172,740.5 → 172,740: fractions of a yen are truncated (円未満切り捨て).
    assert (
        contribution_for_year(C.TOWN_VILLAGE, BCL, joined_on=date(2026, 10, 1), fiscal_year=2026)
        == 172_740
    )
    # 9,879,630 × 6 / 12 = 4,939,815 exactly.
    assert (
        contribution_for_year(
            C.DESIGNATED_CITY_LARGE, OWN, joined_on=date(2026, 10, 15), fiscal_year=2026
        )
        == 4_939_815
    )
    # From the next fiscal year on, the whole amount.
    assert (
        contribution_for_year(C.TOWN_VILLAGE, BCL, joined_on=date(2026, 10, 1), fiscal_year=2027)
        == 345_481
    )


@pytest.mark.parametrize("months", range(13))
def test_prorating_truncates_and_never_exceeds_the_exact_share(months: int) -> None:
    for annual in (345_481, 1_873_259, 2_218_741, 7_842_593):
        share = prorate(annual, months)
        assert share <= annual * months / 12 < share + 1


def test_prorating_rejects_impossible_months() -> None:
    with pytest.raises(ValueError):
        prorate(345_481, 13)
