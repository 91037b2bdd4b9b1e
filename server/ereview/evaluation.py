"""A labelled evaluation set for e-review matching, and the scores computed on it.

Applications are derived from a residents file with the corruptions real applications show —
variant kanji (髙→高), kana differences (hiragana, half-width, ー for ウ, large for small kana),
typos in the reading, the name or the birth date, a moved address, the 旧氏, era dates, given
and family name swapped, address notations (1-2-3, full width, no prefecture, 方書 or not) —
plus applications from people who are not residents: outsiders (another synthetic population)
claiming a real address of the municipality, and relatives of a resident household (same
surname and address, another given name and birth date) who are not registered. The truth
(resident or none, and which corruptions) is written beside, never given to the matcher.

Deterministic: one `random.Random` seeded from the arguments drives every choice.
Households are sampled by reservoir sampling, so a million residents stream through.

The scores: precision / recall / F1 of automatic matches (a match counts only when it names
the right resident), the same for automatic no-matches, and reviews counted separately.
"""

from __future__ import annotations

import csv
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from server.bcl.records import ResidentRecord
from server.bcl.synthetic import iter_residents
from server.common.era import to_wareki
from server.ereview.kanji_variants import families, variant_map
from server.ereview.normalize import parse_address

APPLICATION_COLUMNS = (
    "application_id",
    "municipality_code",
    "name",
    "name_kana",
    "birth_date",
    "address",
)
TRUTH_COLUMNS = ("application_id", "resident_id", "kind", "corruptions")

# Corruption rates for an application from a resident (independent draws).
RATES: dict[str, float] = {
    "variant_kanji": 0.6,  # of names with a variant-foldable character
    "rare_variant": 0.03,  # write an old form of a common character (高→髙)
    "kanji_typo": 0.03,
    "swapped_name": 0.03,
    "former_name": 0.5,  # of residents with a registered 旧氏
    "hiragana": 0.2,
    "half_width_kana": 0.05,
    "long_vowel": 0.2,  # of readings with オウ / エイ
    "large_small_kana": 0.3,  # of readings with small kana
    "kana_typo": 0.05,
    "no_kana": 0.03,
    "no_space": 0.1,
    "era_date": 0.3,
    "birth_typo": 0.03,
    "hyphen_address": 0.4,
    "full_width_address": 0.1,
    "short_address": 0.25,  # prefecture or municipality left off
    "with_annex": 0.5,  # of households with a 方書
    "moved": 0.07,
}

_PREFECTURE = re.compile(r"^(東京都|北海道|京都府|大阪府|.{2,3}県)")
_MUNICIPALITY = re.compile(r"^.+?[市区町村]")
_KATAKANA = (
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"
)
_O_ROW = set("オコソトノホモヨロゴゾドボポョ")
_E_ROW = set("エケセテネヘメレゲゼデベペ")


@dataclass(frozen=True)
class LabelledApplication:
    application_id: str
    municipality_code: str
    name: str
    name_kana: str
    birth_date: str
    address: str
    resident_id: str  # the truth: "" for a non-resident
    kind: str  # "resident", "outsider" or "relative"
    corruptions: tuple[str, ...]

    def application_row(self) -> list[str]:
        return [getattr(self, c) for c in APPLICATION_COLUMNS]

    def truth_row(self) -> list[str]:
        return [self.application_id, self.resident_id, self.kind, ";".join(self.corruptions)]


def households_of(records: Iterable[ResidentRecord]) -> Iterator[list[ResidentRecord]]:
    """Group a household-contiguous stream of residents into households."""
    current: list[ResidentRecord] = []
    for r in records:
        if current and r.household_id != current[0].household_id:
            yield current
            current = []
        current.append(r)
    if current:
        yield current


