"""The synthetic municipality: deterministic, unique identifiers, and households that make sense."""

from __future__ import annotations

import inspect
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.bcl.records import (
    MunicipalityClass,
    ResidentRecord,
    Sex,
    individual_number_check_digit,
)
from server.bcl.synthetic import (
    SyntheticMunicipality,
    generate_municipality,
    iter_residents,
    mayor_title,
    municipality_class,
)

TODAY = date(2026, 4, 1)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KATAKANA = re.compile(r"[ァ-ヶー]+")


@pytest.fixture(scope="module")
def muni() -> SyntheticMunicipality:
    return generate_municipality(seed=2026, households=1500, today=TODAY)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def by_household(residents: Iterable[ResidentRecord]) -> dict[str, list[ResidentRecord]]:
    out: dict[str, list[ResidentRecord]] = defaultdict(list)
    for r in residents:
        out[r.household_id].append(r)
    return out


def check_household_invariants(members: list[ResidentRecord], today: date) -> None:
    heads = [m for m in members if m.is_household_head]
    assert len(heads) == 1 and members[0] is heads[0]
    for m in members:
        assert m.birth_date <= m.became_resident_on <= m.address_set_on <= today
        assert m.individual_number[-1] == str(
            individual_number_check_digit(m.individual_number[:11])
        )
        assert KATAKANA.fullmatch(m.family_name_kana) and KATAKANA.fullmatch(m.given_name_kana)
        assert m.address == members[0].address and m.address_annex == members[0].address_annex
        assert m.suppressed == members[0].suppressed  # suppression covers the household


def test_same_seed_gives_identical_output() -> None:
    a = generate_municipality(seed=7, households=150, today=TODAY)
    b = generate_municipality(seed=7, households=150, today=TODAY)
    assert a == b


def test_a_different_seed_gives_different_residents() -> None:
    a = generate_municipality(seed=7, households=50, today=TODAY)
    b = generate_municipality(seed=8, households=50, today=TODAY)
    assert [r.full_name for r in a.residents] != [r.full_name for r in b.residents]
    assert {r.individual_number for r in a.residents}.isdisjoint(
        r.individual_number for r in b.residents
    )


def test_every_individual_number_has_its_check_digit(muni: SyntheticMunicipality) -> None:
    for r in muni.residents:
        assert re.fullmatch(r"\d{12}", r.individual_number)
        assert int(r.individual_number[11]) == individual_number_check_digit(
            r.individual_number[:11]
        )


def test_identifiers_are_unique(muni: SyntheticMunicipality) -> None:
    residents = muni.residents
    for attr in ("resident_id", "juminhyo_code", "individual_number"):
        values = [getattr(r, attr) for r in residents]
        assert len(set(values)) == len(values), attr
    numbers = [s.registration_number for s in muni.seals]
    assert len(set(numbers)) == len(numbers)
    assert len({s.resident_id for s in muni.seals}) == len(muni.seals)  # one seal per person
    households = by_household(residents)
    assert len(households) == 1500
    # Zero-padded and in one block per household.
    assert all(re.fullmatch(r"\d{10}", r.resident_id) for r in residents)
    assert all(re.fullmatch(r"\d{8}", h) for h in households)
    assert [r.household_id for r in residents] == sorted(r.household_id for r in residents)


def test_every_household_has_exactly_one_head_listed_first(muni: SyntheticMunicipality) -> None:
    for members in by_household(muni.residents).values():
        check_household_invariants(members, TODAY)


def test_household_shapes_vary(muni: SyntheticMunicipality) -> None:
    sizes = [len(m) for m in by_household(muni.residents).values()]
    assert 1.6 < len(muni.residents) / len(sizes) < 3.0
    assert {1, 2, 3, 4} <= set(sizes)
    relationships = {r.relationship for r in muni.residents}
    assert {"世帯主", "妻", "子", "父", "母", "子の妻", "子の子"} <= relationships


def test_children_are_20_to_45_years_younger_than_their_parents(
    muni: SyntheticMunicipality,
) -> None:
    checked = 0
    for members in by_household(muni.residents).values():
        rel = defaultdict(list)
        for m in members:
            rel[m.relationship].append(m)
        generations = [
            (rel["世帯主"] + rel["妻"] + rel["夫"], rel["子"]),
            (rel["父"] + rel["母"], rel["世帯主"]),
            (rel["子"] + rel["子の妻"] + rel["子の夫"], rel["子の子"]),
        ]
        for parents, children in generations:
            for parent in parents:
                for child in children:
                    assert 20 <= age_on(parent.birth_date, child.birth_date) <= 45
                    checked += 1
    assert checked > 500


