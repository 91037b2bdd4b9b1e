"""A synthetic municipality written in the BCL upload format, at any size, seeded.

Residents, households and seal registrations come from `server.bcl.synthetic.iter_residents`
(streamed: memory stays flat up to a million residents and beyond); this module derives the
rest the way a municipality's systems would hold it:

- 利用者管理: most adults hold a My Number Card, some also a phone certificate, a few an old
  card that was renewed (inactive). The serials are random, like the authority's; a test that
  needs working cards passes `extra_serials` from `JpkiAuthority.issue_card`.
- 税: 個人住民税 for every adult and fiscal year, from a salary or a pension, with the 給与所得控除
  table, the 基礎控除, 6% / 4% 所得割 and the 均等割; some is left unpaid.
- 戸籍 and 附票: the residents whose 本籍 is in this municipality, grouped per household by
  本籍 and 筆頭者, with the family they imply: a 筆頭者 who lives elsewhere (a father, with the
  mother beside him; a late husband) is added as member 1, a spouse who died or divorced and
  grown children who married out stay listed as 除籍. Each 戸籍 has its 戸籍事項 (編製 on the
  wedding or 分籍, 改製 for one older than the municipality's computerisation, or 転籍), each
  member their 身分事項 (出生 with place, 届出日 and 届出人; 婚姻 naming the spouse and the
  従前戸籍; 死亡, 配偶者の死亡, 離婚, 分籍), dated consistently with the family.

Same seed, same bytes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

from server.bcl.csvformat import (
    CARD_SERIALS,
    FUHYO,
    KOSEKI,
    KOSEKI_EVENTS,
    RESIDENTS,
    SEAL_IMAGES,
    SEALS,
    TAXES,
    CsvWriter,
    FileSchema,
)
from server.bcl.records import ResidentRecord, Sex
from server.bcl.registers import (
    CardSerialRecord,
    FuhyoEntryRecord,
    KosekiEventKind,
    KosekiEventRecord,
    KosekiMemberRecord,
    SealEntry,
    SealImage,
    TaxRecord,
    TokenCarrier,
)
from server.bcl.synthetic import DEFAULT_CODE, SyntheticHousehold, iter_residents

CARD_AGE = 15  # below this a parent applies; keep it simple: no cards for children
CARD_RATE = 0.8  # マイナンバーカード 保有率, roughly that of 2025
PHONE_RATE = 0.12  # of card holders, a スマホ用電子証明書 too
RENEWED_RATE = 0.04  # of card holders, an old card's serial still on file (inactive)
DEFAULT_TAX_YEARS = 2

GENERATED_FILES: tuple[FileSchema, ...] = (
    RESIDENTS,
    CARD_SERIALS,
    SEAL_IMAGES,
    SEALS,
    TAXES,
    KOSEKI,
    KOSEKI_EVENTS,
    FUHYO,
)


@dataclass(frozen=True)
class GeneratedDataset:
    directory: Path
    municipality_code: str
    residents: int
    households: int
    rows: Mapping[str, int]  # per file
    sample: tuple[ResidentRecord, ...] = field(repr=False)  # the first household's members


def generate_dataset(
    out: Path,
    *,
    residents: int,
    seed: int,
    code: str = DEFAULT_CODE,
    prefecture: str = "東京都",
    name: str = "千代田区",
    today: date = date(2026, 4, 1),
    tax_years: int = DEFAULT_TAX_YEARS,
    extra_serials: Sequence[CardSerialRecord] = (),
    on_household: Callable[[int], None] | None = None,
) -> GeneratedDataset:
    """Write exactly `residents` residents (the last household may be cut short) into `out`."""
    if residents < 1:
        raise ValueError("residents must be at least 1")
    if tax_years < 0:
        raise ValueError("tax_years must not be negative")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"konbini-bcl-generate:{seed}:{code}")
    municipality = f"{prefecture}{name}"
    derive = _Derived(rng, municipality=municipality, today=today, tax_years=tax_years)
    handles: dict[str, IO[bytes]] = {}
    writers: dict[str, CsvWriter] = {}
    try:
        for schema in GENERATED_FILES:
            handles[schema.name] = open(out / schema.name, "wb")  # noqa: SIM115
            writers[schema.name] = CsvWriter(handles[schema.name], schema)
        count = 0
        households = 0
        sample: tuple[ResidentRecord, ...] = ()
        # Each household has at least one member, so `residents` households always suffice.
        stream = iter_residents(
            seed=seed,
            households=residents,
            code=code,
            prefecture=prefecture,
            name=name,
            today=today,
        )
        for household in stream:
            household = _cut(household, residents - count)
            households += 1
            count += len(household.members)
            sample = sample or household.members
            writers[RESIDENTS.name].write_all(household.members)
            for seal in household.seals:
                sha, new = derive.image(seal.impression_png)
                if new:
                    writers[SEAL_IMAGES.name].write(SealImage(sha, seal.impression_png))
                writers[SEALS.name].write(
                    SealEntry(
                        seal.resident_id,
                        seal.registration_number,
                        seal.registered_on,
                        sha,
                        seal.active,
                    )
                )
            writers[CARD_SERIALS.name].write_all(derive.serials(household.members))
            writers[TAXES.name].write_all(derive.taxes(household.members))
            members, events, entries = derive.koseki(household.members)
            writers[KOSEKI.name].write_all(members)
            writers[KOSEKI_EVENTS.name].write_all(events)
            writers[FUHYO.name].write_all(entries)
            if on_household is not None:
                on_household(len(household.members))
            if count >= residents:
                break
        writers[CARD_SERIALS.name].write_all(extra_serials)
    finally:
        for name_, writer in writers.items():
            writer.close()
            handles[name_].close()
    return GeneratedDataset(
        out, code, count, households, {n: w.rows for n, w in writers.items()}, sample
    )


def _cut(household: SyntheticHousehold, room: int) -> SyntheticHousehold:
    """The household with at most `room` members; the head, listed first, always stays."""
    if len(household.members) <= room:
        return household
    members = household.members[:room]
    kept = {m.resident_id for m in members}
    seals = tuple(s for s in household.seals if s.resident_id in kept)
    return SyntheticHousehold(household.household_id, members, seals)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def salary_income_deduction(salary: int) -> int:
    """給与所得控除 (from 2020 income): the deduction for a salary, in yen."""
    if salary <= 1_625_000:
        return min(salary, 550_000)
    if salary <= 1_800_000:
        return salary * 40 // 100 - 100_000
    if salary <= 3_600_000:
        return salary * 30 // 100 + 80_000
    if salary <= 6_600_000:
        return salary * 20 // 100 + 440_000
    if salary <= 8_500_000:
        return salary * 10 // 100 + 1_100_000
    return 1_950_000


BASIC_DEDUCTION = 430_000  # 基礎控除 (住民税)
EXEMPT_LIMIT = 450_000  # 非課税限度額 of a single person, simplified
MUNICIPAL_RATE, PREFECTURAL_RATE = 6, 4  # 所得割, percent
MUNICIPAL_PER_CAPITA, PREFECTURAL_PER_CAPITA = 3_000, 1_000  # 均等割


def resident_tax(
    resident_id: str, fiscal_year: int, salary: int, other: int, paid_share: float
) -> TaxRecord:
    """個人住民税 of one year from a salary and other income (a simplified assessment)."""
    total = max(0, salary - salary_income_deduction(salary)) + other
    deductions = BASIC_DEDUCTION + salary * 14 // 100  # 社会保険料 about 14% of a salary
    taxable = max(0, total - deductions) // 1000 * 1000
    exempt = total <= EXEMPT_LIMIT
    levies = (0, 0, 0, 0)
    if not exempt:
        levies = (
            taxable * MUNICIPAL_RATE // 100 // 100 * 100,
            MUNICIPAL_PER_CAPITA,
            taxable * PREFECTURAL_RATE // 100 // 100 * 100,
            PREFECTURAL_PER_CAPITA,
        )
    annual = sum(levies)
    paid = annual if paid_share >= 1 else int(annual * paid_share) // 100 * 100
    return TaxRecord(
        resident_id=resident_id,
        fiscal_year=fiscal_year,
        salary_income=salary,
        other_income=other,
        total_income=total,
        deductions=deductions,
        taxable_income=taxable,
        municipal_income_levy=levies[0],
        municipal_per_capita=levies[1],
        prefectural_income_levy=levies[2],
        prefectural_per_capita=levies[3],
        tax_exempt=exempt,
        annual_tax=annual,
        paid=paid,
        unpaid=annual - paid,
    )


class _Derived:
    """The registers derived from residents; its own seeded RNG, so residents stay as they are."""

    def __init__(
        self, rng: random.Random, *, municipality: str, today: date, tax_years: int
    ) -> None:
        self.rng = rng
        self.municipality = municipality
        self.today = today
        # 住民税 of a fiscal year is assessed in June; before that the latest is last year's.
        latest = today.year if today.month >= 6 else today.year - 1
        self.fiscal_years = tuple(range(latest - tax_years + 1, latest + 1))
        # PNG → SHA-256: the synthetic impressions repeat (one per surname), and a bytes
        # object caches its hash, so a repeated image costs a dictionary lookup.
        self._images: dict[bytes, str] = {}
        self._koseki_no = rng.randrange(10_000, 90_000)
        # The day this municipality computerised its 戸籍 (改製); older 戸籍 were transcribed.
        self.kaisei_on = date(1995, 1, 1) + timedelta(days=rng.randrange(13 * 365))

    def image(self, png: bytes) -> tuple[str, bool]:
        """The image's SHA-256, and whether it is new to this dataset."""
        sha = self._images.get(png)
        if sha is not None:
            return sha, False
        sha = self._images[png] = hashlib.sha256(png).hexdigest()
        return sha, True

    def _serial(self) -> str:
        return str(self.rng.getrandbits(126) | (1 << 125))  # a positive serial of ~38 digits

    def serials(self, members: Iterable[ResidentRecord]) -> Iterator[CardSerialRecord]:
        rng = self.rng
        for m in members:
            if age_on(m.birth_date, self.today) < CARD_AGE or rng.random() >= CARD_RATE:
                continue
            if rng.random() < RENEWED_RATE:
                yield CardSerialRecord(m.resident_id, self._serial(), TokenCarrier.CARD, False)
            yield CardSerialRecord(m.resident_id, self._serial(), TokenCarrier.CARD)
            if rng.random() < PHONE_RATE:
                phone = TokenCarrier.ANDROID if rng.random() < 0.55 else TokenCarrier.IPHONE
                yield CardSerialRecord(m.resident_id, self._serial(), phone)

    def taxes(self, members: Iterable[ResidentRecord]) -> Iterator[TaxRecord]:
        rng = self.rng
        for m in members:
            for fy in self.fiscal_years:
                age = age_on(m.birth_date, date(fy - 1, 12, 31))  # income of the year before
                if age < 18:
                    continue
                salary = other = 0
                if age < 65 and rng.random() < 0.78:
                    salary = int(rng.lognormvariate(15.2, 0.55)) // 1000 * 1000  # ~4M yen
                elif age >= 65:
                    other = int(rng.lognormvariate(14.1, 0.5)) // 1000 * 1000  # pension income
                paid_share = 1.0 if rng.random() < 0.95 else rng.random()
                yield resident_tax(m.resident_id, fy, salary, other, paid_share)

    def koseki(
        self, members: Sequence[ResidentRecord]
    ) -> tuple[list[KosekiMemberRecord], list[KosekiEventRecord], list[FuhyoEntryRecord]]:
        """The 戸籍 with 本籍 here of one household's members, their 事項 and their 附票."""
        groups: dict[tuple[str, str], list[ResidentRecord]] = {}
        for m in members:
            if m.honseki.startswith(self.municipality) and m.hittousha:
                groups.setdefault((m.honseki, m.hittousha), []).append(m)
        rows: list[KosekiMemberRecord] = []
        events: list[KosekiEventRecord] = []
        entries: list[FuhyoEntryRecord] = []
        for (honseki, hittousha), people in groups.items():
            self._koseki_no += self.rng.randint(1, 4)
            book = _Book(self, f"{self._koseki_no:08d}", honseki, hittousha)
            book.build(people)
            rows += book.rows
            events += book.events
            entries += book.entries
        return rows, events, entries

    def born_at(self, person: ResidentRecord | None) -> str:
        """出生地: here for someone who became a resident at birth, else a city elsewhere."""
        if person is not None and person.became_resident_on <= person.birth_date:
            return self.municipality
        return self.rng.choice(_FORMER_CITIES)

    def other_koseki(self, family: str) -> str:
        """A 戸籍 elsewhere (a parent's): 本籍 and 筆頭者, as 従前戸籍 prints it."""
        rng = self.rng
        return (
            f"{rng.choice(_FORMER_CITIES)}{rng.choice(_FORMER_TOWNS)}{rng.randint(1, 999)}番地"
            f"　{family}　{rng.choice(_FATHERS)}"
        )

    def new_honseki(self) -> str:
        """新本籍 of one who left: an address anywhere."""
        rng = self.rng
        return f"{rng.choice(_FORMER_CITIES)}{rng.choice(_FORMER_TOWNS)}{rng.randint(1, 999)}番地"

    def day_between(self, first: date, last: date) -> date:
        """A day in [first, last], or `last` if the range is empty."""
        if last <= first:
            return last
        return first + timedelta(days=self.rng.randint(0, (last - first).days))

    def former_address(self) -> str:
        """A former address in another municipality."""
        rng = self.rng
        return (
            f"{rng.choice(_FORMER_CITIES)}{rng.choice(_FORMER_TOWNS)}"
            f"{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
        )


