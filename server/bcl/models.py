"""Tables of BCL resident-data integration (created by migration 0004).

- `bcl_generations`: one row per committed upload (副本). A row exists only once its upload is
  applied to the live tables, in the same transaction, so "committed" needs no flag and the
  current generation of a municipality is the one with the highest number.
- `bcl_generation_files`: the files of a generation — as uploaded (`role` upload) and as kept
  for restore (`role` backup: the uploaded files themselves for a full upload, a full export
  for a difference) — with size and SHA-256.
- `bcl_seal_images`: seal impressions (印影) by SHA-256; `seal_registrations` refers to them.
- `bcl_tax_records`, `bcl_koseki_members`, `bcl_fuhyo_entries`: tax, 戸籍 and 附票 as uploaded,
  for the certificates that will read them.
- `bcl_koseki_events` (migration 0007k): the 戸籍事項 and 身分事項 of those 戸籍.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.db.models import UtcDateTime


def _utc(**kw: Any) -> Any:
    return Field(sa_type=UtcDateTime, **kw)


class BclGeneration(SQLModel, table=True):
    __tablename__ = "bcl_generations"
    __table_args__ = (
        sa.UniqueConstraint("municipality_code", "number", name="uq_bcl_generations_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipalities.code")
    number: int  # 1, 2, 3, … per municipality
    kind: str  # "full" | "difference"
    base_number: int | None = None  # the generation a difference was applied on
    checksum: str  # SHA-256 (hex) of the uploaded files' manifest
    backup_checksum: str  # SHA-256 (hex) of the kept files' manifest (= checksum for full)
    storage_key: str  # directory of the kept files under the backup root
    kept: bool = True  # False once retention pruned the kept files
    uploaded_bytes: int
    committed_at: datetime = _utc()
    pruned_at: datetime | None = _utc(default=None)
    residents: int = 0  # rows applied, per register
    removed: int = 0
    card_serials: int = 0
    seals: int = 0
    seal_images: int = 0
    tax_records: int = 0
    koseki_members: int = 0
    fuhyo_entries: int = 0
    koseki_events: int = 0


class BclGenerationFile(SQLModel, table=True):
    __tablename__ = "bcl_generation_files"

    generation_id: int = Field(foreign_key="bcl_generations.id", primary_key=True)
    role: str = Field(primary_key=True)  # "upload" | "backup"
    name: str = Field(primary_key=True)  # e.g. residents.csv
    size: int
    sha256: str  # hex, of the file as uploaded / restored (not of its compressed form)


class BclSealImage(SQLModel, table=True):
    __tablename__ = "bcl_seal_images"

    sha256: str = Field(primary_key=True)  # hex
    png: bytes = Field(sa_type=sa.LargeBinary)


class BclTaxRecord(SQLModel, table=True):
    __tablename__ = "bcl_tax_records"
    __table_args__ = (
        sa.UniqueConstraint("resident_pk", "fiscal_year", name="uq_bcl_tax_records_year"),
    )

    id: int | None = Field(default=None, primary_key=True)
    resident_pk: int = Field(foreign_key="residents.id")
    fiscal_year: int
    salary_income: int
    other_income: int
    total_income: int
    deductions: int
    taxable_income: int
    municipal_income_levy: int
    municipal_per_capita: int
    prefectural_income_levy: int
    prefectural_per_capita: int
    tax_exempt: bool
    annual_tax: int
    paid: int
    unpaid: int


class BclKosekiMember(SQLModel, table=True):
    __tablename__ = "bcl_koseki_members"
    __table_args__ = (
        sa.UniqueConstraint(
            "municipality_code", "koseki_id", "member_no", name="uq_bcl_koseki_members_member"
        ),
        sa.Index("ix_bcl_koseki_members_resident", "municipality_code", "resident_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipalities.code")
    koseki_id: str
    honseki: str
    hittousha: str
    member_no: int
    resident_id: str = ""  # 宛名番号 when the member lives here (not a key: may live elsewhere)
    family_name: str
    given_name: str
    family_name_kana: str = ""
    given_name_kana: str = ""
    birth_date: date
    sex: str
    relationship: str
    father_name: str = ""
    mother_name: str = ""
    events: str = ""
    removed_reason: str = ""


class BclKosekiEvent(SQLModel, table=True):
    """One 戸籍事項 (member_no 0) or 身分事項, as koseki_events.csv carries it."""

    __tablename__ = "bcl_koseki_events"
    __table_args__ = (
        sa.UniqueConstraint(
            "municipality_code",
            "koseki_id",
            "member_no",
            "event_no",
            name="uq_bcl_koseki_events_event",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipalities.code")
    koseki_id: str
    member_no: int
    event_no: int
    kind: str
    event_date: date
    notified_on: date | None = None
    notifier: str = ""
    place: str = ""
    partner_name: str = ""
    adoptive_father: str = ""
    adoptive_mother: str = ""
    detail: str = ""
    from_koseki: str = ""
    to_koseki: str = ""


class BclFuhyoEntry(SQLModel, table=True):
    __tablename__ = "bcl_fuhyo_entries"
    __table_args__ = (
        sa.UniqueConstraint(
            "municipality_code",
            "koseki_id",
            "member_no",
            "entry_no",
            name="uq_bcl_fuhyo_entries_entry",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipalities.code")
    koseki_id: str
    member_no: int
    entry_no: int
    address: str
    address_set_on: date


BCL_TABLES = (
    BclGeneration,
    BclGenerationFile,
    BclSealImage,
    BclTaxRecord,
    BclKosekiMember,
    BclKosekiEvent,
    BclFuhyoEntry,
)


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a model, for set-based statements over many rows."""
    table = SQLModel.metadata.tables[str(model.__tablename__)]
    return table