def test_children_share_the_family_name(muni: SyntheticMunicipality) -> None:
    for members in by_household(muni.residents).values():
        head = members[0]
        for m in members:
            if m.relationship in ("子", "子の子", "妻", "夫", "父", "母"):
                assert m.family_name == head.family_name


def test_sex_matches_relationship_and_given_name(muni: SyntheticMunicipality) -> None:
    female = {"妻", "母", "子の妻"}
    male = {"夫", "父", "子の夫"}
    sexes_by_name: dict[str, set[Sex]] = defaultdict(set)
    for r in muni.residents:
        if r.relationship in female:
            assert r.sex is Sex.FEMALE
        if r.relationship in male:
            assert r.sex is Sex.MALE
        sexes_by_name[r.given_name].add(r.sex)
    assert all(len(s) == 1 for s in sexes_by_name.values())


def test_each_name_has_one_katakana_reading(muni: SyntheticMunicipality) -> None:
    readings: dict[str, set[str]] = defaultdict(set)
    for r in muni.residents:
        assert KATAKANA.fullmatch(r.family_name_kana), r.family_name_kana
        assert KATAKANA.fullmatch(r.given_name_kana), r.given_name_kana
        readings[f"family:{r.family_name}"].add(r.family_name_kana)
        readings[f"given:{r.given_name}"].add(r.given_name_kana)
    assert all(len(v) == 1 for v in readings.values())
    assert readings["family:佐藤"] == {"サトウ"}


def test_dates_are_plausible(muni: SyntheticMunicipality) -> None:
    for r in muni.residents:
        assert r.birth_date <= r.became_resident_on <= r.address_set_on <= TODAY
        assert 0 <= age_on(r.birth_date, TODAY) <= 100
        if r.is_household_head:
            assert age_on(r.birth_date, TODAY) >= 20
    ages = [age_on(r.birth_date, TODAY) for r in muni.residents]
    assert min(ages) < 5 and max(ages) > 80


def test_addresses_lie_inside_the_municipality(muni: SyntheticMunicipality) -> None:
    full = muni.profile.full_name
    for r in muni.residents:
        assert r.address.startswith(full)
        assert re.search(r"\d+番\d+号$", r.address)
    with_annex = sum(1 for r in muni.residents if r.address_annex) / len(muni.residents)
    assert 0.2 < with_annex < 0.7
    assert any("九段" in r.address for r in muni.residents)


def test_honseki_and_hittousha(muni: SyntheticMunicipality) -> None:
    full = muni.profile.full_name
    elsewhere = [r for r in muni.residents if not r.honseki.startswith(full)]
    assert 0.2 < len(elsewhere) / len(muni.residents) < 0.8
    for r in muni.residents:
        family, _, given = r.hittousha.partition("　")
        assert family and given
    # A couple shares one 戸籍; its 筆頭者 is the head whose surname they took.
    for members in by_household(muni.residents).values():
        spouses = [m for m in members if m.relationship in ("妻", "夫")]
        for s in spouses:
            assert (s.honseki, s.hittousha) == (members[0].honseki, members[0].hittousha)
            assert members[0].hittousha == members[0].full_name


def test_some_residents_carry_a_former_surname(muni: SyntheticMunicipality) -> None:
    former = [r for r in muni.residents if r.former_family_name]
    assert former
    assert all(r.former_family_name != r.family_name for r in former)


def test_about_sixty_percent_of_adults_register_a_seal(muni: SyntheticMunicipality) -> None:
    adults = {r.resident_id: r for r in muni.residents if age_on(r.birth_date, TODAY) >= 18}
    assert 0.5 < len(muni.seals) / len(adults) < 0.7
    for seal in muni.seals:
        owner = adults[seal.resident_id]  # only adults hold one
        assert owner.became_resident_on <= seal.registered_on <= TODAY
        assert age_on(owner.birth_date, seal.registered_on) >= 15
        assert seal.active and seal.impression_png.startswith(PNG_SIGNATURE)
        assert re.fullmatch(r"\d{8}", seal.registration_number)


def test_suppression_fraction_is_a_parameter() -> None:
    default = generate_municipality(seed=3, households=400, today=TODAY)
    assert sum(r.suppressed for r in default.residents) < len(default.residents) * 0.05
    none = generate_municipality(seed=3, households=200, today=TODAY, suppressed_fraction=0.0)
    assert not any(r.suppressed for r in none.residents)
    many = list(iter_residents(seed=3, households=2000, today=TODAY, suppressed_fraction=0.2))
    share = sum(h.members[0].suppressed for h in many) / len(many)
    assert 0.15 < share < 0.25


