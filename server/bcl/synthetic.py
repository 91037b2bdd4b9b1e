"""A seeded generator of one municipality's resident data (住民記録) and seal registrations.

It stands in for the data a municipality uploads to BCL (SPEC section 5): households with a head
(世帯主) and 続柄, kanji names with their katakana readings, 本籍・筆頭者, 住民票コード, 個人番号
with a valid check digit, 宛名番号/世帯番号, 異動 dates, 旧氏, seal registrations (印鑑登録) and
issuance suppression (交付抑止).

The core, `iter_residents`, is a generator that yields one household at a time and keeps no
per-resident state, so a load test can stream a million residents; `generate_municipality`
collects it for small fixtures. Same seed, same output: every random choice comes from a
`random.Random` seeded from the arguments; Faker ja_JP contributes only its tables (paired
kanji/kana/romaji names, building names), which keeps readings matched to names and is far
faster than calling Faker per field.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import accumulate

from faker.providers.address.ja_JP import Provider as _FakerAddress
from faker.providers.person.ja_JP import Provider as _FakerPerson

from server.bcl.records import (
    IssuingBackend,
    MunicipalityClass,
    MunicipalityProfile,
    ResidentRecord,
    SealRegistrationRecord,
    Sex,
    individual_number_check_digit,
    municipality_check_digit,
)
from server.bcl.seal_images import municipal_seal, personal_seal

DEFAULT_FEES: Mapping[str, int] = {"juminhyo": 200, "inkan": 200}  # kiosk fees; counter is ~300
DEFAULT_JOINED_ON = date(2017, 4, 1)
DEFAULT_SUPPRESSED_FRACTION = 0.005  # 交付抑止, per household (DV protection covers the family)
SEAL_REGISTRATION_RATE = 0.6  # share of adults with an active 印鑑登録
ADULT_AGE = 18
SEAL_MIN_AGE = 15  # 印鑑登録 is open from 15

_YEAR = 365.2425  # days; ages are drawn as day offsets, so no leap-day special cases

Name = tuple[str, str]  # (kanji, katakana reading)

# --- name tables -------------------------------------------------------------------------------

_SURNAMES: tuple[Name, ...] = tuple((k, kana) for k, kana, _ in _FakerPerson.last_name_pairs)
_SURNAME_WEIGHTS: tuple[float, ...] = tuple(float(w) for w in _FakerPerson.last_name_pairs.values())
# Old and variant kanji (旧字・異体字) that real registers keep and e-review must match (SPEC 6).
_VARIANT_SURNAMES: tuple[Name, ...] = (
    ("髙橋", "タカハシ"),
    ("齋藤", "サイトウ"),
    ("渡邉", "ワタナベ"),
    ("渡邊", "ワタナベ"),
    ("山﨑", "ヤマザキ"),
    ("濱田", "ハマダ"),
    ("長谷部", "ハセベ"),
    ("勅使河原", "テシガワラ"),
)
_VARIANT_WEIGHT = 4000.0  # each; together about 0.6% of people
_ALL_SURNAMES = _SURNAMES + _VARIANT_SURNAMES
_SURNAME_CUM = tuple(accumulate(_SURNAME_WEIGHTS + (_VARIANT_WEIGHT,) * len(_VARIANT_SURNAMES)))

_MALE: tuple[Name, ...] = tuple((k, kana) for k, kana, _ in _FakerPerson.first_name_male_pairs)
_FEMALE: tuple[Name, ...] = tuple((k, kana) for k, kana, _ in _FakerPerson.first_name_female_pairs)
# Faker's given names are timeless; these add names typical of the oldest and youngest residents.
_MALE_BEFORE_1960: tuple[Name, ...] = (
    ("清", "キヨシ"), ("茂", "シゲル"), ("勇", "イサム"), ("博", "ヒロシ"), ("進", "ススム"),
    ("豊", "ユタカ"), ("正雄", "マサオ"), ("和夫", "カズオ"), ("一郎", "イチロウ"),
    ("昭", "アキラ"),
)  # fmt: skip
_FEMALE_BEFORE_1960: tuple[Name, ...] = (
    ("和子", "カズコ"), ("幸子", "サチコ"), ("節子", "セツコ"), ("恵子", "ケイコ"),
    ("京子", "キョウコ"), ("久子", "ヒサコ"), ("美智子", "ミチコ"), ("弘子", "ヒロコ"),
    ("悦子", "エツコ"), ("トシ", "トシ"),
)  # fmt: skip
_MALE_SINCE_2005: tuple[Name, ...] = (
    ("蓮", "レン"), ("大翔", "ヒロト"), ("陽翔", "ハルト"), ("湊", "ミナト"), ("悠真", "ユウマ"),
    ("蒼", "アオイ"), ("樹", "イツキ"), ("颯太", "ソウタ"), ("律", "リツ"), ("朝陽", "アサヒ"),
)  # fmt: skip
_FEMALE_SINCE_2005: tuple[Name, ...] = (
    ("陽葵", "ヒマリ"), ("凛", "リン"), ("結菜", "ユイナ"), ("芽依", "メイ"), ("葵", "アオイ"),
    ("紬", "ツムギ"), ("杏", "アン"), ("澪", "ミオ"), ("咲良", "サクラ"), ("莉子", "リコ"),
)  # fmt: skip

# --- address tables ----------------------------------------------------------------------------

DEFAULT_CODE = "131016"  # 千代田区
# Residential 町名 of 千代田区 with their number of 丁目 (0: the town has none). Office-only towns
# (丸の内, 大手町, 霞が関 …) are left out: hardly anyone is registered there.
_CHIYODA_TOWNS: tuple[tuple[str, int], ...] = (
    ("九段北", 4), ("九段南", 4), ("富士見", 2), ("飯田橋", 4), ("西神田", 3), ("三崎町", 3),
    ("神田神保町", 3), ("神田小川町", 3), ("神田駿河台", 4), ("神田錦町", 3), ("神田淡路町", 2),
    ("神田須田町", 2), ("神田佐久間町", 4), ("岩本町", 3), ("東神田", 3), ("外神田", 6),
    ("猿楽町", 2), ("麹町", 6), ("平河町", 2), ("一番町", 0), ("二番町", 0), ("三番町", 0),
    ("四番町", 0), ("五番町", 0), ("六番町", 0), ("紀尾井町", 0), ("隼町", 0),
)  # fmt: skip
# Elsewhere: Faker's town names, each given up to four 丁目 (stable per name, see _towns_for).
_OTHER_TOWNS: tuple[str, ...] = tuple(_FakerAddress.towns)
# 本籍 outside the municipality: people born elsewhere keep their family's 本籍 there.
_HONSEKI_ELSEWHERE: tuple[str, ...] = (
    "北海道札幌市中央区", "青森県弘前市", "宮城県仙台市青葉区", "新潟県新潟市中央区",
    "石川県金沢市", "長野県松本市", "埼玉県さいたま市浦和区", "千葉県千葉市中央区",
    "東京都世田谷区", "東京都八王子市", "神奈川県横浜市中区", "静岡県静岡市葵区",
    "愛知県名古屋市中区", "京都府京都市左京区", "大阪府大阪市北区", "兵庫県神戸市中央区",
    "岡山県倉敷市", "広島県広島市中区", "愛媛県松山市", "福岡県福岡市博多区",
    "熊本県熊本市中央区", "鹿児島県鹿児島市", "沖縄県那覇市",
)  # fmt: skip
_BUILDING_PREFIXES = (
    "サクラ",
    "グリーン",
    "ロイヤル",
    "グランド",
    "メゾン",
    "ライオンズ",
    "エクセル",
)
_BUILDING_KINDS = (*_FakerAddress.building_names, "マンション", "レジデンス", "タワー", "ハウス")
_KANJI_DIGITS = "〇一二三四五六七八九"

# Household shapes and their shares (roughly the 2020 census for a central Tokyo ward).
_HOUSEHOLD_KINDS = ("single", "couple", "couple_children", "single_parent", "three_generations")
_HOUSEHOLD_CUM = tuple(accumulate((0.40, 0.20, 0.24, 0.08, 0.08)))


# --- public API --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticHousehold:
    """One 世帯: its members (head first) and their seal registrations."""

    household_id: str  # 世帯番号
    members: tuple[ResidentRecord, ...]
    seals: tuple[SealRegistrationRecord, ...]


@dataclass(frozen=True)
class SyntheticMunicipality:
    profile: MunicipalityProfile
    residents: tuple[ResidentRecord, ...]
    seals: tuple[SealRegistrationRecord, ...]


def generate_municipality(
    *,
    seed: int,
    households: int,
    code: str = DEFAULT_CODE,
    prefecture: str = "東京都",
    name: str = "千代田区",
    backend: IssuingBackend = IssuingBackend.BCL,
    today: date = date(2026, 4, 1),
    joined_on: date = DEFAULT_JOINED_ON,
    fees: Mapping[str, int] | None = None,
    suppressed_fraction: float = DEFAULT_SUPPRESSED_FRACTION,
    designated_city: bool = False,
) -> SyntheticMunicipality:
    """A whole municipality in memory: fine for fixtures and demos, use iter_residents at scale."""
    residents: list[ResidentRecord] = []
    seals: list[SealRegistrationRecord] = []
    for household in iter_residents(
        seed=seed,
        households=households,
        code=code,
        prefecture=prefecture,
        name=name,
        today=today,
        suppressed_fraction=suppressed_fraction,
    ):
        residents.extend(household.members)
        seals.extend(household.seals)
    profile = build_profile(
        seed=seed,
        population=len(residents),
        code=code,
        prefecture=prefecture,
        name=name,
        backend=backend,
        joined_on=joined_on,
        fees=fees,
        designated_city=designated_city,
    )
    return SyntheticMunicipality(profile, tuple(residents), tuple(seals))


def build_profile(
    *,
    seed: int,
    population: int,
    code: str = DEFAULT_CODE,
    prefecture: str = "東京都",
    name: str = "千代田区",
    backend: IssuingBackend = IssuingBackend.BCL,
    joined_on: date = DEFAULT_JOINED_ON,
    fees: Mapping[str, int] | None = None,
    designated_city: bool = False,
) -> MunicipalityProfile:
    """The municipality's onboarding profile; a streaming caller passes the population it wrote."""
    title = mayor_title(name)
    rng = random.Random(f"konbini-synthetic:{seed}:{code}:profile")
    sex = Sex.MALE if rng.random() < 0.8 else Sex.FEMALE
    family = _surname(rng)[0]
    given = rng.choice(_MALE if sex is Sex.MALE else _FEMALE)[0]
    return MunicipalityProfile(
        code=code,
        prefecture=prefecture,
        name=name,
        mayor_title=title,
        mayor_name=f"{family}　{given}",
        municipality_class=municipality_class(name, population, designated_city=designated_city),
        backend=backend,
        population=population,
        joined_on=joined_on,
        fees=dict(DEFAULT_FEES if fees is None else fees),
        seal_png=municipal_seal(f"{name}長之印"),  # e.g. 千代田区長之印
    )


