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

from cryptography import x509
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select, update

from server.audit import log as audit
from server.auth.limits import AttemptLimiter, AttemptLimits
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
from server.db.engine import read_session, write_session
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

    def begin(self, kiosk_id: str) -> Challenge:
        now = self._clock()
        hours = kiosk_open(now, self._settings.kiosk_hours)
        if not hours.available:
            raise ServiceNotAvailable(hours)
        # The kiosk is registered and active: the access interceptor (server.access.resolve)
        # refused any other before this call got here.
        with write_session(self._engine, expire_on_commit=False) as db:
            self._limiter.count_challenge(db, kiosk_id, now)
            challenge_id = secrets.token_hex(16)
            tbs = b"\x00".join(
                (_DOMAIN_TAG, kiosk_id.encode(), challenge_id.encode(), secrets.token_bytes(32))
            )
            row = AuthChallenge(
                challenge_id=challenge_id,
                kiosk_id=kiosk_id,
                to_be_signed=tbs,
                created_at=now,
                expires_at=now + self._settings.challenge_ttl,
            )
            db.add(row)
            db.commit()
            return Challenge(challenge_id, tbs, row.expires_at)

    def complete(
        self, *, kiosk_id: str, challenge_id: str, certificate_der: bytes, signature: bytes
    ) -> AuthenticatedSession:
        try:
            return self._complete(kiosk_id, challenge_id, certificate_der, signature)
        except (AuthFailed, RevocationUnavailable, RateLimited) as refused:
            # A refusal has no transaction of its own to ride in; it gets one.
            with Session(self._engine) as db:
                audit.append(
                    db,
                    event="auth.refused",
                    actor=kiosk_id,
                    subject=_card_subject(certificate_der),
                    details={"reason": refused.error_reason},
                    at=self._clock(),
                )
                db.commit()
            raise

    def _complete(
        self, kiosk_id: str, challenge_id: str, certificate_der: bytes, signature: bytes
    ) -> AuthenticatedSession:
        now = self._clock()
        with read_session(self._engine) as db:
            challenge = db.get(AuthChallenge, challenge_id)
        if challenge is None or challenge.kiosk_id != kiosk_id:
            raise AuthFailed("CHALLENGE_UNKNOWN", "no such challenge for this kiosk")
        # The checks run outside any transaction (the OCSP round trip above all); the challenge
        # is consumed afterwards whatever they found, in the transaction that opens the session.
        refusal: Exception | None = None
        serial = ""
        if challenge.used_at is None and now < challenge.expires_at:
            try:
                serial = self._check_card(challenge.to_be_signed, certificate_der, signature, now)
            except Exception as exc:  # raised below, once the challenge is spent
                refusal = exc
        with write_session(self._engine, expire_on_commit=False) as db:
            if not _spend(db, challenge_id, now):
                raise AuthFailed("CHALLENGE_REPLAYED", "this challenge has already been used")
            if now >= challenge.expires_at:
                refusal = AuthFailed("CHALLENGE_EXPIRED", "the challenge has expired; start again")
            if refusal is not None:
                db.commit()  # the challenge stays spent: a replay never succeeds
                raise refusal
            try:
                return self._open_session(db, kiosk_id, serial, now)
            except AuthFailed:  # refused before anything of a session was added
                db.commit()
                self._limiter.card_failed(serial, now)
                raise
            except Exception:
                db.rollback()
                with write_session(self._engine) as spent:
                    _spend(spent, challenge_id, now)
                    spent.commit()
                raise

    def _check_card(
        self, tbs: bytes, certificate_der: bytes, signature: bytes, now: datetime
    ) -> str:
        """The serial of a valid, unrevoked certificate whose key signed `tbs`; else raises."""
        cert = check_certificate(certificate_der, trust_anchor=self._anchor, at=now)
        serial = str(cert.serial_number)
        # A card over its failures is refused before its signature or status is looked at.
        self._limiter.check_card(serial, now)
        try:
            check_signature_and_status(cert, tbs, signature, revocation=self._revocation)
        except AuthFailed:
            self._limiter.card_failed(serial, now)
            raise
        return serial

    def _open_session(
        self, db: Session, kiosk_id: str, serial: str, now: datetime
    ) -> AuthenticatedSession:
        """The session row, in the caller's transaction (the one that spent the challenge)."""
        link = db.get(CardSerial, serial)
        if link is None or not link.active:
            raise AuthFailed("CERTIFICATE_NOT_REGISTERED", "this card is not linked to a resident")
        resident = db.get(Resident, link.resident_pk)
        assert resident is not None and resident.id is not None  # foreign key
        if resident.removed_on is not None:  # moved out (転出) or deceased
            raise AuthFailed(
                "CERTIFICATE_NOT_REGISTERED", "this card's holder is no longer on the register"
            )
        muni = db.exec(
            select(Municipality).where(Municipality.code == resident.municipality_code)
        ).one()
        token = secrets.token_urlsafe(32)
        row = KioskSession(
            token_sha256=token_digest(token),
            kiosk_id=kiosk_id,
            resident_pk=resident.id,
            card_serial=serial,
            subject_key=secrets.token_bytes(32),
            created_at=now,
            expires_at=now + self._settings.session_ttl,
        )
        db.add(row)
        audit.append(
            db,
            event="auth.success",
            actor=kiosk_id,
            subject=audit.opaque_id(serial),
            municipality_code=muni.code,
            at=now,
        )
        db.commit()
        return AuthenticatedSession(token, row.expires_at, muni.code, muni.full_name())

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
        with Session(self._engine) as db:
            db.exec(
                update(KioskSession)
                .where(col(KioskSession.token_sha256) == token_digest(token))
                .where(col(KioskSession.ended_at).is_(None))
                .values(ended_at=self._clock())
            )
            db.commit()


def _spend(db: Session, challenge_id: str, now: datetime) -> bool:
    """Mark the challenge used; of two concurrent completions only one gets True."""
    result = db.exec(
        update(AuthChallenge)
        .where(col(AuthChallenge.challenge_id) == challenge_id)
        .where(col(AuthChallenge.used_at).is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount == 1)


def _card_subject(certificate_der: bytes) -> str:
    """The audit subject of a card: its serial's digest, or the certificate's if unreadable."""
    try:
        return audit.opaque_id(str(x509.load_der_x509_certificate(certificate_der).serial_number))
    except ValueError:
        return audit.opaque_id(certificate_der.hex())
