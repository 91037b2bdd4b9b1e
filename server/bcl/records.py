"""Resident data as a municipality hands it to BCL (住民記録, households, seal registrations).

Plain frozen dataclasses: the synthetic generator produces them, the loader stores them, and
the issuance domain reads them back. Field names follow SPEC section 5 (住民記録システム標準仕様書).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

_MUNICIPALITY_CODE = re.compile(r"^\d{6}$")


def municipality_check_digit(first_five: str) -> int:
    """Check digit of a 全国地方公共団体コード (JIS X 0402): weights 6..2, modulus 11."""
    if not re.fullmatch(r"\d{5}", first_five):
        raise ValueError(f"municipality code body must be 5 digits, got {first_five!r}")
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    rem = total % 11
    return (11 - rem) % 10 if rem else 0


class Sex(StrEnum):
    MALE = "男"
    FEMALE = "女"


class IssuingBackend(StrEnum):
    """Where a municipality's certificates are produced."""

    BCL = "bcl"  # 自治体基盤クラウドシステム: data uploaded to the 中間DB
    OWN_SERVER = "own"  # 証明発行サーバ run by the municipality


class MunicipalityClass(StrEnum):
    """Classes of the yearly operating contribution (運営負担金), SPEC section 4."""

    DESIGNATED_CITY_LARGE = "designated_city_1m"  # 政令指定都市 ≥ 1,000,000
    DESIGNATED_CITY = "designated_city"  # 政令指定都市 < 1,000,000
    CITY_150K = "city_150k"  # 市区 ≥ 150,000
    CITY_50K = "city_50k"  # 50,000–150,000
    CITY_30K = "city_30k"  # 30,000–50,000
    CITY_SMALL = "city_small"  # < 30,000
    TOWN_VILLAGE = "town_village"  # 町村


@dataclass(frozen=True)
class MunicipalityProfile:
    code: str  # 全国地方公共団体コード, 6 digits with check digit
    prefecture: str  # e.g. 東京都
    name: str  # e.g. 千代田区
    mayor_title: str  # 区長 / 市長 / 町長 / 村長
    mayor_name: str
    municipality_class: MunicipalityClass
    backend: IssuingBackend
    population: int
    joined_on: date
    fees: dict[str, int] = field(default_factory=dict)  # certificate kind -> kiosk fee in yen
    seal_png: bytes = b""  # the municipality's seal (公印) impression

    def __post_init__(self) -> None:
        if not _MUNICIPALITY_CODE.match(self.code):
            raise ValueError(f"municipality code must be 6 digits: {self.code!r}")
        if municipality_check_digit(self.code[:5]) != int(self.code[5]):
            raise ValueError(f"municipality code {self.code} has a wrong check digit")
        if self.population < 0:
            raise ValueError("population must not be negative")
        for kind, fee in self.fees.items():
            if fee < 0:
                raise ValueError(f"fee for {kind} must not be negative")

    @property
    def full_name(self) -> str:
        return f"{self.prefecture}{self.name}"


@dataclass(frozen=True)
class ResidentRecord:
    resident_id: str  # 宛名番号 (the municipality's own person number)
    household_id: str  # 世帯番号
    family_name: str
    given_name: str
    family_name_kana: str  # katakana
    given_name_kana: str
    birth_date: date
    sex: Sex
    address: str  # 住所 (都道府県 onward)
    address_annex: str  # 方書 (building / room), may be empty
    is_household_head: bool
    relationship: str  # 続柄 to the household head: 世帯主, 妻, 夫, 子, 長男, 長女, 母, 父, …
    honseki: str  # 本籍
    hittousha: str  # 筆頭者 (full name)
    juminhyo_code: str  # 住民票コード, 11 digits — never printed at a kiosk
    individual_number: str  # 個人番号, 12 digits — never printed at a kiosk
    became_resident_on: date  # 住民となった日
    address_set_on: date  # 住所を定めた日
    former_family_name: str = ""  # 旧氏
    suppressed: bool = False  # 交付抑止

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{11}", self.juminhyo_code):
            raise ValueError("juminhyo_code must be 11 digits")
        if not re.fullmatch(r"\d{12}", self.individual_number):
            raise ValueError("individual_number must be 12 digits")
        if self.is_household_head != (self.relationship == "世帯主"):
            raise ValueError("relationship 世帯主 iff is_household_head")

    @property
    def full_name(self) -> str:
        return f"{self.family_name}　{self.given_name}"

    @property
    def full_name_kana(self) -> str:
        return f"{self.family_name_kana}　{self.given_name_kana}"


@dataclass(frozen=True)
class SealRegistrationRecord:
    """印鑑登録: one active registration per resident."""

    resident_id: str
    registration_number: str  # 印鑑登録番号
    registered_on: date
    impression_png: bytes  # the registered seal impression (印影), PNG
    active: bool = True


def individual_number_check_digit(first_eleven: str) -> int:
    """Check digit of a 個人番号 (行政手続番号法施行令 第8条)."""
    if not re.fullmatch(r"\d{11}", first_eleven):
        raise ValueError("need 11 digits")
    digits = [int(c) for c in reversed(first_eleven)]  # P1 is the rightmost
    total = 0
    for n, p in enumerate(digits, start=1):
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    rem = total % 11
    return 0 if rem <= 1 else 11 - rem
