"""Japanese normalisation for e-review: one test per rule, and Hypothesis properties."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.ereview.normalize import (
    NAME_STAGES,
    READING_STAGES,
    VariantRule,
    explain,
    fold_kanji,
    fold_width,
    kanji_number,
    loose_reading_key,
    name_key,
    parse_address,
    parse_date,
    reading_key,
    same_town,
    split_name,
    to_katakana,
)

# -- width --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("ＡＢＣ１２３", "ABC123"),
        ("ｻﾄｳ", "サトウ"),
        ("ｶﾞｯｺｳ", "ガッコウ"),  # half-width voiced kana compose
        ("佐藤\u3000一郎", "佐藤 一郎"),  # ideographic space
        ("  a   b  ", "a b"),
    ],
)
def test_fold_width(written: str, folded: str) -> None:
    assert fold_width(written) == folded


def test_fold_width_leaves_compatibility_ideographs_to_the_kanji_rule() -> None:
    assert fold_width("\ufa19") == "\ufa19"  # 神 (compatibility) is a variant, not width
    assert fold_kanji("\ufa19") == "神"


# -- kana and readings ------------------------------------------------------------------------


def test_hiragana_to_katakana() -> None:
    assert to_katakana("さとう ゆうこ") == "サトウ ユウコ"
    assert to_katakana("漢字とカナ") == "漢字トカナ"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("サトウ", "さとう"),  # hiragana
        ("サトウ", "ｻﾄｳ"),  # half-width
        ("サトウ", "サトー"),  # long vowel mark
        ("オオノ", "オウノ"),  # オウ sounds オー
        ("ケイコ", "ケーコ"),
        ("キョウコ", "キヨウコ"),  # small kana written large
        ("ミカヅキ", "ミカズキ"),  # 四つ仮名
        ("サトウ　ユウコ", "サトウ・ユウコ"),
    ],
)
def test_reading_key_equates_spellings_of_one_reading(a: str, b: str) -> None:
    assert reading_key(a) == reading_key(b)


def test_reading_key_keeps_different_readings_apart() -> None:
    assert reading_key("ユウコ") != reading_key("ユコ")
    assert reading_key("サチコ") != reading_key("ユキコ")
    assert reading_key("ヤマザキ") != reading_key("ヤマサキ")  # voicing is only loose


def test_loose_reading_drops_voicing() -> None:
    assert loose_reading_key("ヤマザキ") == loose_reading_key("やまさき")
    assert loose_reading_key("ナカダ") == loose_reading_key("ナカタ")


# -- kanji variants ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registered", "written"),
    [
        ("髙橋", "高橋"),
        ("山﨑", "山崎"),
        ("山嵜", "山崎"),
        ("齋藤", "斎藤"),
        ("齋藤", "斉藤"),
        ("齊藤", "斎藤"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("渡邊", "渡邉"),
        ("濱田", "浜田"),
        ("𠮷田", "吉田"),
        ("澤井", "沢井"),
        ("廣瀬", "広瀬"),
    ],
)
def test_variant_kanji_fold_together(registered: str, written: str) -> None:
    assert name_key(registered) == name_key(written)


def test_variation_selectors_are_dropped() -> None:
    assert name_key("葛\U000e0100飾") == name_key("葛飾")


def test_unrelated_kanji_stay_apart() -> None:
    # ja-itaiji links these; for names they are different people.
    for a, b in [("祐", "右"), ("円", "元"), ("斗", "闘"), ("崎", "埼")]:
        assert name_key(a) != name_key(b)


# -- explaining a difference ------------------------------------------------------------------


def test_explain_names_each_rule_that_closed_a_gap() -> None:
    assert explain("髙橋　一郎", "高橋 一郎", NAME_STAGES).rules == (VariantRule.KANJI_VARIANT,)
    assert explain("ｻﾄｳ", "サトウ", READING_STAGES).rules == (VariantRule.WIDTH,)
    assert explain("さとう", "サトウ", READING_STAGES).rules == (VariantRule.KANA,)
    both = explain("ｻﾄｰ", "さとう", READING_STAGES)
    assert both.equal and both.rules == (VariantRule.WIDTH, VariantRule.KANA)


def test_explain_ignores_a_stage_that_changes_both_sides_alike() -> None:
    result = explain("ＡＢ髙", "ＡＢ高", NAME_STAGES)
    assert result.equal and result.rules == (VariantRule.KANJI_VARIANT,)


def test_explain_reports_inequality_with_a_similarity() -> None:
    result = explain("佐藤一郎", "佐藤二郎", NAME_STAGES)
    assert not result.equal
    assert result.similarity == pytest.approx(0.75)


def test_split_name() -> None:
    assert split_name("佐藤　一郎") == ("佐藤", "一郎")
    assert split_name("佐藤 一郎") == ("佐藤", "一郎")
    assert split_name("佐藤一郎") is None


# -- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("1980-05-03", ()),
        ("1980/5/3", ()),
        ("1980年5月3日", ()),
        ("19800503", ()),
        ("１９８０－０５－０３", (VariantRule.WIDTH,)),
        ("昭和55年5月3日", (VariantRule.ERA_DATE,)),
        ("S55.5.3", (VariantRule.ERA_DATE,)),
        ("昭和５５年５月３日", (VariantRule.ERA_DATE, VariantRule.WIDTH)),
    ],
)
def test_parse_date(text: str, rules: tuple[VariantRule, ...]) -> None:
    parsed = parse_date(text)
    assert parsed.value == date(1980, 5, 3)
    assert parsed.rules == rules


def test_parse_date_first_era_year_and_refusals() -> None:
    assert parse_date("令和元年5月1日").value == date(2019, 5, 1)
    for bad in ("", "1980-02-30", "昭和64年1月8日", "someday"):
        with pytest.raises(ValueError):
            parse_date(bad)


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "東京都千代田区九段北一丁目2番3号",
        "東京都千代田区九段北1丁目2番3号",
        "東京都千代田区九段北1-2-3",
        "東京都千代田区九段北１－２－３",
        "東京都千代田区九段北1ー2ー3",  # long vowel mark typed for a hyphen
        "千代田区九段北一丁目二番地三",
        "九段北1の2の3",
        "九段北 1-2-3",
    ],
)
def test_address_notations_parse_to_one_block(written: str) -> None:
    registered = parse_address("東京都千代田区九段北一丁目2番3号")
    parsed = parse_address(written)
    assert parsed.numbers == (1, 2, 3)
    assert same_town(parsed.town, registered.town)


def test_address_annex_is_split_off_or_taken_from_its_own_box() -> None:
    inline = parse_address("九段北1-2-3 サクラマンション305号")
    assert inline.numbers == (1, 2, 3)
    assert inline.annex == "サクラマンション305号"
    boxed = parse_address("九段北1-2-3", "サクラマンション305号")
    assert boxed == inline
    assert parse_address("九段北1-2-3").annex == ""


def test_town_names_with_numerals_are_not_block_numbers() -> None:
    assert parse_address("千代田区一番町5番3号").town == "千代田区一番町"
    assert parse_address("千代田区一番町5番3号").numbers == (5, 3)
    assert parse_address("札幌市中央区北1条西2丁目3番4号").numbers == (2, 3, 4)


def test_place_name_ke_spellings() -> None:
    assert parse_address("霞ヶ関1-2-3").town == parse_address("霞が関1-2-3").town


def test_same_town_needs_a_town() -> None:
    assert same_town("東京都千代田区九段北", "九段北")
    assert not same_town("九段北", "九段南")
    assert not same_town("", "九段北")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十三", 23),
        ("百五", 105),
        ("二〇三", 203),
    ],
)
def test_kanji_number(text: str, value: int) -> None:
    assert kanji_number(text) == value


def test_kanji_number_refuses_other_text() -> None:
    for bad in ("", "丁", "二二十"):
        with pytest.raises(ValueError):
            kanji_number(bad)


# -- properties -------------------------------------------------------------------------------

_japanese = st.text(
    alphabet=st.sampled_from(
        "あいうえおかきくけこさしすせそがぎぐざじずぱぴゃゅょっー"
        "アイウエオカキクケコガギャュョッーｱｲｳｶﾞｯｰ"
        "高髙崎﨑斎齋斉邊辺渡田中一二三丁目番地号"
        "ＡＢ１２３abc123-－ 　・"
    ),
    max_size=20,
)


@given(_japanese)
def test_fold_width_is_idempotent(text: str) -> None:
    assert fold_width(fold_width(text)) == fold_width(text)


@given(_japanese)
def test_reading_key_is_idempotent(text: str) -> None:
    assert reading_key(reading_key(text)) == reading_key(text)


@given(_japanese)
def test_name_key_is_idempotent(text: str) -> None:
    assert name_key(name_key(text)) == name_key(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20))
def test_width_insensitive(text: str) -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) for c in text)  # the full-width forms of ASCII
    assert fold_width(wide) == fold_width(text)
    assert name_key(wide) == name_key(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x3096), max_size=20))
def test_reading_key_is_script_insensitive(hiragana: str) -> None:
    assert reading_key(hiragana) == reading_key(to_katakana(hiragana))


@given(st.integers(1, 99), st.integers(1, 99), st.integers(1, 99))
def test_address_block_round_trip(chome: int, ban: int, go: int) -> None:
    from server.bcl.synthetic import _kanji_number

    written = f"九段北{_kanji_number(chome)}丁目{ban}番{go}号"
    assert parse_address(written).numbers == (chome, ban, go)
    assert parse_address(f"九段北{chome}-{ban}-{go}").numbers == (chome, ban, go)


@given(st.dates(min_value=date(1868, 10, 23), max_value=date(2100, 12, 31)))
def test_era_dates_round_trip(d: date) -> None:
    from server.common.era import to_wareki

    assert parse_date(to_wareki(d)).value == d
    assert parse_date(d.isoformat()).value == d


def test_reading_key_of_small_tsu_with_a_voicing_mark_is_stable() -> None:
    # Found by Hypothesis: small ッ + combining dakuten became ヅ only on a second pass.
    from server.ereview.normalize import reading_key

    key = reading_key("ッ\u3099")
    assert key == reading_key(key) == "ズ"
