"""Ranking the 戸籍 records that may be the person behind a 本籍地 利用登録 request.

The request carries what the resident's 住民票 says (name, reading, birth date, sex, 本籍 and
筆頭者); the 本籍地's staff pick the member of a 戸籍 it describes. Every agreement adds points
(birth date and name weigh most) and is named, so the staff see *why* a candidate ranks where
it does; a disagreement on birth date or sex is named too. Names are compared without width,
spacing or variant-kanji differences (髙/高), readings without kana-spelling differences, and
本籍 addresses by their town and block numbers (`server.ereview.normalize`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from server.bcl.registers import KosekiMemberRecord
from server.ereview.normalize import name_key, parse_address, reading_key, strip_spaces


class Reason(StrEnum):
    """Why a candidate scored: one code per agreement (or disagreement) found."""

    BIRTH_DATE = "BIRTH_DATE"
    NAME = "NAME"  # 氏名 written the same
    NAME_VARIANT = "NAME_VARIANT"  # the same but for width, spacing or 異体字
    FAMILY_NAME = "FAMILY_NAME"
    FORMER_FAMILY_NAME = "FORMER_FAMILY_NAME"  # the 戸籍 has the 住民票's 旧氏
    GIVEN_NAME = "GIVEN_NAME"
    READING = "READING"  # 氏名の振り仮名
    GIVEN_READING = "GIVEN_READING"
    SEX = "SEX"
    HITTOUSHA = "HITTOUSHA"
    HONSEKI = "HONSEKI"
    BIRTH_DATE_DIFFERS = "BIRTH_DATE_DIFFERS"
    SEX_DIFFERS = "SEX_DIFFERS"

    @property
    def label(self) -> str:
        """The words the staff screen shows."""
        return _LABELS[self]

    @property
    def points(self) -> int:
        return _POINTS[self]


_LABELS = {
    Reason.BIRTH_DATE: "生年月日一致",
    Reason.NAME: "氏名一致",
    Reason.NAME_VARIANT: "氏名一致（異体字・表記の違い）",
    Reason.FAMILY_NAME: "氏一致",
    Reason.FORMER_FAMILY_NAME: "旧氏と氏が一致",
    Reason.GIVEN_NAME: "名一致",
    Reason.READING: "振り仮名一致",
    Reason.GIVEN_READING: "名の振り仮名一致",
    Reason.SEX: "性別一致",
    Reason.HITTOUSHA: "筆頭者一致",
    Reason.HONSEKI: "本籍一致",
    Reason.BIRTH_DATE_DIFFERS: "生年月日不一致",
    Reason.SEX_DIFFERS: "性別不一致",
}
# Out of 100 for a candidate that agrees on everything.
_POINTS = {
    Reason.BIRTH_DATE: 35,
    Reason.NAME: 25,
    Reason.NAME_VARIANT: 22,
    Reason.FAMILY_NAME: 8,
    Reason.FORMER_FAMILY_NAME: 8,
    Reason.GIVEN_NAME: 12,
    Reason.READING: 15,
    Reason.GIVEN_READING: 7,
    Reason.SEX: 5,
    Reason.HITTOUSHA: 10,
    Reason.HONSEKI: 10,
    Reason.BIRTH_DATE_DIFFERS: 0,
    Reason.SEX_DIFFERS: 0,
}


@dataclass(frozen=True)
class Applicant:
    """The person as their 住民票 and the request describe them."""

    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: date
    sex: str  # 男 / 女
    honseki: str = ""
    hittousha: str = ""
    former_family_name: str = ""  # 旧氏


@dataclass(frozen=True)
class Candidate:
    member: KosekiMemberRecord
    score: int  # 0-100
    reasons: tuple[Reason, ...]


def score(applicant: Applicant, member: KosekiMemberRecord) -> Candidate:
    same_day = member.birth_date == applicant.birth_date
    reasons = [Reason.BIRTH_DATE if same_day else Reason.BIRTH_DATE_DIFFERS]
    reasons.extend(_name_reasons(applicant, member))
    theirs = member.family_name_kana + member.given_name_kana
    mine = applicant.family_name_kana + applicant.given_name_kana
    if member.given_name_kana and applicant.given_name_kana:
        if reading_key(theirs) == reading_key(mine):
            reasons.append(Reason.READING)
        elif reading_key(member.given_name_kana) == reading_key(applicant.given_name_kana):
            reasons.append(Reason.GIVEN_READING)
    reasons.append(Reason.SEX if member.sex.value == applicant.sex else Reason.SEX_DIFFERS)
    if applicant.hittousha and name_key(applicant.hittousha) == name_key(member.hittousha):
        reasons.append(Reason.HITTOUSHA)
    if applicant.honseki and _same_place(applicant.honseki, member.honseki):
        reasons.append(Reason.HONSEKI)
    return Candidate(member, sum(r.points for r in reasons), tuple(reasons))


def rank(
    applicant: Applicant, members: Iterable[KosekiMemberRecord], *, limit: int = 5
) -> list[Candidate]:
    """The best `limit` candidates, best first; ties in 戸籍 and 順位 order."""
    scored = [score(applicant, m) for m in members]
    scored.sort(key=lambda c: (-c.score, c.member.koseki_id, c.member.member_no))
    return scored[:limit]


def _name_reasons(applicant: Applicant, member: KosekiMemberRecord) -> list[Reason]:
    mine = strip_spaces(applicant.family_name + applicant.given_name)
    theirs = strip_spaces(member.family_name + member.given_name)
    if mine == theirs:
        return [Reason.NAME]
    if name_key(mine) == name_key(theirs):
        return [Reason.NAME_VARIANT]
    out = []
    if name_key(applicant.family_name) == name_key(member.family_name):
        out.append(Reason.FAMILY_NAME)
    elif applicant.former_family_name and name_key(applicant.former_family_name) == name_key(
        member.family_name
    ):
        out.append(Reason.FORMER_FAMILY_NAME)
    if name_key(applicant.given_name) == name_key(member.given_name):
        out.append(Reason.GIVEN_NAME)
    return out


def _same_place(a: str, b: str) -> bool:
    pa, pb = parse_address(a), parse_address(b)
    return pa.block_key == pb.block_key
