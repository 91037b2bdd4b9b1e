"""本籍地 利用登録: linking a resident to their 戸籍 kept by another municipality (SPEC section 3).

A resident whose 本籍地 is not where they live files a request at a kiosk; it names the 本籍地
and carries what their 住民票 says (name, reading, birth date, sex, address, 本籍 and 筆頭者).
The 本籍地's staff — and only theirs — see the pending requests with the best candidate members
of their 戸籍 (`server.koseki.matching`), and approve a request by linking it to one current
member of one 戸籍, or reject it. Only an approved link lets the kiosk offer that 戸籍's
certificates, at any kiosk, from the resident's next authentication on; it lapses by itself when
the member leaves that 戸籍 (the desk checks the member is current each time).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.audit import log as audit
from server.common.clock import Clock
from server.common.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from server.db.models import Municipality, Offering, Resident
from server.issuance.documents import CertificateKind
from server.koseki.backend import KosekiBackend, KosekiServers, Probe
from server.koseki.matching import Applicant, Candidate, rank
from server.koseki.models import HonsekiRegistration

KOSEKI_KINDS = tuple(k.value for k in CertificateKind if k.needs_koseki_server)
CANDIDATES_FETCHED = 200  # the coarse net per request, before ranking
_MAX_TEXT = 100


class RegistrationState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class HonsekiNotParticipating(FailedPrecondition):
    """The named 本籍地 does not issue 戸籍 at kiosks (not joined, no 戸籍 server or offering)."""

    reason = "HONSEKI_NOT_PARTICIPATING"


class HonsekiIsResidence(FailedPrecondition):
    """The 本籍地 named is where the resident lives: their 戸籍 needs no registration."""

    reason = "HONSEKI_IS_RESIDENCE"


class RegistrationNotFound(NotFound):
    reason = "REGISTRATION_NOT_FOUND"


class OtherMunicipalitysRegistration(PermissionDenied):
    reason = "OTHER_MUNICIPALITY"


class RegistrationNotPending(FailedPrecondition):
    reason = "REGISTRATION_NOT_PENDING"


class KosekiMemberNotFound(NotFound):
    reason = "KOSEKI_MEMBER_NOT_FOUND"


class KosekiMemberNotCurrent(FailedPrecondition):
    """The member left the 戸籍 (除籍), or the 戸籍 is closed: it is not issued at kiosks."""

    reason = "KOSEKI_MEMBER_NOT_CURRENT"


class KosekiMemberLinked(Conflict):
    """That member is already linked to another resident's approved registration."""

    reason = "KOSEKI_MEMBER_ALREADY_LINKED"


class KosekiServerMissing(FailedPrecondition):
    reason = "KOSEKI_SERVER_MISSING"


@dataclass(frozen=True)
class HonsekiRequest:
    """What the resident enters at the kiosk (the rest comes from their 住民票)."""

    honseki_municipality_code: str
    hittousha: str = ""  # 筆頭者 as the resident gives it; empty: as on the 住民票
    honseki: str = ""  # 本籍 as the resident gives it; empty: as on the 住民票

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{6}", self.honseki_municipality_code):
            raise InvalidArgument(
                "the 本籍地 is a 6-digit municipality code", field="honseki_municipality_code"
            )
        for name in ("hittousha", "honseki"):
            if len(getattr(self, name)) > _MAX_TEXT:
                raise InvalidArgument(f"{name} is at most {_MAX_TEXT} characters", field=name)


@dataclass(frozen=True)
class QueuedRequest:
    """A request as the 本籍地's staff see it, with the candidates to link it to."""

    registration: HonsekiRegistration
    candidates: tuple[Candidate, ...]


