"""Tables of 本籍地 利用登録 (registration with the municipality that keeps one's 戸籍)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.db.models import UtcDateTime


class HonsekiRegistration(SQLModel, table=True):
    """A resident's request to have their 戸籍 in another municipality issued at kiosks.

    Filed at a kiosk with what the resident's 住民票 says; the 本籍地's staff link it to one
    member of one 戸籍 (approve) or reject it. Rows are kept after the decision: they are the
    record of who linked whom.
    """

    __tablename__ = "honseki_registrations"
    __table_args__ = (
        sa.Index("ix_honseki_registrations_queue", "honseki_municipality_code", "state"),
    )

    id: str = Field(primary_key=True)
    honseki_municipality_code: str = Field(foreign_key="municipalities.code")  # 本籍地
    resident_pk: int = Field(foreign_key="residents.id", index=True)
    residence_municipality_code: str  # 住所地
    state: str  # "pending" | "approved" | "rejected"
    # The applicant as their 住民票 says at the time of the request (what staff match on).
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_family_name: str = ""
    birth_date: date
    sex: str
    address: str
    honseki: str  # 本籍 as the resident gave it
    hittousha: str  # 筆頭者 as the resident gave it
    kiosk_id: str
    requested_at: datetime = Field(sa_type=UtcDateTime)
    # The decision.
    koseki_id: str | None = None
    member_no: int | None = None
    decided_by: str | None = None  # staff id
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    decision_note: str = ""  # staff-only
