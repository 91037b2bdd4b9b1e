"""Published municipal seal keys: the public halves, so that any copy can be checked offline."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db.models import _blob, _utc


class SealKey(SQLModel, table=True):
    """One municipality's seal key (公印 for the QR payload). Rows are never deleted: copies
    sealed with a retired key stay verifiable."""

    __tablename__ = "seal_keys"

    key_id: str = Field(primary_key=True)  # 8 hex digits, `server.verify.keys.key_id_of`
    municipality_code: str = Field(foreign_key="municipalities.code", index=True)
    public_key_der: bytes = _blob()  # SubjectPublicKeyInfo, ECDSA P-256
    created_at: datetime = _utc()
