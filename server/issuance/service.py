"""Issuance for an authenticated kiosk session: offerings, reservation, the copy, its outcome.

Who may obtain what (SPEC section 3): a 住民票の写し of oneself and members of one's own
household; an 印鑑登録証明書 of oneself only, with an active seal registration. A person under
issuance suppression (交付抑止) is never offered and never issued; the kiosk is told only that
the certificate is not available here.

Money moves only with the ISSUED transition: the settlement entry is written in the same
transaction, so a copy that did not print is never charged and a retried request (same
idempotency key) never issues or charges twice.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pypdf
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from server.auth.service import token_digest
from server.bcl.records import ResidentRecord
from server.bcl.store import municipality_profile, resident_record, seal_record
from server.common.clock import JST, Clock
from server.common.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from server.db.models import (
    Issuance,
    IssuanceTransition,
    IssueSequence,
    Kiosk,
    KioskSession,
    Municipality,
    Offering,
    Resident,
    SealRegistration,
    SettlementEntry,
)
from server.issuance.documents import (
    ID_PATTERN,
    CertificateDocument,
    CertificateKind,
    IssueNumber,
    JuminhyoOptions,
)
from server.issuance.states import IssuanceEvent, IssuanceState, next_state
from server.municipal.policy import availability_of, is_suppressed
from server.municipal.rules import (
    NATIONAL_KIOSK_HOURS,
    OPEN,
    Availability,
    DailyHours,
    ServiceNotAvailable,
)
from server.settlement.ledger import post_issued_copy, record_voided_copy

# Kinds this desk can issue today; others (tax, 戸籍, …) are skipped in offerings.
ISSUABLE = frozenset({CertificateKind.JUMINHYO, CertificateKind.INKAN})

# What a kiosk is told when a person is suppressed: the same words whatever the cause.
NOT_AVAILABLE_MESSAGE = "この証明書はここでは交付できません。市区町村の窓口でお尋ねください。"


class SessionInvalid(Unauthenticated):
    reason = "SESSION_INVALID"


class SessionExpired(Unauthenticated):
    reason = "SESSION_EXPIRED"


class WrongKiosk(PermissionDenied):
    reason = "SESSION_BOUND_TO_OTHER_KIOSK"


class NotEligible(PermissionDenied):
    reason = "NOT_ELIGIBLE"


class NotAvailableHere(PermissionDenied):
    reason = "NOT_AVAILABLE_AT_KIOSK"

    def __init__(self) -> None:
        super().__init__(NOT_AVAILABLE_MESSAGE)


class ReservationNotFound(NotFound):
    reason = "RESERVATION_NOT_FOUND"


class ReservationExpired(FailedPrecondition):
    reason = "RESERVATION_EXPIRED"


class IdempotencyKeyReused(Conflict):
    reason = "IDEMPOTENCY_KEY_REUSED"


class AlreadyFinal(FailedPrecondition):
    reason = "ISSUANCE_FINAL"


class Renderer(Protocol):
    def render(self, doc: CertificateDocument, *, created_at: datetime) -> bytes: ...


@dataclass(frozen=True)
class SubjectView:
    subject_id: str
    display_name: str
    is_self: bool


@dataclass(frozen=True)
class OfferingView:
    kind: CertificateKind
    title: str
    fee_yen: int
    subjects: tuple[SubjectView, ...]
    allows_head_and_relationship: bool
    allows_honseki: bool
    availability: Availability = OPEN


@dataclass(frozen=True)
class ReserveRequest:
    kind: CertificateKind
    subject_ids: tuple[str, ...]
    include_head_and_relationship: bool = False
    include_honseki: bool = False

    def __post_init__(self) -> None:
        if not self.subject_ids:
            raise InvalidArgument("choose at least one person", field="subject_ids")
        if len(set(self.subject_ids)) != len(self.subject_ids):
            raise InvalidArgument("a person is chosen twice", field="subject_ids")
        if self.kind is CertificateKind.INKAN and (
            self.include_head_and_relationship or self.include_honseki
        ):
            raise InvalidArgument("optional items apply to 住民票 only", field="kind")


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    fee_yen: int
    expires_at: datetime


@dataclass(frozen=True)
class IssuedCopy:
    issuance_id: str
    issue_number: str
    page_count: int
    pdf: bytes
    pdf_sha256: bytes
    fee_yen: int


@dataclass(frozen=True)
class PrintReport:
    state: IssuanceState
    issue_number: str
    charged_yen: int


@dataclass(frozen=True)
class IssuanceSettings:
    reservation_ttl: timedelta = timedelta(minutes=10)
    # A copy handed to the printer and never confirmed is voided after this long.
    printing_ttl: timedelta = timedelta(minutes=15)
    kiosk_hours: DailyHours = NATIONAL_KIOSK_HOURS


def subject_handle(key: bytes, resident_pk: int) -> str:
    """Opaque per-session handle: kiosks never see resident numbers."""
    return hmac.new(key, f"subject:{resident_pk}".encode(), hashlib.sha256).hexdigest()[:24]


class IssuanceDesk:
    """The issuance domain: pure rules over the database, no gRPC."""

    def __init__(
        self,
        engine: Engine,
        *,
        renderer: Renderer,
        clock: Clock,
        settings: IssuanceSettings | None = None,
    ) -> None:
        self._engine = engine
        self._renderer = renderer
        self._clock = clock
        self._settings = settings or IssuanceSettings()

    # -- sessions ---------------------------------------------------------------------------

    def _session(self, db: Session, token: str, kiosk_id: str, now: datetime) -> KioskSession:
        digest = token_digest(token)
        row = db.get(KioskSession, digest)
        if row is None or row.ended_at is not None:
            raise SessionInvalid("no such session; authenticate again")
        if row.kiosk_id != kiosk_id:
            raise WrongKiosk("this session belongs to another kiosk")
        if now >= row.expires_at:
            raise SessionExpired("the session has expired; authenticate again")
        return row

    # -- offerings --------------------------------------------------------------------------

    def list_offerings(self, token: str, kiosk_id: str) -> list[OfferingView]:
        now = self._clock()
        with Session(self._engine) as db:
            sess = self._session(db, token, kiosk_id, now)
            me = _get_resident(db, sess.resident_pk)
            if is_suppressed(db, me):
                raise NotAvailableHere()
            offers = db.exec(
                select(Offering)
                .where(Offering.municipality_code == me.municipality_code)
                .where(col(Offering.enabled).is_(True))
            ).all()
            rules = availability_of(
                db, me.municipality_code, [o.kind for o in offers], now, self._settings.kiosk_hours
            )
            views = []
            for offer in sorted(offers, key=lambda o: o.kind):
                try:
                    kind = CertificateKind(offer.kind)
                except ValueError:
                    continue
                if kind not in ISSUABLE:
                    continue
                subjects = [
                    SubjectView(
                        subject_handle(sess.subject_key, _pk(r)),
                        f"{r.family_name}　{r.given_name}",
                        r.id == me.id,
                    )
                    for r in _eligible(db, kind, me)
                ]
                if subjects:
                    views.append(
                        OfferingView(
                            kind=kind,
                            title=kind.printed_title,
                            fee_yen=offer.fee_yen,
                            subjects=tuple(subjects),
                            allows_head_and_relationship=kind is CertificateKind.JUMINHYO,
                            allows_honseki=kind is CertificateKind.JUMINHYO,
                            availability=rules[offer.kind],
                        )
                    )
            return views

    # -- reservation ------------------------------------------------------------------------

    def reserve(self, token: str, kiosk_id: str, request: ReserveRequest) -> Reservation:
        now = self._clock()
        with Session(self._engine) as db:
            sess = self._session(db, token, kiosk_id, now)
            me = _get_resident(db, sess.resident_pk)
            kiosk = db.get(Kiosk, kiosk_id)
            if kiosk is None:
                raise SessionInvalid("the kiosk of this session is no longer registered")
            offer = db.get(Offering, (me.municipality_code, request.kind.value))
            if offer is None or not offer.enabled or request.kind not in ISSUABLE:
                raise NotEligible(f"{request.kind.printed_title} is not offered here")
            rule = availability_of(
                db, me.municipality_code, [offer.kind], now, self._settings.kiosk_hours
            )[offer.kind]
            if not rule.available:
                raise ServiceNotAvailable(rule)
            eligible = {
                subject_handle(sess.subject_key, _pk(r)): r
                for r in _eligible_all(db, request.kind, me)
            }
            chosen: list[Resident] = []
            for sid in request.subject_ids:
                person = eligible.get(sid)
                if person is None:
                    raise NotEligible("you may not obtain this certificate for that person")
                if is_suppressed(db, person) or is_suppressed(db, me):
                    raise NotAvailableHere()
                chosen.append(person)
            if request.kind is CertificateKind.INKAN and not _active_seal(db, _pk(me)):
                raise NotEligible("no active seal registration")
            row = Issuance(
                id=str(uuid.uuid4()),
                state=IssuanceState.RESERVED.value,
                kind=request.kind.value,
                requester_pk=_pk(me),
                subject_pks=",".join(str(_pk(p)) for p in chosen),
                include_head_and_relationship=request.include_head_and_relationship,
                include_honseki=request.include_honseki,
                municipality_code=me.municipality_code,
                kiosk_id=kiosk_id,
                operator_id=kiosk.operator_id,
                kiosk_municipality_code=kiosk.municipality_code,
                session_token_sha256=sess.token_sha256,
                fee_yen=offer.fee_yen,
                reserved_at=now,
                expires_at=now + self._settings.reservation_ttl,
            )
            db.add(row)
            db.commit()
            return Reservation(row.id, row.fee_yen, row.expires_at)

    # -- the copy ---------------------------------------------------------------------------

    def issue(
        self, token: str, kiosk_id: str, reservation_id: str, idempotency_key: str, printer_id: str
    ) -> IssuedCopy:
        if not idempotency_key or len(idempotency_key) > 128:
            raise InvalidArgument(
                "idempotency_key must be 1-128 characters", field="idempotency_key"
            )
        if not ID_PATTERN.fullmatch(printer_id):
            raise InvalidArgument(
                "printer_id must be 1-32 letters, digits or _", field="printer_id"
            )
        now = self._clock()
        with Session(self._engine) as db:
            self._session(db, token, kiosk_id, now)
            row = self._own_issuance(db, reservation_id, token)
            if row.idempotency_key is not None and row.idempotency_key != idempotency_key:
                raise FailedPrecondition(
                    "this reservation is already being printed under another request"
                )
            if row.idempotency_key is None:
                other = db.exec(
                    select(Issuance).where(Issuance.idempotency_key == idempotency_key)
                ).first()
                if other is not None:
                    raise IdempotencyKeyReused("this idempotency key belongs to another copy")
            if IssuanceState(row.state) is IssuanceState.RESERVED:
                if any(
                    is_suppressed(db, _get_resident(db, int(pk)))
                    for pk in row.subject_pks.split(",")
                ):
                    # Suppression set after the reservation: it stops issuance at once.
                    self._transition(db, row, IssuanceEvent.CANCEL, now, "suppressed")
                    db.commit()
                    raise NotAvailableHere()
                if now >= row.expires_at:
                    self._transition(db, row, IssuanceEvent.EXPIRE, now, "reservation expired")
                    db.commit()
                    raise ReservationExpired("the reservation has expired; choose again")
                self._claim(db, row, idempotency_key, printer_id, now)
            elif IssuanceState(row.state) is not IssuanceState.PRINTING:
                raise AlreadyFinal(f"this copy is already {row.state}")
            issuance_id = row.id
        return self._render_once(issuance_id)

    def _claim(self, db: Session, row: Issuance, key: str, printer_id: str, now: datetime) -> None:
        """RESERVED → PRINTING, with the issue number allocated; commits."""
        seq = _next_sequence(db, now, row.municipality_code, row.kiosk_id)
        number = IssueNumber(
            issue_date=now.astimezone(JST).date(),
            municipality_code=row.municipality_code,
            terminal_id=row.kiosk_id,
            printer_id=printer_id,
            sequence=seq,
        )
        claimed = db.exec(
            update(Issuance)
            .where(col(Issuance.id) == row.id)
            .where(col(Issuance.state) == IssuanceState.RESERVED.value)
            .values(
                state=IssuanceState.PRINTING.value,
                idempotency_key=key,
                printer_id=printer_id,
                issue_number=number.format(),
                printing_started_at=now,
            )
        )
        if claimed.rowcount != 1:
            db.rollback()
            raise FailedPrecondition("this reservation changed meanwhile; retry with the same key")
        db.add(
            IssuanceTransition(
                issuance_id=row.id,
                from_state=IssuanceState.RESERVED.value,
                to_state=IssuanceState.PRINTING.value,
                at=now,
                reason="fee paid",
            )
        )
        try:
            db.commit()
        except IntegrityError as exc:  # a concurrent request took the same idempotency key
            db.rollback()
            raise IdempotencyKeyReused("this idempotency key belongs to another copy") from exc

    def _render_once(self, issuance_id: str) -> IssuedCopy:
        """The PDF of a PRINTING copy: rendered on first request, then the same bytes."""
        with Session(self._engine) as db:
            row = db.get(Issuance, issuance_id)
            assert row is not None and row.issue_number is not None
            if row.pdf is not None and row.pdf_sha256 is not None and row.page_count is not None:
                return IssuedCopy(
                    row.id, row.issue_number, row.page_count, row.pdf, row.pdf_sha256, row.fee_yen
                )
            doc = self._document(db, row)
            started = row.printing_started_at
            fee = row.fee_yen
            assert started is not None
        # Render outside any transaction: it is the slow part and holds no lock.
        pdf = self._renderer.render(doc, created_at=started)
        pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
        digest = hashlib.sha256(pdf).digest()
        with Session(self._engine) as db:
            # Deterministic rendering makes a concurrent duplicate write harmless.
            db.exec(
                update(Issuance)
                .where(col(Issuance.id) == issuance_id)
                .where(col(Issuance.state) == IssuanceState.PRINTING.value)
                .values(pdf=pdf, pdf_sha256=digest, page_count=pages)
            )
            db.commit()
        return IssuedCopy(issuance_id, doc.issue_number.format(), pages, pdf, digest, fee)

    def _document(self, db: Session, row: Issuance) -> CertificateDocument:
        muni_row = db.get(Municipality, row.municipality_code)
        assert muni_row is not None
        persons = tuple(
            resident_record(_get_resident(db, int(pk))) for pk in row.subject_pks.split(",")
        )
        requester = _get_resident(db, row.requester_pk)
        head = _household_head(db, requester)
        seal = None
        if CertificateKind(row.kind) is CertificateKind.INKAN:
            seal_row = _active_seal(db, row.requester_pk)
            if seal_row is None:
                raise NotEligible("the seal registration is no longer active")
            seal = seal_record(seal_row, requester.resident_id)
        assert row.printing_started_at is not None and row.issue_number is not None
        return CertificateDocument(
            kind=CertificateKind(row.kind),
            municipality=municipality_profile(db, muni_row),
            issued_on=row.printing_started_at.astimezone(JST).date(),
            issue_number=IssueNumber.parse(row.issue_number),
            persons=persons,
            options=JuminhyoOptions(
                show_head_and_relationship=row.include_head_and_relationship,
                show_honseki=row.include_honseki,
            ),
            household_head=head,
            household_size=_household_size(db, requester),
            seal=seal,
        )

    # -- outcome ----------------------------------------------------------------------------

    def report_print(
        self,
        token: str,
        kiosk_id: str,
        issuance_id: str,
        *,
        printed: bool,
        pages_printed: int,
        failure_reason: str,
    ) -> PrintReport:
        now = self._clock()
        with Session(self._engine) as db:
            self._session(db, token, kiosk_id, now)
            row = self._own_issuance(db, issuance_id, token)
            state = IssuanceState(row.state)
            wanted = IssuanceState.ISSUED if printed else IssuanceState.VOIDED
            if state is wanted:  # a retried report: answer the same, change nothing
                return self._report(db, row)
            if printed and row.page_count is None:
                raise FailedPrecondition("this copy was never handed out for printing")
            if printed and pages_printed != row.page_count:
                raise InvalidArgument(
                    f"a whole copy has {row.page_count} pages, {pages_printed} reported printed",
                    field="pages_printed",
                )
            event = IssuanceEvent.PRINTED if printed else IssuanceEvent.PRINT_FAILED
            self._transition(db, row, event, now, failure_reason or ("printed" if printed else ""))
            db.commit()
            return self._report(db, row)

    def cancel(self, token: str, kiosk_id: str, reservation_id: str) -> IssuanceState:
        now = self._clock()
        with Session(self._engine) as db:
            self._session(db, token, kiosk_id, now)
            row = self._own_issuance(db, reservation_id, token)
            if IssuanceState(row.state) is IssuanceState.VOIDED:
                return IssuanceState.VOIDED
            self._transition(db, row, IssuanceEvent.CANCEL, now, "cancelled at the kiosk")
            db.commit()
            return IssuanceState(row.state)

    def void_expired(self) -> int:
        """Void every reservation and unconfirmed print past its time. Returns how many."""
        now = self._clock()
        voided = 0
        with Session(self._engine) as db:
            stale = db.exec(
                select(Issuance)
                .where(col(Issuance.state).in_([IssuanceState.RESERVED, IssuanceState.PRINTING]))
                .where(
                    (col(Issuance.expires_at) <= now)
                    & (col(Issuance.state) == IssuanceState.RESERVED.value)
                    | (col(Issuance.printing_started_at) <= now - self._settings.printing_ttl)
                )
            ).all()
            for row in stale:
                self._transition(db, row, IssuanceEvent.EXPIRE, now, "timed out")
                voided += 1
            db.commit()
        return voided

    # -- internals --------------------------------------------------------------------------

    def _own_issuance(self, db: Session, issuance_id: str, token: str) -> Issuance:
        try:
            uuid.UUID(issuance_id)
        except ValueError:
            raise InvalidArgument("not a reservation id", field="reservation_id") from None
        row = db.get(Issuance, issuance_id)
        digest = token_digest(token)
        if row is None or row.session_token_sha256 != digest:
            raise ReservationNotFound("no such reservation in this session")
        return row

    def _transition(
        self, db: Session, row: Issuance, event: IssuanceEvent, now: datetime, reason: str
    ) -> None:
        old = IssuanceState(row.state)
        new = next_state(old, event)
        row.state = new.value
        row.finished_at = now if new in (IssuanceState.ISSUED, IssuanceState.VOIDED) else None
        if new is IssuanceState.VOIDED:
            row.void_reason = reason or event.value
        if new in (IssuanceState.ISSUED, IssuanceState.VOIDED):
            row.pdf = None  # no personal data kept once the copy is final
        db.add(row)
        db.add(
            IssuanceTransition(
                issuance_id=row.id, from_state=old.value, to_state=new.value, at=now, reason=reason
            )
        )
        if new is IssuanceState.ISSUED:  # the register row and the journal entry
            post_issued_copy(db, row, now)
        elif new is IssuanceState.VOIDED:  # the void log only: a void costs nothing
            record_voided_copy(db, row, now, from_state=old.value)

    def _report(self, db: Session, row: Issuance) -> PrintReport:
        charged = 0
        if IssuanceState(row.state) is IssuanceState.ISSUED:
            entry = db.exec(
                select(SettlementEntry).where(SettlementEntry.issuance_id == row.id)
            ).one()
            charged = entry.fee_yen
        return PrintReport(IssuanceState(row.state), row.issue_number or "", charged)


def _pk(r: Resident) -> int:
    assert r.id is not None
    return r.id


def _get_resident(db: Session, pk: int) -> Resident:
    row = db.get(Resident, pk)
    if row is None:
        raise SessionInvalid("the resident of this session no longer exists")
    return row


def _household(db: Session, me: Resident) -> Sequence[Resident]:
    return db.exec(
        select(Resident)
        .where(Resident.municipality_code == me.municipality_code)
        .where(Resident.household_id == me.household_id)
        .order_by(col(Resident.is_household_head).desc(), col(Resident.birth_date))
    ).all()


def _eligible_all(db: Session, kind: CertificateKind, me: Resident) -> list[Resident]:
    """Everyone the rules allow, suppressed or not (suppression is judged separately)."""
    if kind is CertificateKind.JUMINHYO:
        return list(_household(db, me))
    if kind is CertificateKind.INKAN:
        return [me]
    return []


def _eligible(db: Session, kind: CertificateKind, me: Resident) -> list[Resident]:
    people = [r for r in _eligible_all(db, kind, me) if not is_suppressed(db, r)]
    if kind is CertificateKind.INKAN and not _active_seal(db, _pk(me)):
        return []
    return people


def _active_seal(db: Session, resident_pk: int) -> SealRegistration | None:
    return db.exec(
        select(SealRegistration)
        .where(SealRegistration.resident_pk == resident_pk)
        .where(col(SealRegistration.active).is_(True))
    ).first()


def _household_head(db: Session, me: Resident) -> ResidentRecord | None:
    for r in _household(db, me):
        if r.is_household_head:
            return resident_record(r)
    return None


def _household_size(db: Session, me: Resident) -> int:
    return len(_household(db, me))


def _next_sequence(db: Session, now: datetime, municipality_code: str, kiosk_id: str) -> int:
    """Next number of today's sequence for this terminal; safe under concurrent claims."""
    day = now.astimezone(JST).date()
    for _ in range(3):
        bumped = db.exec(
            update(IssueSequence)
            .where(col(IssueSequence.issue_date) == day)
            .where(col(IssueSequence.municipality_code) == municipality_code)
            .where(col(IssueSequence.kiosk_id) == kiosk_id)
            .values(last_value=col(IssueSequence.last_value) + 1)
        )
        if bumped.rowcount == 1:
            value = db.exec(
                select(IssueSequence.last_value)
                .where(IssueSequence.issue_date == day)
                .where(IssueSequence.municipality_code == municipality_code)
                .where(IssueSequence.kiosk_id == kiosk_id)
            ).one()
            return int(value)
        try:
            # First copy of the day: another claim may insert the same row at the same time.
            with db.begin_nested():
                db.add(
                    IssueSequence(
                        issue_date=day,
                        municipality_code=municipality_code,
                        kiosk_id=kiosk_id,
                        last_value=1,
                    )
                )
            return 1
        except IntegrityError:
            continue
    raise FailedPrecondition("the issue number could not be allocated; retry")
