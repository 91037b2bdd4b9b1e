"""The BCL upload format: named UTF-8 CSV files, their columns, and the row validator.

An upload is a set of CSV files with fixed names (`FILES`), each with a header row naming its
columns; `docs/bcl-upload-format.md` is the published description of this module. Reading a
file yields the rows that parsed cleanly and reports every problem — file, row, column, code —
to an `ErrorSink`, so that one pass finds all errors. Row numbers are those a spreadsheet
shows: the header is row 1, the first record row 2 (a quoted field may span lines).

Writing uses the same column definitions (`CsvWriter`), so that the generator, the export of
a generation and the validator cannot disagree about a format.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cached_property
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import IO, Any, BinaryIO, NamedTuple, cast

from server.bcl.records import Sex, individual_number_check_digit
from server.bcl.registers import EVENT_ITEMS, EventScope, KosekiEventKind, TokenCarrier

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SEAL_PNG_BYTES = 96 * 1024  # base64 of this still fits csv's default field limit
HOUSEHOLD_HEAD = "世帯主"


class ErrorCode(StrEnum):
    """Why a file, row or field was refused; the `code` of every reported error."""

    FILE_UNKNOWN = "FILE_UNKNOWN"  # not a file name of the format
    FILE_DUPLICATE = "FILE_DUPLICATE"  # the same file twice in one upload
    FILE_MISSING = "FILE_MISSING"  # a file this kind of upload requires
    FILE_NOT_ALLOWED = "FILE_NOT_ALLOWED"  # a file this kind of upload must not carry
    EMPTY_FILE = "EMPTY_FILE"  # no header row
    HEADER = "HEADER"  # a column missing, unknown or repeated
    ENCODING = "ENCODING"  # bytes that are not UTF-8
    CSV_SYNTAX = "CSV_SYNTAX"  # e.g. a quote never closed, a NUL byte
    FIELD_COUNT = "FIELD_COUNT"  # more or fewer fields than the header
    REQUIRED = "REQUIRED"  # empty where a value is required
    TOO_LONG = "TOO_LONG"
    FORMAT = "FORMAT"  # wrong shape: digits, katakana, hex, …
    DATE = "DATE"  # not a real YYYY-MM-DD date
    NUMBER = "NUMBER"  # not a non-negative integer, or out of range
    CHOICE = "CHOICE"  # not one of the allowed values
    CHECK_DIGIT = "CHECK_DIGIT"  # 個人番号 check digit
    INCONSISTENT = "INCONSISTENT"  # fields of one row contradict each other
    DUPLICATE = "DUPLICATE"  # a key or unique value seen in an earlier row
    UNKNOWN_RESIDENT = "UNKNOWN_RESIDENT"  # refers to a 宛名番号 that is not a resident
    UNKNOWN_KOSEKI_MEMBER = "UNKNOWN_KOSEKI_MEMBER"  # 附票 or 事項 of a 戸籍 member not there
    UNKNOWN_SEAL_IMAGE = "UNKNOWN_SEAL_IMAGE"  # impression_sha256 not uploaded
    SEAL_IMAGE = "SEAL_IMAGE"  # not base64, not a PNG, too large, or another SHA-256
    SERIAL_TAKEN = "SERIAL_TAKEN"  # a serial linked to a resident of another municipality
    HOUSEHOLD = "HOUSEHOLD"  # a household without exactly one 世帯主, or split addresses
    DELETED_AND_UPDATED = "DELETED_AND_UPDATED"  # one resident both deleted and upserted


@dataclass(frozen=True)
class RowError:
    file: str
    row: int  # 1 = header, 2 = first record; 0 = the file as a whole
    column: str  # "" = the whole row or file
    code: ErrorCode
    message: str


class ErrorSink:
    """Collects errors: counts all of them, keeps the first `limit` in the order found."""

    def __init__(self, limit: int = 1000) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self.limit = limit
        self.count = 0
        self.errors: list[RowError] = []

    def add(self, file: str, row: int, column: str, code: ErrorCode, message: str) -> None:
        self.count += 1
        if len(self.errors) < self.limit:
            self.errors.append(RowError(file, row, column, code, message))

    def __bool__(self) -> bool:
        return self.count > 0


class FieldError(ValueError):
    """A value that does not fit its column; carries the code to report."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- column types ------------------------------------------------------------------------------
