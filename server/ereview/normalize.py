"""Japanese normalisation (正規化) for e-review matching: names, readings, dates, addresses.

Applications and resident registers write the same facts differently (SPEC section 6):
full/half width, hiragana/katakana, long vowels and small kana in readings (フリガナ), old and
variant kanji (異体字), era or western dates, and addresses as 一丁目2番3号 / 1-2-3 / １－２－３
with or without 方書 (building and room). Each function here removes one kind of difference and
nothing else, so that the matcher can say *which* rule made two values equal (`VariantRule`).

Every function is pure, deterministic and idempotent (a property the tests check with
Hypothesis). Era dates go through `server.common.era`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from server.common.era import from_wareki
from server.ereview.kanji_variants import variant_map


class VariantRule(StrEnum):
    """Why two differently written values were found equal."""

    WIDTH = "width"  # 全角/半角, NFKC
    KANA = "kana"  # ひらがな/カタカナ, ー and small kana, ヂ/ジ, voicing in readings
    KANJI_VARIANT = "kanji_variant"  # 異体字・旧字体
    ERA_DATE = "era_date"  # 和暦 (昭和55年5月3日) for a western date
    ADDRESS_NOTATION = "address_notation"  # 丁目/番地/号 vs hyphens, kanji numerals, 方書
    FORMER_NAME = "former_name"  # 旧氏 instead of the current family name
    NAME_ORDER = "name_order"  # given and family name swapped


# --- width and whitespace ---------------------------------------------------------------------

_COMPAT_IDEOGRAPHS = ((0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_SPACES = re.compile(r"\s+")
_KEEP_FOR_KANJI = re.compile(
    "([\uf900-\ufaff\U0002f800-\U0002fa1f][\ufe00-\ufe0f\U000e0100-\U000e01ef]?"
    "|[\ufe00-\ufe0f\U000e0100-\U000e01ef])"
)


def _is_compat_ideograph(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _COMPAT_IDEOGRAPHS)


def fold_width(text: str) -> str:
    """NFKC (full-width ASCII → ASCII, half-width katakana → katakana), spaces collapsed.

    CJK compatibility ideographs (神 U+FA19 → 神) and variation selectors are left for
    `fold_kanji`: they are variant kanji, not width.
    """
    if _KEEP_FOR_KANJI.search(text) is None:
        folded = unicodedata.normalize("NFKC", text)
    else:
        folded = "".join(
            part if _KEEP_FOR_KANJI.fullmatch(part) else unicodedata.normalize("NFKC", part)
            for part in _KEEP_FOR_KANJI.split(text)
        )
    return _SPACES.sub(" ", folded).strip()


def strip_spaces(text: str) -> str:
    return _SPACES.sub("", text)


# --- kanji variants ---------------------------------------------------------------------------


def fold_kanji(text: str) -> str:
    """Variant and old kanji to the form in `kanji_variants.TABLE`; selectors dropped."""
    table = variant_map()
    out: list[str] = []
    for ch in _VARIATION_SELECTORS.sub("", text):
        if _is_compat_ideograph(ch):
            ch = unicodedata.normalize("NFKC", ch)
        out.append(table.get(ch, ch))
    return "".join(out)


# --- kana and readings ------------------------------------------------------------------------

_HIRAGANA_TO_KATAKANA = {cp: cp + 0x60 for cp in range(0x3041, 0x3097)} | {
    0x309D: 0x30FD,
    0x309E: 0x30FE,
}
_SMALL_TO_LARGE = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_OLD_KANA = str.maketrans({"ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヰ": "イ", "ヱ": "エ", "ヴ": "ブ"})
_READING_PUNCTUATION = re.compile(r"[\s・･=＝、,.\-‐]")
_SOUNDS_AS_VOWEL = {("ウ", "オ"), ("イ", "エ")}  # オウ sounds オー, エイ sounds エー
_VOWEL_OF: dict[str, str] = {}
for _row, _vowel in (
    ("アカサタナハマヤラワガザダバパャ", "ア"),
    ("イキシチニヒミリギジヂビピ", "イ"),
    ("ウクスツヌフムユルグズヅブプュ", "ウ"),
    ("エケセテネヘメレゲゼデベペ", "エ"),
    ("オコソトノホモヨロヲゴゾドボポョ", "オ"),
):
    for _ch in _row:
        _VOWEL_OF[_ch] = _vowel


def to_katakana(text: str) -> str:
    """Hiragana → katakana (さとう → サトウ); other characters unchanged."""
    return text.translate(_HIRAGANA_TO_KATAKANA)


@lru_cache(maxsize=65536)
def reading_key(text: str) -> str:
    """A reading (フリガナ) as registers compare it.

    Katakana, no spaces or dots, small kana as large (キョウコ = キヨウコ: older registers had
    no small kana), ー spelled out as its vowel and オウ/エイ written as the vowel they sound as
    (サトー = サトウ = サトオ), ヂ/ヅ/ヲ/ヴ as ジ/ズ/オ/ブ.
    """
    # One pass can create what an earlier step folds (small ッ + a voicing mark becomes ヅ
    # only after small kana are enlarged), so repeat until nothing changes: a key is a key.
    key = _reading_pass(text)
    for _ in range(4):
        again = _reading_pass(key)
        if again == key:
            break
        key = again
    return key


def _reading_pass(text: str) -> str:
    kana = _READING_PUNCTUATION.sub("", to_katakana(fold_width(text)))
    kana = kana.translate(_OLD_KANA).translate(_SMALL_TO_LARGE)
    out: list[str] = []
    for ch in kana:
        prev = out[-1] if out else ""
        vowel = _VOWEL_OF.get(prev, "")
        if vowel and (ch == "ー" or (ch, vowel) in _SOUNDS_AS_VOWEL):
            ch = vowel
        out.append(ch)
    return "".join(out)


@lru_cache(maxsize=65536)
def loose_reading_key(text: str) -> str:
    """`reading_key` without voicing marks: ヤマザキ = ヤマサキ, ナカダ = ナカタ (連濁)."""
    decomposed = unicodedata.normalize("NFD", reading_key(text))
    return unicodedata.normalize("NFC", decomposed.replace("\u3099", "").replace("\u309a", ""))


# --- names ------------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def name_key(text: str) -> str:
    """A kanji name compared without width, spaces or variant kanji differences."""
    return fold_kanji(strip_spaces(fold_width(text)))


def split_name(text: str) -> tuple[str, str] | None:
    """(family, given) when the name is written with a space (any width) between them."""
    parts = fold_width(text).split(" ")
    if len(parts) < 2:
        return None
    return parts[0], "".join(parts[1:])


@dataclass(frozen=True)
class Explained:
    """The outcome of comparing two values through a chain of normalisation stages."""

    equal: bool
    rules: tuple[VariantRule, ...]  # stages that brought the values closer, in order
    left: str  # the values after every stage
    right: str

    @property
    def similarity(self) -> float:
        return float(Levenshtein.normalized_similarity(self.left, self.right))


Stage = tuple[VariantRule, Callable[[str], str]]


def explain(left: str, right: str, stages: Sequence[Stage]) -> Explained:
    """Apply `stages` to both values in turn and name the stages that explain a difference.

    A stage counts when it shortened the edit distance, or rewrote one side only (ｻﾄｰ vs さとう
    needs WIDTH before KANA even though WIDTH alone moves no distance). A stage that rewrites
    both sides alike (both written full-width) and closes no gap is not named. Whitespace is
    never significant.
    """
    a, b = strip_spaces(left), strip_spaces(right)
    rules: list[VariantRule] = []
    distance = Levenshtein.distance(a, b)
    for rule, fn in stages:
        if distance == 0:
            break
        a2, b2 = fn(a), fn(b)
        d2 = Levenshtein.distance(a2, b2)
        if d2 < distance or (a2 != a) != (b2 != b):
            rules.append(rule)
        a, b, distance = a2, b2, d2
    return Explained(distance == 0, tuple(rules), a, b)


def _width(text: str) -> str:
    return strip_spaces(fold_width(text))


NAME_STAGES: tuple[Stage, ...] = (
    (VariantRule.WIDTH, _width),
    (VariantRule.KANJI_VARIANT, fold_kanji),
)
READING_STAGES: tuple[Stage, ...] = (
    (VariantRule.WIDTH, _width),
    (VariantRule.KANA, reading_key),
)


# --- dates ------------------------------------------------------------------------------------

_WESTERN = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


@dataclass(frozen=True)
class ParsedDate:
    value: date
    rules: tuple[VariantRule, ...]  # ERA_DATE for 和暦, WIDTH for full-width digits


def parse_date(text: str) -> ParsedDate:
    """ISO (1980-05-03), 1980/5/3, 1980年5月3日, 19800503 or an era date (昭和55年5月3日,
    S55.5.3, 令和元年5月1日), in either width. ValueError when it is none of these."""
    folded = fold_width(text)
    rules: tuple[VariantRule, ...] = (VariantRule.WIDTH,) if folded != text.strip() else ()
    m = _WESTERN.fullmatch(folded) or _COMPACT.fullmatch(folded)
    if m is not None:
        try:
            return ParsedDate(date(int(m[1]), int(m[2]), int(m[3])), rules)
        except ValueError as exc:
            raise ValueError(f"no such day: {text!r}") from exc
    return ParsedDate(from_wareki(folded), (VariantRule.ERA_DATE, *rules))


# --- addresses --------------------------------------------------------------------------------

_KANJI_DIGIT = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                "九": 9, "壱": 1, "弐": 2, "参": 3}  # fmt: skip
_KANJI_UNIT = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUM = "〇一二三四五六七八九十百千壱弐参"
_HYPHENS = re.compile(r"[‐‑‒–—―−─━－]")
_LONG_MARK_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ーｰ](?=\d)")
# A number (arabic or kanji) followed by its unit. 番 followed by 町 is part of a town name
# (一番町), not a block number.
_TOKEN = re.compile(
    rf"(?P<num>\d+|[{_KANJI_NUM}]+)\s*(?P<unit>丁目|番地|番(?!町)|号|-|の(?=\s*[\d{_KANJI_NUM}]))"
)
_ARABIC = re.compile(r"\d+")
_KANJI_TAIL = re.compile(rf"[{_KANJI_NUM}]+(?=号|$)")
_PLACE_KANA = str.maketrans({"ヶ": "ケ", "ヵ": "ケ", "が": "ケ", "ガ": "ケ", "ノ": "の"})


def kanji_number(text: str) -> int:
    """二十三 → 23, 二〇三 → 203, 百五 → 105, 十 → 10. ValueError for anything else."""
    if not text or any(c not in _KANJI_DIGIT and c not in _KANJI_UNIT for c in text):
        raise ValueError(f"not a kanji numeral: {text!r}")
    if not any(c in _KANJI_UNIT for c in text):
        return int("".join(str(_KANJI_DIGIT[c]) for c in text))  # 二〇三: digit by digit
    total, digit = 0, None
    for c in text:
        if c in _KANJI_UNIT:
            total += (1 if digit is None else digit) * _KANJI_UNIT[c]
            digit = None
        elif digit is not None:
            raise ValueError(f"not a kanji numeral: {text!r}")
        else:
            digit = _KANJI_DIGIT[c]
    return total + (digit or 0)


def _number(text: str) -> int:
    return int(text) if text.isdigit() else kanji_number(text)


@dataclass(frozen=True)
class ParsedAddress:
    """An address split the way registers keep it: town part, block numbers, 方書."""

    town: str  # everything before the block numbers, width- and variant-folded, no spaces
    numbers: tuple[int, ...]  # 丁目, 番(地), 号 — as many as were written
    annex: str  # 方書 (building, room), folded the same way; "" when absent

    @property
    def block_key(self) -> str:
        return f"{self.town}|{'-'.join(map(str, self.numbers))}"


@lru_cache(maxsize=131072)
def parse_address(text: str, annex: str = "") -> ParsedAddress:
    """Split `text` (optionally with a separate 方書 `annex`) into town, numbers and annex.

    The block is the first run of numbers with units (1丁目2番3号, 1-2-3, 一丁目二番地三,
    2の3); a lone number with no unit belongs to the town or the annex. Whatever follows the
    block is 方書. Without any block the whole text is the town.
    """
    folded = strip_spaces(fold_kanji(fold_width(text)))
    folded = _LONG_MARK_BETWEEN_DIGITS.sub("-", _HYPHENS.sub("-", folded))
    numbers: list[int] = []
    start = end = -1
    pos = 0
    while pos < len(folded):
        m = _TOKEN.match(folded, pos)
        if m is None:
            if numbers:
                # A trailing number after a unit closes the block (1-2-3, 2番3).
                tail = _ARABIC.match(folded, pos) or _KANJI_TAIL.match(folded, pos)
                if tail is not None:
                    numbers.append(_number(tail.group()))
                    end = tail.end()
                break
            pos += 1
            continue
        if not numbers:
            start = m.start()
        numbers.append(_number(m["num"]))
        end = pos = m.end()
    if not numbers:
        town, rest = folded, ""
    else:
        town, rest = folded[:start], folded[end:]
    rest = rest.lstrip("-、,")
    given_annex = strip_spaces(fold_kanji(fold_width(annex)))
    if given_annex and rest and given_annex != rest:
        rest += given_annex
    return ParsedAddress(town.translate(_PLACE_KANA), tuple(numbers), rest or given_annex)


def same_town(a: str, b: str) -> bool:
    """One town part is the other with the prefecture / municipality left off (九段北 vs
    東京都千代田区九段北). Both must name at least a town."""
    if not a or not b:
        return False
    return a.endswith(b) or b.endswith(a)


def town_tail(town: str) -> str:
    """The last characters of a town part: a blocking key that survives an omitted prefix."""
    return town[-3:]