def test_profile(muni: SyntheticMunicipality) -> None:
    p = muni.profile
    assert (p.code, p.prefecture, p.name, p.mayor_title) == ("131016", "東京都", "千代田区", "区長")
    assert p.population == len(muni.residents)
    assert p.municipality_class is MunicipalityClass.CITY_SMALL
    assert p.fees == {"juminhyo": 200, "inkan": 200}
    assert re.fullmatch(r"\S+　\S+", p.mayor_name)
    assert p.seal_png.startswith(PNG_SIGNATURE)


def test_profile_parameters() -> None:
    m = generate_municipality(
        seed=1,
        households=3,
        code="133035",
        prefecture="東京都",
        name="瑞穂町",
        today=TODAY,
        joined_on=date(2024, 10, 1),
        fees={"juminhyo": 100, "inkan": 100},
    )
    assert m.profile.mayor_title == "町長"
    assert m.profile.municipality_class is MunicipalityClass.TOWN_VILLAGE
    assert m.profile.joined_on == date(2024, 10, 1)
    assert m.profile.fees == {"juminhyo": 100, "inkan": 100}
    assert all(r.address.startswith("東京都瑞穂町") for r in m.residents)


@pytest.mark.parametrize(
    ("name", "title"),
    [("千代田区", "区長"), ("横浜市", "市長"), ("瑞穂町", "町長"), ("檜原村", "村長")],
)
def test_mayor_title_follows_the_name_suffix(name: str, title: str) -> None:
    assert mayor_title(name) == title


def test_a_name_without_a_municipal_suffix_is_refused() -> None:
    with pytest.raises(ValueError, match="区, 市, 町 or 村"):
        mayor_title("千代田")


@pytest.mark.parametrize(
    ("name", "population", "designated", "expected"),
    [
        ("横浜市", 3_770_000, True, MunicipalityClass.DESIGNATED_CITY_LARGE),
        ("某市", 1_000_000, False, MunicipalityClass.DESIGNATED_CITY_LARGE),
        ("相模原市", 720_000, True, MunicipalityClass.DESIGNATED_CITY),
        ("世田谷区", 940_000, False, MunicipalityClass.CITY_150K),
        ("某市", 150_000, False, MunicipalityClass.CITY_150K),
        ("千代田区", 68_000, False, MunicipalityClass.CITY_50K),
        ("某市", 30_000, False, MunicipalityClass.CITY_30K),
        ("某市", 29_999, False, MunicipalityClass.CITY_SMALL),
        ("某町", 40_000, False, MunicipalityClass.TOWN_VILLAGE),
        ("某村", 2_000, False, MunicipalityClass.TOWN_VILLAGE),
    ],
)
def test_municipality_class_from_population(
    name: str, population: int, designated: bool, expected: MunicipalityClass
) -> None:
    assert municipality_class(name, population, designated_city=designated) is expected


def test_streaming_is_a_generator_of_households() -> None:
    # A generator yields as it goes: nothing is built before the first household is asked for.
    assert inspect.isgenerator(iter_residents(seed=11, households=10**9, today=TODAY))
    stream = iter_residents(seed=11, households=9000, today=TODAY)
    residents = 0
    ids: set[str] = set()
    for household in stream:
        check_household_invariants(list(household.members), TODAY)
        assert {s.resident_id for s in household.seals} <= {
            m.resident_id for m in household.members
        }
        ids.add(household.members[-1].individual_number)
        residents += len(household.members)
        if residents >= 20_000:
            break
    assert residents >= 20_000
    assert len(ids) > 8000


def test_the_in_memory_municipality_is_the_stream_collected() -> None:
    m = generate_municipality(seed=5, households=40, today=TODAY)
    streamed = [r for h in iter_residents(seed=5, households=40, today=TODAY) for r in h.members]
    assert list(m.residents) == streamed


@pytest.mark.parametrize(
    "kwargs",
    [
        {"households": -1},
        {"suppressed_fraction": 1.5},
        {"code": "131017"},  # wrong check digit
        {"code": "13101"},
        {"name": "千代田"},
    ],
)
def test_bad_arguments_are_refused_before_streaming(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"seed": 1, "households": 1, **kwargs}
    with pytest.raises(ValueError):
        iter_residents(**args)  # no next(): refused on the call itself
    with pytest.raises(ValueError):
        generate_municipality(**args)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**63), day=st.dates(date(2000, 1, 1), date(2040, 1, 1))
)
def test_invariants_hold_for_any_seed_and_day(seed: int, day: date) -> None:
    for household in iter_residents(seed=seed, households=25, today=day):
        check_household_invariants(list(household.members), day)
        for seal in household.seals:
            assert seal.registered_on <= day
