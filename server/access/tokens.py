"""Bearer tokens for kiosk operators and the national operator, issued by `konbini access`.

A token is 256 random bits shown once at issue; the table keeps its SHA-256 (a slow password
hash adds nothing against guessing 256 bits, and lookups stay one indexed read). Municipality
staff keep their own accounts (`server.municipal.staff`) and e-review clients their registry
file (`server.ereview.access`); `server.access.resolve` consults all three.
"""

from __future__ import annotations

import secrets

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.access.caller import TOKEN_KINDS, Caller, CallerKind
from server.access.models import AccessToken
from server.common.clock import Clock
from server.common.errors import InvalidArgument, NotFound
from server.common.tokens import new_secret, token_digest
from server.db.models import Operator


class AccessTokens:
    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def issue(
        self, kind: CallerKind, *, display_name: str, operator_id: str | None = None
    ) -> tuple[str, str]:
        """A new token; returns (token id, token). The token is shown only this once."""
        if kind not in TOKEN_KINDS:
            raise InvalidArgument(f"tokens are for {sorted(TOKEN_KINDS)}, not {kind}", field="kind")
        if (kind is CallerKind.KIOSK_OPERATOR) != (operator_id is not None):
            raise InvalidArgument("a kiosk operator token names its operator, and only it")
        with Session(self._engine) as db:
            if operator_id is not None and db.get(Operator, operator_id) is None:
                raise NotFound(f"no operator {operator_id!r}")
            token_id = f"T{secrets.token_hex(6)}"
            token = new_secret()
            db.add(
                AccessToken(
                    token_id=token_id,
                    kind=kind.value,
                    operator_id=operator_id,
                    display_name=display_name,
                    token_sha256=token_digest(token),
                    created_at=self._clock(),
                )
            )
            db.commit()
        return token_id, token

    def revoke(self, token_id: str) -> None:
        with Session(self._engine) as db:
            row = db.get(AccessToken, token_id)
            if row is None:
                raise NotFound(f"no token {token_id!r}")
            row.active = False
            db.add(row)
            db.commit()

    def caller_for(self, db: Session, token: str) -> Caller | None:
        """The caller an active token belongs to, or None."""
        row = db.exec(
            select(AccessToken).where(AccessToken.token_sha256 == token_digest(token))
        ).first()
        if row is None or not row.active:
            return None
        return Caller(CallerKind(row.kind), row.token_id, operator_id=row.operator_id)
