"""Matcher outcomes: each variant rule, no match, ambiguity, household members, suppression."""

from __future__ import annotations

import functools
import itertools
from datetime import date

import pytest

from server.bcl.records import ResidentRecord, Sex
from server.bcl.synthetic import iter_residents
from server.ereview.index import ResidentIndex
from server.ereview.matcher import Matcher, _Person, near_date
from server.ereview.model import (
    Application,
    DeclaredPerson,
    Field,
    FieldResult,
    FieldStatus,
    MatchResult,
    Outcome,
    Reason,
)
from server.ereview.normalize import VariantRule

ADDRESS = "東京都千代田区九段北一丁目2番3号"
_ids = itertools.count(1)


def resident(
    family: str,
    given: str,
    family_kana: str,
    given_kana: str,
    birth: date,
    *,
    household: str,
    relationship: str = "世帯主",
    address: str = ADDRESS,
    annex: str = "",
    former: str = "",
    suppressed: bool = False,
) -> ResidentRecord:
    n = next(_ids)
    return ResidentRecord(
        resident_id=f"9{n:09d}",
        household_id=household,
        family_name=family,
        given_name=given,
        family_name_kana=family_kana,
        given_name_kana=given_kana,
        birth_date=birth,
        sex=Sex.FEMALE,
        address=address,
        address_annex=annex,
        is_household_head=relationship == "世帯主",
        relationship=relationship,
        honseki="東京都千代田区千代田1番",
        hittousha=f"{family}　{given}",
        juminhyo_code=f"{n:011d}",
        individual_number=f"{n:012d}",
        became_resident_on=date(2010, 1, 1),
        address_set_on=date(2010, 1, 1),
        former_family_name=former,
        suppressed=suppressed,
    )


TAKAHASHI = resident("髙橋", "雅子", "タカハシ", "マサコ", date(1980, 5, 3), household="H1",
                     annex="九段ハイツ301号", former="齋藤")  # fmt: skip
TAKAHASHI_CHILD = resident("髙橋", "蒼空", "タカハシ", "ソラ", date(2025, 12, 1), household="H1",
                           relationship="子")  # fmt: skip
TWIN_A = resident("渡邊", "一葉", "ワタナベ", "カズハ", date(1990, 1, 1), household="H2")
TWIN_B = resident("渡辺", "一葉", "ワタナベ", "カズハ", date(1990, 1, 1), household="H3",
                  address="東京都千代田区富士見二丁目5番1号")  # fmt: skip
HIDDEN = resident("山﨑", "澪音", "ヤマザキ", "ミオン", date(1985, 7, 7), household="H4",
                  address="東京都千代田区麹町三丁目1番1号", suppressed=True)  # fmt: skip


@functools.cache
def matcher() -> Matcher:
    background = (m for h in iter_residents(seed=11, households=3000) for m in h.members)
    mine = [TAKAHASHI, TAKAHASHI_CHILD, TWIN_A, TWIN_B, HIDDEN]
    return Matcher(ResidentIndex.build(itertools.chain(background, mine)))


def submit(
    name: str = "髙橋　雅子",
    kana: str = "タカハシ　マサコ",
    birth: str = "1980-05-03",
    address: str = ADDRESS,
    annex: str = "九段ハイツ301号",
    members: tuple[DeclaredPerson, ...] = (),
) -> MatchResult:
    app = Application("131016", DeclaredPerson(name, kana, birth), address, annex, members)
    return matcher().match(app)


def field(result: MatchResult, which: Field) -> tuple[FieldStatus, tuple[VariantRule, ...]]:
    return field_of(result.fields, which)


def field_of(
    fields: tuple[FieldResult, ...], which: Field
) -> tuple[FieldStatus, tuple[VariantRule, ...]]:
    (f,) = [f for f in fields if f.field is which]
    return f.status, f.rules


def test_exact_application_matches_with_household() -> None:
    result = submit()
    assert result.outcome is Outcome.MATCH
    assert result.resident is not None and result.resident.resident_id == TAKAHASHI.resident_id
    assert [v.resident_id for v in result.household] == [
        TAKAHASHI.resident_id,
        TAKAHASHI_CHILD.resident_id,
    ]
    assert all(f.status is FieldStatus.MATCHED for f in result.fields)
    assert result.score > 0.99
    assert result.reasons == (Reason.CONFIDENT,)


