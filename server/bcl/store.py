"""Loading resident data into the center's database and reading it back as records.

Issue 2 loads a municipality directly (the demo); the BCL upload path with generations
(`server.bcl.upload`) writes the same tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Protocol

from sqlalchemy.orm import object_session
from sqlmodel import Session

from server.bcl.models import BclSealImage
from server.bcl.records import (
    IssuingBackend,
    MunicipalityClass,
    MunicipalityProfile,
    ResidentRecord,
    SealRegistrationRecord,
    Sex,
)
from server.db.models import CardSerial, Municipality, Offering, Resident, SealRegistration


def load_municipality(
    db: Session,
    profile: MunicipalityProfile,
    residents: Iterable[ResidentRecord],
    seals: Iterable[SealRegistrationRecord],
) -> dict[str, int]:
    """Insert a municipality, its offerings, residents and seals. Returns resident_id → pk."""
    db.add(
        Municipality(
            code=profile.code,
            prefecture=profile.prefecture,
            name=profile.name,
            mayor_title=profile.mayor_title,
            mayor_name=profile.mayor_name,
            municipality_class=profile.municipality_class.value,
            backend=profile.backend.value,
            population=profile.population,
            joined_on=profile.joined_on,
            seal_png=profile.seal_png,
        )
    )
    for kind, fee in profile.fees.items():
        db.add(Offering(municipality_code=profile.code, kind=kind, fee_yen=fee))
    rows = [resident_row(profile.code, r) for r in residents]
    db.add_all(rows)
    db.flush()
    pks = {r.resident_id: r.id for r in rows if r.id is not None}
    for seal in seals:
        db.add(
            SealRegistration(
                resident_pk=pks[seal.resident_id],
                registration_number=seal.registration_number,
                registered_on=seal.registered_on,
                impression_png=seal.impression_png,
                active=seal.active,
            )
        )
    db.flush()
    return pks


def link_card_serials(db: Session, links: Mapping[int, tuple[int, str]], *, at: datetime) -> None:
    """Link certificate serials to residents: serial → (resident pk, token kind)."""
    for serial, (resident_pk, token) in links.items():
        db.add(CardSerial(serial=str(serial), resident_pk=resident_pk, token=token, linked_at=at))
    db.flush()


def resident_row(municipality_code: str, r: ResidentRecord) -> Resident:
    return Resident(
        municipality_code=municipality_code,
        resident_id=r.resident_id,
        household_id=r.household_id,
        family_name=r.family_name,
        given_name=r.given_name,
        family_name_kana=r.family_name_kana,
        given_name_kana=r.given_name_kana,
        former_family_name=r.former_family_name,
        birth_date=r.birth_date,
        sex=r.sex.value,
        address=r.address,
        address_annex=r.address_annex,
        is_household_head=r.is_household_head,
        relationship=r.relationship,
        honseki=r.honseki,
        hittousha=r.hittousha,
        juminhyo_code=r.juminhyo_code,
        individual_number=r.individual_number,
        became_resident_on=r.became_resident_on,
        address_set_on=r.address_set_on,
        suppressed=r.suppressed,
    )


class ResidentColumns(Protocol):
    """What `resident_record` reads of a resident: a `Resident`, or a row of the residents
    table's columns (read without the ORM)."""

    @property
    def resident_id(self) -> str: ...
    @property
    def household_id(self) -> str: ...
    @property
    def family_name(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def family_name_kana(self) -> str: ...
    @property
    def given_name_kana(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def sex(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def address_annex(self) -> str: ...
    @property
    def is_household_head(self) -> bool: ...
    @property
    def relationship(self) -> str: ...
    @property
    def honseki(self) -> str: ...
    @property
    def hittousha(self) -> str: ...
    @property
    def juminhyo_code(self) -> str: ...
    @property
    def individual_number(self) -> str: ...
    @property
    def became_resident_on(self) -> date: ...
    @property
    def address_set_on(self) -> date: ...
    @property
    def former_family_name(self) -> str: ...
    @property
    def suppressed(self) -> bool: ...


class MunicipalityColumns(Protocol):
    """What `municipality_profile` reads of a municipality: a `Municipality`, or a row of the
    municipalities table's columns."""

    @property
    def code(self) -> str: ...
    @property
    def prefecture(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def mayor_title(self) -> str: ...
    @property
    def mayor_name(self) -> str: ...
    @property
    def municipality_class(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def population(self) -> int: ...
    @property
    def joined_on(self) -> date: ...
    @property
    def seal_png(self) -> bytes: ...


def resident_record(row: ResidentColumns) -> ResidentRecord:
    return ResidentRecord(
        resident_id=row.resident_id,
        household_id=row.household_id,
        family_name=row.family_name,
        given_name=row.given_name,
        family_name_kana=row.family_name_kana,
        given_name_kana=row.given_name_kana,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        address=row.address,
        address_annex=row.address_annex,
        is_household_head=row.is_household_head,
        relationship=row.relationship,
        honseki=row.honseki,
        hittousha=row.hittousha,
        juminhyo_code=row.juminhyo_code,
        individual_number=row.individual_number,
        became_resident_on=row.became_resident_on,
        address_set_on=row.address_set_on,
        former_family_name=row.former_family_name,
        suppressed=row.suppressed,
    )


def municipality_profile(
    row: MunicipalityColumns, *, fees: Mapping[str, int] | None = None
) -> MunicipalityProfile:
    """The municipality as records carry it. `fees` (kind → kiosk fee) are its offerings where
    the caller read them; a certificate prints no fee, so the copy's profile has none and its
    offerings are not read for each copy."""
    return MunicipalityProfile(
        code=row.code,
        prefecture=row.prefecture,
        name=row.name,
        mayor_title=row.mayor_title,
        mayor_name=row.mayor_name,
        municipality_class=MunicipalityClass(row.municipality_class),
        backend=IssuingBackend(row.backend),
        population=row.population,
        joined_on=row.joined_on,
        fees=dict(fees or {}),
        seal_png=row.seal_png,
    )


def seal_record(
    row: SealRegistration, resident_id: str, db: Session | None = None
) -> SealRegistrationRecord:
    """The registration with its 印影; a BCL upload stores the image once, by SHA-256."""
    png = row.impression_png
    if not png and row.impression_sha256:
        # Without `db`, the session the row was loaded in (the issuance desk's) reads it.
        session = db if db is not None else object_session(row)
        image = session.get(BclSealImage, row.impression_sha256) if session is not None else None
        if image is None:
            raise LookupError(f"seal image {row.impression_sha256} is not stored")
        png = image.png
    return SealRegistrationRecord(
        resident_id=resident_id,
        registration_number=row.registration_number,
        registered_on=row.registered_on,
        impression_png=png,
        active=row.active,
    )
