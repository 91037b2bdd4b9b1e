"""Onboarding a municipality onto コンビニ交付: who it is, how it issues, what it offers.

The code must be a real 全国地方公共団体コード (the national list in `data/`), and the
name is taken from that list, not typed in. The yearly contribution class follows from the
population and whether it is a designated city (政令指定都市), SPEC section 4. Given the seal
key store, onboarding also creates the municipality's seal key and publishes its public half
(`server.verify.keys`), so its copies are verifiable from the first one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources

from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.bcl.records import (
    IssuingBackend,
    MunicipalityClass,
    municipality_check_digit,
)
from server.common.errors import Conflict, InvalidArgument
from server.db.models import Municipality, Offering
from server.issuance.documents import CertificateKind
from server.municipal.staff import check_offering_allowed
from server.verify.keys import SealKeyStore


@dataclass(frozen=True)
class NationalEntry:
    code: str
    prefecture: str
    name: str
    name_kana: str

    @property
    def mayor_title(self) -> str:
        return {"区": "区長", "市": "市長", "町": "町長", "村": "村長"}[self.name[-1]]


@cache
def national_list() -> dict[str, NationalEntry]:
    text = resources.files("server.municipal").joinpath("data/municipality_codes.csv")
    with text.open(encoding="utf-8") as f:
        return {row["code"]: NationalEntry(**row) for row in csv.DictReader(f)}


def lookup(code: str) -> NationalEntry:
    if len(code) != 6 or not code.isdigit():
        raise InvalidArgument("municipality code must be 6 digits", field="code")
    if municipality_check_digit(code[:5]) != int(code[5]):
        raise InvalidArgument(f"{code} has a wrong check digit", field="code")
    try:
        return national_list()[code]
    except KeyError:
        raise InvalidArgument(f"{code} is not in the national list", field="code") from None


def contribution_class(
    entry: NationalEntry, population: int, *, designated_city: bool
) -> MunicipalityClass:
    """The 運営負担金 class (SPEC 4): designated cities by size, cities by band, 町村."""
    if designated_city:
        if not entry.name.endswith("市"):
            raise InvalidArgument("only a 市 can be a designated city", field="designated_city")
        return (
            MunicipalityClass.DESIGNATED_CITY_LARGE
            if population >= 1_000_000
            else MunicipalityClass.DESIGNATED_CITY
        )
    if entry.name.endswith(("町", "村")):
        return MunicipalityClass.TOWN_VILLAGE
    if population >= 150_000:
        return MunicipalityClass.CITY_150K
    if population >= 50_000:
        return MunicipalityClass.CITY_50K
    if population >= 30_000:
        return MunicipalityClass.CITY_30K
    return MunicipalityClass.CITY_SMALL


@dataclass(frozen=True)
class OnboardingRequest:
    code: str
    population: int
    joined_on: date
    backend: IssuingBackend
    mayor_name: str
    fees: dict[str, int] = field(default_factory=lambda: {"juminhyo": 200, "inkan": 200})
    designated_city: bool = False
    koseki_server: str = ""
    seal_png: bytes = b""
    # Assessed fiscal years of tax certificates it issues (1-10); None: the center's default.
    tax_fiscal_years: int | None = None

    def __post_init__(self) -> None:
        if self.population <= 0:
            raise InvalidArgument("population must be positive", field="population")
        if self.tax_fiscal_years is not None and not 1 <= self.tax_fiscal_years <= 10:
            raise InvalidArgument("tax_fiscal_years is 1-10", field="tax_fiscal_years")
        if not self.mayor_name.strip():
            raise InvalidArgument("the mayor's name is printed on every copy", field="mayor_name")


def onboard(
    engine: Engine, request: OnboardingRequest, *, seal_keys: SealKeyStore | None = None
) -> Municipality:
    entry = lookup(request.code)
    cls = contribution_class(entry, request.population, designated_city=request.designated_city)
    row = Municipality(
        code=entry.code,
        prefecture=entry.prefecture,
        name=entry.name,
        mayor_title=entry.mayor_title,
        mayor_name=request.mayor_name,
        municipality_class=cls.value,
        backend=request.backend.value,
        population=request.population,
        joined_on=request.joined_on,
        seal_png=request.seal_png,
        koseki_server=request.koseki_server,
        tax_fiscal_years=request.tax_fiscal_years,
    )
    with Session(engine) as db:
        if db.get(Municipality, entry.code) is not None:
            raise Conflict(f"{entry.prefecture}{entry.name} is already onboarded")
        for kind, fee in request.fees.items():
            try:
                cert = CertificateKind(kind)
            except ValueError:
                raise InvalidArgument(f"unknown certificate kind {kind!r}", field="fees") from None
            check_offering_allowed(row, cert)
            if fee < 0:
                raise InvalidArgument("fees are never negative", field="fees")
        db.add(row)
        db.flush()
        for kind, fee in request.fees.items():
            db.add(Offering(municipality_code=entry.code, kind=kind, fee_yen=fee))
        db.commit()
        db.refresh(row)
    if seal_keys is not None:
        seal_keys.provision(entry.code)
    return row
