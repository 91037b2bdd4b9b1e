"""The table of operator and national-operator bearer tokens (only their SHA-256 is kept)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db.models import UtcDateTime


class AccessToken(SQLModel, table=True):
    __tablename__ = "access_tokens"

    token_id: str = Field(primary_key=True)
    kind: str  # CallerKind.KIOSK_OPERATOR or CallerKind.NATIONAL_OPERATOR
    operator_id: str | None = Field(default=None, foreign_key="operators.operator_id")
    display_name: str
    token_sha256: str = Field(unique=True)
    active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime)