def sample_households(
    records: Iterable[ResidentRecord], k: int, rng: random.Random
) -> tuple[list[list[ResidentRecord]], dict[str, str]]:
    """k households chosen uniformly (reservoir sampling), and every surname's reading seen."""
    reservoir: list[list[ResidentRecord]] = []
    readings: dict[str, str] = {}
    for n, household in enumerate(households_of(records)):
        for r in household:
            readings.setdefault(r.family_name, r.family_name_kana)
        if len(reservoir) < k:
            reservoir.append(household)
        else:
            j = rng.randrange(n + 1)
            if j < k:
                reservoir[j] = household
    return reservoir, readings


def generate_evaluation_set(
    residents: Iterable[ResidentRecord],
    *,
    seed: int,
    count: int,
    municipality_code: str,
    nonresident_share: float = 0.2,
) -> list[LabelledApplication]:
    if count < 1:
        raise ValueError("count must be positive")
    if not 0.0 <= nonresident_share <= 1.0:
        raise ValueError("nonresident_share must be between 0 and 1")
    rng = random.Random(f"konbini-ereview-eval:{seed}:{municipality_code}")
    negatives = round(count * nonresident_share)
    positives = count - negatives
    households, readings = sample_households(residents, count, rng)
    if not households:
        raise ValueError("no residents to derive applications from")
    rng.shuffle(households)
    addresses = [h[0].address for h in households]
    given_pool = sorted({(r.given_name, r.given_name_kana, r.sex) for h in households for r in h})
    kanji_pool = sorted({c for g, _, _ in given_pool for c in g if "\u4e00" <= c <= "\u9fff"})

    out: list[LabelledApplication] = []
    for i in range(positives):
        household = households[i % len(households)]
        person = rng.choice(household)
        moved_to = rng.choice(addresses)
        fields, tags = _corrupt(person, rng, moved_to, readings, kanji_pool)
        out.append(
            LabelledApplication(
                f"A{i + 1:07d}",
                municipality_code,
                *fields,
                person.resident_id,
                "resident",
                tuple(tags),
            )
        )
    outsiders = _outsiders(seed, municipality_code, negatives - negatives // 3)
    for j in range(negatives):
        aid = f"A{positives + j + 1:07d}"
        household = households[(positives + j) % len(households)]
        if j < len(outsiders):
            o = outsiders[j]
            person_fields = (o.full_name, o.full_name_kana, o.birth_date)
            kind = "outsider"
        else:
            base = household[0]
            taken = {r.given_name for r in household}
            choices = [g for g in given_pool if g[0] not in taken]
            given, given_kana, _ = rng.choice(choices)
            birth = base.birth_date + timedelta(days=rng.randint(-25 * 365, 25 * 365))
            birth = min(birth, date(2026, 3, 1))
            person_fields = (
                f"{base.family_name}　{given}",
                f"{base.family_name_kana}　{given_kana}",
                birth,
            )
            kind = "relative"
        name, kana, birth_value = person_fields
        out.append(
            LabelledApplication(
                aid,
                municipality_code,
                name,
                kana,
                birth_value.isoformat(),
                household[0].address,
                "",
                kind,
                (),
            )
        )
    return out


def _outsiders(seed: int, code: str, n: int) -> list[ResidentRecord]:
    """People drawn from another synthetic population: same name tables, not residents."""
    people: list[ResidentRecord] = []
    if n <= 0:
        return people
    for h in iter_residents(seed=seed + 7_777_777, households=n * 2, code=code):
        people.append(h.members[-1])
        if len(people) == n:
            break
    return people


# --- corruptions --------------------------------------------------------------------------------


def _corrupt(
    r: ResidentRecord,
    rng: random.Random,
    moved_to: str,
    readings: Mapping[str, str],
    kanji_pool: Sequence[str],
) -> tuple[tuple[str, str, str, str], list[str]]:
    tags: list[str] = []

    def hit(tag: str) -> bool:
        if rng.random() < RATES[tag]:
            tags.append(tag)
            return True
        return False

    family, given = r.family_name, r.given_name
    family_kana, given_kana = r.family_name_kana, r.given_name_kana
    if r.former_family_name and hit("former_name"):
        family = r.former_family_name
        family_kana = readings.get(family, "")
    table = variant_map()
    if any(c in table for c in family + given) and hit("variant_kanji"):
        family = "".join(table.get(c, c) for c in family)
        given = "".join(table.get(c, c) for c in given)
    fams = families()
    if any(c in fams for c in family + given) and hit("rare_variant"):
        family = "".join(rng.choice(fams[c]) if c in fams else c for c in family)
    if given and kanji_pool and hit("kanji_typo"):
        k = rng.randrange(len(given))
        given = given[:k] + rng.choice(kanji_pool) + given[k + 1 :]

    family_kana, given_kana = (
        _corrupt_kana(family_kana, rng, hit),
        _corrupt_kana(given_kana, rng, hit),
    )
    sep = "" if hit("no_space") else rng.choice(("　", " "))
    kana_sep = rng.choice(("　", " "))
    if hit("swapped_name"):
        name, kana = f"{given}{sep}{family}", f"{given_kana}{kana_sep}{family_kana}"
    else:
        name, kana = f"{family}{sep}{given}", f"{family_kana}{kana_sep}{given_kana}"
    if hit("no_kana"):
        kana = ""

    birth_date = r.birth_date
    if hit("birth_typo"):
        birth_date = _birth_typo(birth_date, rng)
    birth = to_wareki(birth_date) if hit("era_date") else birth_date.isoformat()

    address = moved_to if hit("moved") else r.address
    parsed = parse_address(address)
    if parsed.numbers and hit("hyphen_address"):
        address = parsed.town + "-".join(map(str, parsed.numbers))
    if hit("short_address"):
        address = _PREFECTURE.sub("", address)
        if rng.random() < 0.5:
            address = _MUNICIPALITY.sub("", address)
    if hit("full_width_address"):
        address = unicodedata.normalize("NFKC", address).translate(_FULL_WIDTH)
    if r.address_annex and address != moved_to and hit("with_annex"):
        address = f"{address} {r.address_annex}"
    return (name, kana, birth, address), tags


_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
_HALF_WIDTH_KANA = {unicodedata.normalize("NFKC", chr(c)): chr(c) for c in range(0xFF66, 0xFF9E)}


def _half_width(kana: str) -> str:
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", kana):
        if ch == "\u3099":
            out.append("ﾞ")
        elif ch == "\u309a":
            out.append("ﾟ")
        else:
            out.append(_HALF_WIDTH_KANA.get(ch, ch))
    return "".join(out)


def _corrupt_kana(kana: str, rng: random.Random, hit: Callable[[str], bool]) -> str:
    if not kana:
        return kana
    if any(c in "ャュョッァィゥェォ" for c in kana) and hit("large_small_kana"):
        kana = kana.translate(str.maketrans("ャュョッァィゥェォ", "ヤユヨツアイウエオ"))
    pairs = [i for i in range(1, len(kana)) if (kana[i] == "ウ" and kana[i - 1] in _O_ROW)
             or (kana[i] == "イ" and kana[i - 1] in _E_ROW)]  # fmt: skip
    if pairs and hit("long_vowel"):
        i = rng.choice(pairs)
        kana = kana[:i] + "ー" + kana[i + 1 :]
    if hit("kana_typo"):
        i = rng.randrange(len(kana))
        kana = kana[:i] + rng.choice(_KATAKANA) + kana[i + 1 :]
    if hit("hiragana"):
        kana = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kana)
    elif hit("half_width_kana"):
        kana = _half_width(kana)
    return kana