@pytest.mark.parametrize(
    ("kwargs", "which", "rules"),
    [
        ({"name": "高橋 雅子"}, Field.NAME, (VariantRule.KANJI_VARIANT,)),
        ({"name": "髙橋　雅子"}, Field.NAME, ()),
        ({"kana": "たかはし まさこ"}, Field.NAME_KANA, (VariantRule.KANA,)),
        ({"kana": "ﾀｶﾊｼ ﾏｻｺ"}, Field.NAME_KANA, (VariantRule.WIDTH,)),
        ({"birth": "昭和55年5月3日"}, Field.BIRTH_DATE, (VariantRule.ERA_DATE,)),
        ({"birth": "S55.5.3"}, Field.BIRTH_DATE, (VariantRule.ERA_DATE,)),
        ({"address": "九段北1-2-3", "annex": ""}, Field.ADDRESS, (VariantRule.ADDRESS_NOTATION,)),
        ({"address": "東京都千代田区九段北１－２－３", "annex": "九段ハイツ301号"}, Field.ADDRESS,
         (VariantRule.WIDTH, VariantRule.ADDRESS_NOTATION)),
        ({"name": "雅子 髙橋", "kana": "マサコ タカハシ"}, Field.NAME, (VariantRule.NAME_ORDER,)),
        ({"name": "齋藤 雅子", "kana": "サイトウ マサコ"}, Field.NAME, (VariantRule.FORMER_NAME,)),
    ],
)  # fmt: skip
def test_variants_match_and_say_which_rule(
    kwargs: dict[str, str], which: Field, rules: tuple[VariantRule, ...]
) -> None:
    result = submit(**kwargs)  # type: ignore[arg-type]
    assert result.resident is not None and result.resident.resident_id == TAKAHASHI.resident_id
    assert result.outcome is Outcome.MATCH
    status, got = field(result, which)
    if rules:
        assert status is FieldStatus.VARIANT_MATCHED
        assert got == rules
    else:
        assert status is FieldStatus.MATCHED


def test_moved_address_still_matches_but_says_so() -> None:
    result = submit(address="東京都千代田区富士見一丁目9番9号", annex="")
    assert result.outcome is Outcome.MATCH
    assert field(result, Field.ADDRESS)[0] is FieldStatus.MISMATCHED
    assert Reason.ADDRESS_MISMATCH in result.reasons


def test_a_typo_in_the_reading_is_a_near_mismatch() -> None:
    result = submit(kana="タカハシ マサユ")
    assert result.outcome is Outcome.MATCH
    kana = next(f for f in result.fields if f.field is Field.NAME_KANA)
    assert kana.status is FieldStatus.MISMATCHED
    assert 0.5 < kana.score < 1.0


def test_non_resident_gets_no_match_and_no_data() -> None:
    result = submit(
        name="存在 しない", kana="ソンザイ シナイ", birth="1901-01-01", address="", annex=""
    )
    assert result.outcome is Outcome.NO_MATCH
    assert result.resident is None and result.household == () and result.candidates == ()
    assert all(f.status is FieldStatus.NOT_FOUND for f in result.fields)


def test_two_residents_fitting_equally_go_to_review() -> None:
    result = submit(
        name="渡辺 一葉", kana="ワタナベ カズハ", birth="1990-01-01", address="", annex=""
    )
    assert result.outcome is Outcome.REVIEW
    assert Reason.AMBIGUOUS in result.reasons
    assert {c.resident.resident_id for c in result.candidates} == {
        TWIN_A.resident_id,
        TWIN_B.resident_id,
    }
    assert result.household == ()


def test_the_address_tells_apart_residents_who_share_name_and_birth() -> None:
    result = submit(name="渡辺 一葉", kana="ワタナベ カズハ", birth="1990-01-01",
                    address="千代田区富士見2-5-1", annex="")  # fmt: skip
    assert result.outcome is Outcome.MATCH
    assert result.resident is not None and result.resident.resident_id == TWIN_B.resident_id


def test_declared_members_are_found_in_the_household() -> None:
    child = DeclaredPerson("髙橋 蒼空", "たかはし そら", "令和7年12月1日", "子")
    result = submit(members=(child,))
    assert result.outcome is Outcome.MATCH
    (member,) = result.members
    assert member.outcome is Outcome.MATCH
    assert member.resident_id == TAKAHASHI_CHILD.resident_id
    assert field_of(member.fields, Field.BIRTH_DATE) == (
        FieldStatus.VARIANT_MATCHED,
        (VariantRule.ERA_DATE,),
    )


def test_a_declared_member_missing_from_the_household_needs_review() -> None:
    stranger = DeclaredPerson("髙橋 太郎", "タカハシ タロウ", "2024-02-02", "子")
    result = submit(members=(stranger,))
    assert result.outcome is Outcome.REVIEW
    assert Reason.MEMBER_NOT_FOUND in result.reasons
    assert result.members[0].outcome is Outcome.NO_MATCH


def test_suppressed_records_are_left_to_staff() -> None:
    result = submit(name="山崎 澪音", kana="ヤマザキ ミオン", birth="1985-07-07",
                    address="千代田区麹町3-1-1", annex="")  # fmt: skip
    assert result.outcome is Outcome.REVIEW
    assert Reason.RESTRICTED_RECORD in result.reasons
    assert result.household == ()


def test_candidates_come_from_blocks_not_a_scan() -> None:
    index = matcher().index
    person = _Person.of(DeclaredPerson("髙橋 雅子", "タカハシ マサコ", "1980-05-03"))
    found = index.candidates(person.block_keys())
    assert 0 < len(found) < len(index) / 50


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        (date(1980, 5, 3), date(1980, 5, 4), True),
        (date(1980, 5, 3), date(1980, 5, 13), True),
        (date(1980, 5, 3), date(1980, 3, 5), True),  # month and day swapped
        (date(1980, 5, 3), date(1981, 5, 3), True),
        (date(1980, 5, 3), date(1990, 5, 3), True),  # one digit of the year
        (date(1980, 5, 3), date(1980, 5, 3), False),
        (date(1980, 5, 3), date(1985, 8, 3), False),
    ],
)
def test_near_date(a: date, b: date, near: bool) -> None:
    assert near_date(a, b) is near