_FORMER_CITIES = (
    "北海道札幌市北区", "宮城県仙台市若林区", "埼玉県川口市", "千葉県船橋市", "東京都練馬区",
    "神奈川県川崎市中原区", "愛知県名古屋市千種区", "大阪府堺市堺区", "福岡県北九州市小倉北区",
)  # fmt: skip
_FORMER_TOWNS = ("本町", "栄町", "緑町", "旭町", "中央", "東町", "桜台")
_ORDINAL_SON = ("長男", "二男", "三男", "四男")
_ORDINAL_DAUGHTER = ("長女", "二女", "三女", "四女")


# --- 戸籍: members, 戸籍事項 and 身分事項 -------------------------------------------------------

SPOUSES = ("妻", "夫", "子の妻", "子の夫")
KAISEI_REASON = "平成6年法務省令第51号附則第2条第1項による改製"
TENSEKI_RATE = 0.08  # 戸籍 whose 本籍 moved here from elsewhere
ADOPTION_RATE = 0.05  # of families with children: the eldest is a spouse's child, adopted
_FATHERS = ("一郎", "正雄", "和夫", "茂", "博", "清", "勇", "進", "豊", "昭", "健一", "隆", "誠")
_MAIDEN = (
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
    "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
)  # fmt: skip
_WOMEN = ("和子", "幸子", "恵子", "京子", "美智子", "洋子", "直美", "由美", "久美子", "裕子")
_MEN = ("浩", "誠", "健一", "隆", "修", "直樹", "哲也", "大輔", "和也", "聡")