def mayor_title(name: str) -> str:
    """区長 / 市長 / 町長 / 村長, from the municipality's name suffix."""
    suffix = name[-1:]
    if suffix not in ("区", "市", "町", "村"):
        raise ValueError(f"municipality name must end in 区, 市, 町 or 村: {name!r}")
    return f"{suffix}長"


def municipality_class(
    name: str, population: int, *, designated_city: bool = False
) -> MunicipalityClass:
    """The 運営負担金 class (SPEC 4). Every city of a million or more is a designated city."""
    if mayor_title(name) in ("町長", "村長"):
        return MunicipalityClass.TOWN_VILLAGE
    if population >= 1_000_000:
        return MunicipalityClass.DESIGNATED_CITY_LARGE
    if designated_city:
        return MunicipalityClass.DESIGNATED_CITY
    if population >= 150_000:
        return MunicipalityClass.CITY_150K
    if population >= 50_000:
        return MunicipalityClass.CITY_50K
    if population >= 30_000:
        return MunicipalityClass.CITY_30K
    return MunicipalityClass.CITY_SMALL


def iter_residents(
    *,
    seed: int,
    households: int,
    code: str = DEFAULT_CODE,
    prefecture: str = "東京都",
    name: str = "千代田区",
    today: date = date(2026, 4, 1),
    suppressed_fraction: float = DEFAULT_SUPPRESSED_FRACTION,
) -> Iterator[SyntheticHousehold]:
    """Yield `households` households one at a time, in 世帯番号 order; memory stays flat.

    Identifiers are unique without remembering them: 宛名番号, 世帯番号 and 印鑑登録番号 only grow,
    and 住民票コード / 個人番号 are seeded bijections of the resident's sequence number.
    """
    # Checked here, not on the first next(): a generator body runs only when iterated.
    if households < 0:
        raise ValueError("households must not be negative")
    if not 0.0 <= suppressed_fraction <= 1.0:
        raise ValueError("suppressed_fraction must be between 0 and 1")
    valid_code = len(code) == 6 and code.isdigit()
    if not valid_code or municipality_check_digit(code[:5]) != int(code[5]):
        raise ValueError(f"not a municipality code with a valid check digit: {code!r}")
    mayor_title(name)  # the name must end in 区, 市, 町 or 村
    gen = _Generator(
        random.Random(f"konbini-synthetic:{seed}:{code}:residents"),
        code=code,
        municipality=f"{prefecture}{name}",
        today=today,
        suppressed_fraction=suppressed_fraction,
    )
    return (gen.household() for _ in range(households))


