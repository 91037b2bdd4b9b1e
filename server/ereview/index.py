"""An in-memory blocking index of one municipality's residents for e-review matching.

Matching an application against a million residents must not scan them. The index keeps, for
each resident, the few normalised values the matcher compares, and posting lists for several
blocking keys (ブロッキング), each chosen to survive a different kind of error:

==========  =========================================  ==========================================
key         what                                        still finds the resident when …
==========  =========================================  ==========================================
``b``       birth date                                  the name is misspelt, variant, swapped
``ry``      loose full reading + birth year             the kanji, month/day or address differ
``rd``      loose full reading + birth month and day    the year is wrong (an era-year slip)
``ky``      folded full kanji name + birth year         the reading is wrong
``a``       end of the town name + block numbers        the name and the date are both wrong
``fy``      旧氏 + given name + birth year              the applicant wrote the former surname
==========  =========================================  ==========================================

A query unions the posting lists of the application's keys (both name orders), skipping any
list longer than `max_block` (a key as common as that carries no information), so its cost is
bounded by the size of a few blocks, not by the municipality.

It also counts how often each value occurs (term frequencies): the matcher weighs agreement on
a rare surname more than on 佐藤.

It is built from any iterable of `ResidentRecord` (the database, the synthetic generator, a
residents CSV) in one pass, and keeps no 個人番号, 住民票コード or 本籍. Strings shared between
residents (names, addresses) are stored once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from server.bcl.records import ResidentRecord
from server.ereview.model import ResidentView
from server.ereview.normalize import (
    ParsedAddress,
    loose_reading_key,
    name_key,
    parse_address,
    reading_key,
    town_tail,
)

DEFAULT_MAX_BLOCK = 400  # a key shared by more residents than this carries no information


@dataclass(frozen=True, slots=True)
class IndexedResident:
    """A resident as the matcher sees it: shown fields plus their normalised forms."""

    view: ResidentView
    family_key: str  # name_key(family_name)
    given_key: str
    former_key: str  # name_key(former_family_name), "" when none
    family_reading: str  # reading_key(family_name_kana)
    given_reading: str
    loose_reading: str  # loose_reading_key of the full reading (voicing dropped)
    birth: int  # date ordinal
    address: ParsedAddress

    @property
    def name_key(self) -> str:
        return self.family_key + self.given_key

    @property
    def reading(self) -> str:
        return self.family_reading + self.given_reading


def block_key_address(address: ParsedAddress, numbers: int | None = None) -> str:
    n = address.numbers if numbers is None else address.numbers[:numbers]
    return f"a{town_tail(address.town)}|{'-'.join(map(str, n))}"


def name_block_keys(kanji: str, loose_reading: str, birth: date | None) -> Iterator[str]:
    """The name-and-date keys for one spelling of a full name (kanji and loose reading)."""
    if birth is None:
        return
    if loose_reading:
        yield f"ry{loose_reading}|{birth.year}"
        yield f"rd{loose_reading}|{birth.month}-{birth.day}"
    if kanji:
        yield f"ky{kanji}|{birth.year}"


class ResidentIndex:
    """Residents of one municipality, indexed for candidate retrieval and weighting."""

    def __init__(self, *, max_block: int = DEFAULT_MAX_BLOCK) -> None:
        if max_block < 1:
            raise ValueError("max_block must be positive")
        self.max_block = max_block
        self._residents: list[IndexedResident] = []
        self._postings: dict[str, list[int]] = {}
        self._households: dict[str, list[int]] = {}
        self._strings: dict[str, str] = {}
        self._dates: dict[int, date] = {}
        self._addresses: dict[tuple[str, str], ParsedAddress] = {}
        # Term frequencies for the match weights.
        self.name_counts: Counter[str] = Counter()  # full folded kanji name
        self.reading_counts: Counter[str] = Counter()  # full reading
        self.family_counts: Counter[str] = Counter()
        self.birth_counts: Counter[int] = Counter()
        self.block_counts: Counter[str] = Counter()  # ParsedAddress.block_key
        self.town_counts: Counter[str] = Counter()

    @classmethod
    def build(
        cls, records: Iterable[ResidentRecord], *, max_block: int = DEFAULT_MAX_BLOCK
    ) -> ResidentIndex:
        index = cls(max_block=max_block)
        for record in records:
            index.add(record)
        return index

    def __len__(self) -> int:
        return len(self._residents)

    def _s(self, value: str) -> str:
        return self._strings.setdefault(value, value)

    def add(self, r: ResidentRecord) -> None:
        s = self._s
        birth = self._dates.setdefault(r.birth_date.toordinal(), r.birth_date)
        view = ResidentView(
            resident_id=r.resident_id,
            household_id=s(r.household_id),
            family_name=s(r.family_name),
            given_name=s(r.given_name),
            family_name_kana=s(r.family_name_kana),
            given_name_kana=s(r.given_name_kana),
            former_family_name=s(r.former_family_name),
            birth_date=birth,
            sex=s(r.sex.value),
            address=s(r.address),
            address_annex=s(r.address_annex),
            relationship=s(r.relationship),
            is_household_head=r.is_household_head,
            suppressed=r.suppressed,
        )
        akey = (view.address, view.address_annex)
        address = self._addresses.get(akey)
        if address is None:
            address = self._addresses[akey] = parse_address(*akey)
        loose = loose_reading_key(r.family_name_kana) + loose_reading_key(r.given_name_kana)
        entry = IndexedResident(
            view=view,
            family_key=s(name_key(r.family_name)),
            given_key=s(name_key(r.given_name)),
            former_key=s(name_key(r.former_family_name)) if r.former_family_name else "",
            family_reading=s(reading_key(r.family_name_kana)),
            given_reading=s(reading_key(r.given_name_kana)),
            loose_reading=s(loose),
            birth=birth.toordinal(),
            address=address,
        )
        i = len(self._residents)
        self._residents.append(entry)
        self._households.setdefault(view.household_id, []).append(i)

        name = entry.name_key
        keys = [f"b{entry.birth}", *name_block_keys(name, loose, birth)]
        if entry.former_key:
            keys.append(f"fy{entry.former_key}{entry.given_key}|{birth.year}")
        if address.numbers:
            keys.append(block_key_address(address))
        for key in keys:
            self._postings.setdefault(s(key), []).append(i)

        self.name_counts[name] += 1
        self.reading_counts[entry.reading] += 1
        self.family_counts[entry.family_key] += 1
        self.birth_counts[entry.birth] += 1
        self.block_counts[address.block_key] += 1
        self.town_counts[address.town] += 1

    def candidates(self, keys: Iterable[str]) -> list[int]:
        """Positions of residents sharing at least one key, each once, in index order."""
        found: set[int] = set()
        for key in keys:
            posting = self._postings.get(key)
            if posting is not None and len(posting) <= self.max_block:
                found.update(posting)
        return sorted(found)

    def resident(self, position: int) -> IndexedResident:
        return self._residents[position]

    def household(self, household_id: str) -> list[IndexedResident]:
        """Members of a household, head first, then in register order."""
        members = [self._residents[i] for i in self._households.get(household_id, ())]
        return sorted(members, key=lambda e: not e.view.is_household_head)

    def block_sizes(self) -> Counter[str]:
        """How many keys of each kind, and how many postings: for the docs and the bench."""
        sizes: Counter[str] = Counter()
        for key, posting in self._postings.items():
            kind = key[:2] if key[:2] in ("ry", "rd", "ky", "fy") else key[:1]
            sizes[f"{kind}:keys"] += 1
            sizes[f"{kind}:postings"] += len(posting)
            sizes[f"{kind}:max"] = max(sizes[f"{kind}:max"], len(posting))
        return sizes
