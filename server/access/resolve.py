"""From a call's transport and metadata to its one `Caller` (docs/security.md, "Who is calling").

Machines prove themselves with TLS client certificates from the kiosk CA (kiosks and counter
terminals; `server.common.identity` reads the certificate, the kiosk registry says which kind
of terminal it is and whether it is active). People and back-office systems present bearer
credentials: `konbini-ereview-client` + `authorization: Bearer` for an e-review client, else
`authorization: Bearer` alone for a staff account or an operator token. When both come on one
call the bearer credential names the caller and the certificate's terminal is kept as
`device_id` (a clerk at a counter terminal). No credential at all is the anonymous caller;
credentials that do not check out are UNAUTHENTICATED, never a silent fall-back to anonymous.

A terminal's registry row is read at every call by default (`terminal_ttl` 0), so a suspension
stops the very next call. With `terminal_ttl` > 0 an active terminal's row is reused for calls
that arrive within that many seconds of the read that fetched it (per process, by the monotonic
clock, measured from before the read): a suspension is then refused within `terminal_ttl`
seconds on every worker, and never later. Only an active row is reused: an unknown or suspended
terminal is read again at its next call, so a terminal resumed is admitted at once. The kiosk
id, its operator, municipality and kind are what is reused; they never change for a kiosk id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from server.access.caller import ANONYMOUS, Caller, CallerKind, CredentialsInvalid
from server.access.tokens import AccessTokens
from server.auth.service import KioskNotRegistered
from server.common.identity import (
    KIOSK_ID_HEADER,
    KioskIdentityMissing,
    auth_properties,
    is_tls,
    kiosk_header,
    kiosk_id_from,
)
from server.common.tokens import token_digest
from server.db.engine import read_row, read_session
from server.db.models import Kiosk
from server.ereview.access import CLIENT_HEADER, ClientRegistry, credentials_from_metadata
from server.kiosks.registry import KioskSuspended
from server.municipal.models import StaffAccount

AUTHORIZATION = "authorization"
_BEARER = "bearer "
MAX_TOKEN_CHARS = 256
COUNTER = "counter"  # Kiosk.terminal_kind of a counter terminal
_TERMINAL = sa.select(
    col(Kiosk.kiosk_id),
    col(Kiosk.operator_id),
    col(Kiosk.municipality_code),
    col(Kiosk.active),
    col(Kiosk.terminal_kind),
).where(col(Kiosk.kiosk_id) == sa.bindparam("kiosk_id"))


Metadata = Sequence[tuple[str, str | bytes]]


def _text_values(pairs: Metadata) -> dict[str, str]:
    """The first text value of each key (binary `-bin` values are left out)."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if isinstance(value, str):
            out.setdefault(key, value)
    return out


def bearer_of(metadata: Mapping[str, str]) -> str | None:
    """The bearer token of the call, None without one; a malformed header is refused."""
    value = metadata.get(AUTHORIZATION)
    if value is None:
        return None
    if not value.lower().startswith(_BEARER):
        raise CredentialsInvalid(f"{AUTHORIZATION} must be `Bearer <token>`")
    token = value[len(_BEARER) :].strip()
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise CredentialsInvalid("the bearer token is empty or too long")
    return token


_MAX_REMEMBERED = 4096  # terminals remembered per process before the expired ones are dropped