# --- the generator -----------------------------------------------------------------------------


class _Scrambler:
    """A seeded bijection on zero-padded `digits`-digit numbers: unique yet random-looking.

    Rounds of an affine map (multiplier coprime to 10) and digit reversal; each step is a
    bijection, so distinct sequence numbers never collide and no set of issued codes is kept.
    """

    def __init__(self, rng: random.Random, digits: int) -> None:
        self._digits = digits
        self._modulus = 10**digits
        self._keys: list[tuple[int, int]] = []
        for _ in range(3):
            a = rng.randrange(self._modulus // 10, self._modulus)
            while a % 2 == 0 or a % 5 == 0:  # coprime to 10, so x -> a*x+b is a bijection
                a += 1
            self._keys.append((a, rng.randrange(self._modulus)))

    def __call__(self, n: int) -> str:
        x = n
        for a, b in self._keys:
            x = int(f"{(a * x + b) % self._modulus:0{self._digits}d}"[::-1])
        return f"{x:0{self._digits}d}"


@dataclass
class _Koseki:
    """A family register (戸籍) as a resident record shows it: where, and whose name heads it."""

    honseki: str  # 本籍
    hittousha: str  # 筆頭者: stays the same even after that person has died


@dataclass
class _Person:
    relationship: str  # 続柄
    sex: Sex
    birth: int  # date ordinal
    family: Name
    given: Name
    koseki: _Koseki
    former_family: str = ""  # 旧氏


class _Generator:
    """Draws households one after another; holds only counters and the identifier keys."""

    def __init__(
        self,
        rng: random.Random,
        *,
        code: str,
        municipality: str,
        today: date,
        suppressed_fraction: float,
    ) -> None:
        self.rng = rng
        self.code = code
        self.municipality = municipality  # 都道府県 + 市区町村
        self.suppressed_fraction = suppressed_fraction
        self._today = today.toordinal()
        self._juminhyo = _Scrambler(rng, 11)
        self._individual = _Scrambler(rng, 11)
        self._towns = _towns_for(code)
        self._elsewhere = tuple(h for h in _HONSEKI_ELSEWHERE if h != municipality)
        self._person_seq = 0
        # Numbering starts where a long-running register would be, not at 1.
        self._resident_no = rng.randrange(100_000, 900_000)
        self._household_no = rng.randrange(10_000, 90_000)
        self._seal_no = rng.randrange(10_000, 90_000)

    # -- households --

    def household(self) -> SyntheticHousehold:
        rng = self.rng
        kind = _HOUSEHOLD_KINDS[_pick(rng, _HOUSEHOLD_CUM)]
        if kind == "single":
            people = self._single()
        elif kind == "couple":
            people = self._couple(min_age=22, max_age=90)
        elif kind == "couple_children":
            people = self._couple(min_age=25, max_age=58, children=True)
        elif kind == "single_parent":
            people = self._single_parent()
        else:
            people = self._three_generations()
        self._household_no += rng.randint(1, 3)  # gaps: households that left or merged
        return self._records(f"{self._household_no:08d}", people)

    def _single(self) -> list[_Person]:
        rng = self.rng
        u = rng.random()
        age_lo, age_hi = (20, 39) if u < 0.5 else (40, 64) if u < 0.8 else (65, 98)
        sex = Sex.MALE if rng.random() < 0.5 else Sex.FEMALE
        birth = self._birth_aged(age_lo, age_hi)
        family = _surname(rng)
        given = self._given(sex, birth)
        widow = sex is Sex.FEMALE and age_lo >= 65 and rng.random() < 0.6
        if age_hi < 40 and rng.random() < 0.7:
            # Still in the parents' 戸籍, usually with a 本籍 back home.
            koseki = self._others_koseki(family, elsewhere=0.8)
        elif widow:
            koseki = self._others_koseki(family)  # her late husband stays 筆頭者
        else:
            koseki = _Koseki(self._honseki(), f"{family[0]}　{given[0]}")
        head = _Person("世帯主", sex, birth, family, given, koseki)
        if widow:
            self._maybe_former_name(head)
        return [head]

    def _couple(self, *, min_age: int, max_age: int, children: bool = False) -> list[_Person]:
        rng = self.rng
        keeper_is_man = rng.random() < 0.95  # the spouse whose surname the couple took
        head_sex = Sex.MALE if keeper_is_man else Sex.FEMALE
        head_birth = self._birth_aged(min_age, max_age)
        family = _surname(rng)
        koseki = self._new_koseki()
        head = _Person(
            "世帯主", head_sex, head_birth, family, self._given(head_sex, head_birth), koseki
        )
        koseki.hittousha = _full(head)
        spouse = self._spouse(head)
        people = [head, spouse]
        if children:
            people += self._children(
                [head, spouse], koseki, rng.choices((1, 2, 3), (45, 40, 15))[0]
            )
        return people

    def _single_parent(self) -> list[_Person]:
        rng = self.rng
        sex = Sex.FEMALE if rng.random() < 0.85 else Sex.MALE
        birth = self._birth_aged(25, 55)
        koseki = self._new_koseki()
        head = _Person("世帯主", sex, birth, _surname(rng), self._given(sex, birth), koseki)
        koseki.hittousha = _full(head)  # after a divorce the parent heads a new 戸籍
        return [head, *self._children([head], koseki, rng.choice((1, 1, 2)))]

    def _three_generations(self) -> list[_Person]:
        rng = self.rng
        if rng.random() < 0.5:
            # The head's family with the head's elderly parent(s) (父・母).
            people = self._couple(min_age=38, max_age=58, children=rng.random() < 0.7)
            head = people[0]
            people += self._parents_of(head)
            return people
        # An elderly couple with a married child (子), the child's spouse and grandchildren.
        people = self._couple(min_age=58, max_age=85)
        head, spouse = people
        sex = Sex.MALE if rng.random() < 0.8 else Sex.FEMALE  # a daughter usually marries out
        birth = self._birth_between(
            max(head.birth, spouse.birth) + _days(20) + 2,
            min(head.birth, spouse.birth) + _days(45) - 2,
            max_ordinal=self._today - _days(25),
        )
        if birth is None:
            return people
        koseki = self._new_koseki()  # married: a 戸籍 of their own, maybe a new 本籍
        child = _Person("子", sex, birth, head.family, self._given(sex, birth), koseki)
        koseki.hittousha = _full(child)
        in_law = self._spouse(child, relationship="子の夫" if sex is Sex.FEMALE else "子の妻")
        people += [child, in_law]
        for grandchild in self._children([child, in_law], koseki, rng.choice((1, 1, 2))):
            grandchild.relationship = "子の子"  # 住民票 writes 孫 as 子の子
            people.append(grandchild)
        return people

    # -- people --

    def _spouse(self, partner: _Person, *, relationship: str | None = None) -> _Person:
        rng = self.rng
        sex = Sex.FEMALE if partner.sex is Sex.MALE else Sex.MALE
        # Husbands are on average a couple of years older.
        gap = _days(rng.triangular(-4, 10, 2) if sex is Sex.FEMALE else rng.triangular(-10, 4, -2))
        birth = min(partner.birth + gap, self._today - _days(ADULT_AGE) - 2)
        birth = max(birth, self._today - _days(100))
        rel = relationship or ("妻" if sex is Sex.FEMALE else "夫")
        person = _Person(rel, sex, birth, partner.family, self._given(sex, birth), partner.koseki)
        self._maybe_former_name(person)
        return person

    def _children(self, parents: Sequence[_Person], koseki: _Koseki, count: int) -> list[_Person]:
        """Children born 20–45 years after each parent, living at home up to about 30."""
        first = max(p.birth for p in parents) + _days(20) + 2
        last = min(p.birth for p in parents) + _days(45) - 2
        family = parents[0].family
        kids = []
        for _ in range(count):
            birth = self._birth_between(first, last, min_ordinal=self._today - _days(30))
            if birth is None:
                break
            sex = Sex.MALE if self.rng.random() < 0.51 else Sex.FEMALE
            kids.append(_Person("子", sex, birth, family, self._given(sex, birth), koseki))
        kids.sort(key=lambda k: k.birth)  # 住民票 lists children eldest first
        return kids

    def _parents_of(self, head: _Person) -> list[_Person]:
        rng = self.rng
        oldest = self._today - _days(100)
        mother_birth = max(oldest, head.birth - _days(rng.uniform(20, 42)) - rng.randrange(365))
        if head.birth - mother_birth < _days(20) + 2:
            return []  # no mother young enough to be plausible while under 100
        father_birth = max(oldest, mother_birth - _days(rng.triangular(-2, 8, 2)))
        if head.birth - father_birth < _days(20) + 2 or head.birth - father_birth > _days(45) - 2:
            father_birth = mother_birth
        koseki = self._new_koseki()
        father = _Person("父", Sex.MALE, father_birth, head.family,
                         self._given(Sex.MALE, father_birth), koseki)  # fmt: skip
        koseki.hittousha = _full(father)  # 筆頭者 even if he has died
        mother = _Person("母", Sex.FEMALE, mother_birth, head.family,
                         self._given(Sex.FEMALE, mother_birth), koseki)  # fmt: skip
        self._maybe_former_name(mother)
        u = rng.random()
        return [father, mother] if u < 0.5 else [mother] if u < 0.85 else [father]

    def _given(self, sex: Sex, birth: int) -> Name:
        rng = self.rng
        year = date.fromordinal(birth).year
        if rng.random() < 0.5:
            if year < 1960:
                return rng.choice(_MALE_BEFORE_1960 if sex is Sex.MALE else _FEMALE_BEFORE_1960)
            if year >= 2005:
                return rng.choice(_MALE_SINCE_2005 if sex is Sex.MALE else _FEMALE_SINCE_2005)
        return rng.choice(_MALE if sex is Sex.MALE else _FEMALE)

    def _maybe_former_name(self, person: _Person) -> None:
        """Someone who took a spouse's surname may have registered the 旧氏 (since 2019-11)."""
        if self.rng.random() < 0.1:
            former = _surname(self.rng)[0]
            while former == person.family[0]:
                former = _surname(self.rng)[0]
            person.former_family = former

    # -- 戸籍 --

    def _new_koseki(self) -> _Koseki:
        """A 戸籍 headed by someone in the household; the caller names its 筆頭者."""
        return _Koseki(self._honseki(), "")

    def _others_koseki(self, family: Name, *, elsewhere: float = 0.55) -> _Koseki:
        """A 戸籍 of the same surname headed by a parent or a late spouse who lives elsewhere."""
        father = self.rng.choice(_MALE_BEFORE_1960 + _MALE)
        return _Koseki(self._honseki(elsewhere=elsewhere), f"{family[0]}　{father[0]}")

    def _honseki(self, *, elsewhere: float = 0.55) -> str:
        rng = self.rng
        if rng.random() < elsewhere and self._elsewhere:
            town = rng.choice(_OTHER_TOWNS)
            return f"{rng.choice(self._elsewhere)}{town}{rng.randint(1, 999)}番地"
        if self.code == DEFAULT_CODE and rng.random() < 0.1:
            return f"{self.municipality}千代田1番"  # the Imperial Palace: a favourite 本籍
        town, chome = rng.choice(self._towns)
        block = f"{_kanji_number(rng.randint(1, chome))}丁目" if chome else ""
        return f"{self.municipality}{town}{block}{rng.randint(1, 30)}番"

    # -- records --

    def _records(self, household_id: str, people: list[_Person]) -> SyntheticHousehold:
        rng = self.rng
        today = self._today
        town, chome = rng.choice(self._towns)
        block = f"{_kanji_number(rng.randint(1, chome))}丁目" if chome else ""
        address = f"{self.municipality}{town}{block}{rng.randint(1, 20)}番{rng.randint(1, 25)}号"
        annex = self._annex(town) if rng.random() < 0.45 else ""

        head = people[0]
        # Moved in as an adult, recently more often than long ago (central wards turn over fast).
        arrival_from = max(head.birth + _days(ADULT_AGE), today - _days(50))
        moved_in = today - int((today - arrival_from) * rng.random() ** 1.6)
        address_set = moved_in
        if rng.random() < 0.3:  # moved house within the municipality later
            address_set += int((today - moved_in) * rng.random())
        native = rng.random() < 0.1  # the head was born here
        suppressed = rng.random() < self.suppressed_fraction

        members: list[ResidentRecord] = []
        seals: list[SealRegistrationRecord] = []
        for p in people:
            became = p.birth if (native and p is head) else max(moved_in, p.birth)
            self._resident_no += rng.randint(1, 3)
            resident_id = f"{self._resident_no:010d}"
            seq = self._person_seq
            self._person_seq += 1
            body = self._individual(seq)
            members.append(
                ResidentRecord(
                    resident_id=resident_id,
                    household_id=household_id,
                    family_name=p.family[0],
                    given_name=p.given[0],
                    family_name_kana=p.family[1],
                    given_name_kana=p.given[1],
                    birth_date=date.fromordinal(p.birth),
                    sex=p.sex,
                    address=address,
                    address_annex=annex,
                    is_household_head=p is head,
                    relationship=p.relationship,
                    honseki=p.koseki.honseki,
                    hittousha=p.koseki.hittousha,
                    juminhyo_code=self._juminhyo(seq),
                    individual_number=f"{body}{individual_number_check_digit(body)}",
                    became_resident_on=date.fromordinal(became),
                    address_set_on=date.fromordinal(max(address_set, p.birth)),
                    former_family_name=p.former_family,
                    suppressed=suppressed,
                )
            )
            if p.birth <= today - _days(ADULT_AGE) and rng.random() < SEAL_REGISTRATION_RATE:
                seals.append(self._seal(resident_id, p, became))
        return SyntheticHousehold(household_id, tuple(members), tuple(seals))

    def _seal(self, resident_id: str, person: _Person, became: int) -> SealRegistrationRecord:
        start = max(became, person.birth + _days(SEAL_MIN_AGE))
        registered = start + int((self._today - start) * self.rng.random())
        self._seal_no += 1
        return SealRegistrationRecord(
            resident_id=resident_id,
            registration_number=f"{self._seal_no:08d}",
            registered_on=date.fromordinal(registered),
            impression_png=_impression(person.family[0]),
        )

    def _annex(self, town: str) -> str:
        """方書: building and room, e.g. サクラマンション305号."""
        rng = self.rng
        prefix = town if rng.random() < 0.3 else rng.choice(_BUILDING_PREFIXES)
        room = rng.randint(1, 14) * 100 + rng.randint(1, 12)
        return f"{prefix}{rng.choice(_BUILDING_KINDS)}{room}号{'室' if rng.random() < 0.3 else ''}"

    # -- dates --

    def _birth_aged(self, age_lo: int, age_hi: int) -> int:
        """A birth date giving an age in [age_lo, age_hi] today."""
        # Two days' slack either side: _days() counts 365.2425-day years, not calendar ones.
        newest = self._today - _days(age_lo) - 2
        oldest = self._today - _days(age_hi + 1) + 2
        return self.rng.randint(oldest, newest)

    def _birth_between(
        self, first: int, last: int, *, min_ordinal: int = 0, max_ordinal: int | None = None
    ) -> int | None:
        first = max(first, min_ordinal)
        last = min(last, self._today if max_ordinal is None else max_ordinal)
        return self.rng.randint(first, last) if first <= last else None


def _towns_for(code: str) -> tuple[tuple[str, int], ...]:
    if code == DEFAULT_CODE:
        return _CHIYODA_TOWNS
    # A stable number of 丁目 per town name, so one municipality's addresses stay consistent.
    return tuple((t, sum(map(ord, t)) % 5) for t in _OTHER_TOWNS)


@lru_cache(maxsize=len(_ALL_SURNAMES))
def _impression(family_name: str) -> bytes:
    # Drawing takes ~15 ms and depends only on the surname: draw each once per process.
    return personal_seal(family_name)


def _surname(rng: random.Random) -> Name:
    return _ALL_SURNAMES[_pick(rng, _SURNAME_CUM)]


def _pick(rng: random.Random, cum_weights: tuple[float, ...]) -> int:
    # random.choices re-validates its arguments on every call; a bisect on a prebuilt table is
    # the same draw without the overhead.
    return bisect(cum_weights, rng.random() * cum_weights[-1])


def _days(years: float) -> int:
    return int(years * _YEAR)


def _full(person: _Person) -> str:
    return f"{person.family[0]}　{person.given[0]}"


def _kanji_number(n: int) -> str:
    """Kanji numerals for 丁目 (1–99): 一, 十, 十二, 二十三."""
    tens, ones = divmod(n, 10)
    if not tens:
        return _KANJI_DIGITS[ones]
    return f"{'' if tens == 1 else _KANJI_DIGITS[tens]}十{_KANJI_DIGITS[ones] if ones else ''}"
