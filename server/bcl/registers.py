"""The other registers a municipality uploads beside 住民記録 (SPEC section 5).

利用者管理 (certificate serials), 印影 images, tax records (税), 戸籍 and 戸籍の附票, and the
deletions of a difference upload. Frozen records like those of `server.bcl.records`: the upload
format (`server.bcl.csvformat`) reads and writes them, the generator produces them. Their values
are checked by the format's validator, which reports every problem with its row; these classes
only refuse what no row could mean.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from server.bcl.records import SealRegistrationRecord, Sex


class TokenCarrier(StrEnum):
    """What holds a user-auth certificate, as the upload names it."""

    CARD = "card"  # マイナンバーカード
    ANDROID = "android"  # スマホ用電子証明書 (Android)
    IPHONE = "iphone"  # スマホ用電子証明書 (iPhone)

    @property
    def token_label(self) -> str:
        """The token-info label (EF 0006) the center stores in `card_serials.token` (SPEC 2)."""
        return _TOKEN_LABELS[self]

    @classmethod
    def from_token_label(cls, label: str) -> TokenCarrier:
        for carrier, known in _TOKEN_LABELS.items():
            if known == label:
                return carrier
        raise ValueError(f"unknown token label {label!r}")


_TOKEN_LABELS = {
    TokenCarrier.CARD: "JPKIAPICCTOKEN2",
    TokenCarrier.ANDROID: "JPKIAPGPSETOKEN",
    TokenCarrier.IPHONE: "JPKIAPIOSTOKEN",
}


@dataclass(frozen=True)
class CardSerialRecord:
    """利用者証明用電子証明書シリアル番号 linked to a resident (利用者管理)."""

    resident_id: str  # 宛名番号
    serial: str  # decimal; X.509 serials reach 20 bytes, so never an int column
    carrier: TokenCarrier
    active: bool = True  # False: the card was returned, renewed or revoked


@dataclass(frozen=True)
class SealImage:
    """One seal impression (印影) PNG, addressed by its SHA-256 so it is stored once."""

    sha256: str  # lower-case hex
    png: bytes

    @classmethod
    def of(cls, png: bytes) -> SealImage:
        return cls(hashlib.sha256(png).hexdigest(), png)


@dataclass(frozen=True)
class SealEntry:
    """A seal registration (印鑑登録) as a row: the image is referenced, not inlined."""

    resident_id: str
    registration_number: str  # 印鑑登録番号
    registered_on: date
    impression_sha256: str
    active: bool = True

    @classmethod
    def of(cls, record: SealRegistrationRecord) -> SealEntry:
        return cls(
            record.resident_id,
            record.registration_number,
            record.registered_on,
            hashlib.sha256(record.impression_png).hexdigest(),
            record.active,
        )


@dataclass(frozen=True)
class TaxRecord:
    """個人住民税 of one resident for one fiscal year (年度), in integer yen.

    Enough for 所得証明書 (income), 課税・非課税証明書 (levy) and 納税証明書 (paid / unpaid).
    The income is that of the calendar year before the fiscal year.
    """

    resident_id: str
    fiscal_year: int  # 年度, e.g. 2025 = 令和7年度
    salary_income: int  # 給与収入
    other_income: int  # その他の所得
    total_income: int  # 総所得金額
    deductions: int  # 所得控除額合計
    taxable_income: int  # 課税標準額
    municipal_income_levy: int  # 市町村民税 所得割
    municipal_per_capita: int  # 市町村民税 均等割
    prefectural_income_levy: int  # 道府県民税 所得割
    prefectural_per_capita: int  # 道府県民税 均等割
    tax_exempt: bool  # 非課税
    annual_tax: int  # 年税額
    paid: int  # 納付済額
    unpaid: int  # 未納額


@dataclass(frozen=True)
class KosekiMemberRecord:
    """One person in a 戸籍 whose 本籍 is in this municipality (one row per member).

    A 戸籍 is never erased: a member who left it (marriage, death, 分籍) keeps a row with the
    reason in `removed_reason` (除籍), and a 戸籍 whose members all left is a closed 除籍.
    """

    koseki_id: str  # the municipality's own number for the 戸籍
    honseki: str  # 本籍
    hittousha: str  # 筆頭者氏名
    member_no: int  # order in the 戸籍; the 筆頭者 is usually 1
    family_name: str
    given_name: str
    birth_date: date
    sex: Sex
    relationship: str  # 父母との続柄 (長男, 長女, …) or 妻 / 夫
    resident_id: str = ""  # 宛名番号 when the member lives here, else empty
    family_name_kana: str = ""  # 氏名の振り仮名 (recorded since 2025-05-26)
    given_name_kana: str = ""
    father_name: str = ""
    mother_name: str = ""
    events: str = ""  # 身分事項 (出生, 婚姻, …), free text
    removed_reason: str = ""  # 除籍事由, empty while a member


@dataclass(frozen=True)
class FuhyoEntryRecord:
    """One address in a 戸籍の附票 (the address history of a 戸籍 member)."""

    koseki_id: str
    member_no: int
    entry_no: int  # 1 = oldest
    address: str
    address_set_on: date  # 住所を定めた日


@dataclass(frozen=True)
class DeletionRecord:
    """A difference upload's removal of a resident (転出, 死亡, …); the record is kept."""

    resident_id: str
    reason: str  # 異動事由
    removed_on: date  # 異動日
