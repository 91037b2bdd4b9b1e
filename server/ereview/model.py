"""The e-review (電子審査) domain values: applications in, match results out.

An application (申請) names a procedure, the applicant and the household members as declared;
a match result says whether the applicant is a resident of the municipality (match, no match,
or needs human review), who, and — field by field — how the application agrees with the
register. All are frozen dataclasses that check themselves; the gRPC servicer only translates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from server.ereview.normalize import VariantRule

MAX_TEXT = 200
MAX_MEMBERS = 20
_MUNICIPALITY_CODE = re.compile(r"\d{6}")


class Procedure(StrEnum):
    """Procedures an application is for, and that suggestions name."""

    JIDO_TEATE = "jido_teate"  # 児童手当 (child allowance)
    SHUSSAN_ICHIJIKIN = "shussan_ichijikin"  # 出産育児一時金 (lump-sum childbirth allowance)
    HOIKUSHO_NYUSHO = "hoikusho_nyusho"  # 保育所入所 (nursery admission)
    KOKUHO = "kokuho"  # 国民健康保険 (national health insurance)
    KAIGO_HOKEN = "kaigo_hoken"  # 介護保険 (long-term care insurance)
    KOKI_KOREISHA_IRYO = "koki_koreisha_iryo"  # 後期高齢者医療 (medical care for 75+)
    KOKUMIN_NENKIN = "kokumin_nenkin"  # 国民年金 (national pension)
    JIDO_FUYO_TEATE = "jido_fuyo_teate"  # 児童扶養手当 (single-parent child allowance)
    SHUGAKU = "shugaku"  # 就学 (school enrolment, 就学時健康診断)
    OTHER = "other"


PROCEDURE_TITLES: dict[Procedure, str] = {
    Procedure.JIDO_TEATE: "児童手当",
    Procedure.SHUSSAN_ICHIJIKIN: "出産育児一時金",
    Procedure.HOIKUSHO_NYUSHO: "保育所入所",
    Procedure.KOKUHO: "国民健康保険",
    Procedure.KAIGO_HOKEN: "介護保険",
    Procedure.KOKI_KOREISHA_IRYO: "後期高齢者医療",
    Procedure.KOKUMIN_NENKIN: "国民年金",
    Procedure.JIDO_FUYO_TEATE: "児童扶養手当",
    Procedure.SHUGAKU: "就学",
    Procedure.OTHER: "その他",
}


class Outcome(StrEnum):
    MATCH = "match"
    NO_MATCH = "no_match"
    REVIEW = "review"  # needs human review


class FieldStatus(StrEnum):
    MATCHED = "matched"  # written exactly as registered
    VARIANT_MATCHED = "variant_matched"  # equal after the rules listed with it
    MISMATCHED = "mismatched"
    NOT_FOUND = "not_found"  # nothing to compare: no resident matched, or the field was empty


class Field(StrEnum):
    NAME = "name"
    NAME_KANA = "name_kana"
    BIRTH_DATE = "birth_date"
    ADDRESS = "address"


class Reason(StrEnum):
    """Machine-readable reasons attached to a result (several may apply)."""

    CONFIDENT = "CONFIDENT"  # one resident explains the application far better than any other
    NO_CANDIDATE = "NO_CANDIDATE"  # no resident shares enough with the application
    WEAK_EVIDENCE = "WEAK_EVIDENCE"  # the best resident agrees too little to be sure
    AMBIGUOUS = "AMBIGUOUS"  # several residents fit about equally well
    RESTRICTED_RECORD = "RESTRICTED_RECORD"  # 交付抑止: household data withheld, staff decide
    MEMBER_NOT_FOUND = "MEMBER_NOT_FOUND"  # a declared member is not in the household
    MEMBER_UNCERTAIN = "MEMBER_UNCERTAIN"
    NAME_MISMATCH = "NAME_MISMATCH"
    NAME_KANA_MISMATCH = "NAME_KANA_MISMATCH"
    BIRTH_DATE_MISMATCH = "BIRTH_DATE_MISMATCH"
    ADDRESS_MISMATCH = "ADDRESS_MISMATCH"  # e.g. moved and not yet registered
    ANNEX_DIFFERS = "ANNEX_DIFFERS"  # 方書 written differently from the register
    INVALID_BIRTH_DATE = "INVALID_BIRTH_DATE"  # batch rows only; the API refuses these


@dataclass(frozen=True)
class DeclaredPerson:
    """A person as written on the application: full name (family first), reading, birth date
    (ISO or era form, e.g. 昭和55年5月3日), relationship (続柄) as declared."""

    name: str
    name_kana: str = ""
    birth_date: str = ""
    relationship: str = ""

    def __post_init__(self) -> None:
        for attr in ("name", "name_kana", "birth_date", "relationship"):
            if len(getattr(self, attr)) > MAX_TEXT:
                raise ValueError(f"{attr} is longer than {MAX_TEXT} characters")
        if not self.name.strip():
            raise ValueError("name is required")


@dataclass(frozen=True)
class Application:
    municipality_code: str
    applicant: DeclaredPerson
    address: str = ""  # as written, 方書 may be included
    address_annex: str = ""  # 方書 when the form has a separate box for it
    members: tuple[DeclaredPerson, ...] = ()  # other household members as declared
    procedure: Procedure = Procedure.OTHER
    application_id: str = ""  # the portal's reference, echoed back

    def __post_init__(self) -> None:
        if not _MUNICIPALITY_CODE.fullmatch(self.municipality_code):
            raise ValueError("municipality_code must be 6 digits")
        if len(self.members) > MAX_MEMBERS:
            raise ValueError(f"at most {MAX_MEMBERS} household members")
        for attr in ("address", "address_annex", "application_id"):
            if len(getattr(self, attr)) > MAX_TEXT:
                raise ValueError(f"{attr} is longer than {MAX_TEXT} characters")


@dataclass(frozen=True, slots=True)
class ResidentView:
    """What e-review may show of a resident: no 個人番号, 住民票コード or 本籍."""

    resident_id: str  # 宛名番号
    household_id: str  # 世帯番号
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_family_name: str  # 旧氏
    birth_date: date
    sex: str
    address: str
    address_annex: str  # 方書
    relationship: str  # 続柄
    is_household_head: bool
    suppressed: bool  # 交付抑止

    @property
    def full_name(self) -> str:
        return f"{self.family_name}　{self.given_name}"

    @property
    def full_name_kana(self) -> str:
        return f"{self.family_name_kana}　{self.given_name_kana}"


@dataclass(frozen=True)
class FieldResult:
    field: Field
    status: FieldStatus
    rules: tuple[VariantRule, ...] = ()  # for VARIANT_MATCHED: which normalisations applied
    score: float = 0.0  # similarity in [0, 1] after normalisation
    weight: float = 0.0  # evidence in bits (log2 likelihood ratio) this field contributed

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError("score must be in [0, 1]")
        if self.rules and self.status is not FieldStatus.VARIANT_MATCHED:
            raise ValueError("only a variant match names rules")


@dataclass(frozen=True)
class Candidate:
    resident: ResidentView
    score: float  # posterior probability that the application is this resident


@dataclass(frozen=True)
class MemberResult:
    """One declared household member, matched within the applicant's household."""

    index: int  # position in Application.members
    outcome: Outcome
    resident_id: str = ""
    score: float = 0.0
    fields: tuple[FieldResult, ...] = ()


@dataclass(frozen=True)
class MatchResult:
    outcome: Outcome
    score: float  # posterior probability of the best resident, 0 when there is none
    fields: tuple[FieldResult, ...]
    reasons: tuple[Reason, ...]
    resident: ResidentView | None = None  # set for MATCH (and REVIEW, for the reviewer)
    household: tuple[ResidentView, ...] = ()  # the resident's household, head first
    members: tuple[MemberResult, ...] = ()
    candidates: tuple[Candidate, ...] = field(default=())  # for REVIEW: who it might be

    def __post_init__(self) -> None:
        if self.outcome is Outcome.MATCH and self.resident is None:
            raise ValueError("a match names its resident")
        if self.outcome is Outcome.NO_MATCH and (self.resident or self.household):
            raise ValueError("no resident data is returned without a match")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError("score must be in [0, 1]")