def _years(n: float) -> timedelta:
    return timedelta(days=int(n * 365.2425))


@dataclass
class _Person:
    """A member being written: the resident (None for someone who does not live here)."""

    resident: ResidentRecord | None
    family: str
    given: str
    birth: date
    sex: Sex
    spouse: bool = False  # 妻 / 夫 of the 筆頭者
    child: bool = False  # a child of the 筆頭者 (and spouse)
    removed: str = ""  # 除籍事由
    other_parent: str = ""  # of a spouse's child the 筆頭者 adopted: the parent outside
    events: list[tuple[KosekiEventKind, date, dict[str, Any]]] = field(default_factory=list)

    @property
    def full(self) -> str:
        return f"{self.family}　{self.given}"


class _Book:
    """One 戸籍 of a household: who is in it (present or not), and what happened to them.

    Dates follow the family: a marriage after both spouses are grown and before their first
    child; children born after both parents; a death after the marriage; every event after
    the birth of the member it is recorded for, and none after `today`.
    """

    def __init__(self, d: _Derived, koseki_id: str, honseki: str, hittousha: str) -> None:
        self.d = d
        self.rng = d.rng
        self.today = d.today
        self.koseki_id = koseki_id
        self.honseki = honseki
        self.hittousha = hittousha
        self.rows: list[KosekiMemberRecord] = []
        self.events: list[KosekiEventRecord] = []
        self.entries: list[FuhyoEntryRecord] = []

    def build(self, people: Sequence[ResidentRecord]) -> None:
        head_rec = next((p for p in people if p.full_name == self.hittousha), None)
        others = [p for p in people if p is not head_rec]
        # The 筆頭者's spouse: 妻 / 夫 on the 住民票, or 母 beside a 父 who heads it.
        wed = SPOUSES if head_rec is None or head_rec.relationship != "父" else ("母",)
        spouse_rec = next((p for p in others if p.relationship in wed), None)
        if head_rec is None:
            head, spouse, kids = self._absent_head(others)
        else:
            head = _Person(
                head_rec,
                head_rec.family_name,
                head_rec.given_name,
                head_rec.birth_date,
                head_rec.sex,
            )
            spouse = None
            if spouse_rec is not None:
                spouse = self._present(spouse_rec, spouse=True)
            kids = [self._present(p, child=True) for p in others if p is not spouse_rec]
        adopted = None
        if spouse is not None and kids and self.rng.random() < ADOPTION_RATE:
            adopted = min(kids, key=lambda k: k.birth)  # the spouse's child from before
            adopted.other_parent = f"{self.rng.choice(_MAIDEN)}　" + self.rng.choice(
                _MEN if spouse.sex is Sex.FEMALE else _WOMEN
            )
        eldest = min((k.birth for k in kids if k is not adopted), default=None)
        self._born(head)
        if spouse is None and head_rec is not None and not kids:
            spouse = self._single_history(head)
        elif spouse is None and head_rec is not None:
            spouse = self._absent_spouse(head, eldest)  # a single parent: the other one left
            spouse.removed = KosekiEventKind.DIVORCE.value
        wedding = None
        if spouse is not None:
            self._born(spouse)
            wedding = self._marry(head, spouse, eldest)
            if head_rec is not None and spouse.resident is not None and not kids:
                kids += self._married_out(head, spouse, wedding)
        for k in kids:
            self._born(k)
        if adopted is not None and wedding is not None:
            self._adopt(head, adopted, wedding)
        self._matters(wedding or head.events[-1][1])
        members = [head, *([spouse] if spouse else []), *sorted(kids, key=lambda k: k.birth)]
        father = next((p.full for p in (head, spouse) if p and p.sex is Sex.MALE), "")
        mother = next((p.full for p in (head, spouse) if p and p.sex is Sex.FEMALE), "")
        sons = daughters = 0
        for no, p in enumerate(members, start=1):
            if p.spouse:
                rel, parents = ("妻" if p.sex is Sex.FEMALE else "夫"), ("", "")
            elif p.other_parent:
                rel = "養子" if p.sex is Sex.MALE else "養女"
                parents = (
                    (p.other_parent, mother) if father == head.full else (father, p.other_parent)
                )
            else:
                if p.sex is Sex.MALE:
                    sons += 1
                    rel = _ORDINAL_SON[min(sons, len(_ORDINAL_SON)) - 1]
                else:
                    daughters += 1
                    rel = _ORDINAL_DAUGHTER[min(daughters, len(_ORDINAL_DAUGHTER)) - 1]
                parents = (father, mother) if p.child else ("", "")
            if p is head:
                sons = daughters = 0  # the 筆頭者's own 続柄 is to their parents
            r = p.resident
            self.rows.append(
                KosekiMemberRecord(
                    koseki_id=self.koseki_id,
                    honseki=self.honseki,
                    hittousha=self.hittousha,
                    member_no=no,
                    family_name=p.family,
                    given_name=p.given,
                    birth_date=p.birth,
                    sex=p.sex,
                    relationship=rel,
                    resident_id=r.resident_id if r else "",
                    family_name_kana=r.family_name_kana if r else "",
                    given_name_kana=r.given_name_kana if r else "",
                    father_name=parents[0],
                    mother_name=parents[1],
                    removed_reason=p.removed,
                )
            )
            for n, (kind, day, items) in enumerate(p.events, start=1):
                self.events.append(KosekiEventRecord(self.koseki_id, no, n, kind, day, **items))
            self._addresses(no, p)

    # -- who is in the 戸籍 --

    def _present(self, r: ResidentRecord, *, spouse: bool = False, child: bool = False) -> _Person:
        return _Person(r, r.family_name, r.given_name, r.birth_date, r.sex, spouse, child)

    def _absent_head(
        self, present: Sequence[ResidentRecord]
    ) -> tuple[_Person, _Person | None, list[_Person]]:
        """The 筆頭者 lives elsewhere: a late husband (of an elderly widow), else the father
        of the people here, with their mother beside him."""
        rng = self.rng
        family, _, given = self.hittousha.partition("　")
        given = given or family
        eldest = min(present, key=lambda p: p.birth_date)
        widowed = age_on(eldest.birth_date, self.today) >= 55 or eldest.relationship == "母"
        if eldest.sex is Sex.FEMALE and widowed:
            widow = self._present(eldest, spouse=True)
            husband = _Person(
                None, family, given, eldest.birth_date - _years(rng.uniform(0, 5)), Sex.MALE
            )
            kids = [self._present(p, child=True) for p in present if p is not eldest]
            husband.removed = KosekiEventKind.DEATH.value
            return husband, widow, kids
        father = _Person(None, family, given, eldest.birth_date - _years(28), Sex.MALE)
        mother_born = father.birth + _years(rng.uniform(0, 4))
        mother = _Person(None, family, rng.choice(_WOMEN), mother_born, Sex.FEMALE, spouse=True)
        return father, mother, [self._present(p, child=True) for p in present]

    def _single_history(self, head: _Person) -> _Person | None:
        """A 筆頭者 alone: widowed, divorced (the other left), or out of the parents' 戸籍."""
        rng = self.rng
        age = age_on(head.birth, self.today)
        if age >= 65 or (age >= 40 and rng.random() < 0.35):
            other = self._absent_spouse(head)
            if age >= 65:
                other.removed = KosekiEventKind.DEATH.value
            else:
                other.removed = KosekiEventKind.DIVORCE.value
            return other
        grown = head.birth + _years(20)
        day = self.d.day_between(grown, min(self.today, grown + _years(15)))
        head.events.append(
            (KosekiEventKind.BUNSEKI, day, {"from_koseki": self.d.other_koseki(head.family)})
        )
        return None

    def _absent_spouse(self, head: _Person, eldest: date | None = None) -> _Person:
        rng = self.rng
        sex = Sex.FEMALE if head.sex is Sex.MALE else Sex.MALE
        gap = rng.uniform(-2, 6) if sex is Sex.FEMALE else rng.uniform(-6, 2)
        birth = min(head.birth + _years(gap), self.today - _years(20))
        if eldest is not None:  # a parent of the children, grown when they were born
            birth = min(birth, eldest - _years(20))
        given = rng.choice(_WOMEN if sex is Sex.FEMALE else _MEN)
        return _Person(None, head.family, given, birth, sex, spouse=True)

    def _married_out(self, head: _Person, spouse: _Person, wedding: date) -> list[_Person]:
        """Grown children of an older couple who married and left (除籍 by 婚姻)."""
        rng = self.rng
        if age_on(max(head.birth, spouse.birth), self.today) < 50 or rng.random() >= 0.6:
            return []
        kids: list[_Person] = []
        first = max(wedding, max(head.birth, spouse.birth) + _years(20)) + timedelta(days=1)
        last = min(self.today - _years(22), min(head.birth, spouse.birth) + _years(42))
        for _ in range(rng.choice((1, 1, 2))):
            if last <= first:
                break
            birth = self.d.day_between(first, min(last, first + _years(6)))
            first = birth + _years(1.5)  # the next one a while after
            sex = Sex.MALE if rng.random() < 0.51 else Sex.FEMALE
            given = rng.choice(_MEN if sex is Sex.MALE else _WOMEN)
            kid = _Person(None, head.family, given, birth, sex, child=True)
            kid.removed = KosekiEventKind.MARRIAGE.value
            grown = birth + _years(22)
            day = self.d.day_between(grown, min(self.today, grown + _years(12)))
            kid.events.append(
                (
                    KosekiEventKind.MARRIAGE,
                    day,
                    {
                        "partner_name": f"{rng.choice(_MAIDEN)}　"
                        f"{rng.choice(_WOMEN if sex is Sex.MALE else _MEN)}",
                        "detail": "夫の氏",
                        "to_koseki": self.d.new_honseki(),
                    },
                )
            )
            kids.append(kid)
        return kids

    # -- what happened --

    def _adopt(self, head: _Person, child: _Person, wedding: date) -> None:
        """The 筆頭者 adopts the spouse's child (養子縁組), once married and the child born."""
        day = self.d.day_between(max(wedding, child.birth + timedelta(days=30)), self.today)
        parent = "adoptive_father" if head.sex is Sex.MALE else "adoptive_mother"
        before = self.d.other_koseki(child.other_parent.partition("　")[0])
        child.events.append(
            (KosekiEventKind.ADOPTION, day, {parent: head.full, "from_koseki": before})
        )

    def _born(self, p: _Person) -> None:
        rng = self.rng
        notifier = "父" if rng.random() < 0.8 else "母"
        notified = min(p.birth + timedelta(days=rng.randint(1, 13)), max(p.birth, self.today))
        p.events.insert(
            0,
            (
                KosekiEventKind.BIRTH,
                p.birth,
                {
                    "place": self.d.born_at(p.resident),
                    "notified_on": notified,
                    "notifier": notifier,
                },
            ),
        )

    def _marry(self, head: _Person, spouse: _Person, eldest: date | None) -> date:
        """The wedding of the 筆頭者 and spouse, each naming the other; then what ended it."""
        rng, d = self.rng, self.d
        older = max(head.birth, spouse.birth)
        first = older + _years(20)
        last = min(self.today, (eldest - timedelta(days=1)) if eldest else self.today)
        if last < first:
            first = older + _years(18)
        day = d.day_between(min(first, last), min(last, first + _years(12)))
        maiden = spouse.resident.former_family_name if spouse.resident else ""
        maiden = maiden or rng.choice([s for s in _MAIDEN if s != head.family])
        head.events.append(
            (
                KosekiEventKind.MARRIAGE,
                day,
                {
                    "partner_name": f"{maiden}　{spouse.given}",
                    "from_koseki": d.other_koseki(head.family),
                },
            )
        )
        spouse.events.append(
            (
                KosekiEventKind.MARRIAGE,
                day,
                {"partner_name": head.full, "from_koseki": d.other_koseki(maiden)},
            )
        )
        if spouse.removed or head.removed:
            gone, left = (spouse, head) if spouse.removed else (head, spouse)
            end = d.day_between(day + timedelta(days=365), self.today)
            if gone.removed == KosekiEventKind.DEATH.value:
                end = d.day_between(max(day, gone.birth + _years(55)), self.today)
                gone.events.append(
                    (
                        KosekiEventKind.DEATH,
                        end,
                        {
                            "place": d.born_at(None),
                            "notified_on": min(end + timedelta(days=2), self.today),
                            "notifier": "親族",
                        },
                    )
                )
                left.events.append((KosekiEventKind.SPOUSE_DEATH, end, {}))
            else:
                gone.events.append(
                    (
                        KosekiEventKind.DIVORCE,
                        end,
                        {"partner_name": left.full, "to_koseki": d.new_honseki()},
                    )
                )
                left.events.append((KosekiEventKind.DIVORCE, end, {"partner_name": gone.full}))
        return day

    def _matters(self, made: date) -> None:
        """戸籍事項: made on `made` — or moved here, or transcribed when computerised."""
        d = self.d
        if self.rng.random() < TENSEKI_RATE:  # since the 改製, or it would show that instead
            day = d.day_between(max(made, d.kaisei_on), self.today)
            self.events.append(
                KosekiEventRecord(
                    self.koseki_id,
                    0,
                    1,
                    KosekiEventKind.TENSEKI,
                    day,
                    from_koseki=d.new_honseki(),
                )
            )
        elif made < d.kaisei_on:
            self.events.append(
                KosekiEventRecord(
                    self.koseki_id, 0, 1, KosekiEventKind.KAISEI, d.kaisei_on, detail=KAISEI_REASON
                )
            )
        else:
            self.events.append(
                KosekiEventRecord(self.koseki_id, 0, 1, KosekiEventKind.HENSEI, made)
            )

    def _addresses(self, no: int, p: _Person) -> None:
        r = p.resident
        if r is None:
            if not p.removed:  # lives elsewhere: the 附票 keeps where, here the 本籍 itself
                self.entries.append(FuhyoEntryRecord(self.koseki_id, no, 1, self.honseki, p.birth))
            return
        entry = 1
        if r.became_resident_on > r.birth_date:  # lived elsewhere first
            self.entries.append(
                FuhyoEntryRecord(self.koseki_id, no, entry, self.d.former_address(), r.birth_date)
            )
            entry += 1
        address = f"{r.address}{r.address_annex}"
        self.entries.append(FuhyoEntryRecord(self.koseki_id, no, entry, address, r.address_set_on))
