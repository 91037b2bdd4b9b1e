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
  本籍 and 筆頭者; a 筆頭者 who lives elsewhere is added as member 1.

Same seed, same bytes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from server.bcl.csvformat import (
    CARD_SERIALS,
    FUHYO,
    KOSEKI,
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
            members, entries = derive.koseki(household.members)
            writers[KOSEKI.name].write_all(members)
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
    ) -> tuple[list[KosekiMemberRecord], list[FuhyoEntryRecord]]:
        """The 戸籍 with 本籍 here of one household's members, and their 附票."""
        groups: dict[tuple[str, str], list[ResidentRecord]] = {}
        for m in members:
            if m.honseki.startswith(self.municipality) and m.hittousha:
                groups.setdefault((m.honseki, m.hittousha), []).append(m)
        rows: list[KosekiMemberRecord] = []
        entries: list[FuhyoEntryRecord] = []
        for (honseki, hittousha), people in groups.items():
            self._koseki_no += self.rng.randint(1, 4)
            koseki_id = f"{self._koseki_no:08d}"
            head = next((p for p in people if p.full_name == hittousha), None)
            others = [p for p in people if p is not head]
            ordered: list[ResidentRecord | None] = [head, *sorted(others, key=_spouse_first)]
            father, mother = _parents(head, others)
            sons = daughters = 0
            for no, person in enumerate(ordered, start=1):
                if person is None:  # the 筆頭者 lives elsewhere (a parent, a late husband)
                    rows.append(self._absent_head(koseki_id, honseki, hittousha, people))
                    entries.append(FuhyoEntryRecord(koseki_id, 1, 1, honseki, rows[-1].birth_date))
                    continue
                if person.relationship in ("妻", "夫", "子の妻", "子の夫") and no > 1:
                    rel = "妻" if person.sex is Sex.FEMALE else "夫"
                    parents = ("", "")
                else:
                    if person.sex is Sex.MALE:
                        sons += 1
                        rel = _ORDINAL_SON[min(sons, len(_ORDINAL_SON)) - 1]
                    else:
                        daughters += 1
                        rel = _ORDINAL_DAUGHTER[min(daughters, len(_ORDINAL_DAUGHTER)) - 1]
                    parents = (father, mother) if no > 1 else ("", "")
                rows.append(
                    KosekiMemberRecord(
                        koseki_id=koseki_id,
                        honseki=honseki,
                        hittousha=hittousha,
                        member_no=no,
                        family_name=person.family_name,
                        given_name=person.given_name,
                        birth_date=person.birth_date,
                        sex=person.sex,
                        relationship=rel,
                        resident_id=person.resident_id,
                        family_name_kana=person.family_name_kana,
                        given_name_kana=person.given_name_kana,
                        father_name=parents[0],
                        mother_name=parents[1],
                        events=f"出生 {person.birth_date.isoformat()}",
                    )
                )
                entry = 1
                if person.became_resident_on > person.birth_date:  # lived elsewhere first
                    entries.append(
                        FuhyoEntryRecord(koseki_id, no, entry, self._elsewhere(), person.birth_date)
                    )
                    entry += 1
                address = f"{person.address}{person.address_annex}"
                entries.append(
                    FuhyoEntryRecord(koseki_id, no, entry, address, person.address_set_on)
                )
        return rows, entries

    def _absent_head(
        self, koseki_id: str, honseki: str, hittousha: str, people: Sequence[ResidentRecord]
    ) -> KosekiMemberRecord:
        family, _, given = hittousha.partition("　")
        eldest = min(p.birth_date for p in people)
        gap = 28 if age_on(eldest, self.today) < 60 else 2  # a father, else a late husband
        return KosekiMemberRecord(
            koseki_id=koseki_id,
            honseki=honseki,
            hittousha=hittousha,
            member_no=1,
            family_name=family,
            given_name=given or family,
            birth_date=eldest - timedelta(days=int(gap * 365.25)),
            sex=Sex.MALE,
            relationship="長男",
            events="",
        )

    def _elsewhere(self) -> str:
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


def _spouse_first(p: ResidentRecord) -> tuple[int, date]:
    return (0 if p.relationship in ("妻", "夫", "子の妻", "子の夫") else 1, p.birth_date)


def _parents(head: ResidentRecord | None, others: Sequence[ResidentRecord]) -> tuple[str, str]:
    """Father's and mother's names for the children of a 戸籍: its 筆頭者 and spouse."""
    if head is None:
        return "", ""
    spouse = next((p for p in others if p.relationship in ("妻", "夫", "子の妻", "子の夫")), None)
    couple = [head] + ([spouse] if spouse else [])
    father = next((p.full_name for p in couple if p.sex is Sex.MALE), "")
    mother = next((p.full_name for p in couple if p.sex is Sex.FEMALE), "")
    return father, mother
