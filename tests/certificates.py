"""Sample documents of every certificate kind, declared once for the certificate tests.

A 千代田区 household (from `tests.unit.test_certificate_pdf`'s records), a 戸籍 whose 本籍 is in
千代田区 (甲野 family: a 筆頭者, his wife, a son who married out (除籍), daughters and their
children), its 附票, and tax records built with the BCL generator's assessment rules.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from clients.bcl.generate import resident_tax
from server.bcl.records import IssuingBackend, MunicipalityProfile, ResidentRecord, Sex
from server.bcl.registers import FuhyoEntryRecord, KosekiMemberRecord, TaxRecord
from server.issuance.documents import (
    CertificateDocument,
    CertificateKind,
    IssueNumber,
    JuminhyoOptions,
    KosekiExtract,
)
from server.koseki.records import Koseki

ISSUED = date(2026, 4, 1)
NUMBER = IssueNumber(ISSUED, "131016", "K0001", "P1", 123)
HONSEKI = "東京都千代田区平河町一丁目4番地"
HITTOUSHA = "甲野　義太郎"
KOSEKI_ID = "00012345"

_PEOPLE = [
    # given, kana, born, sex, relationship, removed
    ("義太郎", "ギタロウ", date(1965, 6, 21), Sex.MALE, "長男", ""),
    ("梅子", "ウメコ", date(1967, 1, 2), Sex.FEMALE, "妻", ""),
    ("啓太郎", "ケイタロウ", date(1991, 3, 8), Sex.MALE, "長男", "婚姻"),
    ("花子", "ハナコ", date(1993, 11, 30), Sex.FEMALE, "長女", ""),
]
_MORE = ["一郎", "次郎", "三郎", "四郎", "五郎", "六郎", "七郎", "八郎", "九郎", "十郎", "秀樹"]


def member(no: int, *, resident_id: str = "", events: str | None = None) -> KosekiMemberRecord:
    if no <= len(_PEOPLE):
        given, kana, born, sex, rel, removed = _PEOPLE[no - 1]
    else:
        given, kana = _MORE[(no - 5) % len(_MORE)], ""
        born, sex, rel, removed = date(1995, 1, 1) + timedelta(days=400 * no), Sex.MALE, "二男", ""
    parents = ("甲野　幸雄", "甲野　松子") if no == 1 else ("", "")
    if no > 2:
        parents = (HITTOUSHA, "甲野　梅子")
    default_events = f"出生 {born.isoformat()}"
    if rel in ("妻", "長男") and no <= 2:
        default_events += "；婚姻 1990-10-01 配偶者 甲野義太郎" if no == 2 else "；婚姻 1990-10-01"
    return KosekiMemberRecord(
        koseki_id=KOSEKI_ID,
        honseki=HONSEKI,
        hittousha=HITTOUSHA,
        member_no=no,
        family_name="甲野",
        given_name=given,
        birth_date=born,
        sex=sex,
        relationship=rel,
        resident_id=resident_id,
        family_name_kana="コウノ",
        given_name_kana=kana,
        father_name=parents[0],
        mother_name=parents[1],
        events=default_events if events is None else events,
        removed_reason=removed,
    )


def koseki(members: int = 4, *, municipality_code: str = "131016") -> Koseki:
    people = tuple(member(no) for no in range(1, members + 1))
    fuhyo = []
    for m in people:
        fuhyo.append(
            FuhyoEntryRecord(
                KOSEKI_ID, m.member_no, 1, "大阪府大阪市北区梅田三丁目3番地", m.birth_date
            )
        )
        fuhyo.append(
            FuhyoEntryRecord(
                KOSEKI_ID, m.member_no, 2, "東京都千代田区平河町一丁目4番5号", date(2010, 4, 1)
            )
        )
    return Koseki(municipality_code, KOSEKI_ID, HONSEKI, HITTOUSHA, people, tuple(fuhyo))


def own_server(profile: MunicipalityProfile) -> MunicipalityProfile:
    """The same municipality issuing from its own server (記載事項 needs one)."""
    return dataclasses.replace(profile, backend=IssuingBackend.OWN_SERVER)


def tax(person: ResidentRecord, fiscal_year: int = 2025, *, salary: int = 4_200_000) -> TaxRecord:
    return resident_tax(person.resident_id, fiscal_year, salary, 120_000, 1.0)


def document(
    kind: CertificateKind,
    profile: MunicipalityProfile,
    persons: tuple[ResidentRecord, ...],
    **changes: object,
) -> CertificateDocument:
    """A document of `kind` with the fields it needs; `changes` override them."""
    fields: dict[str, object] = {
        "kind": kind,
        "municipality": profile,
        "issued_on": ISSUED,
        "issue_number": NUMBER,
        "persons": persons,
        "options": JuminhyoOptions(),
    }
    if kind in (CertificateKind.JUMINHYO, CertificateKind.JUMINHYO_KISAI):
        fields |= {"household_head": persons[0], "household_size": len(persons)}
    if kind.is_tax:
        fields["tax"] = tax(persons[0])
    if kind.needs_koseki_server:
        k = koseki()
        subjects = tuple(m.member_no for m in k.members)
        if kind is not CertificateKind.KOSEKI_ZENBU:
            subjects = (1,)
        fields["koseki"] = KosekiExtract(k, 1, subjects)
    fields |= changes
    return CertificateDocument(**fields)  # type: ignore[arg-type]
