"""Tables of the authentication domain beyond challenges and sessions (`server.db.models`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db.models import UtcDateTime


class AuthAttemptWindow(SQLModel, table=True):
    """How many attempts of one kind one key made in one fixed window (`server.auth.limits`).

    One row per (scope, key, window): the primary key is the only index a check needs, and rows
    of windows long past are purged with the expired challenges.
    """

    __tablename__ = "auth_attempt_windows"

    scope: str = Field(primary_key=True, max_length=32)  # what is counted
    key: str = Field(primary_key=True, max_length=128)  # a card serial, a kiosk id
    window_start: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    attempts: int = 0