def _birth_typo(d: date, rng: random.Random) -> date:
    for _ in range(10):
        kind = rng.randrange(4)
        try:
            if kind == 0:
                candidate = d + timedelta(days=rng.choice((-1, 1)))
            elif kind == 1:
                candidate = d.replace(day=d.month, month=d.day)
            elif kind == 2:
                candidate = d.replace(year=d.year + rng.choice((-1, 1)))
            else:
                candidate = d.replace(day=(d.day % 10) + 10 * rng.choice((0, 1, 2)) or 1)
        except ValueError:
            continue
        if candidate != d:
            return candidate
    return d + timedelta(days=1)


# --- files ----------------------------------------------------------------------------------------


def write_evaluation_set(
    applications: Sequence[LabelledApplication], applications_path: Path, truth_path: Path
) -> None:
    for path, header, rows in (
        (applications_path, APPLICATION_COLUMNS, (a.application_row() for a in applications)),
        (truth_path, TRUTH_COLUMNS, (a.truth_row() for a in applications)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)


def read_truth(path: Path) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """application_id → (resident_id or "", kind, corruptions)."""
    with path.open(encoding="utf-8", newline="") as f:
        return {
            row["application_id"]: (
                row["resident_id"],
                row["kind"],
                tuple(t for t in row["corruptions"].split(";") if t),
            )
            for row in csv.DictReader(f)
        }


# --- scores ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Counts over one run; the ratios are properties (0 when undefined)."""

    applications: int
    residents: int  # applications whose truth is a resident
    matches: int  # automatic MATCH outcomes
    correct_matches: int  # … naming the right resident
    no_matches: int
    correct_no_matches: int  # … for a non-resident
    reviews: int
    reviews_of_residents: int

    @property
    def nonresidents(self) -> int:
        return self.applications - self.residents

    @property
    def precision(self) -> float:
        return self.correct_matches / self.matches if self.matches else 0.0

    @property
    def recall(self) -> float:
        return self.correct_matches / self.residents if self.residents else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def no_match_precision(self) -> float:
        return self.correct_no_matches / self.no_matches if self.no_matches else 0.0

    @property
    def no_match_recall(self) -> float:
        return self.correct_no_matches / self.nonresidents if self.nonresidents else 0.0

    @property
    def no_match_f1(self) -> float:
        p, r = self.no_match_precision, self.no_match_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def review_rate(self) -> float:
        return self.reviews / self.applications if self.applications else 0.0

    def as_dict(self) -> dict[str, float | int]:
        out: dict[str, float | int] = dict(vars(self))
        for name in ("precision", "recall", "f1", "no_match_precision", "no_match_recall",
                     "no_match_f1", "review_rate"):  # fmt: skip
            out[name] = round(getattr(self, name), 4)
        return out


def score(
    predictions: Mapping[str, tuple[str, str]],
    truth: Mapping[str, tuple[str, str, tuple[str, ...]]],
) -> Scores:
    """`predictions`: application_id → (outcome, resident_id); outcomes as in `Outcome`."""
    counts = dict.fromkeys(
        ("residents", "matches", "correct_matches", "no_matches", "correct_no_matches",
         "reviews", "reviews_of_residents"), 0,
    )  # fmt: skip
    for app_id, (resident_id, _, _) in truth.items():
        outcome, predicted = predictions.get(app_id, ("no_match", ""))
        counts["residents"] += bool(resident_id)
        if outcome == "match":
            counts["matches"] += 1
            counts["correct_matches"] += bool(resident_id) and predicted == resident_id
        elif outcome == "review":
            counts["reviews"] += 1
            counts["reviews_of_residents"] += bool(resident_id)
        else:
            counts["no_matches"] += 1
            counts["correct_no_matches"] += not resident_id
    return Scores(applications=len(truth), **counts)


def breakdown(
    predictions: Mapping[str, tuple[str, str]],
    truth: Mapping[str, tuple[str, str, tuple[str, ...]]],
) -> dict[str, dict[str, int]]:
    """Per corruption (and per kind of non-resident): how many, matched right, reviewed, wrong."""
    out: dict[str, dict[str, int]] = {}
    for app_id, (resident_id, kind, corruptions) in truth.items():
        outcome, predicted = predictions.get(app_id, ("no_match", ""))
        right = (outcome == "match" and predicted == resident_id) or (
            outcome == "no_match" and not resident_id
        )
        for tag in corruptions or (("clean",) if resident_id else (kind,)):
            row = out.setdefault(tag, {"n": 0, "right": 0, "review": 0, "wrong": 0})
            row["n"] += 1
            row["right" if right else "review" if outcome == "review" else "wrong"] += 1
    return dict(sorted(out.items()))