# Each parser takes the raw text (never empty: emptiness is decided by `Column.required`) and
# returns the Python value or raises FieldError.

Parser = Callable[[str], Any]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def text(max_len: int, pattern: str | None = None, what: str = "") -> Parser:
    rx = re.compile(pattern) if pattern else None

    def parse(s: str) -> str:
        if len(s) > max_len:
            raise FieldError(ErrorCode.TOO_LONG, f"longer than {max_len} characters")
        if _CONTROL.search(s):
            raise FieldError(ErrorCode.FORMAT, "must not contain line breaks or control characters")
        if rx is not None and not rx.fullmatch(s):
            raise FieldError(ErrorCode.FORMAT, f"must be {what}")
        return s

    return parse


def digits(min_len: int, max_len: int | None = None) -> Parser:
    hi = max_len or min_len
    what = f"{min_len} digits" if hi == min_len else f"{min_len}–{hi} digits"
    rx = re.compile(rf"[0-9]{{{min_len},{hi}}}")

    def parse(s: str) -> str:
        if not rx.fullmatch(s):
            raise FieldError(ErrorCode.FORMAT, f"must be {what} (ASCII)")
        return s

    return parse


def iso_date(s: str) -> date:
    # date.fromisoformat also takes 20260401 and week dates; the format allows one spelling.
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        raise FieldError(ErrorCode.DATE, "must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise FieldError(ErrorCode.DATE, f"{s} is not a calendar date") from None


def flag(s: str) -> bool:
    if s == "1":
        return True
    if s == "0":
        return False
    raise FieldError(ErrorCode.CHOICE, "must be 0 or 1")


_YEN = re.compile(r"0|[1-9][0-9]{0,14}")


def yen(s: str) -> int:
    if not _YEN.fullmatch(s):
        raise FieldError(ErrorCode.NUMBER, "must be a whole number of yen, 0 or more")
    return int(s)


def integer(lo: int, hi: int) -> Parser:
    def parse(s: str) -> int:
        if not (s.isascii() and s.isdigit()) or (len(s) > 1 and s[0] == "0"):
            raise FieldError(ErrorCode.NUMBER, f"must be a whole number from {lo} to {hi}")
        n = int(s)
        if not lo <= n <= hi:
            raise FieldError(ErrorCode.NUMBER, f"must be from {lo} to {hi}")
        return n

    return parse


def choice(values: Iterable[str], convert: Callable[[str], Any] = str) -> Parser:
    allowed = tuple(values)

    def parse(s: str) -> Any:
        if s not in allowed:
            raise FieldError(ErrorCode.CHOICE, f"must be one of {', '.join(allowed)}")
        return convert(s)

    return parse


def individual_number(s: str) -> str:
    if len(s) != 12 or not (s.isascii() and s.isdigit()):
        raise FieldError(ErrorCode.FORMAT, "must be 12 digits (ASCII)")
    if individual_number_check_digit(s[:11]) != int(s[11]):
        raise FieldError(ErrorCode.CHECK_DIGIT, "the check digit of this 個人番号 is wrong")
    return s


_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_hex(s: str) -> str:
    if not _SHA256.fullmatch(s):
        raise FieldError(ErrorCode.FORMAT, "must be a SHA-256 in 64 lower-case hex digits")
    return s


def png_base64(s: str) -> bytes:
    try:
        png = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise FieldError(ErrorCode.SEAL_IMAGE, "not valid base64") from None
    if not png.startswith(PNG_SIGNATURE):
        raise FieldError(ErrorCode.SEAL_IMAGE, "not a PNG image")
    if len(png) > MAX_SEAL_PNG_BYTES:
        raise FieldError(ErrorCode.SEAL_IMAGE, f"larger than {MAX_SEAL_PNG_BYTES} bytes")
    return png


KATAKANA = r"[ァ-ヶー・　]+"  # full-width katakana, 長音, 中黒, full-width space
RESIDENT_ID = digits(1, 15)  # 宛名番号
NAME = text(50)
KANA = text(100, KATAKANA, "full-width katakana")
ADDRESS = text(200)
SEX = choice([s.value for s in Sex], Sex)


def _iso(value: date) -> str:
    return value.isoformat()


def _bit(value: bool) -> str:
    return "1" if value else "0"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


@dataclass(frozen=True)
class Column:
    name: str  # the header name
    parse: Parser
    required: bool = True
    empty: Any = ""  # the value of an optional column left empty
    encode: Callable[[Any], str] = str
    attr: str = ""  # the record attribute, when it differs from the header name
    doc: str = ""  # the Japanese term and notes, for the published schema

    @property
    def key(self) -> str:
        return self.attr or self.name


def date_column(name: str, doc: str) -> Column:
    return Column(name, iso_date, encode=_iso, doc=doc)


def flag_column(name: str, doc: str) -> Column:
    return Column(name, flag, encode=_bit, doc=doc)


def yen_column(name: str, doc: str) -> Column:
    return Column(name, yen, doc=doc)


class Presence(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    FORBIDDEN = "forbidden"


RowCheck = Callable[[dict[str, Any]], list[tuple[str, str]]]  # -> [(column, message)]


def _no_check(_values: dict[str, Any]) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class FileSchema:
    name: str  # the file name in an upload
    title: str  # what it holds, with the Japanese term
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # columns that identify a row (unique within the file)
    in_full: Presence
    in_difference: Presence
    check: RowCheck = _no_check  # consistency of one row's fields
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate column names")
        self._index.update({n: i for i, n in enumerate(names)})

    # Writing a million rows: fetch all of a record's values in one call, encode by column.
    @cached_property
    def _attrs(self) -> Callable[[Any], tuple[Any, ...]]:
        get = attrgetter(*(c.key for c in self.columns))
        return get if len(self.columns) > 1 else lambda r: (get(r),)

    @cached_property
    def _items(self) -> Callable[[Any], tuple[Any, ...]]:
        get = itemgetter(*(c.key for c in self.columns))
        return get if len(self.columns) > 1 else lambda r: (get(r),)

    @cached_property
    def _encoders(self) -> tuple[Callable[[Any], str], ...]:
        return tuple(c.encode for c in self.columns)

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def has_column(self, name: str) -> bool:
        return name in self._index

    def presence(self, full: bool) -> Presence:
        return self.in_full if full else self.in_difference

    def encode(self, record: Any) -> list[str]:
        """The fields of one row, from a record (attributes) or a mapping (keys)."""
        values = self._items(record) if isinstance(record, Mapping) else self._attrs(record)
        return [
            "" if v is None else v if enc is str and type(v) is str else enc(v)
            for v, enc in zip(values, self._encoders, strict=True)
        ]


# --- the files ---------------------------------------------------------------------------------


def _resident_check(v: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    if v["became_resident_on"] < v["birth_date"]:
        out.append(("became_resident_on", "住民となった日 is before the birth date"))
    if v["address_set_on"] < v["became_resident_on"]:
        out.append(("address_set_on", "住所を定めた日 is before 住民となった日"))
    return out


def _tax_check(v: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    levies = (
        v["municipal_income_levy"]
        + v["municipal_per_capita"]
        + v["prefectural_income_levy"]
        + v["prefectural_per_capita"]
    )
    if v["annual_tax"] != levies:
        out.append(
            ("annual_tax", f"年税額 {v['annual_tax']} is not the sum of the levies {levies}")
        )
    if v["paid"] + v["unpaid"] != v["annual_tax"]:
        out.append(("unpaid", "納付済額 + 未納額 must equal 年税額"))
    if v["tax_exempt"] and v["annual_tax"]:
        out.append(("tax_exempt", "非課税 but a tax is levied"))
    if v["taxable_income"] > v["total_income"]:
        out.append(("taxable_income", "課税標準額 exceeds 総所得金額"))
    return out


RESIDENTS = FileSchema(
    name="residents.csv",
    title="住民記録 (resident records)",
    columns=(
        Column("resident_id", RESIDENT_ID, doc="宛名番号 — 1–15 digits, unique"),
        Column("household_id", digits(1, 15), doc="世帯番号 — 1–15 digits"),
        Column("family_name", NAME, doc="氏"),
        Column("given_name", NAME, required=False, doc="名 (empty only if the person has none)"),
        Column("family_name_kana", KANA, doc="氏（フリガナ）— full-width katakana"),
        Column("given_name_kana", KANA, required=False, doc="名（フリガナ）"),
        Column("former_family_name", NAME, required=False, doc="旧氏 (registered former name)"),
        date_column("birth_date", "生年月日"),
        Column("sex", SEX, encode=str, doc="性別 — 男 or 女"),
        Column("address", ADDRESS, doc="住所, from the prefecture on"),
        Column("address_annex", text(100), required=False, doc="方書 (building, room)"),
        Column("relationship", text(20), doc="続柄 to the 世帯主; 世帯主 marks the head"),
        Column("honseki", ADDRESS, required=False, doc="本籍 (empty for foreign residents)"),
        Column("hittousha", NAME, required=False, doc="筆頭者 (full name)"),
        Column("juminhyo_code", digits(11), doc="住民票コード — 11 digits, unique"),
        Column("individual_number", individual_number, doc="個人番号 — 12 digits, unique"),
        date_column("became_resident_on", "住民となった日 (異動: moved in or born)"),
        date_column("address_set_on", "住所を定めた日 (異動: moved to this address)"),
        flag_column("suppressed", "抑止フラグ (交付抑止) — 1 stops kiosk issuance"),
    ),
    key=("resident_id",),
    in_full=Presence.REQUIRED,
    in_difference=Presence.OPTIONAL,
    check=_resident_check,
)

DELETIONS = FileSchema(
    name="deletions.csv",
    title="削除 (residents who left the register; difference uploads only)",
    columns=(
        Column("resident_id", RESIDENT_ID, doc="宛名番号 of a current resident"),
        Column("reason", text(20), doc="異動事由, e.g. 転出, 死亡, 職権消除"),
        date_column("removed_on", "異動日"),
    ),
    key=("resident_id",),
    in_full=Presence.FORBIDDEN,
    in_difference=Presence.OPTIONAL,
)

CARD_SERIALS = FileSchema(
    name="card_serials.csv",
    title="利用者証明用電子証明書シリアル番号 (利用者管理)",
    columns=(
        Column("resident_id", RESIDENT_ID, doc="宛名番号"),
        Column("serial", digits(1, 49), doc="certificate serial, decimal, unique"),
        Column(
            "carrier",
            choice([c.value for c in TokenCarrier], TokenCarrier),
            doc="card, android or iphone",
        ),
        flag_column("active", "1 = usable; 0 = returned, renewed or revoked"),
    ),
    key=("serial",),
    in_full=Presence.OPTIONAL,
    in_difference=Presence.OPTIONAL,
)

SEAL_IMAGES = FileSchema(
    name="seal_images.csv",
    title="印影 (seal impression images, each stored once)",
    columns=(
        Column("sha256", sha256_hex, doc="SHA-256 of the PNG, 64 lower-case hex digits"),
        Column(
            "png_base64",
            png_base64,
            encode=_b64,
            attr="png",
            doc=f"the PNG, base64 (at most {MAX_SEAL_PNG_BYTES} bytes decoded)",
        ),
    ),
    key=("sha256",),
    in_full=Presence.OPTIONAL,
    in_difference=Presence.OPTIONAL,
)

SEALS = FileSchema(
    name="seals.csv",
    title="印鑑登録 (seal registrations; one per resident)",
    columns=(
        Column("resident_id", RESIDENT_ID, doc="宛名番号"),
        Column(
            "registration_number",
            text(20, r"[0-9A-Za-z-]+", "letters and digits"),
            doc="印鑑登録番号",
        ),
        date_column("registered_on", "登録日"),
        Column("impression_sha256", sha256_hex, doc="the 印影: a sha256 of seal_images.csv"),
        flag_column("active", "1 = registered; 0 = 廃止 (abolished)"),
    ),
    key=("resident_id",),
    in_full=Presence.OPTIONAL,
    in_difference=Presence.OPTIONAL,
)

TAXES = FileSchema(
    name="taxes.csv",
    title="税 (個人住民税 per resident and fiscal year)",
    columns=(
        Column("resident_id", RESIDENT_ID, doc="宛名番号"),
        Column("fiscal_year", integer(1989, 2200), doc="年度 (2025 = 令和7年度)"),
        yen_column("salary_income", "給与収入"),
        yen_column("other_income", "その他の所得"),
        yen_column("total_income", "総所得金額"),
        yen_column("deductions", "所得控除額合計"),
        yen_column("taxable_income", "課税標準額"),
        yen_column("municipal_income_levy", "市町村民税 所得割"),
        yen_column("municipal_per_capita", "市町村民税 均等割"),
        yen_column("prefectural_income_levy", "道府県民税 所得割"),
        yen_column("prefectural_per_capita", "道府県民税 均等割"),
        flag_column("tax_exempt", "非課税"),
        yen_column("annual_tax", "年税額 = the four levies"),
        yen_column("paid", "納付済額"),
        yen_column("unpaid", "未納額; 納付済額 + 未納額 = 年税額"),
    ),
    key=("resident_id", "fiscal_year"),
    in_full=Presence.OPTIONAL,
    in_difference=Presence.OPTIONAL,
    check=_tax_check,
)

KOSEKI_ID = text(20, r"[0-9A-Za-z-]+", "letters and digits")

KOSEKI = FileSchema(
    name="koseki.csv",
    title="戸籍 (one row per member of each 戸籍 whose 本籍 is here)",
    columns=(
        Column("koseki_id", KOSEKI_ID, doc="the municipality's number for the 戸籍"),
        Column("honseki", ADDRESS, doc="本籍 (the same on every row of a 戸籍)"),
        Column("hittousha", NAME, doc="筆頭者氏名 (the same on every row of a 戸籍)"),
        Column("member_no", integer(1, 999), doc="順位 in the 戸籍"),
        Column(
            "resident_id",
            RESIDENT_ID,
            required=False,
            doc="宛名番号, if the municipality has one for the member (not checked: a member "
            "who moved away keeps it)",
        ),
        Column("family_name", NAME, doc="氏"),
        Column("given_name", NAME, doc="名"),
        Column("family_name_kana", KANA, required=False, doc="氏の振り仮名"),
        Column("given_name_kana", KANA, required=False, doc="名の振り仮名"),
        date_column("birth_date", "生年月日"),
        Column("sex", SEX, doc="性別"),
        Column("relationship", text(20), doc="父母との続柄 (長男, 長女, …) or 妻 / 夫"),
        Column("father_name", NAME, required=False, doc="父の氏名"),
        Column("mother_name", NAME, required=False, doc="母の氏名"),
        Column(
            "events",
            text(2000),
            required=False,
            doc="身分事項 as free text (`出生 YYYY-MM-DD；婚姻 …`), printed only for a member "
            "without rows in koseki_events.csv",
        ),
        Column("removed_reason", text(20), required=False, doc="除籍事由; empty if a member"),
    ),
    key=("koseki_id", "member_no"),
    in_full=Presence.OPTIONAL,
    in_difference=Presence.OPTIONAL,
)


def _koseki_event_check(v: dict[str, Any]) -> list[tuple[str, str]]:
    """The row against its kind: its scope, the items it needs and those it must not have."""
    kind: KosekiEventKind = v["kind"]
    spec = kind.spec
    out = []
    if (v["member_no"] == 0) != (spec.scope is EventScope.KOSEKI):
        where = "member_no 0 (the 戸籍)" if spec.scope is EventScope.KOSEKI else "a member"
        out.append(("member_no", f"a {kind.value} is recorded for {where}"))
    used = dict(spec.items)
    for column in EVENT_ITEMS:
        filled = v[column] not in ("", None)
        if column in spec.required and not filled:
            out.append((column, f"a {kind.value} needs 【{used[column]}】"))
        elif filled and column not in used:
            out.append((column, f"a {kind.value} has no such item"))
    if spec.one_of and not any(v[c] for c in spec.one_of):
        labels = " or ".join(f"【{used[c]}】" for c in spec.one_of)
        out.append((spec.one_of[0], f"a {kind.value} needs {labels}"))
    if v["notified_on"] is not None and v["notified_on"] < v["event_date"]:
        out.append(("notified_on", "届出日 is before the date of the event"))
    return out


KOSEKI_EVENTS = FileSchema(
    name="koseki_events.csv",
    title="戸籍事項 and 身分事項 (one row per event of a 戸籍 or of one of its members)",
    columns=(
        Column("koseki_id", KOSEKI_ID, doc="the 戸籍 (koseki.csv)"),
        Column(
            "member_no",
            integer(0, 999),
            doc="順位 of the member (身分事項); 0 for the 戸籍 itself (戸籍事項)",
        ),
        Column("event_no", integer(1, 99), doc="order of the event among the member's, from 1"),
        Column(
            "kind",
            choice([k.value for k in KosekiEventKind], KosekiEventKind),
            encode=str,
            doc="戸籍事項: 編製, 改製, 転籍; 身分事項: 出生, 婚姻, 離婚, 養子縁組, 死亡, "
            "配偶者の死亡, 分籍",
        ),
        date_column("event_date", "the date of the event: 編製日, 出生日, 婚姻日, 死亡日, …"),
        Column(
            "notified_on",
            iso_date,
            required=False,
            empty=None,
            encode=_iso,
            doc="届出日 (出生, 死亡: required); not before the event",
        ),
        Column("notifier", text(20), required=False, doc="届出人 (出生, 死亡): 父, 母, 親族, …"),
        Column("place", ADDRESS, required=False, doc="出生地 / 死亡地 (出生, 死亡: required)"),
        Column("partner_name", NAME, required=False, doc="配偶者氏名 (婚姻, 離婚: required)"),
        Column("adoptive_father", NAME, required=False, doc="養父氏名 (養子縁組)"),
        Column("adoptive_mother", NAME, required=False, doc="養母氏名 (養子縁組; one of the two)"),
        Column(
            "detail", text(100), required=False, doc="改製事由 (改製: required); 称する氏 (婚姻)"
        ),
        Column(
            "from_koseki",
            text(250),
            required=False,
            doc="従前戸籍 (婚姻, 養子縁組, 分籍) or 従前本籍 (転籍: required): 本籍 and 筆頭者",
        ),
        Column(
            "to_koseki",
            text(250),
            required=False,
            doc="新本籍 of one who left by 婚姻 or 離婚 (婚姻 needs this or from_koseki)",
        ),
    ),
    key=("koseki_id", "member_no", "event_no"),
    in_full=Presence.OPTIONAL,
    in_difference=Presence.OPTIONAL,
    check=_koseki_event_check,
)

FUHYO = FileSchema(
    name="fuhyo.csv",
    title="戸籍の附票 (address history of 戸籍 members)",
    columns=(
        Column("koseki_id", KOSEKI_ID, doc="the 戸籍 (koseki.csv)"),
        Column("member_no", integer(1, 999), doc="順位 of the member in that 戸籍"),
        Column("entry_no", integer(1, 9999), doc="1 = the oldest address"),
        Column("address", ADDRESS, doc="住所"),
        date_column("address_set_on", "住所を定めた日"),
    ),
    key=("koseki_id", "member_no", "entry_no"),
    in_full=Presence.OPTIONAL,
    in_difference=Presence.OPTIONAL,
)

# In the order the center applies them: residents before what refers to them.
FILES: tuple[FileSchema, ...] = (
    RESIDENTS,
    DELETIONS,
    SEAL_IMAGES,
    SEALS,
    CARD_SERIALS,
    TAXES,
    KOSEKI,
    KOSEKI_EVENTS,
    FUHYO,
)
FILES_BY_NAME: dict[str, FileSchema] = {f.name: f for f in FILES}


def check_file_set(names: Iterable[str], *, full: bool, sink: ErrorSink) -> list[FileSchema]:
    """The schemas of an upload's files, in apply order; file-level problems go to `sink`."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            sink.add(name, 0, "", ErrorCode.FILE_DUPLICATE, "this file is in the upload twice")
        seen.add(name)
        schema = FILES_BY_NAME.get(name)
        if schema is None:
            known = ", ".join(FILES_BY_NAME)
            sink.add(name, 0, "", ErrorCode.FILE_UNKNOWN, f"not a file of the format ({known})")
        elif schema.presence(full) is Presence.FORBIDDEN:
            kind = "a full" if full else "a difference"
            sink.add(name, 0, "", ErrorCode.FILE_NOT_ALLOWED, f"not allowed in {kind} upload")
    for schema in FILES:
        if schema.presence(full) is Presence.REQUIRED and schema.name not in seen:
            sink.add(schema.name, 0, "", ErrorCode.FILE_MISSING, "this upload needs this file")
    return [s for s in FILES if s.name in seen and s.presence(full) is not Presence.FORBIDDEN]


# --- reading -----------------------------------------------------------------------------------

_SURROGATE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8 (surrogateescape)


class Row(NamedTuple):
    number: int  # as a spreadsheet counts: the header is 1
    values: dict[str, Any]  # by record attribute name; an invalid row has only those that parsed
    valid: bool = True


def read_rows(
    path: Path, schema: FileSchema, sink: ErrorSink, *, invalid: bool = False
) -> Iterator[Row]:
    """Yield every row of `path` that is valid on its own; report all others to `sink`.

    With `invalid`, rows whose fields are wrong are yielded too (`valid` False, with the
    values that did parse), so that a caller can tell "wrong" from "missing" and a bad row
    does not make every row that refers to it an error as well.
    """
    with open(path, "rb") as raw:
        yield from read_stream(raw, schema, sink, invalid=invalid)


def read_stream(
    raw: IO[bytes], schema: FileSchema, sink: ErrorSink, *, invalid: bool = False
) -> Iterator[Row]:
    name = schema.name
    # surrogateescape keeps undecodable bytes as lone surrogates, so a bad byte becomes an
    # error at its row and column instead of ending the read.
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(stream, strict=True)
    try:
        header = _next_record(reader, sink, name, 1)
    except StopIteration:
        sink.add(name, 0, "", ErrorCode.EMPTY_FILE, "the file has no header row")
        return
    if header is None:
        return
    if header and header[0].startswith("\ufeff"):  # a BOM, as spreadsheets write UTF-8 CSV
        header[0] = header[0][1:]
    if not _header_ok(header, schema, sink):
        return
    # Columns may come in any order: each schema column with its position in the file.
    spec = [
        (c.key, c.name, c.parse, c.required, c.empty, header.index(c.name)) for c in schema.columns
    ]
    width = len(header)
    check = schema.check
    number = 1
    while True:
        number += 1
        try:
            fields: list[str] = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            sink.add(name, number, "", ErrorCode.CSV_SYNTAX, f"CSV syntax: {e}")
            continue
        if len(fields) != width:
            message = (
                "empty line"
                if fields in ([], [""])
                else f"{len(fields)} fields where the header has {width}"
            )
            sink.add(name, number, "", ErrorCode.FIELD_COUNT, message)
            continue
        if _SURROGATE.search("".join(fields)):
            for _, column, _, _, _, pos in spec:
                if _SURROGATE.search(fields[pos]):
                    sink.add(name, number, column, ErrorCode.ENCODING, "not valid UTF-8")
            continue
        values: dict[str, Any] = {}
        ok = True
        for key, column, parse, required, empty, pos in spec:
            text_ = fields[pos]
            if not text_:
                if required:
                    sink.add(name, number, column, ErrorCode.REQUIRED, "a value is required")
                    ok = False
                values[key] = empty
                continue
            try:
                values[key] = parse(text_)
            except FieldError as e:
                sink.add(name, number, column, e.code, e.message)
                ok = False
        if ok:
            problems = check(values)
            for column, message in problems:
                sink.add(name, number, column, ErrorCode.INCONSISTENT, message)
            ok = not problems
        if ok:
            yield Row(number, values)
        elif invalid:
            yield Row(number, values, valid=False)


def _next_record(reader: Any, sink: ErrorSink, name: str, number: int) -> list[str] | None:
    """The next record, or None after reporting a syntax error (StopIteration at the end)."""
    try:
        fields: list[str] = next(reader)
        return fields
    except csv.Error as e:
        sink.add(name, number, "", ErrorCode.CSV_SYNTAX, f"CSV syntax: {e}")
        return None


def _header_ok(header: list[str], schema: FileSchema, sink: ErrorSink) -> bool:
    name = schema.name
    ok = True
    seen: set[str] = set()
    for h in header:
        if _SURROGATE.search(h):
            sink.add(name, 1, "", ErrorCode.ENCODING, "the header is not valid UTF-8")
            return False
        if h in seen:
            sink.add(name, 1, h, ErrorCode.HEADER, "column named twice")
            ok = False
        elif not schema.has_column(h):
            sink.add(name, 1, h, ErrorCode.HEADER, "not a column of this file")
            ok = False
        seen.add(h)
    for c in schema.columns:
        if c.name not in seen:
            sink.add(name, 1, c.name, ErrorCode.HEADER, "column missing from the header")
            ok = False
    return ok


def seal_image_matches(sha256: str, png: bytes) -> bool:
    return hashlib.sha256(png).hexdigest() == sha256


# --- writing -----------------------------------------------------------------------------------


class CsvWriter:
    """Writes one file of the format: the header, then one row per record (LF line ends)."""

    def __init__(self, out: IO[bytes] | io.RawIOBase, schema: FileSchema) -> None:
        self.schema = schema
        self.rows = 0
        self._text = io.TextIOWrapper(
            cast(BinaryIO, out), encoding="utf-8", newline="", write_through=False
        )
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow(schema.header)

    def write(self, record: Any) -> None:
        self._csv.writerow(self.schema.encode(record))
        self.rows += 1

    def write_all(self, records: Iterable[Any]) -> None:
        for r in records:
            self.write(r)

    def write_cells(self, rows: Iterable[Sequence[Any]]) -> None:
        """Rows already in column order, as the database gives them: text, whole numbers
        (flags as 0 / 1), dates and None (an empty field); written without per-value work."""
        for row in rows:
            self._csv.writerow(row)
            self.rows += 1

    def close(self) -> None:
        """Flush; the underlying binary stream stays open for its owner to close."""
        self._text.flush()
        self._text.detach()


def write_file(path: Path, schema: FileSchema, records: Iterable[Any]) -> int:
    """Write a whole file; returns the number of rows."""
    with open(path, "wb") as f:
        w = CsvWriter(f, schema)
        w.write_all(records)
        w.close()
        return w.rows
