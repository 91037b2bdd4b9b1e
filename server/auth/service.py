"""Resident authentication at a kiosk (JPKI user-authentication certificate).

begin: a single-use challenge bound to the kiosk. complete: the challenge is consumed whatever
happens next (a replay never succeeds), then the certificate is checked (chain to the JPKI
user-auth CA, validity period, revocation by OCSP or CRL), the signature over the challenge
is verified, and the certificate serial is mapped to a resident (利用者管理). The result is a
session bound to that kiosk.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col, delete

from server.audit import log as audit
from server.auth.limits import (
    CARD_FAILURES,
    AttemptLimiter,
    AttemptLimits,
    CardAttemptsExceeded,
)
from server.auth.revocation import RevocationChecker
from server.auth.verification import (
    AuthFailed,
    RevocationUnavailable,
    check_certificate,
    check_signature_and_status,
)
from server.common.clock import Clock
from server.common.errors import RateLimited, Unauthenticated
from server.common.tokens import token_digest
from server.db.engine import read_row
from server.db.models import AuthChallenge, CardSerial, KioskSession, Municipality, Resident
from server.municipal.rules import (
    NATIONAL_KIOSK_HOURS,
    DailyHours,
    ServiceNotAvailable,
    kiosk_open,
)

_DOMAIN_TAG = b"konbini-auth-v1"


class KioskNotRegistered(Unauthenticated):
    reason = "KIOSK_NOT_REGISTERED"


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    to_be_signed: bytes
    expires_at: datetime


@dataclass(frozen=True)
class AuthenticatedSession:
    token: str
    expires_at: datetime
    municipality_code: str
    municipality_name: str
    # What the session row holds besides, so the menu answered with the authentication
    # (`include_offerings`) need not read back the row just written.
    kiosk_id: str
    resident_pk: int
    subject_key: bytes


@dataclass(frozen=True)
class AuthSettings:
    challenge_ttl: timedelta = timedelta(seconds=60)
    session_ttl: timedelta = timedelta(minutes=10)
    kiosk_hours: DailyHours = NATIONAL_KIOSK_HOURS
    # Failed attempts per card, challenges per kiosk (server.auth.limits).
    limits: AttemptLimits = field(default_factory=AttemptLimits)

    def __post_init__(self) -> None:
        if self.challenge_ttl <= timedelta(0) or self.session_ttl <= timedelta(0):
            raise ValueError("lifetimes must be positive")


class Authenticator:
    def __init__(
        self,
        engine: Engine,
        *,
        trust_anchor: x509.Certificate,
        revocation: RevocationChecker,
        clock: Clock,
        settings: AuthSettings | None = None,
    ) -> None:
        self._engine = engine
        self._anchor = trust_anchor
        self._revocation = revocation
        self._clock = clock
        self._settings = settings or AuthSettings()
        self._limiter = AttemptLimiter(engine, self._settings.limits)
        self._counted = _counted(self._limiter.counting)  # run on PostgreSQL only

    def begin(self, kiosk_id: str) -> Challenge:
        now = self._clock()
        hours = kiosk_open(now, self._settings.kiosk_hours)
        if not hours.available:
            raise ServiceNotAvailable(hours)
        # The kiosk is registered and active: the access interceptor (server.access.resolve)
        # refused any other before this call got here.
        challenge_id = secrets.token_hex(16)
        tbs = b"\x00".join(
            (_DOMAIN_TAG, kiosk_id.encode(), challenge_id.encode(), secrets.token_bytes(32))
        )
        expires_at = now + self._settings.challenge_ttl
        row = {
            "challenge_id": challenge_id,
            "kiosk_id": kiosk_id,
            "to_be_signed": tbs,
            "created_at": now,
            "expires_at": expires_at,
        }
        if self._engine.dialect.name == "postgresql":
            # One statement, which needs no transaction around it: the kiosk's count (a CTE)
            # and the challenge are written together, or neither when the kiosk is at its limit.
            counting = self._limiter.challenge_count(kiosk_id, now)
            with self._engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                if counting is None:
                    conn.execute(_INSERT_CHALLENGE, row)
                elif conn.execute(self._counted, {**counting, **_prefixed(row)}).first() is None:
                    raise self._limiter.kiosk_exceeded(now)
        else:
            # A Core transaction (SQLite: BEGIN IMMEDIATE, as a write session's): both
            # statements are Core, and a Session around them only cost CPU.
            with self._engine.begin() as conn:
                self._limiter.count_challenge(conn, kiosk_id, now)
                conn.execute(_INSERT_CHALLENGE, row)
        return Challenge(challenge_id, tbs, expires_at)

    def complete(
        self, *, kiosk_id: str, challenge_id: str, certificate_der: bytes, signature: bytes
    ) -> AuthenticatedSession:
        """One read (the challenge, the card's failures and its holder) before the checks, one
        write transaction after them: it spends the challenge whatever they found, counts a
        failure of the card, records the audit entry and, if all is well, opens the session."""
        now = self._clock()
        # The certificate first: its serial lets the challenge's read also read the card's
        # failures. Its verdict counts only once the challenge is known, unspent and in time.
        invalid: Exception | None = None
        try:
            cert = check_certificate(certificate_der, trust_anchor=self._anchor, at=now)
        except Exception as exc:  # raised below, once the challenge is spent
            cert, invalid = None, exc
        serial = str(cert.serial_number) if cert is not None else ""
        failures = self._limiter.card_failures(serial, now) if cert is not None else None
        challenge = read_row(
            self._engine,
            _READ[failures is not None, cert is not None],
            _id(challenge_id, failures, serial=serial),
        )
        if challenge is None or challenge.kiosk_id != kiosk_id:
            refused = AuthFailed("CHALLENGE_UNKNOWN", "no such challenge for this kiosk")
            with self._engine.begin() as conn:  # nothing else to ride in
                self._audit_refusal(conn, kiosk_id, certificate_der, refused, now)
            raise refused
        # The checks run outside any transaction (the OCSP round trip above all); the challenge
        # is consumed afterwards whatever they found, in the transaction that opens the session.
        refusal: Exception | None = None
        counts = False  # whether the refusal is a failure of the card (server.auth.limits)
        if challenge.used_at is None and now < challenge.expires_at:
            if invalid is not None:
                refusal = invalid
            else:
                assert cert is not None
                try:
                    # A card over its failures is refused before its signature or status is
                    # looked at.
                    self._limiter.check_card(challenge.failures, now)
                    check_signature_and_status(
                        cert, challenge.to_be_signed, signature, revocation=self._revocation
                    )
                except AuthFailed as exc:
                    refusal, counts = exc, True
                except Exception as exc:  # raised below, once the challenge is spent
                    refusal = exc
        # A Core connection, not a Session: every statement here is Core, and the audit entry
        # is appended last (server.audit.log.append on a Connection writes it at once).
        with self._engine.connect() as db:
            # Checked again as the challenge is spent: attempts of the same card in parallel
            # may have reached the limit since the read.
            recheck = failures if refusal is None else None
            spend = _SPEND[recheck is not None]
            spent = db.execute(spend, _id(challenge_id, recheck, now)).first()
            if spent is None:
                refusal, counts = AuthFailed("CHALLENGE_REPLAYED", _REPLAYED), False
            elif now >= challenge.expires_at:
                refusal, counts = AuthFailed("CHALLENGE_EXPIRED", _EXPIRED), False
            elif refusal is None:
                try:
                    self._limiter.check_card(spent.failures if recheck is not None else 0, now)
                    return self._open_session(db, kiosk_id, serial, now, challenge)
                except AuthFailed as exc:  # refused before anything of a session was added
                    refusal, counts = exc, True
                except CardAttemptsExceeded as exc:
                    refusal = exc
                except Exception:
                    db.rollback()
                    with self._engine.begin() as again:
                        again.execute(_SPEND[False], _id(challenge_id, None, now))
                    raise
            if counts:  # over the limit by now: that is the answer, not the check's
                refusal = self._limiter.count_card_failure(db, serial, now) or refusal
            self._audit_refusal(db, kiosk_id, certificate_der, refusal, now)
            db.commit()  # the challenge stays spent: a replay never succeeds
            raise refusal

    def _audit_refusal(
        self,
        db: sa.Connection,
        kiosk_id: str,
        certificate_der: bytes,
        refusal: Exception,
        now: datetime,
    ) -> None:
        """The audit entry of a refused authentication, in the caller's transaction."""
        if isinstance(refusal, (AuthFailed, RevocationUnavailable, RateLimited)):
            audit.append(
                db,
                event="auth.refused",
                actor=kiosk_id,
                subject=_card_subject(certificate_der),
                details={"reason": refusal.error_reason},
                at=now,
            )

    def _open_session(
        self, conn: sa.Connection, kiosk_id: str, serial: str, now: datetime, read: sa.Row[Any]
    ) -> AuthenticatedSession:
        """The session row, in the caller's transaction (the one that spent the challenge).

        `read` is the holder as the read before the checks found it (`_READ`). The session is
        added only if the card is still linked to that resident, who is still on the register,
        which its INSERT checks as it writes: no read of the holder inside the transaction (the
        writer's lock on SQLite). Should the link have changed since, the holder is read again
        here and the session opened, or refused, on what that read finds."""
        token = secrets.token_urlsafe(32)
        expires_at = now + self._settings.session_ttl
        subject_key = secrets.token_bytes(32)
        row = {
            "token_sha256": token_digest(token),
            "kiosk_id": kiosk_id,
            "card_serial": serial,
            "subject_key": subject_key,
            "created_at": now,
            "expires_at": expires_at,
        }
        holder = read
        added = (
            _on_register(read)
            and conn.execute(
                _INSERT_SESSION_IF_HOLDER, {**row, "resident_pk": read.resident_pk}
            ).first()
            is not None
        )
        if not added:  # the link changed since the read (or there was none): as it is now
            holder = self._holder_now(conn, serial)
            conn.execute(_INSERT_SESSION, {**row, "resident_pk": holder.resident_pk})
        audit.append(
            conn,
            event="auth.success",
            actor=kiosk_id,
            subject=audit.opaque_id(serial),
            municipality_code=holder.code,
            at=now,
        )
        conn.commit()
        return AuthenticatedSession(
            token,
            expires_at,
            holder.code,
            f"{holder.prefecture}{holder.name}",
            kiosk_id,
            holder.resident_pk,
            subject_key,
        )

    @staticmethod
    def _holder_now(conn: sa.Connection, serial: str) -> sa.Row[Any]:
        """The card's holder as the transaction sees it; refused unless the card is linked to a
        resident who is on the register."""
        holder = conn.execute(_HOLDER, {"serial": serial}).first()
        if holder is None or not holder.active:
            raise AuthFailed("CERTIFICATE_NOT_REGISTERED", "this card is not linked to a resident")
        if holder.removed_on is not None:  # moved out (転出) or deceased
            raise AuthFailed(
                "CERTIFICATE_NOT_REGISTERED", "this card's holder is no longer on the register"
            )
        return holder

    def purge_expired(self, *, keep: timedelta = timedelta(days=1)) -> int:
        """Delete challenges and ended or expired sessions older than `keep`.

        Both are single-use or short-lived; keeping them forever only grows the tables.
        Issuances keep their own copy of what they need (the session's token digest).
        """
        cutoff = self._clock() - keep
        with Session(self._engine) as db:
            gone = db.exec(
                delete(AuthChallenge).where(col(AuthChallenge.expires_at) < cutoff)
            ).rowcount
            gone += db.exec(
                delete(KioskSession).where(col(KioskSession.expires_at) < cutoff)
            ).rowcount
            db.commit()
        return int(gone) + self._limiter.purge(cutoff)

    def end_session(self, token: str) -> None:
        with self._engine.connect() as conn:
            if self._engine.dialect.name == "postgresql":  # one statement: no BEGIN, COMMIT
                conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(END_SESSION, {"digest": token_digest(token), "now": self._clock()})
            conn.commit()


_REPLAYED = "this challenge has already been used"
_EXPIRED = "the challenge has expired; start again"
_CHALLENGES: sa.Table = AuthChallenge.__table__  # type: ignore[attr-defined]
_SESSIONS: sa.Table = KioskSession.__table__  # type: ignore[attr-defined]
_LINKS: sa.Table = CardSerial.__table__  # type: ignore[attr-defined]
_RESIDENTS: sa.Table = Resident.__table__  # type: ignore[attr-defined]
_MUNICIPALITIES: sa.Table = Municipality.__table__  # type: ignore[attr-defined]
_INSERT_CHALLENGE = sa.insert(_CHALLENGES)
_INSERT_SESSION = sa.insert(_SESSIONS)
_BY_ID = _CHALLENGES.c.challenge_id == sa.bindparam("id")
# The card's link to a resident (利用者管理), whether the resident is still on the register,
# and the municipality the session is for.
_HOLDER_COLUMNS = (
    _LINKS.c.active,
    _LINKS.c.resident_pk,
    _RESIDENTS.c.removed_on,
    _MUNICIPALITIES.c.code,
    _MUNICIPALITIES.c.prefecture,
    _MUNICIPALITIES.c.name,
)
_HOLDERS = _LINKS.join(_RESIDENTS, _RESIDENTS.c.id == _LINKS.c.resident_pk).join(
    _MUNICIPALITIES, _MUNICIPALITIES.c.code == _RESIDENTS.c.municipality_code
)
_BY_SERIAL = _LINKS.c.serial == sa.bindparam("serial")
_HOLDER: sa.Executable = sa.select(*_HOLDER_COLUMNS).select_from(_HOLDERS).where(_BY_SERIAL)
# The session row, added only while the card is linked to `resident_pk` and the resident is on
# the register: the read before the checks, confirmed as the row is written.
_SESSION_COLUMNS = (
    "token_sha256",
    "kiosk_id",
    "resident_pk",
    "card_serial",
    "subject_key",
    "created_at",
    "expires_at",
)
_INSERT_SESSION_IF_HOLDER = (
    sa.insert(_SESSIONS)
    .from_select(
        _SESSION_COLUMNS,
        sa.select(
            *(
                _LINKS.c.resident_pk
                if name == "resident_pk"
                else sa.bindparam(name, type_=_SESSIONS.c[name].type)
                for name in _SESSION_COLUMNS
            )
        )
        .select_from(_LINKS.join(_RESIDENTS, _RESIDENTS.c.id == _LINKS.c.resident_pk))
        .where(_LINKS.c.serial == sa.bindparam("card_serial"))
        .where(_LINKS.c.resident_pk == sa.bindparam("resident_pk"))
        .where(_LINKS.c.active.is_(True))
        .where(_RESIDENTS.c.removed_on.is_(None)),
    )
    .returning(_SESSIONS.c.resident_pk)
)  # no row: not added (a driver's rowcount may say -1)
# Ends the live session of a token digest (`digest`) at `now`: EndSession, and a print report
# sent with `end_session` in its own transaction (`server.issuance.service`).
END_SESSION = (
    sa.update(_SESSIONS)
    .where(_SESSIONS.c.token_sha256 == sa.bindparam("digest"))
    .where(_SESSIONS.c.ended_at.is_(None))
    .values(ended_at=sa.bindparam("now", type_=_SESSIONS.c.ended_at.type))
)


_NEW = "new_"  # the bind names of `_counted`: a column's own name is reserved in an INSERT


def _counted(counting: Insert) -> Insert:
    """INSERT of a challenge row that happens only if `counting` (the kiosk's count, run as a
    data-modifying CTE of the same statement) counted it; PostgreSQL only."""
    counted = counting.cte("counted")
    columns = ("challenge_id", "kiosk_id", "to_be_signed", "created_at", "expires_at")
    values = sa.select(
        *(sa.bindparam(_NEW + name, type_=_CHALLENGES.c[name].type) for name in columns)
    ).where(sa.exists(counted.select()))
    added = sa.insert(_CHALLENGES).from_select(columns, values).add_cte(counted)
    return added.returning(_CHALLENGES.c.challenge_id)  # no row: not counted, not added


def _prefixed(row: dict[str, Any]) -> dict[str, Any]:
    return {_NEW + name: value for name, value in row.items()}


def _id(
    challenge_id: str,
    failures: dict[str, Any] | None = None,
    now: datetime | None = None,
    *,
    serial: str = "",
) -> dict[str, Any]:
    """The parameters of `_READ` and `_SPEND`."""
    return {"id": challenge_id, "spent_at": now, "serial": serial, **(failures or {})}


def _on_register(read: sa.Row[Any]) -> bool:
    """Whether the read before the checks found the card linked to a resident on the register."""
    return bool(read.active) and read.removed_on is None


def _with_failures(failures: bool) -> sa.ColumnElement[Any]:
    return (CARD_FAILURES if failures else sa.null()).label("failures")


# Flat outer joins, not one to the nested join `_HOLDERS`: SQLite would materialize that.
_WITH_HOLDER = (
    _CHALLENGES.outerjoin(_LINKS, _BY_SERIAL)
    .outerjoin(_RESIDENTS, _RESIDENTS.c.id == _LINKS.c.resident_pk)
    .outerjoin(_MUNICIPALITIES, _MUNICIPALITIES.c.code == _RESIDENTS.c.municipality_code)
)
# The challenge, and with it the card's failures in this window when asked ([True, _]) and the
# card's holder (`_HOLDER`, NULLs when the card is linked to no one) when asked ([_, True]).
_READ = {
    (failures, holder): sa.select(
        _CHALLENGES.c.kiosk_id,
        _CHALLENGES.c.to_be_signed,
        _CHALLENGES.c.expires_at,
        _CHALLENGES.c.used_at,
        _with_failures(failures),
        *(_HOLDER_COLUMNS if holder else ()),
    )
    .select_from(_WITH_HOLDER if holder else _CHALLENGES)
    .where(_BY_ID)
    for failures in (False, True)
    for holder in (False, True)
}
# Mark the challenge used, returning a row only to the one of two concurrent completions that
# did; with [True], the card's failures as they stand at that moment.
_SPEND = {
    asked: sa.update(_CHALLENGES)
    .where(_BY_ID)
    .where(_CHALLENGES.c.used_at.is_(None))
    .values(used_at=sa.bindparam("spent_at", type_=_CHALLENGES.c.used_at.type))
    .returning(_CHALLENGES.c.challenge_id, _with_failures(asked))
    for asked in (False, True)
}


def _card_subject(certificate_der: bytes) -> str:
    """The audit subject of a card: its serial's digest, or the certificate's if unreadable."""
    try:
        return audit.opaque_id(str(x509.load_der_x509_certificate(certificate_der).serial_number))
    except ValueError:
        return audit.opaque_id(certificate_der.hex())
