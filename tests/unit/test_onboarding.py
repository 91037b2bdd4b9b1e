from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from server.bcl.records import IssuingBackend, MunicipalityClass
from server.common.errors import Conflict, FailedPrecondition, InvalidArgument
from server.db.engine import make_engine, upgrade
from server.municipal.onboarding import (
    OnboardingRequest,
    contribution_class,
    lookup,
    national_list,
    onboard,
)


def test_the_national_list_holds_every_municipality_of_the_seed() -> None:
    # SPEC: 1,741 municipalities (市町村 and 特別区).
    assert len(national_list()) == 1741


def test_lookup_takes_name_and_mayor_title_from_the_national_list() -> None:
    e = lookup("131016")
    assert (e.prefecture, e.name, e.mayor_title) == ("東京都", "千代田区", "区長")
    assert lookup("141003").name == "横浜市"


@pytest.mark.parametrize("code", ["131017", "13101", "abcdef", "999997"])
def test_codes_with_a_wrong_check_digit_or_not_in_the_list_are_refused(code: str) -> None:
    with pytest.raises(InvalidArgument):
        lookup(code)


@pytest.mark.parametrize(
    ("code", "population", "designated", "expected"),
    [
        ("141003", 3_770_000, True, MunicipalityClass.DESIGNATED_CITY_LARGE),
        ("141003", 999_999, True, MunicipalityClass.DESIGNATED_CITY),
        ("131016", 150_000, False, MunicipalityClass.CITY_150K),
        ("131016", 149_999, False, MunicipalityClass.CITY_50K),
        ("131016", 50_000, False, MunicipalityClass.CITY_50K),
        ("131016", 49_999, False, MunicipalityClass.CITY_30K),
        ("131016", 30_000, False, MunicipalityClass.CITY_30K),
        ("131016", 29_999, False, MunicipalityClass.CITY_SMALL),
        ("105236", 11_000, False, MunicipalityClass.TOWN_VILLAGE),  # 群馬県千代田町
    ],
)
def test_contribution_class_follows_population_bands(
    code: str, population: int, designated: bool, expected: MunicipalityClass
) -> None:
    assert contribution_class(lookup(code), population, designated_city=designated) is expected


def test_a_town_cannot_be_a_designated_city() -> None:
    with pytest.raises(InvalidArgument):
        contribution_class(lookup("105236"), 2_000_000, designated_city=True)


def request(**kw: object) -> OnboardingRequest:
    args: dict[str, object] = {
        "code": "131016",
        "population": 68_000,
        "joined_on": date(2026, 10, 1),
        "backend": IssuingBackend.BCL,
        "mayor_name": "千代田　一郎",
    }
    args.update(kw)
    return OnboardingRequest(**args)  # type: ignore[arg-type]


def test_onboarding_stores_the_municipality_and_its_offerings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    upgrade(engine)
    row = onboard(engine, request())
    assert (row.name, row.mayor_title, row.municipality_class) == ("千代田区", "区長", "city_50k")
    with pytest.raises(Conflict):
        onboard(engine, request())


def test_a_bcl_municipality_cannot_be_onboarded_offering_kisai(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    upgrade(engine)
    with pytest.raises(FailedPrecondition):
        onboard(engine, request(fees={"juminhyo_kisai": 300}))
    row = onboard(engine, request(backend=IssuingBackend.OWN_SERVER, fees={"juminhyo_kisai": 300}))
    assert row.backend == "own"
