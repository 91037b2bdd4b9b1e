"""Matching an application against one municipality's residents (名寄せ), with reasons.

Candidates come from the blocking index (`index.py`); each is scored with a Fellegi–Sunter
model: every field comparison falls into a level (agrees / agrees after normalisation /
nearly agrees / disagrees / not given), and each level adds log2(m/u) bits of evidence, where
m is how often a true match shows that level and u how often a random resident does. u comes
from the index's term frequencies (agreeing on a rare name or a birth date shared by few
residents is worth more), m from the error rates in `MatchPolicy` (documented defaults, which
the evaluation set in `evaluation.py` measures).

The evidence of all candidates turns into a posterior probability per candidate against "not
a resident": P_i = o_i / (1 + Σ o_j) with o_i = π/(1-π) · 2^(W_i) / N. Two residents who fit
equally well therefore share the probability, so an ambiguous application falls to review by
itself. Outcomes: MATCH above `match_threshold`, REVIEW above `review_threshold`, else
NO_MATCH; a declared household member that cannot be found, or a suppressed (交付抑止) record,
caps the outcome at REVIEW. The outcome is a value, never an exception (STYLE 7).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

from rapidfuzz.distance import Levenshtein

from server.ereview.index import (
    IndexedResident,
    ResidentIndex,
    block_key_address,
    name_block_keys,
)
from server.ereview.model import (
    Application,
    Candidate,
    DeclaredPerson,
    Field,
    FieldResult,
    FieldStatus,
    MatchResult,
    MemberResult,
    Outcome,
    Reason,
    ResidentView,
)
from server.ereview.normalize import (
    NAME_STAGES,
    READING_STAGES,
    ParsedAddress,
    Stage,
    VariantRule,
    explain,
    fold_width,
    loose_reading_key,
    name_key,
    parse_address,
    parse_date,
    reading_key,
    same_town,
    split_name,
    strip_spaces,
)


@dataclass(frozen=True)
class MatchPolicy:
    """Thresholds and error rates (m-probabilities) of the match model."""

    resident_prior: float = 0.9  # share of applications that come from residents
    match_threshold: float = 0.99
    review_threshold: float = 0.2
    member_threshold: float = 0.9
    member_review_threshold: float = 0.3
    show_candidates: int = 3
    # How often a true match's field shows each level.
    m_name_exact: float = 0.90
    m_name_kana_differs: float = 0.05
    m_name_kanji_differs: float = 0.03
    m_name_both_near: float = 0.01
    m_name_one_near: float = 0.003
    m_name_different: float = 0.002
    m_swapped: float = 0.02  # of an otherwise exact name: written given-first
    m_former: float = 0.02  # of an exact name: written with the 旧氏
    m_voicing: float = 0.3  # of an exact reading: differs only in voicing (ザキ/サキ)
    m_birth_exact: float = 0.95
    m_birth_near: float = 0.035
    m_birth_different: float = 0.015
    m_address_exact: float = 0.85
    m_address_town: float = 0.04
    m_address_different: float = 0.11
    # How often a random resident shows the "near" levels (the exact levels use frequencies).
    u_name_both_near: float = 0.0005
    u_name_one_near: float = 0.003
    u_birth_near: float = 0.0008
    near_similarity: float = 0.65  # normalised Levenshtein similarity counted as "near"

    def __post_init__(self) -> None:
        if not 0.0 < self.resident_prior < 1.0:
            raise ValueError("resident_prior must be in (0, 1)")
        if not 0.0 < self.review_threshold <= self.match_threshold <= 1.0:
            raise ValueError("need 0 < review_threshold <= match_threshold <= 1")
        if not 0.0 < self.member_review_threshold <= self.member_threshold <= 1.0:
            raise ValueError("need 0 < member_review_threshold <= member_threshold <= 1")


class _Level(Enum):
    EXACT = "exact"
    NEAR = "near"
    DIFFERENT = "different"
    MISSING = "missing"


@dataclass(frozen=True)
class _Person:
    """A declared person, normalised once per query."""

    declared: DeclaredPerson
    name: str  # name_key of the whole name
    name_swapped: str  # given + family, "" when the name was not written with a space
    reading: str
    reading_swapped: str
    loose_reading: str
    loose_reading_swapped: str
    birth: date | None
    birth_rules: tuple[VariantRule, ...]

    @classmethod
    def of(cls, person: DeclaredPerson) -> _Person:
        parts = split_name(person.name)
        kana_parts = split_name(person.name_kana) if person.name_kana else None
        birth: date | None = None
        rules: tuple[VariantRule, ...] = ()
        if person.birth_date.strip():
            parsed = parse_date(person.birth_date)  # ValueError: the caller validates first
            birth, rules = parsed.value, parsed.rules
        return cls(
            declared=person,
            name=name_key(person.name),
            name_swapped=name_key(parts[1] + parts[0]) if parts else "",
            reading=reading_key(person.name_kana) if person.name_kana else "",
            reading_swapped=reading_key(kana_parts[1] + kana_parts[0]) if kana_parts else "",
            loose_reading=loose_reading_key(person.name_kana) if person.name_kana else "",
            loose_reading_swapped=(
                loose_reading_key(kana_parts[1] + kana_parts[0]) if kana_parts else ""
            ),
            birth=birth,
            birth_rules=rules,
        )

    def block_keys(self) -> list[str]:
        keys: list[str] = []
        if self.birth is not None:
            keys.append(f"b{self.birth.toordinal()}")
            keys += name_block_keys(self.name, self.loose_reading, self.birth)
            if self.name_swapped:
                keys += name_block_keys(self.name_swapped, self.loose_reading_swapped, self.birth)
            keys.append(f"fy{self.name}|{self.birth.year}")
        return keys


@dataclass(frozen=True)
class _Evidence:
    """The comparison vector of one person against one resident, and its weight in bits."""

    name: _Level
    name_alternative: VariantRule | None  # NAME_ORDER or FORMER_NAME when that spelling fit
    name_similarity: float
    reading: _Level
    reading_similarity: float
    voicing_only: bool
    birth: _Level
    address: _Level
    weight: float
    field_weights: tuple[float, float, float]  # name (kanji and kana together), birth, address


def _similarity(a: str, b: str) -> float:
    return float(Levenshtein.normalized_similarity(a, b)) if a and b else 0.0


def _digit_slip(a: int, b: int, width: int) -> bool:
    """Off by one, or one digit different when written with `width` digits."""
    if abs(a - b) == 1:
        return True
    sa, sb = f"{a:0{width}d}", f"{b:0{width}d}"
    return sum(x != y for x, y in zip(sa, sb, strict=True)) == 1


def near_date(a: date, b: date) -> bool:
    """One slip away: a digit or ±1 in one of year / month / day, or month and day swapped."""
    if a == b:
        return False
    same_y, same_m, same_d = a.year == b.year, a.month == b.month, a.day == b.day
    if same_y and same_m:
        return _digit_slip(a.day, b.day, 2)
    if same_y and same_d:
        return _digit_slip(a.month, b.month, 2)
    if same_m and same_d:
        return _digit_slip(a.year, b.year, 4)
    return same_y and a.month == b.day and a.day == b.month


def _address_level(query: ParsedAddress | None, entry: ParsedAddress) -> _Level:
    if query is None or not (query.town or query.numbers):
        return _Level.MISSING
    if not same_town(query.town, entry.town):
        return _Level.DIFFERENT
    q, e = query.numbers, entry.numbers
    # An extra trailing number is a room (1-2-3-305); a missing one is not the same block.
    if q and (q == e or (len(q) == len(e) + 1 and q[: len(e)] == e)):
        return _Level.EXACT
    return _Level.NEAR


class Matcher:
    """Matches applications against one `ResidentIndex`. Stateless between calls."""

    def __init__(self, index: ResidentIndex, policy: MatchPolicy | None = None) -> None:
        self.index = index
        self.policy = policy or MatchPolicy()
        n = max(len(index), 1)
        self._n = n
        p = self.policy
        self._log_prior = math.log2(p.resident_prior / (1 - p.resident_prior) / n)

    # -- public ------------------------------------------------------------------------------

    def match(self, application: Application) -> MatchResult:
        p = self.policy
        person = _Person.of(application.applicant)
        address = (
            parse_address(application.address, application.address_annex)
            if application.address.strip() or application.address_annex.strip()
            else None
        )
        keys = person.block_keys()
        if address is not None and address.numbers:
            lengths = {len(address.numbers), 3, 2}
            keys += [
                block_key_address(address, n) for n in sorted(lengths) if n <= len(address.numbers)
            ]
        positions = self.index.candidates(keys)
        if not positions:
            return self._no_match(application, (Reason.NO_CANDIDATE,))

        scored = [
            (self._evidence(person, self.index.resident(i), address), self.index.resident(i))
            for i in positions
        ]
        posteriors = _posteriors([ev.weight + self._log_prior for ev, _ in scored])
        ranked = sorted(
            zip(posteriors, scored, strict=True), key=lambda t: (-t[0], t[1][1].view.resident_id)
        )
        best_p, (best_ev, best) = ranked[0]
        second_p = ranked[1][0] if len(ranked) > 1 else 0.0

        if best_p < p.review_threshold:
            return self._no_match(application, (Reason.WEAK_EVIDENCE,), score=best_p)

        fields = self._fields(person, application, best, best_ev, address)
        reasons: list[Reason] = []
        outcome = Outcome.MATCH if best_p >= p.match_threshold else Outcome.REVIEW
        if outcome is Outcome.MATCH:
            reasons.append(Reason.CONFIDENT)
        else:
            reasons.append(Reason.AMBIGUOUS if second_p >= 0.05 else Reason.WEAK_EVIDENCE)
        reasons += _mismatch_reasons(fields)
        annex = address.annex if address is not None else ""
        if annex and best.address.annex and annex != best.address.annex:
            reasons.append(Reason.ANNEX_DIFFERS)

        household = self.index.household(best.view.household_id)
        members = self._members(application, best, household)
        if any(m.outcome is Outcome.NO_MATCH for m in members):
            reasons.append(Reason.MEMBER_NOT_FOUND)
            outcome = Outcome.REVIEW
        elif any(m.outcome is Outcome.REVIEW for m in members):
            reasons.append(Reason.MEMBER_UNCERTAIN)
            outcome = Outcome.REVIEW
        if best.view.suppressed:
            reasons.append(Reason.RESTRICTED_RECORD)
            outcome = Outcome.REVIEW

        candidates = tuple(
            Candidate(entry.view, round(prob, 6))
            for prob, (_, entry) in ranked[: p.show_candidates]
            if prob >= p.review_threshold / 10
        )
        matched = outcome is Outcome.MATCH
        return MatchResult(
            outcome=outcome,
            score=_clamp(best_p),
            fields=fields,
            reasons=tuple(reasons),
            resident=best.view,
            household=tuple(e.view for e in household) if matched else (),
            members=members,
            candidates=() if matched else candidates,
        )

    # -- evidence ----------------------------------------------------------------------------

    def _evidence(
        self, person: _Person, entry: IndexedResident, address: ParsedAddress | None
    ) -> _Evidence:
        p, n = self.policy, self._n

        # Kanji name: as registered, given-first, or with the 旧氏.
        alternative: VariantRule | None = None
        registered = entry.name_key
        if person.name == registered:
            name, name_sim = _Level.EXACT, 1.0
        elif person.name_swapped and person.name_swapped == registered:
            name, name_sim, alternative = _Level.EXACT, 1.0, VariantRule.NAME_ORDER
        elif entry.former_key and person.name == entry.former_key + entry.given_key:
            name, name_sim, alternative = _Level.EXACT, 1.0, VariantRule.FORMER_NAME
        else:
            name_sim = max(
                _similarity(person.name, registered), _similarity(person.name_swapped, registered)
            )
            name = _Level.NEAR if name_sim >= p.near_similarity else _Level.DIFFERENT

        # Reading, compared the same ways; with the 旧氏 only the given name's reading is known.
        reading_registered = entry.reading
        voicing_only = False
        former_reading = alternative is VariantRule.FORMER_NAME and person.reading.endswith(
            entry.given_reading
        )
        if not person.reading:
            reading, reading_sim = _Level.MISSING, 0.0
        elif reading_registered in (person.reading, person.reading_swapped) or former_reading:
            reading, reading_sim = _Level.EXACT, 1.0
        else:
            if entry.loose_reading in (person.loose_reading, person.loose_reading_swapped):
                reading, reading_sim, voicing_only = _Level.EXACT, 0.9, True
            else:
                reading_sim = max(
                    _similarity(person.reading, reading_registered),
                    _similarity(person.reading_swapped, reading_registered),
                )
                reading = _Level.NEAR if reading_sim >= p.near_similarity else _Level.DIFFERENT

        f_name = max(self.index.name_counts.get(registered, 0), 1) / n
        f_reading = max(self.index.reading_counts.get(reading_registered, 0), 1) / n
        agree = {_Level.EXACT}
        if name in agree and reading in (_Level.EXACT, _Level.MISSING):
            m, u = p.m_name_exact, f_name
        elif name in agree:
            m, u = (
                (p.m_name_kana_differs if reading is _Level.NEAR else p.m_name_one_near),
                (f_name * 0.05),
            )
        elif reading in agree:
            m = p.m_name_kanji_differs if name is _Level.NEAR else p.m_name_one_near
            u = f_reading * (0.1 if name is _Level.NEAR else 0.5)
        elif name is _Level.NEAR and reading is _Level.NEAR:
            m, u = p.m_name_both_near, p.u_name_both_near
        elif _Level.NEAR in (name, reading):
            m, u = p.m_name_one_near, p.u_name_one_near
        else:
            m, u = p.m_name_different, 0.99
        if alternative is VariantRule.NAME_ORDER:
            m *= p.m_swapped
        elif alternative is VariantRule.FORMER_NAME:
            m *= p.m_former
        if voicing_only:
            m *= p.m_voicing
        w_name = math.log2(m / u)

        if person.birth is None:
            birth, w_birth = _Level.MISSING, 0.0
        elif person.birth.toordinal() == entry.birth:
            birth = _Level.EXACT
            w_birth = math.log2(p.m_birth_exact * n / max(self.index.birth_counts[entry.birth], 1))
        elif near_date(person.birth, entry.view.birth_date):
            birth, w_birth = _Level.NEAR, math.log2(p.m_birth_near / p.u_birth_near)
        else:
            birth, w_birth = _Level.DIFFERENT, math.log2(p.m_birth_different)

        level = _address_level(address, entry.address)
        if level is _Level.EXACT:
            count = self.index.block_counts.get(entry.address.block_key, 0)
            w_address = math.log2(p.m_address_exact * n / max(count, 1))
        elif level is _Level.NEAR:
            count = self.index.town_counts.get(entry.address.town, 0)
            w_address = math.log2(p.m_address_town * n / max(count, 1))
        elif level is _Level.DIFFERENT:
            w_address = math.log2(p.m_address_different)
        else:
            w_address = 0.0

        return _Evidence(
            name=name,
            name_alternative=alternative,
            name_similarity=name_sim,
            reading=reading,
            reading_similarity=reading_sim,
            voicing_only=voicing_only,
            birth=birth,
            address=level,
            weight=w_name + w_birth + w_address,
            field_weights=(w_name, w_birth, w_address),
        )

    # -- explanation -------------------------------------------------------------------------

    def _fields(
        self,
        person: _Person,
        application: Application | None,
        entry: IndexedResident,
        ev: _Evidence,
        address: ParsedAddress | None,
    ) -> tuple[FieldResult, ...]:
        view = entry.view
        w_name, w_birth, w_address = ev.field_weights
        declared = person.declared

        if ev.name_alternative is VariantRule.NAME_ORDER:
            written_as = view.given_name + view.family_name
        elif ev.name_alternative is VariantRule.FORMER_NAME:
            written_as = view.former_family_name + view.given_name
        else:
            written_as = view.family_name + view.given_name
        name = _text_field(
            Field.NAME, declared.name, written_as, ev.name, ev.name_similarity, NAME_STAGES,
            ev.name_alternative, view.family_name + view.given_name, w_name / 2,
        )  # fmt: skip
        kana_alternative = (
            VariantRule.NAME_ORDER
            if ev.name_alternative is VariantRule.NAME_ORDER
            or (
                (ev.reading is _Level.EXACT and person.reading_swapped == entry.reading)
                and person.reading != entry.reading
            )
            else None
        )
        kana_registered = (
            view.given_name_kana + view.family_name_kana
            if kana_alternative
            else view.family_name_kana + view.given_name_kana
        )
        if ev.name_alternative is VariantRule.FORMER_NAME and ev.reading is _Level.EXACT:
            kana_alternative = VariantRule.FORMER_NAME
            kana_registered = declared.name_kana  # only the given name's reading was compared
        kana = _text_field(
            Field.NAME_KANA, declared.name_kana, kana_registered, ev.reading,
            ev.reading_similarity, READING_STAGES, kana_alternative,
            view.family_name_kana + view.given_name_kana, w_name / 2,
        )  # fmt: skip
        if ev.voicing_only:
            kana = FieldResult(
                Field.NAME_KANA, FieldStatus.VARIANT_MATCHED, (VariantRule.KANA,), 0.9, w_name / 2
            )

        if ev.birth is _Level.EXACT:
            status = FieldStatus.VARIANT_MATCHED if person.birth_rules else FieldStatus.MATCHED
            birth = FieldResult(Field.BIRTH_DATE, status, person.birth_rules, 1.0, w_birth)
        elif ev.birth is _Level.MISSING:
            birth = FieldResult(Field.BIRTH_DATE, FieldStatus.NOT_FOUND)
        else:
            score = 0.8 if ev.birth is _Level.NEAR else 0.0
            birth = FieldResult(Field.BIRTH_DATE, FieldStatus.MISMATCHED, (), score, w_birth)

        fields = [name, kana, birth]
        if application is not None:
            fields.append(_address_field(application, view, ev.address, address, w_address))
        return tuple(fields)

    # -- household members -------------------------------------------------------------------

    def _members(
        self, application: Application, applicant: IndexedResident, household: list[IndexedResident]
    ) -> tuple[MemberResult, ...]:
        p = self.policy
        others = [e for e in household if e.view.resident_id != applicant.view.resident_id]
        results: list[MemberResult] = []
        for i, declared in enumerate(application.members):
            person = _Person.of(declared)
            if not others:
                results.append(MemberResult(i, Outcome.NO_MATCH))
                continue
            # Prior: the member is one of the household's other residents, equally likely.
            log_prior = math.log2(p.resident_prior / (1 - p.resident_prior) / len(others))
            scored = [(self._evidence(person, e, None), e) for e in others]
            # Within a household the frequency-based weights would be those of the whole
            # municipality; that is fine: they only rank a handful of people.
            probs = _posteriors([ev.weight + log_prior for ev, _ in scored])
            best_p, (ev, entry) = max(
                zip(probs, scored, strict=True), key=lambda t: (t[0], t[1][1].view.resident_id)
            )
            if best_p >= p.member_threshold:
                outcome = Outcome.MATCH
            elif best_p >= p.member_review_threshold:
                outcome = Outcome.REVIEW
            else:
                results.append(MemberResult(i, Outcome.NO_MATCH, score=_clamp(best_p)))
                continue
            fields = self._fields(person, None, entry, ev, None)
            results.append(MemberResult(i, outcome, entry.view.resident_id, _clamp(best_p), fields))
        return tuple(results)

    def _no_match(
        self, application: Application, reasons: tuple[Reason, ...], *, score: float = 0.0
    ) -> MatchResult:
        fields = tuple(FieldResult(f, FieldStatus.NOT_FOUND) for f in Field)
        members = tuple(MemberResult(i, Outcome.NO_MATCH) for i in range(len(application.members)))
        return MatchResult(Outcome.NO_MATCH, _clamp(score), fields, reasons, members=members)


def _posteriors(log_odds: list[float]) -> list[float]:
    """P_i = o_i / (1 + Σ o_j) for o_i = 2^log_odds_i, computed without overflow."""
    top = max(log_odds)
    shift = max(top, 0.0)
    scaled = [2.0 ** (lo - shift) for lo in log_odds]
    denominator = 2.0 ** (-shift) + sum(scaled)
    return [s / denominator for s in scaled]


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


def _text_field(
    field: Field,
    written: str,
    registered: str,
    level: _Level,
    similarity: float,
    stages: Sequence[Stage],
    alternative: VariantRule | None,
    as_registered: str,
    weight: float,
) -> FieldResult:
    if level is _Level.MISSING or not written.strip():
        return FieldResult(field, FieldStatus.NOT_FOUND)
    if level is not _Level.EXACT:
        return FieldResult(field, FieldStatus.MISMATCHED, (), round(similarity, 4), weight)
    if alternative is None and strip_spaces(written) == strip_spaces(as_registered):
        return FieldResult(field, FieldStatus.MATCHED, (), 1.0, weight)
    explained = explain(written, registered, stages)
    rules = list(explained.rules)
    if alternative is not None:
        rules.append(alternative)
    if not rules:  # equal only after a stage that changed both sides alike
        rules.append(VariantRule.WIDTH)
    return FieldResult(field, FieldStatus.VARIANT_MATCHED, tuple(rules), 1.0, weight)


def _address_field(
    application: Application,
    view: ResidentView,
    level: _Level,
    address: ParsedAddress | None,
    weight: float,
) -> FieldResult:
    if level is _Level.MISSING or address is None:
        return FieldResult(Field.ADDRESS, FieldStatus.NOT_FOUND)
    if level is _Level.DIFFERENT:
        return FieldResult(Field.ADDRESS, FieldStatus.MISMATCHED, (), 0.0, weight)
    if level is _Level.NEAR:
        return FieldResult(Field.ADDRESS, FieldStatus.MISMATCHED, (), 0.5, weight)
    written = strip_spaces(application.address + application.address_annex)
    registered = strip_spaces(view.address + view.address_annex)
    if written == registered:
        return FieldResult(Field.ADDRESS, FieldStatus.MATCHED, (), 1.0, weight)
    rules: list[VariantRule] = []
    folded = strip_spaces(fold_width(written))
    if folded != written:
        rules.append(VariantRule.WIDTH)
    if folded != strip_spaces(fold_width(registered)):
        rules.append(VariantRule.ADDRESS_NOTATION)
    return FieldResult(
        Field.ADDRESS,
        FieldStatus.VARIANT_MATCHED,
        tuple(rules) or (VariantRule.WIDTH,),
        1.0,
        weight,
    )


def _mismatch_reasons(fields: tuple[FieldResult, ...]) -> list[Reason]:
    by_field = {
        Field.NAME: Reason.NAME_MISMATCH,
        Field.NAME_KANA: Reason.NAME_KANA_MISMATCH,
        Field.BIRTH_DATE: Reason.BIRTH_DATE_MISMATCH,
        Field.ADDRESS: Reason.ADDRESS_MISMATCH,
    }
    return [by_field[f.field] for f in fields if f.status is FieldStatus.MISMATCHED]
