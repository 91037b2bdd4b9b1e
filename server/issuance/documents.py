"""What a certificate shows, independent of how it is drawn.

The issuance desk builds a `CertificateDocument` from the resident data it is allowed to use;
the renderer (`server.issuance.pdf`) only lays it out. Every rule about *what* may appear on a
copy is checked here when the document is built (SPEC section 3), so a renderer cannot print a
certificate that should not exist: an 印鑑登録証明書 for two people, a 住民票 mixing
households, a person under issuance suppression, a 記載事項証明書 from BCL, someone else's tax
certificate, a closed 戸籍 (除籍) or one the requester has left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from server.bcl.records import (
    IssuingBackend,
    MunicipalityProfile,
    ResidentRecord,
    SealRegistrationRecord,
)
from server.bcl.registers import TaxRecord
from server.koseki.records import Koseki


class CertificateKind(StrEnum):
    """Certificates of SPEC section 3. Which ones a municipality offers is its own choice."""

    JUMINHYO = "juminhyo"  # 住民票の写し
    INKAN = "inkan"  # 印鑑登録証明書
    JUMINHYO_KISAI = "juminhyo_kisai"  # 住民票記載事項証明書 (own issuing server only)
    TAX_INCOME = "tax_income"  # 所得証明書
    TAX_ASSESSMENT = "tax_assessment"  # 課税(非課税)証明書
    TAX_PAYMENT = "tax_payment"  # 納税証明書
    KOSEKI_ZENBU = "koseki_zenbu"  # 戸籍証明書 (全部事項)
    KOSEKI_KOJIN = "koseki_kojin"  # 戸籍証明書 (個人事項)
    KOSEKI_FUHYO = "koseki_fuhyo"  # 戸籍の附票の写し

    @property
    def needs_koseki_server(self) -> bool:
        """戸籍 and 附票 come from a separate 戸籍 server the municipality declares."""
        return self in _KOSEKI_KINDS

    @property
    def is_tax(self) -> bool:
        """所得・課税・納税: self only, one fiscal year per copy."""
        return self in _TAX_KINDS

    @property
    def printed_title(self) -> str:
        """The title printed on the copy and set as the PDF title."""
        return _TITLES[self]


_TITLES: dict[CertificateKind, str] = {
    CertificateKind.JUMINHYO: "住民票の写し",
    CertificateKind.INKAN: "印鑑登録証明書",
    CertificateKind.JUMINHYO_KISAI: "住民票記載事項証明書",
    CertificateKind.TAX_INCOME: "所得証明書",
    CertificateKind.TAX_ASSESSMENT: "課税（非課税）証明書",
    CertificateKind.TAX_PAYMENT: "納税証明書",
    CertificateKind.KOSEKI_ZENBU: "戸籍全部事項証明書",
    CertificateKind.KOSEKI_KOJIN: "戸籍個人事項証明書",
    CertificateKind.KOSEKI_FUHYO: "戸籍の附票の写し",
}
_KOSEKI_KINDS = frozenset(
    {CertificateKind.KOSEKI_ZENBU, CertificateKind.KOSEKI_KOJIN, CertificateKind.KOSEKI_FUHYO}
)
_TAX_KINDS = frozenset(
    {CertificateKind.TAX_INCOME, CertificateKind.TAX_ASSESSMENT, CertificateKind.TAX_PAYMENT}
)

# Terminal and printer ids go between the dashes of the issue number, so they may not contain
# one; callers that accept ids from a kiosk should check them against this pattern.
ID_PATTERN = re.compile(r"[0-9A-Za-z_]{1,32}")
_ISSUE_NUMBER = re.compile(
    r"(?P<date>\d{8})-(?P<muni>\d{6})-(?P<terminal>[0-9A-Za-z_]{1,32})"
    r"-(?P<printer>[0-9A-Za-z_]{1,32})-(?P<seq>\d{6})"
)
MAX_SEQUENCE = 999_999


@dataclass(frozen=True)
class IssueNumber:
    """交付番号: unique per copy; printed on every page with the page number."""

    issue_date: date  # JST business date
    municipality_code: str  # 全国地方公共団体コード, 6 digits
    terminal_id: str  # the kiosk (キオスク端末)
    printer_id: str
    sequence: int  # per day, municipality and terminal, from 1

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{6}", self.municipality_code):
            raise ValueError(f"municipality code must be 6 digits: {self.municipality_code!r}")
        for name, value in (("terminal_id", self.terminal_id), ("printer_id", self.printer_id)):
            if not ID_PATTERN.fullmatch(value):
                raise ValueError(f"{name} must be 1-32 letters, digits or _: {value!r}")
        if not 1 <= self.sequence <= MAX_SEQUENCE:
            raise ValueError(f"sequence must be 1..{MAX_SEQUENCE}: {self.sequence}")

    def format(self) -> str:
        """e.g. 20260401-131016-K0001-P1-000123: fixed-width date and sequence, so it sorts."""
        return (
            f"{self.issue_date:%Y%m%d}-{self.municipality_code}-{self.terminal_id}"
            f"-{self.printer_id}-{self.sequence:06d}"
        )

    @classmethod
    def parse(cls, text: str) -> IssueNumber:
        m = _ISSUE_NUMBER.fullmatch(text)
        if m is None:
            raise ValueError(f"not an issue number: {text!r}")
        d = m["date"]
        try:
            issue_date = date(int(d[:4]), int(d[4:6]), int(d[6:]))
        except ValueError as exc:
            raise ValueError(f"issue number has no valid date: {text!r}") from exc
        return cls(issue_date, m["muni"], m["terminal"], m["printer"], int(m["seq"]))

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class JuminhyoOptions:
    """Optional items a resident may choose to have printed on a 住民票の写し."""

    show_head_and_relationship: bool = False  # 世帯主・続柄
    show_honseki: bool = False  # 本籍・筆頭者


@dataclass(frozen=True)
class KosekiExtract:
    """What a 戸籍 certificate is made of: the 戸籍 as its server returned it, and whom it shows.

    `requester_member_no` is the requester's own place in the 戸籍 (the 本籍地 linked it, or
    the 宛名番号 did); `subjects` are the members printed: every member for 全部事項, the
    chosen current members for 個人事項 and for a 附票 of part of the 戸籍.
    """

    koseki: Koseki
    requester_member_no: int
    subjects: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "subjects", tuple(self.subjects))
        if self.koseki.closed:
            raise ValueError("a closed 戸籍 (除籍) is not issued at a kiosk")
        if not self.koseki.is_current_member(self.requester_member_no):
            raise ValueError("only a current member of the 戸籍 may obtain it")
        if not self.subjects:
            raise ValueError("a 戸籍 certificate shows at least one member")
        if len(set(self.subjects)) != len(self.subjects):
            raise ValueError("a member appears twice on the certificate")
        if any(self.koseki.member(no) is None for no in self.subjects):
            raise ValueError("a member who is not in this 戸籍")

    @property
    def whole(self) -> bool:
        """Every current member is shown (全部), rather than some of them (一部)."""
        return {m.member_no for m in self.koseki.current_members} <= set(self.subjects)


@dataclass(frozen=True)
class CertificateDocument:
    """One copy to print. 個人番号 and 住民票コード are carried in the records but never shown.

    `persons` are the chosen members (住民票, 記載事項), the registrant (印鑑), the taxpayer
    (tax) or the requester (戸籍, whose members are in `koseki`).
    """

    kind: CertificateKind
    municipality: MunicipalityProfile
    issued_on: date  # JST date printed beside the mayor's name
    issue_number: IssueNumber
    persons: tuple[ResidentRecord, ...]  # chosen members (住民票) or the registrant (印鑑)
    options: JuminhyoOptions = field(default_factory=JuminhyoOptions)
    household_head: ResidentRecord | None = None  # 世帯主, required for a 住民票
    household_size: int = 0  # members in the household, to tell 世帯全員 from 世帯の一部
    seal: SealRegistrationRecord | None = None  # 印鑑登録, required for an 印鑑登録証明書
    tax: TaxRecord | None = None  # one fiscal year, required for a tax certificate
    koseki: KosekiExtract | None = None  # required for 戸籍 and 附票

    def __post_init__(self) -> None:
        object.__setattr__(self, "persons", tuple(self.persons))
        if not self.persons:
            raise ValueError("a certificate names at least one person")
        ids = [p.resident_id for p in self.persons]
        if len(set(ids)) != len(ids):
            raise ValueError("a person appears twice on the certificate")
        if any(p.suppressed for p in self.persons):
            # 交付抑止: the desk refuses earlier; this is the last line of defence.
            raise ValueError("a person under issuance suppression cannot be on a certificate")
        if self.issue_number.municipality_code != self.municipality.code:
            raise ValueError("issue number belongs to another municipality")
        if self.issue_number.issue_date != self.issued_on:
            raise ValueError("issue number date differs from the issue date")
        if self.tax is not None and not self.kind.is_tax:
            raise ValueError("only a tax certificate carries a tax record")
        if self.koseki is not None and not self.kind.needs_koseki_server:
            raise ValueError("only a 戸籍 certificate carries a 戸籍")
        if self.kind is CertificateKind.JUMINHYO:
            self._check_juminhyo()
        elif self.kind is CertificateKind.JUMINHYO_KISAI:
            self._check_kisai()
        elif self.kind is CertificateKind.INKAN:
            self._check_inkan()
        elif self.kind.is_tax:
            self._check_tax()
        else:
            self._check_koseki()

    def _check_kisai(self) -> None:
        if self.municipality.backend is not IssuingBackend.OWN_SERVER:
            raise ValueError("a 住民票記載事項証明書 comes from an own issuing server, not BCL")
        if self.options.show_honseki:
            raise ValueError("a 住民票記載事項証明書 does not carry 本籍・筆頭者")
        self._check_juminhyo()

    def _check_juminhyo(self) -> None:
        head = self.household_head
        if head is None or not head.is_household_head:
            raise ValueError("a 住民票 needs the household head (世帯主)")
        if any(p.household_id != head.household_id for p in self.persons):
            raise ValueError("all persons on a 住民票 must belong to the head's household")
        if self.household_size < len(self.persons):
            raise ValueError("household_size is smaller than the persons chosen")
        if self.seal is not None:
            raise ValueError("a 住民票 carries no seal registration")

    def _check_inkan(self) -> None:
        if len(self.persons) != 1:
            raise ValueError("an 印鑑登録証明書 is for exactly one person")
        if self.seal is None or not self.seal.active:
            raise ValueError("an 印鑑登録証明書 needs an active seal registration")
        if self.seal.resident_id != self.persons[0].resident_id:
            raise ValueError("the seal registration belongs to another person")
        self._no_options()

    def _check_tax(self) -> None:
        if len(self.persons) != 1:
            raise ValueError("a tax certificate is for exactly one person")
        if self.tax is None:
            raise ValueError("a tax certificate needs the tax record of its fiscal year")
        if self.tax.resident_id != self.persons[0].resident_id:
            raise ValueError("the tax record belongs to another person")
        if self.seal is not None:
            raise ValueError("a tax certificate carries no seal registration")
        self._no_options()

    def _check_koseki(self) -> None:
        extract = self.koseki
        if extract is None:
            raise ValueError("a 戸籍 certificate needs the 戸籍")
        if len(self.persons) != 1:
            raise ValueError("a 戸籍 certificate is requested by exactly one person")
        if extract.koseki.municipality_code != self.municipality.code:
            raise ValueError("the 戸籍 is kept by another municipality than the one certifying")
        everyone = tuple(m.member_no for m in extract.koseki.members)
        if self.kind is CertificateKind.KOSEKI_ZENBU and extract.subjects != everyone:
            raise ValueError("a 全部事項証明書 shows every member of the 戸籍, in order")
        if self.kind is not CertificateKind.KOSEKI_ZENBU and any(
            not extract.koseki.is_current_member(no) for no in extract.subjects
        ):
            raise ValueError("only current members are chosen for 個人事項 and the 附票")
        if self.seal is not None:
            raise ValueError("a 戸籍 certificate carries no seal registration")
        self._no_options()

    def _no_options(self) -> None:
        if self.options != JuminhyoOptions():
            raise ValueError("optional items apply to a 住民票 only")

    @property
    def title(self) -> str:
        return self.kind.printed_title

    @property
    def whole_household(self) -> bool:
        """世帯全員 (every member chosen) rather than 世帯の一部."""
        return len(self.persons) == self.household_size
