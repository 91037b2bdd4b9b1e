"""Tables for the municipality's own rules and its staff accounts."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db.models import UtcDateTime


class StaffAccount(SQLModel, table=True):
    """A municipality staff member; the token itself is never stored, only its SHA-256."""

    __tablename__ = "staff_accounts"

    staff_id: str = Field(primary_key=True)
    municipality_code: str = Field(foreign_key="municipalities.code", index=True)
    display_name: str
    token_sha256: str = Field(unique=True)
    active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime)


class IssuanceSuppression(SQLModel, table=True):
    """交付抑止 set by staff for a person or a whole household; lifted, never deleted."""

    __tablename__ = "issuance_suppressions"

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipalities.code", index=True)
    resident_id: str | None = None  # 宛名番号
    household_id: str | None = None  # 世帯番号
    note: str = ""  # staff-only
    created_by: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    lifted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ServiceSuspension(SQLModel, table=True):
    """A window in which kiosk issuance of one municipality (or one kind) is stopped."""

    __tablename__ = "service_suspensions"

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str = Field(foreign_key="municipalities.code", index=True)
    kind: str = ""  # empty: all kinds
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    reason: str = ""  # public
    cancelled: bool = False


class CertificateHoursRow(SQLModel, table=True):
    """Daily hours (Asia/Tokyo) for one kind, inside the national kiosk hours."""

    __tablename__ = "certificate_hours"

    municipality_code: str = Field(foreign_key="municipalities.code", primary_key=True)
    kind: str = Field(primary_key=True)
    opens: str  # HH:MM
    closes: str  # HH:MM, 24:00 allowed
    weekdays_only: bool = False


class Notice(SQLModel, table=True):
    """A public notice (portal): outages, maintenance, changes. National when no municipality."""

    __tablename__ = "notices"

    id: int | None = Field(default=None, primary_key=True)
    municipality_code: str | None = Field(default=None, index=True)
    title: str
    body: str
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    created_by: str = ""