def file_request(
    db: Session,
    resident: Resident,
    request: HonsekiRequest,
    *,
    kiosk_id: str,
    now: datetime,
    servers: KosekiServers,
) -> HonsekiRegistration:
    """File (or find again) the resident's request with the 本籍地; commits.

    Filing twice gives the request already pending or approved, not a second one; after a
    rejection a new request may be filed.
    """
    code = request.honseki_municipality_code
    if code == resident.municipality_code:
        raise HonsekiIsResidence("your 戸籍 is kept where you live; no registration is needed")
    muni = db.get(Municipality, code)
    if (
        muni is None
        or servers.backend_for(muni.koseki_server) is None
        or not _offers_koseki(db, code)
    ):
        raise HonsekiNotParticipating(
            "this municipality does not issue 戸籍 certificates at kiosks",
            metadata={"municipality_code": code},
        )
    assert resident.id is not None
    # One request at a time per resident: two screens filing at once must find, not both add.
    # (The resident's row is the lock on PostgreSQL; SQLite's write transaction already is.)
    db.exec(select(Resident.id).where(col(Resident.id) == resident.id).with_for_update())
    existing = db.exec(
        select(HonsekiRegistration)
        .where(HonsekiRegistration.resident_pk == resident.id)
        .where(HonsekiRegistration.honseki_municipality_code == code)
        .where(
            col(HonsekiRegistration.state).in_(
                [RegistrationState.PENDING.value, RegistrationState.APPROVED.value]
            )
        )
        .order_by(col(HonsekiRegistration.requested_at).desc())
    ).first()
    if existing is not None:
        return existing
    address = resident.address
    if resident.address_annex:
        address = f"{address}　{resident.address_annex}"
    row = HonsekiRegistration(
        id=str(uuid.uuid4()),
        honseki_municipality_code=code,
        resident_pk=resident.id,
        residence_municipality_code=resident.municipality_code,
        state=RegistrationState.PENDING.value,
        family_name=resident.family_name,
        given_name=resident.given_name,
        family_name_kana=resident.family_name_kana,
        given_name_kana=resident.given_name_kana,
        former_family_name=resident.former_family_name,
        birth_date=resident.birth_date,
        sex=resident.sex,
        address=address,
        honseki=request.honseki or resident.honseki,
        hittousha=request.hittousha or resident.hittousha,
        kiosk_id=kiosk_id,
        requested_at=now,
    )
    db.add(row)
    db.commit()
    db.refresh(row)
    return row


def registrations_of(db: Session, resident_pk: int) -> Sequence[HonsekiRegistration]:
    """The resident's requests, newest first."""
    return db.exec(
        select(HonsekiRegistration)
        .where(HonsekiRegistration.resident_pk == resident_pk)
        .order_by(col(HonsekiRegistration.requested_at).desc(), col(HonsekiRegistration.id))
    ).all()


class HonsekiDesk:
    """The 本籍地 staff's side: the queue with ranked candidates, approval, rejection.

    Each call names the acting staff member's municipality; a request filed with another
    municipality is refused. The 戸籍 server is asked between transactions, never inside one.
    """

    def __init__(self, engine: Engine, *, servers: KosekiServers, clock: Clock) -> None:
        self._engine = engine
        self._servers = servers
        self._clock = clock

    def queue(
        self,
        municipality_code: str,
        *,
        states: Sequence[RegistrationState] = (RegistrationState.PENDING,),
        limit: int = 100,
        candidates: int = 5,
    ) -> list[QueuedRequest]:
        """Requests filed with this 本籍地, oldest first; pending ones with their candidates."""
        with Session(self._engine) as db:
            rows = db.exec(
                select(HonsekiRegistration)
                .where(HonsekiRegistration.honseki_municipality_code == municipality_code)
                .where(col(HonsekiRegistration.state).in_([s.value for s in states]))
                .order_by(col(HonsekiRegistration.requested_at), col(HonsekiRegistration.id))
                .limit(limit)
            ).all()
            muni = db.get(Municipality, municipality_code)
            backend = self._servers.backend_for(muni.koseki_server) if muni is not None else None
        out = []
        for row in rows:
            found: tuple[Candidate, ...] = ()
            # Without a 戸籍 server (withdrawn since the request) there is nothing to rank.
            if row.state == RegistrationState.PENDING.value and backend is not None:
                found = tuple(rank_candidates(row, backend, limit=candidates))
            out.append(QueuedRequest(row, found))
        return out

    def approve(
        self,
        municipality_code: str,
        staff_id: str,
        registration_id: str,
        *,
        koseki_id: str,
        member_no: int,
        note: str = "",
    ) -> HonsekiRegistration:
        """Link a pending request to a current member of one of this 本籍地's 戸籍."""
        with Session(self._engine) as db:
            _own_pending(db, registration_id, municipality_code)
            backend = _backend(db, municipality_code, self._servers)
        koseki = backend.koseki(municipality_code, koseki_id) if koseki_id else None
        if koseki is None or koseki.member(member_no) is None:
            raise KosekiMemberNotFound("no such member in the 戸籍 of this municipality")
        if not koseki.is_current_member(member_no):
            raise KosekiMemberNotCurrent("that member has left the 戸籍 (除籍); it is not issued")
        with Session(self._engine) as db:
            row = _own_pending(db, registration_id, municipality_code)  # still, after the ask
            taken = db.exec(
                select(HonsekiRegistration.id)
                .where(HonsekiRegistration.honseki_municipality_code == municipality_code)
                .where(HonsekiRegistration.state == RegistrationState.APPROVED.value)
                .where(HonsekiRegistration.koseki_id == koseki_id)
                .where(HonsekiRegistration.member_no == member_no)
                .where(HonsekiRegistration.resident_pk != row.resident_pk)
                .limit(1)
            ).first()
            if taken is not None:
                raise KosekiMemberLinked("that member is already linked to another resident")
            row.state = RegistrationState.APPROVED.value
            row.koseki_id, row.member_no = koseki_id, member_no
            return _decided(db, row, staff_id, self._clock(), note)

    def reject(
        self, municipality_code: str, staff_id: str, registration_id: str, *, note: str = ""
    ) -> HonsekiRegistration:
        with Session(self._engine) as db:
            row = _own_pending(db, registration_id, municipality_code)
            row.state = RegistrationState.REJECTED.value
            return _decided(db, row, staff_id, self._clock(), note)


