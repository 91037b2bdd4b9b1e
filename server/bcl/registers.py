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
    events: str = ""  # 身分事項 as free text, for registers not itemised (koseki_events.csv)
    removed_reason: str = ""  # 除籍事由, empty while a member


class EventScope(StrEnum):
    KOSEKI = "koseki"  # 戸籍事項: of the 戸籍 as a whole (member_no 0)
    MEMBER = "member"  # 身分事項: of one member


class KosekiEventKind(StrEnum):
    """The kinds of 戸籍事項 and 身分事項 the upload carries, by their register names."""

    # 戸籍事項 (member_no 0)
    HENSEI = "編製"  # 戸籍編製: the 戸籍 was made (by 婚姻, 分籍, …)
    KAISEI = "改製"  # 戸籍改製: transcribed when the register was computerised
    TENSEKI = "転籍"  # the 本籍 moved here
    # 身分事項
    BIRTH = "出生"
    MARRIAGE = "婚姻"
    DIVORCE = "離婚"
    ADOPTION = "養子縁組"
    DEATH = "死亡"
    SPOUSE_DEATH = "配偶者の死亡"
    BUNSEKI = "分籍"  # left the parents' 戸籍 for one of one's own

    @property
    def spec(self) -> EventSpec:
        return EVENT_SPECS[self]


# The optional columns of koseki_events.csv, in the order a certificate prints them.
EVENT_ITEMS = (
    "place",
    "notified_on",
    "notifier",
    "partner_name",
    "adoptive_father",
    "adoptive_mother",
    "detail",
    "from_koseki",
    "to_koseki",
)


@dataclass(frozen=True)
class EventSpec:
    """What one kind of event records: its scope, the name of its date, and its items.

    `items` maps each column the kind uses to the label the certificate prints (【出生地】…);
    `required` must be filled, `one_of` needs at least one filled; any other column stays empty.
    """

    scope: EventScope
    title: str  # as the certificate prints the event: 戸籍編製, 出生, …
    date_label: str  # 出生日, 婚姻日, …
    items: tuple[tuple[str, str], ...] = ()
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()

    def label(self, column: str) -> str:
        return dict(self.items)[column]


_K, _M = EventScope.KOSEKI, EventScope.MEMBER
EVENT_SPECS: dict[KosekiEventKind, EventSpec] = {
    KosekiEventKind.HENSEI: EventSpec(_K, "戸籍編製", "編製日"),
    KosekiEventKind.KAISEI: EventSpec(
        _K, "戸籍改製", "改製日", (("detail", "改製事由"),), required=("detail",)
    ),
    KosekiEventKind.TENSEKI: EventSpec(
        _K, "転籍", "転籍日", (("from_koseki", "従前本籍"),), required=("from_koseki",)
    ),
    KosekiEventKind.BIRTH: EventSpec(
        _M,
        "出生",
        "出生日",
        (("place", "出生地"), ("notified_on", "届出日"), ("notifier", "届出人")),
        required=("place", "notified_on", "notifier"),
    ),
    KosekiEventKind.MARRIAGE: EventSpec(
        _M,
        "婚姻",
        "婚姻日",
        (
            ("partner_name", "配偶者氏名"),
            ("detail", "称する氏"),
            ("from_koseki", "従前戸籍"),
            ("to_koseki", "新本籍"),
        ),
        required=("partner_name",),
        one_of=("from_koseki", "to_koseki"),
    ),
    KosekiEventKind.DIVORCE: EventSpec(
        _M,
        "離婚",
        "離婚日",
        (("partner_name", "配偶者氏名"), ("to_koseki", "新本籍")),
        required=("partner_name",),
    ),
    KosekiEventKind.ADOPTION: EventSpec(
        _M,
        "養子縁組",
        "縁組日",
        (
            ("adoptive_father", "養父氏名"),
            ("adoptive_mother", "養母氏名"),
            ("from_koseki", "従前戸籍"),
        ),
        one_of=("adoptive_father", "adoptive_mother"),
    ),
    KosekiEventKind.DEATH: EventSpec(
        _M,
        "死亡",
        "死亡日",
        (("place", "死亡地"), ("notified_on", "届出日"), ("notifier", "届出人")),
        required=("place", "notified_on", "notifier"),
    ),
    KosekiEventKind.SPOUSE_DEATH: EventSpec(_M, "配偶者の死亡", "配偶者の死亡日"),
    KosekiEventKind.BUNSEKI: EventSpec(
        _M, "分籍", "分籍日", (("from_koseki", "従前戸籍"),), required=("from_koseki",)
    ),
}


@dataclass(frozen=True)
class KosekiEventRecord:
    """One 戸籍事項 (member_no 0) or 身分事項 (of member `member_no`), as a row of the upload.

    Which items a kind carries is `kind.spec`; the format's validator checks rows against it.
    """

    koseki_id: str
    member_no: int  # 0: the 戸籍 itself (戸籍事項)
    event_no: int  # order among the member's (or the 戸籍's) events, from 1
    kind: KosekiEventKind
    event_date: date  # 出生日, 婚姻日, 編製日, …
    notified_on: date | None = None  # 届出日
    notifier: str = ""  # 届出人: 父, 母, 同居の親族, …
    place: str = ""  # 出生地 / 死亡地
    partner_name: str = ""  # 配偶者氏名 (婚姻, 離婚)
    adoptive_father: str = ""  # 養父氏名
    adoptive_mother: str = ""  # 養母氏名
    detail: str = ""  # 改製事由 (改製), 称する氏 (婚姻)
    from_koseki: str = ""  # 従前戸籍 / 従前本籍: 本籍 and 筆頭者
    to_koseki: str = ""  # 新本籍 of one who left by 婚姻 or 離婚

    def items(self) -> list[tuple[str, str | date]]:
        """(label, value) of each item the event has, in printing order."""
        values = ((label, getattr(self, column)) for column, label in self.kind.spec.items)
        return [(label, value) for label, value in values if value]


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