class CallerResolver:
    def __init__(
        self,
        engine: Engine,
        *,
        tokens: AccessTokens,
        ereview: ClientRegistry,
        terminal_ttl: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`terminal_ttl`: seconds an active terminal's registry row may be reused (0: read at
        every call); `monotonic`: the clock of that bound (injected by tests)."""
        if terminal_ttl < 0:
            raise ValueError("terminal_ttl must be 0 (read at every call) or positive")
        self._engine = engine
        self._tokens = tokens
        self._ereview = ereview
        self._ttl = terminal_ttl
        self._monotonic = monotonic
        # kiosk id -> (reusable until, on the monotonic clock; the caller it resolved to)
        self._active: dict[str, tuple[float, Caller]] = {}

    def resolve(self, context: grpc.ServicerContext) -> Caller:
        pairs: Metadata = context.invocation_metadata() or ()  # each read once
        auth = auth_properties(context)
        metadata = _text_values(pairs)
        device = self._device(auth, pairs, metadata)
        if CLIENT_HEADER in metadata:
            person = self._ereview_client(metadata)
        else:
            token = bearer_of(metadata)
            if token is None:
                return device or ANONYMOUS
            person = self._bearer(token)
        if device is None:
            return person
        return Caller(
            person.kind,
            person.id,
            municipality_code=person.municipality_code,
            operator_id=person.operator_id,
            municipalities=person.municipalities,
            device_id=device.id,
        )

    def _device(
        self, auth: Mapping[str, Sequence[bytes]], pairs: Metadata, metadata: Mapping[str, str]
    ) -> Caller | None:
        if is_tls(auth):
            if not auth.get("x509_pem_cert"):
                if KIOSK_ID_HEADER in metadata:
                    # Over TLS only a certificate names a terminal; the header alone proves nothing.
                    raise KioskIdentityMissing("kiosks must present their client certificate")
                return None
        elif KIOSK_ID_HEADER not in metadata:
            return None  # plaintext (demo) without the kiosk header: not a terminal
        kiosk_id = kiosk_id_from(auth, kiosk_header(pairs))
        if not self._ttl:
            return self._terminal_caller(kiosk_id)
        now = self._monotonic()
        remembered = self._active.get(kiosk_id)
        if remembered is not None and now < remembered[0]:
            return remembered[1]
        caller = self._terminal_caller(kiosk_id)  # raises for an unknown or suspended one
        if len(self._active) >= _MAX_REMEMBERED:
            self._active = {k: v for k, v in self._active.items() if now < v[0]}
        self._active[kiosk_id] = (now + self._ttl, caller)
        return caller

    def _terminal_caller(self, kiosk_id: str) -> Caller:
        row = self._terminal(kiosk_id)
        if row is None:
            raise KioskNotRegistered(f"kiosk {kiosk_id!r} is not registered")
        if not row.active:
            raise KioskSuspended(f"kiosk {kiosk_id!r} is suspended")
        counter = row.terminal_kind == COUNTER
        return Caller(
            CallerKind.COUNTER_TERMINAL if counter else CallerKind.KIOSK,
            row.kiosk_id,
            municipality_code=row.municipality_code,
            operator_id=row.operator_id,
            municipalities=frozenset({row.municipality_code}),
        )

    def _terminal(self, kiosk_id: str) -> sa.Row[Any] | None:
        """The registry row of a terminal (the module's docstring says when it is reused). One
        primary-key read, which needs no transaction of its own (`read_row`): on PostgreSQL it
        runs in autocommit (no BEGIN and ROLLBACK, two round trips fewer per call); on SQLite
        without BEGIN, taking no lock, so it never waits for the write lock."""
        return read_row(self._engine, _TERMINAL, {"kiosk_id": kiosk_id})

    def _ereview_client(self, metadata: Mapping[str, str]) -> Caller:
        client_id, secret = credentials_from_metadata(tuple(metadata.items()))
        client = self._ereview.authenticate(client_id, secret)
        return Caller(
            CallerKind.EREVIEW_CLIENT, client.client_id, municipalities=client.municipalities
        )

    def _bearer(self, token: str) -> Caller:
        with read_session(self._engine) as db:  # deferred: never waits for the write lock
            staff = db.exec(
                select(StaffAccount).where(StaffAccount.token_sha256 == token_digest(token))
            ).first()
            if staff is not None and staff.active:
                return Caller(
                    CallerKind.MUNICIPALITY_STAFF,
                    staff.staff_id,
                    municipality_code=staff.municipality_code,
                    municipalities=frozenset({staff.municipality_code}),
                )
            caller = self._tokens.caller_for(db, token)
        if caller is None:
            raise CredentialsInvalid("unknown or disabled bearer token")
        return caller
