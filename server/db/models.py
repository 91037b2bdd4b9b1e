"""Tables of the issuance center, through sqlmodel.

The schema itself is created and evolved by the Alembic migrations in `server/db/migrations`;
these classes are the mapping the code uses. Money is integer yen; datetimes are stored as
aware UTC (`UtcDateTime`), so SQLite and PostgreSQL round-trip them the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite drops the offset; the stored value is UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _utc(**kw: Any) -> Any:
    return Field(sa_type=UtcDateTime, **kw)


def _blob(**kw: Any) -> Any:
    return Field(sa_type=sa.LargeBinary, **kw)


class Municipality(SQLModel, table=True):
    __tablename__ = "municipalities"

    code: str = Field(primary_key=True, max_length=6)  # 全国地方公共団体コード
    prefecture: str
    name: str
    mayor_title: str
    mayor_name: str
    municipality_class: str
    backend: str  # "bcl" | "own"
    population: int
    joined_on: date
    seal_png: bytes = _blob(default=b"")
    # A separate 戸籍 server the municipality declares; 戸籍 and 附票 need one (SPEC 3).
    koseki_server: str = ""
    # How many assessed fiscal years of tax certificates it issues; None: the center's default.
    tax_fiscal_years: int | None = None

    def full_name(self) -> str:
        return f"{self.prefecture}{self.name}"


class Offering(SQLModel, table=True):
    """A certificate a municipality issues at kiosks, and its kiosk fee (交付手数料)."""

    __tablename__ = "offerings"

    municipality_code: str = Field(foreign_key="municipalities.code", primary_key=True)
    kind: str = Field(primary_key=True)
    fee_yen: int
    enabled: bool = True


class Resident(SQLModel, table=True):
    __tablename__ = "residents"
    __table_args__ = (
        sa.UniqueConstraint("municipality_code", "resident_id", name="uq_residents_muni_id"),
        sa.Index("ix_residents_household", "municipality_code", "household_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipalities.code")
    resident_id: str  # 宛名番号
    household_id: str  # 世帯番号
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_family_name: str = ""
    birth_date: date
    sex: str
    address: str
    address_annex: str = ""
    is_household_head: bool
    relationship: str
    honseki: str
    hittousha: str
    juminhyo_code: str
    individual_number: str
    became_resident_on: date
    address_set_on: date
    suppressed: bool = False  # 交付抑止
    # Set when the resident leaves the register (a BCL difference's deletion, or absence from a
    # full snapshot). The row stays: issuances and sessions refer to it by id.
    removed_on: date | None = None
    removed_reason: str = ""


class SealRegistration(SQLModel, table=True):
    __tablename__ = "seal_registrations"

    id: int | None = Field(default=None, primary_key=True)
    resident_pk: int = Field(foreign_key="residents.id", index=True)
    registration_number: str
    registered_on: date
    impression_png: bytes = _blob()
    active: bool = True
    # Uploaded through BCL: the 印影 is stored once in bcl_seal_images under this SHA-256 and
    # impression_png is left empty (server.bcl.store.seal_record reads either).
    impression_sha256: str | None = Field(default=None, index=True)


class CardSerial(SQLModel, table=True):
    """利用者管理: a user-auth certificate serial linked to a resident.

    One resident may have several: a card, a renewed card, a phone."""

    __tablename__ = "card_serials"

    serial: str = Field(primary_key=True)  # decimal string: serials exceed 64 bits
    resident_pk: int = Field(foreign_key="residents.id", index=True)
    token: str
    linked_at: datetime = _utc()
    active: bool = True


class Operator(SQLModel, table=True):
    """A kiosk operator (コンビニ事業者)."""

    __tablename__ = "operators"

    operator_id: str = Field(primary_key=True)
    name: str


class Kiosk(SQLModel, table=True):
    __tablename__ = "kiosks"

    kiosk_id: str = Field(primary_key=True)
    operator_id: str = Field(foreign_key="operators.operator_id")
    store_name: str
    municipality_code: str  # where the kiosk stands (may differ from the resident's)
    active: bool = True
    # "kiosk" (a store's multi-copy machine) or "counter" (らくらく窓口: a terminal in the town
    # hall of `municipality_code`, whose operator of record is that municipality).
    terminal_kind: str = Field(default="kiosk", sa_column_kwargs={"server_default": "kiosk"})


class AuthChallenge(SQLModel, table=True):
    __tablename__ = "auth_challenges"

    challenge_id: str = Field(primary_key=True)
    kiosk_id: str
    to_be_signed: bytes = _blob()
    created_at: datetime = _utc()
    expires_at: datetime = _utc(index=True)  # the expiry sweep's (migration 0010e)
    used_at: datetime | None = _utc(default=None)


class KioskSession(SQLModel, table=True):
    __tablename__ = "kiosk_sessions"

    token_sha256: str = Field(primary_key=True)  # the token itself is never stored
    kiosk_id: str
    resident_pk: int = Field(foreign_key="residents.id")
    card_serial: str
    subject_key: bytes = _blob()  # keys the opaque per-session subject handles
    created_at: datetime = _utc()
    expires_at: datetime = _utc(index=True)  # the expiry sweep's (migration 0010e)
    ended_at: datetime | None = _utc(default=None)


class Issuance(SQLModel, table=True):
    """One copy of one certificate; its `state` moves only through `server.issuance.states`."""

    __tablename__ = "issuances"

    id: str = Field(primary_key=True)
    state: str = Field(index=True)
    kind: str
    requester_pk: int = Field(foreign_key="residents.id")
    subject_pks: str  # comma-separated resident primary keys, in print order
    include_head_and_relationship: bool = False
    include_honseki: bool = False
    municipality_code: str = Field(foreign_key="municipalities.code", index=True)
    kiosk_id: str
    operator_id: str
    kiosk_municipality_code: str
    session_token_sha256: str
    fee_yen: int
    # "kiosk": paid at the kiosk; "counter": らくらく窓口, paid to the clerk at hand-over.
    channel: str = Field(default="kiosk", sa_column_kwargs={"server_default": "kiosk"})
    reserved_at: datetime = _utc()
    expires_at: datetime = _utc()
    idempotency_key: str | None = Field(default=None, unique=True)
    printer_id: str | None = None
    issue_number: str | None = Field(default=None, unique=True)
    printing_started_at: datetime | None = _utc(default=None)
    page_count: int | None = None
    pdf_sha256: bytes | None = _blob(default=None)
    # Kept only while PRINTING so that a retry returns the same copy; cleared when final.
    # PostgreSQL: STORAGE EXTERNAL (migration 0009p), deflated bytes gain nothing from pglz.
    pdf: bytes | None = _blob(default=None)
    finished_at: datetime | None = _utc(default=None)
    void_reason: str | None = None


class IssuanceTransition(SQLModel, table=True):
    """Every state change of an issuance, written in the same transaction as the change."""

    __tablename__ = "issuance_transitions"

    id: int | None = Field(default=None, primary_key=True)
    issuance_id: str = Field(foreign_key="issuances.id", index=True)
    from_state: str
    to_state: str
    at: datetime = _utc()
    reason: str = ""


class IssueSequence(SQLModel, table=True):
    """Per-day, per-terminal sequence behind the issue number (交付番号)."""

    __tablename__ = "issue_sequences"

    issue_date: date = Field(primary_key=True)
    municipality_code: str = Field(primary_key=True)
    kiosk_id: str = Field(primary_key=True)
    last_value: int = 0


class SettlementEntry(SQLModel, table=True):
    """What one issued copy owes and earns; written with the ISSUED transition."""

    __tablename__ = "settlement_entries"

    id: int | None = Field(default=None, primary_key=True)
    issuance_id: str = Field(foreign_key="issuances.id", unique=True)
    issue_number: str
    municipality_code: str = Field(index=True)
    month: str = Field(index=True)  # YYYY-MM in Asia/Tokyo
    kind: str
    issued_at: datetime = _utc()
    kiosk_id: str
    operator_id: str
    kiosk_municipality_code: str
    fee_yen: int  # 交付手数料 collected at the kiosk
    commission_yen: int  # 委託手数料 kept by the operator
    bcl_fee_yen: int  # 証明発行機能利用料 (BCL-backed municipalities)
    sheets: int


ALL_TABLES = SQLModel.metadata
