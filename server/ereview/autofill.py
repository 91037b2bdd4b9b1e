"""Auto-fill (自動入力) for an applicant authenticated with their JPKI certificate.

The portal asks for a challenge, the applicant's card signs it (利用者証明用電子証明書, after
the 4-digit PIN), and the portal sends the certificate and signature. The center checks them as
it checks a kiosk's (`server.auth.verification`: chain to the JPKI user-auth CA, validity, key; the
signature; revocation by OCSP or CRL), maps the certificate serial to a resident (利用者管理,
`card_serials`), and returns that resident's own household — the household is never chosen by
the request, only by the certificate, so no one can pre-fill another household's form.

Challenges are single-use and expire. They live in the center's `auth_challenges` table under
the owner `ereview:<client id>` (so every server process sees them, and a kiosk can never
complete one), and what the card signs starts with an e-review domain tag, so a signature made
for a kiosk cannot be replayed here or the other way round. A household under 交付抑止 is not
pre-filled: the portal is told only that auto-fill is not available.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from server.auth.revocation import RevocationChecker
from server.auth.verification import AuthFailed, check_certificate, check_signature_and_status
from server.bcl.store import resident_record
from server.common.clock import Clock
from server.common.errors import PermissionDenied
from server.db.models import AuthChallenge, CardSerial, Resident
from server.ereview.access import EreviewClient, require_municipality
from server.ereview.index import ResidentIndex
from server.ereview.model import ResidentView

DOMAIN_TAG = b"konbini-ereview-autofill-v1"
OWNER_PREFIX = "ereview:"


class AutofillNotAvailable(PermissionDenied):
    """Told to the portal without the reason (交付抑止 protects the household)."""

    reason = "AUTOFILL_NOT_AVAILABLE"


@dataclass(frozen=True)
class AutofillChallenge:
    challenge_id: str
    to_be_signed: bytes
    expires_at: datetime


@dataclass(frozen=True)
class AutofilledHousehold:
    municipality_code: str
    applicant: ResidentView
    household: tuple[ResidentView, ...]  # head first, the applicant included

    def __post_init__(self) -> None:
        if self.applicant not in self.household:
            raise ValueError("the applicant belongs to the household returned")
        if any(m.household_id != self.applicant.household_id for m in self.household):
            raise ValueError("only the applicant's own household is returned")


class Autofill:
    def __init__(
        self,
        engine: Engine,
        *,
        trust_anchor: x509.Certificate,
        revocation: RevocationChecker,
        clock: Clock,
        challenge_ttl: timedelta = timedelta(seconds=120),
    ) -> None:
        if challenge_ttl <= timedelta(0):
            raise ValueError("challenge_ttl must be positive")
        self._engine = engine
        self._anchor = trust_anchor
        self._revocation = revocation
        self._clock = clock
        self._ttl = challenge_ttl

    def begin(self, client: EreviewClient) -> AutofillChallenge:
        now = self._clock()
        challenge_id = secrets.token_hex(16)
        tbs = b"\x00".join(
            (DOMAIN_TAG, client.client_id.encode(), challenge_id.encode(), secrets.token_bytes(32))
        )
        with Session(self._engine) as db:
            db.add(
                AuthChallenge(
                    challenge_id=challenge_id,
                    kiosk_id=OWNER_PREFIX + client.client_id,
                    to_be_signed=tbs,
                    created_at=now,
                    expires_at=now + self._ttl,
                )
            )
            db.commit()
        return AutofillChallenge(challenge_id, tbs, now + self._ttl)

    def complete(
        self,
        client: EreviewClient,
        *,
        challenge_id: str,
        certificate_der: bytes,
        signature: bytes,
    ) -> AutofilledHousehold:
        now = self._clock()
        tbs = self._consume(client, challenge_id, now)
        cert = check_certificate(certificate_der, trust_anchor=self._anchor, at=now)
        check_signature_and_status(cert, tbs, signature, revocation=self._revocation)
        return self._household(client, str(cert.serial_number))

    def _consume(self, client: EreviewClient, challenge_id: str, now: datetime) -> bytes:
        owner = OWNER_PREFIX + client.client_id
        with Session(self._engine) as db:
            row = db.get(AuthChallenge, challenge_id)
            if row is None or row.kiosk_id != owner:
                raise AuthFailed("CHALLENGE_UNKNOWN", "no such challenge for this client")
            # Atomic consume: of two concurrent completions only one sees rowcount 1.
            result = db.exec(
                update(AuthChallenge)
                .where(col(AuthChallenge.challenge_id) == challenge_id)
                .where(col(AuthChallenge.used_at).is_(None))
                .values(used_at=now)
            )
            db.commit()
            if result.rowcount != 1:
                raise AuthFailed("CHALLENGE_REPLAYED", "this challenge has already been used")
            if now >= row.expires_at:
                raise AuthFailed("CHALLENGE_EXPIRED", "the challenge has expired; start again")
            return row.to_be_signed

    def _household(self, client: EreviewClient, serial: str) -> AutofilledHousehold:
        with Session(self._engine) as db:
            link = db.get(CardSerial, serial)
            if link is None or not link.active:
                raise AuthFailed(
                    "CERTIFICATE_NOT_REGISTERED", "this card is not linked to a resident"
                )
            me = db.get(Resident, link.resident_pk)
            assert me is not None  # foreign key
            require_municipality(client, me.municipality_code)
            rows = db.exec(
                select(Resident)
                .where(Resident.municipality_code == me.municipality_code)
                .where(Resident.household_id == me.household_id)
                .order_by(col(Resident.id))
            ).all()
        if any(r.suppressed for r in rows):
            raise AutofillNotAvailable("auto-fill is not available; please ask at the counter")
        # The same view the matcher shows, built the same way (no 個人番号 / 本籍).
        index = ResidentIndex.build(resident_record(r) for r in rows)
        household = tuple(e.view for e in index.household(me.household_id))
        (applicant,) = [v for v in household if v.resident_id == me.resident_id]
        return AutofilledHousehold(me.municipality_code, applicant, household)