def rank_candidates(
    row: HonsekiRegistration, backend: KosekiBackend, *, limit: int = 5
) -> list[Candidate]:
    probe = Probe(
        row.family_name, row.given_name, row.family_name_kana, row.given_name_kana, row.birth_date
    )
    members = backend.candidates(row.honseki_municipality_code, probe, limit=CANDIDATES_FETCHED)
    return rank(applicant_of(row), members, limit=limit)


def applicant_of(row: HonsekiRegistration) -> Applicant:
    return Applicant(
        family_name=row.family_name,
        given_name=row.given_name,
        family_name_kana=row.family_name_kana,
        given_name_kana=row.given_name_kana,
        birth_date=row.birth_date,
        sex=row.sex,
        honseki=row.honseki,
        hittousha=row.hittousha,
        former_family_name=row.former_family_name,
    )


def _decided(
    db: Session, row: HonsekiRegistration, staff_id: str, now: datetime, note: str
) -> HonsekiRegistration:
    row.decided_by, row.decided_at, row.decision_note = staff_id, now, note[:500]
    db.add(row)
    event, muni = f"honseki.{row.state}", row.honseki_municipality_code
    audit.append(db, event=event, actor=staff_id, subject=row.id, municipality_code=muni, at=now)
    db.commit()
    db.refresh(row)
    return row


def _own_pending(db: Session, registration_id: str, municipality_code: str) -> HonsekiRegistration:
    try:
        uuid.UUID(registration_id)
    except ValueError:
        raise InvalidArgument("not a registration id", field="registration_id") from None
    row = db.get(HonsekiRegistration, registration_id)
    if row is None:
        raise RegistrationNotFound("no such registration request")
    if row.honseki_municipality_code != municipality_code:
        raise OtherMunicipalitysRegistration("this request was filed with another municipality")
    if row.state != RegistrationState.PENDING.value:
        raise RegistrationNotPending(f"this request is already {row.state}")
    return row


def _backend(db: Session, municipality_code: str, servers: KosekiServers) -> KosekiBackend:
    muni = db.get(Municipality, municipality_code)
    backend = servers.backend_for(muni.koseki_server) if muni is not None else None
    if backend is None:
        raise KosekiServerMissing("this municipality has declared no 戸籍 server")
    return backend


def _offers_koseki(db: Session, municipality_code: str) -> bool:
    hit = db.exec(
        select(Offering.kind)
        .where(Offering.municipality_code == municipality_code)
        .where(col(Offering.kind).in_(KOSEKI_KINDS))
        .where(col(Offering.enabled).is_(True))
        .limit(1)
    ).first()
    return hit is not None
