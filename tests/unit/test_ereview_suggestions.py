"""Procedure suggestions: each rule fires for the household it describes, and only then."""

from __future__ import annotations

from datetime import date

from server.ereview.model import Procedure
from server.ereview.suggestions import (
    HouseholdPerson,
    age_on,
    birthday,
    fiscal_year_start,
    suggest,
)

TODAY = date(2026, 6, 15)


def _rules(members: list[HouseholdPerson], **kw: object) -> dict[Procedure, str]:
    return {s.procedure: s.rule_id for s in suggest(members, TODAY, **kw)}  # type: ignore[arg-type]


def _couple() -> list[HouseholdPerson]:
    return [HouseholdPerson(date(1990, 5, 1), "世帯主"), HouseholdPerson(date(1991, 8, 2), "妻")]


def test_new_baby_suggests_child_allowance_and_birth_grant() -> None:
    rules = _rules([*_couple(), HouseholdPerson(date(2026, 5, 20), "子")])
    assert rules[Procedure.JIDO_TEATE] == "NEW_BABY"
    assert rules[Procedure.SHUSSAN_ICHIJIKIN] == "NEW_BABY"
    assert rules[Procedure.HOIKUSHO_NYUSHO] == "NURSERY_AGE"


def test_the_suggestion_names_the_member() -> None:
    (baby,) = [
        s
        for s in suggest([*_couple(), HouseholdPerson(date(2026, 5, 20), "子")], TODAY)
        if s.procedure is Procedure.SHUSSAN_ICHIJIKIN
    ]
    assert baby.members == (2,)
    assert baby.title == "出産育児一時金"


def test_school_child_gets_child_allowance_but_not_nursery() -> None:
    rules = _rules([*_couple(), HouseholdPerson(date(2015, 9, 1), "子")])
    assert rules == {Procedure.JIDO_TEATE: "CHILD_UNDER_18"}


def test_school_entry_next_april() -> None:
    # Born 2020-04-02 .. 2021-04-01 start 小学校 in April 2027.
    assert Procedure.SHUGAKU in _rules([*_couple(), HouseholdPerson(date(2021, 4, 1), "子")])
    assert Procedure.SHUGAKU in _rules([*_couple(), HouseholdPerson(date(2020, 4, 2), "子")])
    assert Procedure.SHUGAKU not in _rules([*_couple(), HouseholdPerson(date(2021, 4, 2), "子")])


def test_turning_65_and_75() -> None:
    rules = _rules(
        [HouseholdPerson(date(1961, 8, 1), "世帯主"), HouseholdPerson(date(1951, 7, 1), "母")]
    )
    assert rules[Procedure.KAIGO_HOKEN] == "TURNING_65"
    assert rules[Procedure.KOKI_KOREISHA_IRYO] == "TURNING_75"
    assert Procedure.KAIGO_HOKEN not in _rules([HouseholdPerson(date(1962, 1, 1), "世帯主")])


def test_turning_20() -> None:
    assert Procedure.KOKUMIN_NENKIN in _rules([HouseholdPerson(date(2006, 7, 10), "世帯主")])


def test_single_parent() -> None:
    rules = _rules(
        [HouseholdPerson(date(1988, 1, 1), "世帯主"), HouseholdPerson(date(2016, 1, 1), "子")]
    )
    assert rules[Procedure.JIDO_FUYO_TEATE] == "SINGLE_PARENT"
    assert Procedure.JIDO_FUYO_TEATE not in _rules(
        [*_couple(), HouseholdPerson(date(2016, 1, 1), "子")]
    )


def test_nothing_for_a_quiet_household() -> None:
    assert _rules(_couple()) == {}


def test_the_procedure_applied_for_is_not_suggested_back() -> None:
    members = [*_couple(), HouseholdPerson(date(2026, 5, 20), "子")]
    assert Procedure.JIDO_TEATE not in _rules(members, exclude=Procedure.JIDO_TEATE)


def test_date_helpers() -> None:
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26
    assert birthday(date(2000, 2, 29), 65) == date(2065, 3, 1)
    assert fiscal_year_start(date(2026, 3, 31)) == date(2025, 4, 1)
    assert fiscal_year_start(date(2026, 4, 1)) == date(2026, 4, 1)
