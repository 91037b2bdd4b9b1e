"""Issuance for an authenticated kiosk session: offerings, reservation, the copy, its outcome.

Who may obtain what (SPEC section 3): a 住民票の写し of oneself and members of one's own
household; a 住民票記載事項証明書 likewise, from a municipality with its own issuing server only;
an 印鑑登録証明書 of oneself only, with an active seal registration; a tax certificate of oneself
only, for one fiscal year in the range kiosks issue (`server.issuance.tax`); a 戸籍証明書 or 戸籍の
附票の写し of one's current 戸籍, from the municipality that keeps it through its declared 戸籍
server — where one lives, or the 本籍地 once its staff approved one's 利用登録
(`server.issuance.koseki_access`). A person under issuance suppression (交付抑止) is never
offered and never issued; the kiosk is told only that the certificate is not available here.

Money moves only with the ISSUED transition: the settlement entry is written in the same
transaction, so a copy that did not print is never charged and a retried request (same
idempotency key) never issues or charges twice.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol, TypeVar, cast

import pypdf
import sqlalchemy as sa
from sqlalchemy import bindparam, literal
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from server.audit import log as audit
from server.auth.service import END_SESSION
from server.bcl.models import BclTaxRecord
from server.bcl.records import MunicipalityProfile, ResidentRecord
from server.bcl.registers import TaxRecord
from server.bcl.store import municipality_profile, resident_record, seal_record
from server.common.clock import JST, Clock
from server.common.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from server.common.tokens import token_digest
from server.counter.models import CounterReception
from server.counter.reception import (
    RECEPTION_SEQUENCE,
    CounterOtherMunicipality,
    ReceptionSlip,
    open_reception,
    reception_of,
    slip_for,
)
from server.db.conflicts import retry_on_conflict
from server.db.engine import among_bound, bound_values, read_session, write_session
from server.db.models import (
    Issuance,
    IssuanceTransition,
    IssueSequence,
    Kiosk,
    KioskSession,
    Municipality,
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
    KosekiExtract,
)
from server.issuance.koseki_access import KosekiAccess, KosekiLookup, plan_lookup, resolve
from server.issuance.models import IssuanceDetail
from server.issuance.states import (
    Channel,
    IssuanceEvent,
    IssuanceState,
    next_state,
    printed_event,
)
from server.issuance.tax import KIOSK_TAX_YEARS, NoTaxRecord, TaxYears, fiscal_year_label
from server.koseki.backend import KosekiServers
from server.koseki.models import HonsekiRegistration
from server.koseki.registration import (
    HonsekiRequest,
    RegistrationState,
    file_request,
    registrations_of,
)
from server.municipal.policy import (
    is_suppressed,
    offered_with_availability,
    suppressed_among,
    suppressed_flag,
)
from server.municipal.rules import (
    NATIONAL_KIOSK_HOURS,
    OPEN,
    Availability,
    DailyHours,
    ServiceNotAvailable,
)
from server.municipal.staff import (
    check_offering_allowed,
    offering_refusal,
    tax_years_setting,
)
from server.settlement.ledger import (
    PostingTerms,
    join_posting_terms,
    post_issued_copy,
    posting_terms,
    record_voided_copy,
)

# Kinds this desk can issue: every certificate of SPEC section 3.
ISSUABLE = frozenset(CertificateKind)
# Certificates of a household's members (住民票 and 記載事項) rather than of one person.
_HOUSEHOLD_KINDS = frozenset({CertificateKind.JUMINHYO, CertificateKind.JUMINHYO_KISAI})

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


class PrintingUnderAnotherKey(FailedPrecondition):
    """The copy was claimed by an Issue with another idempotency key (another request)."""

    reason = "PRINTING_UNDER_ANOTHER_KEY"


class HonsekiRegistrationPending(PermissionDenied):
    """The 本籍地 has not yet linked the resident's 利用登録 to a 戸籍."""

    reason = "HONSEKI_REGISTRATION_PENDING"


class Renderer(Protocol):
    def render(self, doc: CertificateDocument, *, created_at: datetime) -> bytes: ...


@dataclass(frozen=True)
class Terminal:
    """The kiosk or counter terminal of a call, as the access interceptor resolved it from the
    registry in this very call: the desk need not read the row again."""

    kiosk_id: str
    counter: bool  # a counter terminal (らくらく窓口), else a kiosk
    municipality_code: str  # where it stands
    operator_id: str


@dataclass(frozen=True)
class NewSession:
    """A kiosk session its caller has just opened, as the session row holds it."""

    kiosk_id: str
    resident_pk: int
    subject_key: bytes


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
    municipality_code: str = ""  # who issues it: the 本籍地 for its 戸籍, else where one lives
    municipality_name: str = ""
    fiscal_years: tuple[int, ...] = ()  # tax certificates: the years there is a record for


@dataclass(frozen=True)
class RegistrationView:
    """A resident's 本籍地 利用登録 as the kiosk shows it."""

    registration_id: str
    municipality_code: str
    municipality_name: str
    state: RegistrationState
    requested_at: datetime


@dataclass(frozen=True)
class Menu:
    """What the kiosk shows after authentication."""

    offerings: tuple[OfferingView, ...]
    registrations: tuple[RegistrationView, ...]


@dataclass(frozen=True)
class ReserveRequest:
    kind: CertificateKind
    subject_ids: tuple[str, ...]
    include_head_and_relationship: bool = False
    include_honseki: bool = False
    fiscal_year: int | None = None  # tax certificates only
    municipality_code: str = ""  # the offering's issuer; empty: as the desk finds it

    def __post_init__(self) -> None:
        if not self.subject_ids:
            raise InvalidArgument("choose at least one person", field="subject_ids")
        if len(set(self.subject_ids)) != len(self.subject_ids):
            raise InvalidArgument("a person is chosen twice", field="subject_ids")
        if self.include_head_and_relationship and self.kind not in _HOUSEHOLD_KINDS:
            raise InvalidArgument("optional items apply to 住民票 only", field="kind")
        if self.include_honseki and self.kind is not CertificateKind.JUMINHYO:
            raise InvalidArgument("optional items apply to 住民票 only", field="kind")
        if self.kind.is_tax and self.fiscal_year is None:
            raise InvalidArgument("choose the fiscal year (年度)", field="fiscal_year")
        if not self.kind.is_tax and self.fiscal_year is not None:
            raise InvalidArgument("a fiscal year applies to tax certificates", field="fiscal_year")
        if self.municipality_code and not re.fullmatch(r"\d{6}", self.municipality_code):
            raise InvalidArgument(
                "municipality_code is a 6-digit municipality code", field="municipality_code"
            )


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    fee_yen: int
    expires_at: datetime
    channel: Channel = Channel.KIOSK  # where the fee is paid


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
    reception: ReceptionSlip | None = None  # a counter copy: what its 受付票 says
    session_ended: bool = False  # the report was asked to end its session, and did


@dataclass(frozen=True)
class IssuanceSettings:
    reservation_ttl: timedelta = timedelta(minutes=10)
    # A copy handed to the printer and never confirmed is voided after this long.
    printing_ttl: timedelta = timedelta(minutes=15)
    kiosk_hours: DailyHours = NATIONAL_KIOSK_HOURS
    tax_years: TaxYears = KIOSK_TAX_YEARS  # fiscal years of tax certificates issued at kiosks
    # A counter copy (らくらく窓口) nobody collects is voided (no fee) this long after it printed.
    handover_ttl: timedelta = timedelta(hours=4)

    def tax_years_of(self, municipality: Municipality) -> TaxYears:
        """The municipality's own range of tax years, else the center's."""
        return tax_years_setting(municipality, self.tax_years)


def subject_handle(key: bytes, resident_pk: int) -> str:
    """Opaque per-session handle: kiosks never see resident numbers."""
    return hmac.new(key, f"subject:{resident_pk}".encode(), hashlib.sha256).hexdigest()[:24]


def member_handle(key: bytes, municipality_code: str, koseki_id: str, member_no: int) -> str:
    """Opaque per-session handle of a 戸籍 member (who may not live here at all)."""
    text = f"koseki:{municipality_code}:{koseki_id}:{member_no}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:24]


class IssuanceDesk:
    """The issuance domain: pure rules over the database, no gRPC."""

    def __init__(
        self,
        engine: Engine,
        *,
        renderer: Renderer,
        clock: Clock,
        settings: IssuanceSettings | None = None,
        koseki: KosekiServers | None = None,
    ) -> None:
        self._engine = engine
        self._renderer = renderer
        self._clock = clock
        self._settings = settings or IssuanceSettings()
        self._koseki = koseki or KosekiServers.of_bcl(engine)
        # SQLite has one writer at a time: there a copy's data is read after the claim commits,
        # in a read transaction, not while the claim holds the write lock (PostgreSQL locks the
        # row only, so it reads them in the claim's own transaction: one transaction fewer).
        self._copy_apart = engine.dialect.name == "sqlite"

    # -- sessions ---------------------------------------------------------------------------

    def _session(self, db: Session, token: str, kiosk_id: str, now: datetime) -> KioskSession:
        row = db.get(KioskSession, token_digest(token))
        refusal = _session_refusal(row, kiosk_id, now)
        if refusal is not None:
            raise refusal
        assert row is not None
        return row

    def _session_and_me(
        self,
        db: Session,
        token: str,
        kiosk_id: str,
        now: datetime,
        *,
        seal: bool = False,
        menu: bool = False,
    ) -> _Me:
        """The session, its resident and whether 交付抑止 holds for them (with `seal`, whether
        they have an active seal registration; for a `menu`, that and whether they filed any
        本籍地 利用登録), read by one statement."""
        query = _session_and_me_query(seal or menu, menu)
        found = db.execute(query, {"digest": token_digest(token)}).first()
        if found is None:
            sess, me, home, suppressed, sealed, registered = None, None, None, False, False, True
        else:
            sess, me, home, suppressed, sealed, registered = found
        refusal = _session_refusal(sess, kiosk_id, now)
        if refusal is not None:
            raise refusal
        assert sess is not None
        return _me(
            sess.kiosk_id,
            sess.subject_key,
            me,
            home,
            suppressed,
            sealed,
            registered,
            seal=seal or menu,
        )

    def _locked_with_session(
        self,
        db: Session,
        token: str,
        kiosk_id: str,
        issuance_id: str,
        now: datetime,
    ) -> tuple[Issuance | None, DomainError | None]:
        """The issuance row as `locked_issuance` reads it (None: no such row) and what the
        session check says of the token (None: a live session of this kiosk): one statement."""
        digest = token_digest(token)
        found = None
        if _is_uuid(issuance_id):
            params = {"id": issuance_id, "digest": digest}
            found = db.execute(_locked_with_session_query(), params).first()
        if found is None:  # no row to join the session to: read it alone
            return None, _session_refusal(db.get(KioskSession, digest), kiosk_id, now)
        row, sess = found
        return row, _session_refusal(sess, kiosk_id, now)

    def _own_locked(
        self, db: Session, token: str, kiosk_id: str, issuance_id: str, now: datetime
    ) -> Issuance:
        """`_session` then `_own_issuance`, with the same refusals in the same order."""
        row, refusal = self._locked_with_session(db, token, kiosk_id, issuance_id, now)
        if refusal is not None:
            raise refusal
        return _owned(row, issuance_id, token)

    def _terminal(self, db: Session, kiosk_id: str, terminal: Terminal | None) -> Terminal:
        """The terminal the interceptor resolved, else its registry row."""
        if terminal is not None and terminal.kiosk_id == kiosk_id:
            return terminal
        kiosk = db.get(Kiosk, kiosk_id)
        if kiosk is None:
            raise SessionInvalid("the kiosk of this session is no longer registered")
        return Terminal(
            kiosk_id,
            kiosk.terminal_kind == Channel.COUNTER.value,
            kiosk.municipality_code,
            kiosk.operator_id,
        )

    # -- offerings --------------------------------------------------------------------------

    def list_offerings(
        self, token: str, kiosk_id: str, terminal: Terminal | None = None
    ) -> list[OfferingView]:
        return list(self.menu(token, kiosk_id, terminal).offerings)

    def menu(self, token: str, kiosk_id: str, terminal: Terminal | None = None) -> Menu:
        """The offerings of this session's resident, and their 本籍地 registrations."""
        now = self._clock()

        def who(db: Session) -> _Me:
            return self._session_and_me(db, token, kiosk_id, now, menu=True)

        with read_session(self._engine) as db:  # a menu only reads: no write lock
            return self._menu(db, who, now, terminal)

    def menu_of_new_session(self, session: NewSession, terminal: Terminal | None = None) -> Menu:
        """`menu` of a session the caller has just opened (the authentication's answer): its
        row is neither read back nor checked again, only its resident is read."""
        now = self._clock()

        def who(db: Session) -> _Me:
            found = db.execute(_me_query(), {"resident_pk": session.resident_pk}).first()
            me, home, suppressed, sealed, registered = found or (None,) * 5
            return _me(
                session.kiosk_id,
                session.subject_key,
                me,
                home,
                suppressed,
                sealed,
                registered,
                seal=True,
            )

        with read_session(self._engine) as db:
            return self._menu(db, who, now, terminal)

    def _menu(
        self,
        db: Session,
        read_who: Callable[[Session], _Me],
        now: datetime,
        terminal: Terminal | None,
    ) -> Menu:
        """The menu of whom `read_who` reads (again in a second transaction when a 戸籍 server
        is asked between the two)."""
        who = read_who(db)
        if who.suppressed:
            raise NotAvailableHere()
        me = who.me
        # Most residents filed no 利用登録: the read of `who` says so, and none is read.
        registrations = registrations_of(db, _pk(me)) if who.registered else ()
        # Every other municipality the menu names, in one read; held here, so the lookups
        # below (`db.get`) find them in the session instead of reading each again.
        others = {r.honseki_municipality_code for r in registrations} - {me.municipality_code}
        munis = _municipalities(db, sorted(others)) if others else []
        views = tuple(_registration_view(db, r) for r in registrations)
        lookup = plan_lookup(db, me, registrations, self._koseki)
        if not lookup.needed:  # no 戸籍 server to ask: one transaction
            return Menu(self._offerings(db, who, None, now, terminal), views)
        del munis
        db.rollback()  # the 戸籍 server is asked outside any transaction, then `who` anew
        access = resolve(lookup, self._koseki)
        return Menu(self._offerings(db, read_who(db), access, now, terminal), views)

    def _offerings(
        self,
        db: Session,
        who: _Me,
        access: KosekiAccess | None,
        now: datetime,
        terminal: Terminal | None,
    ) -> tuple[OfferingView, ...]:
        me = who.me
        home = db.get(Municipality, me.municipality_code)
        assert home is not None  # the resident's foreign key
        if terminal is not None and terminal.kiosk_id == who.kiosk_id:
            counter_of = terminal.municipality_code if terminal.counter else None
        else:
            counter_of = _counter_municipality(db, who.kiosk_id)
        issuers = {home.code: home}
        if access is not None and access.municipality_code != home.code:
            keeper = db.get(Municipality, access.municipality_code)
            if keeper is not None:  # the 本籍地 offers its 戸籍 certificates, nothing else
                issuers[keeper.code] = keeper
        sources = [
            (issuers[o.municipality_code], o, rule)
            for o, rule in offered_with_availability(db, issuers, now, self._settings.kiosk_hours)
            if o.municipality_code == home.code
            or (_kind(o.kind) is not None and _kind(o.kind) in _KOSEKI_KINDS)
        ]
        tax_years: tuple[int, ...] | None = None
        views = []
        for muni, offer, rule in sorted(sources, key=lambda p: (p[1].kind, p[0].code != home.code)):
            kind = _kind(offer.kind)
            if kind is None or offering_refusal(muni, kind) is not None:
                continue
            if counter_of is not None and muni.code != counter_of:
                continue  # a counter terminal issues only its own municipality's certificates
            if kind.needs_koseki_server and (
                access is None or access.municipality_code != muni.code
            ):
                continue  # not a current member of a 戸籍 this municipality keeps
            years: tuple[int, ...] = ()
            if kind.is_tax:
                if tax_years is None:
                    tax_years = self._tax_years_of(db, me, now)
                years = tax_years
                if not years:
                    continue
            choices = self._choices(db, who, kind, access, listing=True)
            if choices:
                views.append(
                    OfferingView(
                        kind=kind,
                        title=kind.printed_title,
                        fee_yen=offer.fee_yen,
                        subjects=tuple(
                            SubjectView(c.handle, c.display_name, c.is_self) for c in choices
                        ),
                        allows_head_and_relationship=kind in _HOUSEHOLD_KINDS,
                        allows_honseki=kind is CertificateKind.JUMINHYO,
                        availability=rule,
                        municipality_code=muni.code,
                        municipality_name=muni.full_name(),
                        fiscal_years=years,
                    )
                )
        return tuple(views)

    def _choices(
        self,
        db: Session,
        who: _Me,
        kind: CertificateKind,
        access: KosekiAccess | None,
        *,
        listing: bool,
    ) -> list[_Choice]:
        """Whom `me` may choose for `kind`. Listing leaves out the suppressed; a reservation
        gets them too and refuses with "not available here" (suppression is judged apart)."""
        me = who.me
        if kind.needs_koseki_server:
            return self._member_choices(db, who.subject_key, me, kind, access, listing=listing)
        people = _eligible(db, kind, who) if listing else _eligible_all(db, kind, who)
        return [
            _Choice(
                subject_handle(who.subject_key, _pk(r)),
                f"{r.family_name}　{r.given_name}",
                r.id == me.id,
                resident=r,
            )
            for r in people
        ]

    def _member_choices(
        self,
        db: Session,
        subject_key: bytes,
        me: Resident,
        kind: CertificateKind,
        access: KosekiAccess | None,
        *,
        listing: bool,
    ) -> list[_Choice]:
        """全部事項: the requester (the copy shows the whole 戸籍); 個人事項 and 附票: any
        current member. A member who lives in the 本籍地 under suppression is never shown."""
        if access is None:
            return []
        koseki = access.koseki
        linked = _linked_residents(db, access)
        if kind is CertificateKind.KOSEKI_ZENBU:
            if listing and any(is_suppressed(db, r) for r in linked.values()):
                return []
            members = [m for m in koseki.members if m.member_no == access.member_no]
        else:
            members = list(koseki.current_members)
        out = []
        for m in members:
            resident = linked.get(m.member_no)
            if listing and resident is not None and is_suppressed(db, resident):
                continue
            handle = member_handle(
                subject_key, access.municipality_code, koseki.koseki_id, m.member_no
            )
            name = f"{m.family_name}　{m.given_name}"
            self_ = m.member_no == access.member_no
            out.append(_Choice(handle, name, self_, resident=resident, member_no=m.member_no))
        return out

    def _tax_years_of(self, db: Session, me: Resident, now: datetime) -> tuple[int, ...]:
        """The fiscal years in the kiosk range that have a tax record of `me`, newest first."""
        home = db.get(Municipality, me.municipality_code)
        assert home is not None  # the resident's foreign key
        offered = self._settings.tax_years_of(home).offered(now.astimezone(JST).date())
        have = set(
            db.exec(
                select(BclTaxRecord.fiscal_year)
                .where(BclTaxRecord.resident_pk == _pk(me))
                .where(col(BclTaxRecord.fiscal_year).in_(offered))
            ).all()
        )
        return tuple(y for y in offered if y in have)

    # -- 本籍地 利用登録 ---------------------------------------------------------------------

    def request_honseki_registration(
        self, token: str, kiosk_id: str, request: HonsekiRequest
    ) -> RegistrationView:
        """File the resident's 利用登録 with their 本籍地 (or find the one already filed)."""
        now = self._clock()
        with Session(self._engine) as db:
            sess = self._session(db, token, kiosk_id, now)
            me = _get_resident(db, sess.resident_pk)
            if is_suppressed(db, me):
                raise NotAvailableHere()
            row = file_request(db, me, request, kiosk_id=kiosk_id, now=now, servers=self._koseki)
            return _registration_view(db, row)

    # -- reservation ------------------------------------------------------------------------

    def reserve(
        self, token: str, kiosk_id: str, request: ReserveRequest, terminal: Terminal | None = None
    ) -> Reservation:
        now = self._clock()
        lookup: KosekiLookup | None = None
        access: KosekiAccess | None = None
        if request.kind.needs_koseki_server:
            with read_session(self._engine) as db:
                sess = self._session(db, token, kiosk_id, now)
                me = _get_resident(db, sess.resident_pk)
                lookup = plan_lookup(db, me, registrations_of(db, _pk(me)), self._koseki)
            access = resolve(lookup, self._koseki)  # the 戸籍 server, outside any transaction
        # Not expired on commit: the answer is read from the row just written, not reloaded.
        with write_session(self._engine, expire_on_commit=False) as db:
            who = self._session_and_me(
                db, token, kiosk_id, now, seal=request.kind is CertificateKind.INKAN
            )
            me = who.me
            kiosk = self._terminal(db, kiosk_id, terminal)
            issuer = _issuer(db, me, request, access, lookup)
            if kiosk.counter and issuer.code != kiosk.municipality_code:
                raise CounterOtherMunicipality(
                    "this counter terminal issues only its own municipality's certificates;"
                    " use a kiosk, or the counter of the municipality that issues it"
                )
            # The enabled offering with its hours and suspensions, in one read.
            offered = offered_with_availability(
                db, [issuer.code], now, self._settings.kiosk_hours, kind=request.kind.value
            )
            if not offered or request.kind not in ISSUABLE:
                raise NotEligible(f"{request.kind.printed_title} is not offered here")
            offer, rule = offered[0]
            check_offering_allowed(issuer, request.kind)  # BCL and 記載事項; no 戸籍 server
            if not rule.available:
                raise ServiceNotAvailable(rule)
            eligible = {
                c.handle: c for c in self._choices(db, who, request.kind, access, listing=False)
            }
            chosen: list[_Choice] = []
            for sid in request.subject_ids:
                choice = eligible.get(sid)
                if choice is None:
                    raise NotEligible("you may not obtain this certificate for that person")
                chosen.append(choice)
            persons = [c.resident for c in chosen if c.resident is not None]
            if who.suppressed_among(db, [me, *persons]):  # at most one read for all of them
                raise NotAvailableHere()
            if request.kind is CertificateKind.INKAN and not who.has_active_seal(db):
                raise NotEligible("no active seal registration")
            detail = self._detail(db, me, request, access, chosen, now)
            if request.kind.needs_koseki_server:
                # The requester first, then the members on the copy who live here (the members
                # themselves are in the detail): Issue and the clerk's hand-over check 交付抑止
                # of each of them, as of one's household on a 住民票.
                assert access is not None and detail is not None
                linked = _linked_residents(db, access)
                on_copy = (linked.get(int(n)) for n in detail.member_nos.split(","))
                pks = dict.fromkeys([_pk(me), *(_pk(r) for r in on_copy if r is not None)])
                subject_pks = ",".join(str(pk) for pk in pks)
            else:
                subject_pks = ",".join(str(_pk(c.resident)) for c in chosen if c.resident)
            issuance_id = str(uuid.uuid4())
            channel = Channel.COUNTER if kiosk.counter else Channel.KIOSK
            expires_at = now + self._settings.reservation_ttl
            row = {
                "id": issuance_id,
                "state": IssuanceState.RESERVED.value,
                "kind": request.kind.value,
                "requester_pk": _pk(me),
                "subject_pks": subject_pks,
                "include_head_and_relationship": request.include_head_and_relationship,
                "include_honseki": request.include_honseki,
                "municipality_code": issuer.code,
                "kiosk_id": kiosk_id,
                "operator_id": kiosk.operator_id,
                "kiosk_municipality_code": kiosk.municipality_code,
                "session_token_sha256": token_digest(token),
                "fee_yen": offer.fee_yen,
                "channel": channel.value,
                "reserved_at": now,
                "expires_at": expires_at,
            }
            # One INSERT built once, on the session's connection: an ORM object's unit-of-work
            # flush cost more than the rest of the reservation.
            db.connection().execute(_reserve_statement(), row)
            if detail is not None:  # flushed at the commit, after the row it refers to
                detail.issuance_id = issuance_id
                db.add(detail)
            audited = _AuditedCopy(issuance_id, issuer.code, request.kind.value, channel.value)
            fee = {"fee_yen": str(offer.fee_yen)}
            _audit_issuance(db, audited, "reserved", kiosk_id, now, fee)
            db.commit()
            return Reservation(issuance_id, offer.fee_yen, expires_at, channel)

    def _detail(
        self,
        db: Session,
        me: Resident,
        request: ReserveRequest,
        access: KosekiAccess | None,
        chosen: Sequence[_Choice],
        now: datetime,
    ) -> IssuanceDetail | None:
        """The fiscal year of a tax certificate, or the 戸籍 and members of a 戸籍 one."""
        if request.kind.is_tax:
            year = request.fiscal_year
            assert year is not None  # ReserveRequest checks it
            home = db.get(Municipality, me.municipality_code)
            assert home is not None  # the resident's foreign key
            self._settings.tax_years_of(home).check(year, now.astimezone(JST).date())
            if _tax_row(db, _pk(me), year) is None:
                raise NoTaxRecord(
                    f"there is no tax record of {fiscal_year_label(year)} for you;"
                    " ask the municipality's counter",
                    metadata={"fiscal_year": str(year)},
                )
            return IssuanceDetail(issuance_id="", fiscal_year=year)
        if not request.kind.needs_koseki_server:
            return None
        assert access is not None  # `_issuer` refused otherwise
        koseki = access.koseki
        if request.kind is CertificateKind.KOSEKI_ZENBU:
            if any(is_suppressed(db, r) for r in _linked_residents(db, access).values()):
                raise NotAvailableHere()
            numbers = [m.member_no for m in koseki.members]
        else:
            numbers = [c.member_no for c in chosen if c.member_no is not None]
        return IssuanceDetail(
            issuance_id="",
            koseki_id=koseki.koseki_id,
            requester_member_no=access.member_no,
            member_nos=",".join(str(n) for n in numbers),
        )

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
        digest = token_digest(token)
        # A Core connection, not a Session: the claim's statements are built once and read
        # only the columns it needs; the audit entry is appended last, before the commit.
        with self._engine.connect() as conn:
            # The session, the locked row, whether the key is another copy's and the
            # municipality that certifies the copy (for its document): one read.
            found = None
            if _is_uuid(reservation_id):
                params = {"id": reservation_id, "digest": digest, "key": idempotency_key}
                found = conn.execute(_claim_read_query(), params).first()
            if found is None:  # no row to join the session to: read it alone
                alone = conn.execute(_session_state_query(), {"digest": digest}).first()
                refusal = _session_refusal(
                    _SessionState(*alone) if alone is not None else None, kiosk_id, now
                )
                if refusal is not None:
                    raise refusal
                _owned(None, reservation_id, token)  # raises: no such reservation
            assert found is not None
            sess = _SessionState(*found[-3:]) if found.s_known else None
            refusal = _session_refusal(sess, kiosk_id, now)
            if refusal is not None:
                raise refusal
            row = _owned(_ClaimedCopy(*found[: len(_COPY_COLUMNS)]), reservation_id, token)
            if row.idempotency_key is not None and row.idempotency_key != idempotency_key:
                raise PrintingUnderAnotherKey(
                    "this reservation is already being printed under another request"
                )
            if row.idempotency_key is None and found.taken:
                raise IdempotencyKeyReused("this idempotency key belongs to another copy")
            state = IssuanceState(row.state)
            # The persons on the copy with their 交付抑止, the requester and the household the
            # copy shows (its head and size): one read, and the copy needs them too.
            subjects: list[sa.Row[Any]] = []
            household: list[sa.Row[Any]] | None = None
            if state in (IssuanceState.RESERVED, IssuanceState.PRINTING):
                subjects, blocked, household = _subjects(conn, row)
                if blocked:
                    # Suppression set after the reservation stops issuance at once, also a
                    # retry of a copy rendered before it that the kiosk has not printed.
                    self._move_locked(conn, row.id, IssuanceEvent.CANCEL, now, "suppressed")
                    raise NotAvailableHere()
            claimed = state is IssuanceState.RESERVED
            if claimed:
                if now >= row.expires_at:
                    reason = "reservation expired"
                    self._move_locked(conn, row.id, IssuanceEvent.EXPIRE, now, reason)
                    raise ReservationExpired("the reservation has expired; choose again")
                row = self._claim(conn, row, idempotency_key, printer_id, now)
            elif state is not IssuanceState.PRINTING:
                raise AlreadyFinal(f"this copy is already {row.state}")
            # What the copy needs: read in the claim's own transaction, or (SQLite) after it.
            issuer = municipality_profile(found)  # its columns, by name
            try:
                plan = self._copy_plan(conn, row, subjects, issuer, household)
            except DomainError:
                _commit_claim(conn, row, claimed, now)  # the claim stands, as when read apart
                raise
            _commit_claim(conn, row, claimed, now)
        return plan if isinstance(plan, IssuedCopy) else self._render(plan)

    def _move_locked(
        self, conn: sa.Connection, issuance_id: str, event: IssuanceEvent, now: datetime, why: str
    ) -> None:
        """Move the copy the claim's read locked by `event` (not a claim), and commit: a rare
        move, made through a session in the same transaction (`apply_event`)."""
        with Session(bind=conn) as db:
            orm_row = locked_issuance(db, issuance_id)
            assert orm_row is not None  # locked by this transaction
            self._transition(db, orm_row, event, now, why)
            db.commit()  # writes the audit entry; the connection's transaction is ours
        conn.commit()

    def _claim(
        self, conn: sa.Connection, row: _ClaimedCopy, key: str, printer_id: str, now: datetime
    ) -> _ClaimedCopy:
        """RESERVED → PRINTING, with the issue number allocated: the row as the claim left it
        (the caller appends its audit entry and commits)."""
        seq = _next_sequence(conn, now, row.municipality_code, row.kiosk_id)
        number = IssueNumber(
            issue_date=now.astimezone(JST).date(),
            municipality_code=row.municipality_code,
            terminal_id=row.kiosk_id,
            printer_id=printer_id,
            sequence=seq,
        )
        issue_number = number.format()
        claim = {
            "c_id": row.id,
            "c_key": key,
            "c_printer": printer_id,
            "c_number": issue_number,
            "c_at": now,
        }
        try:
            claimed = conn.execute(_claim_statement(), claim)
        except IntegrityError as exc:  # the key was just taken for another copy
            conn.rollback()
            raise IdempotencyKeyReused("this idempotency key belongs to another copy") from exc
        if claimed.rowcount != 1:
            conn.rollback()
            raise FailedPrecondition("this reservation changed meanwhile; retry with the same key")
        reason = "fee due at the counter" if row.channel == Channel.COUNTER else "fee paid"
        conn.execute(
            _transition_statement(),
            {
                "t_id": row.id,
                "t_from": IssuanceState.RESERVED.value,
                "t_to": IssuanceState.PRINTING.value,
                "t_at": now,
                "t_why": reason,
            },
        )
        return replace(
            row,
            state=IssuanceState.PRINTING.value,
            idempotency_key=key,
            issue_number=issue_number,
            printing_started_at=now,
        )

    def _copy_plan(
        self,
        db: Session | sa.Connection,
        row: Issuance | _ClaimedCopy,
        read: Sequence[_Person] = (),
        issuer: MunicipalityProfile | None = None,
        household: Sequence[_Person] | None = None,
    ) -> IssuedCopy | _CopyPlan:
        """A PRINTING copy's stored PDF, or what rendering it needs, read in `db`'s transaction
        (`read`: residents this transaction read already, `household` the requester's; `issuer`,
        the copy's municipality likewise)."""
        assert row.issue_number is not None and row.printing_started_at is not None
        if row.pdf is not None and row.pdf_sha256 is not None and row.page_count is not None:
            return IssuedCopy(
                row.id, row.issue_number, row.page_count, row.pdf, row.pdf_sha256, row.fee_yen
            )
        kind = CertificateKind(row.kind)
        koseki = kind.needs_koseki_server
        # Read apart by `_render` once the claim has committed; or read already (a 住民票:
        # its persons and household), made by `_render` outside any transaction.
        if (self._copy_apart and not koseki) or _read_whole(kind, household):
            held = tuple(household) if household is not None else None
            return _CopyPlan(
                row.id,
                row.printing_started_at,
                row.fee_yen,
                None,
                None,
                row,
                tuple(read),
                issuer,
                held,
            )
        # The ORM reads of a copy's data, in the same transaction as a Core connection's.
        with _session_on(db) as session:
            if koseki:
                requester = _get_resident(session, row.requester_pk)
                registrations = registrations_of(session, row.requester_pk)
                lookup = plan_lookup(session, requester, registrations, self._koseki)
                return _CopyPlan(row.id, row.printing_started_at, row.fee_yen, None, lookup)
            document = self._document(session, row, None, read, issuer, household)
        return _CopyPlan(row.id, row.printing_started_at, row.fee_yen, document, None)

    def _render(self, plan: _CopyPlan) -> IssuedCopy:
        """Render a copy (first request; a retry gets the stored bytes) and store it."""
        issuance_id = plan.issuance_id
        doc = plan.document
        if doc is None and plan.row is not None:
            # The claimed row as the claim left it (its number and date), and the persons it
            # read with their 交付抑止; the rest of the copy read now, without the write lock.
            held = plan.household
            if _read_whole(CertificateKind(plan.row.kind), held):
                doc = self._document(None, plan.row, None, plan.read, plan.issuer, held)
            else:
                with read_session(self._engine) as db:
                    doc = self._document(db, plan.row, None, plan.read, plan.issuer, held)
        elif doc is None:
            assert plan.lookup is not None
            # The 戸籍 as its server has it now, asked outside any transaction.
            access = resolve(plan.lookup, self._koseki)
            with read_session(self._engine) as db:
                row = db.get(Issuance, issuance_id)
                assert row is not None
                doc = self._document(db, row, access)
                assert doc.koseki is not None and access is not None  # a 戸籍 plan has both
                linked = _linked_residents(db, access)
                on_copy = [linked[n] for n in doc.koseki.subjects if n in linked]
                withheld = bool(suppressed_among(db, on_copy))
            if withheld:  # 交付抑止 set for a member on the copy since the reservation
                self._void_unprinted(issuance_id, "suppressed")
                raise NotAvailableHere()
        # Render outside any transaction: it is the slow part and holds no lock.
        pdf = self._renderer.render(doc, created_at=plan.printing_started_at)
        pages = pdf_page_count(pdf)
        digest = hashlib.sha256(pdf).digest()
        fee = plan.fee_yen
        params = {"b_id": issuance_id, "b_pdf": pdf, "b_sha256": digest, "b_pages": pages}
        # One UPDATE on a Core connection: an ORM session around it cost more than running it.
        with self._engine.begin() as conn:
            # The first rendering stored is the copy: a retry with the same key that rendered
            # at the same time (the seal signature differs each time) answers with those bytes.
            stored = conn.execute(_store_copy_statement(), params)
            if stored.rowcount != 1:
                with Session(bind=conn) as db:  # in the same transaction
                    row = db.get(Issuance, issuance_id)
                    assert row is not None
                    printing = row.state == IssuanceState.PRINTING
                    first = self._copy_plan(db, row) if printing else None
                    if not isinstance(first, IssuedCopy):  # reported meanwhile: printed or void
                        raise AlreadyFinal(f"this copy is already {row.state}")
                    return first
        return IssuedCopy(issuance_id, doc.issue_number.format(), pages, pdf, digest, fee)

    def _void_unprinted(self, issuance_id: str, reason: str) -> None:
        """Void a claimed copy that is not to be handed out (nothing printed; a kiosk's fee
        is refunded as for any void from PRINTING)."""
        now = self._clock()
        with write_session(self._engine) as db:
            row = locked_issuance(db, issuance_id)
            if row is not None and IssuanceState(row.state) is IssuanceState.PRINTING:
                self._transition(db, row, IssuanceEvent.CANCEL, now, reason)
                db.commit()

    def _document(
        self,
        db: Session | None,
        row: Issuance | _ClaimedCopy,
        access: KosekiAccess | None,
        read: Sequence[_Person] = (),
        issuer: MunicipalityProfile | None = None,
        household: Sequence[_Person] | None = None,
    ) -> CertificateDocument:
        """The copy's document: what `read`, `issuer` and `household` (the requester's, as
        `_subjects` reads it) do not hold is read in `db` (None: they hold all of it)."""
        kind = CertificateKind(row.kind)
        if issuer is None:  # else the municipality as the claim read it (not read again)
            assert db is not None
            muni_row = db.get(Municipality, row.municipality_code)
            assert muni_row is not None
            issuer = municipality_profile(muni_row)
        known = {r.id: r for r in read}  # read in this transaction: not read again

        def resident(pk: int) -> _Person:
            if pk not in known:
                assert db is not None
                return _get_resident(db, pk)
            person = known[pk]
            if person.removed_on is not None:  # as `_get_resident`
                raise SessionInvalid("the resident of this session is no longer registered here")
            return person

        # A 戸籍 copy names its requester; its members (in `subject_pks` too) are in the 戸籍.
        pks = [row.requester_pk] if kind.needs_koseki_server else row.subject_pks.split(",")
        persons = tuple(_record(resident(int(pk))) for pk in pks)
        requester = resident(row.requester_pk)
        head: ResidentRecord | None = None
        size = 0
        seal = None
        tax = None
        koseki = None
        if kind in _HOUSEHOLD_KINDS or kind is CertificateKind.INKAN:
            if household is None:  # not read with the claim (`_subjects`): read it now
                assert db is not None
                household = _household(db, requester)
            head = next((_record(r) for r in household if r.is_household_head), None)
            size = len(household)
        if kind is CertificateKind.INKAN:
            assert db is not None
            seal_row = _active_seal(db, row.requester_pk)
            if seal_row is None:
                raise NotEligible("the seal registration is no longer active")
            seal = seal_record(seal_row, requester.resident_id)
        detail = None
        if kind.is_tax or kind.needs_koseki_server:
            assert db is not None
            detail = db.get(IssuanceDetail, row.id)
        if kind.is_tax:
            assert detail is not None and detail.fiscal_year is not None
            assert db is not None
            tax_row = _tax_row(db, row.requester_pk, detail.fiscal_year)
            if tax_row is None:  # a new upload took it away since the reservation
                raise NoTaxRecord(f"there is no tax record of {detail.fiscal_year} any more")
            tax = tax_record(tax_row, requester.resident_id)
        if kind.needs_koseki_server:
            assert detail is not None
            koseki = _extract(kind, row, detail, access)
        assert row.printing_started_at is not None and row.issue_number is not None
        return CertificateDocument(
            kind=kind,
            municipality=issuer,
            issued_on=row.printing_started_at.astimezone(JST).date(),
            issue_number=IssueNumber.parse(row.issue_number),
            persons=persons,
            options=JuminhyoOptions(
                show_head_and_relationship=row.include_head_and_relationship,
                show_honseki=row.include_honseki,
            ),
            household_head=head,
            household_size=size,
            seal=seal,
            tax=tax,
            koseki=koseki,
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
        end_session: bool = False,
    ) -> PrintReport:
        """The kiosk's word on a copy handed out for printing. With `end_session`, an accepted
        report (a retried one too) also ends its session, in the report's own transaction: one
        write transaction (SQLite: one turn of the writer lock) instead of two; a refused one
        leaves the session as it was. A session ended already stays ended."""
        now = self._clock()
        with Session(self._engine) as db:
            row, terms = self._reported_issuance(db, token, kiosk_id, issuance_id, now)
            state = IssuanceState(row.state)
            channel = Channel(row.channel)
            if printed:  # a counter copy waits for the clerk, and may be handed over already
                done = {IssuanceState.ISSUED}
                if channel is Channel.COUNTER:
                    done.add(IssuanceState.AWAITING_HANDOVER)
            else:
                done = {IssuanceState.VOIDED}
            if state in done:  # a retried report: answer the same, change nothing else
                report = self._report(db, row)
                if end_session:
                    report = _ended(db, token, now, report)
                    db.commit()
                return report
            if printed and row.page_count is None:
                raise FailedPrecondition("this copy was never handed out for printing")
            if printed and pages_printed != row.page_count:
                raise InvalidArgument(
                    f"a whole copy has {row.page_count} pages, {pages_printed} reported printed",
                    field="pages_printed",
                )
            event = printed_event(channel) if printed else IssuanceEvent.PRINT_FAILED
            settled = apply_event(
                db, row, event, now, failure_reason or ("printed" if printed else ""), terms=terms
            )
            if IssuanceState(row.state) is IssuanceState.AWAITING_HANDOVER:
                sequence = _next_sequence(db, now, row.municipality_code, RECEPTION_SEQUENCE)
                open_reception(
                    db, row, sequence=sequence, now=now, collect_within=self._settings.handover_ttl
                )
            report = self._report(db, row, settled)  # in this transaction: no second one
            if end_session:
                report = _ended(db, token, now, report)
            db.commit()
            return report

    def _reported_issuance(
        self, db: Session, token: str, kiosk_id: str, issuance_id: str, now: datetime
    ) -> tuple[_ReportedCopy, PostingTerms | None]:
        """The copy a print report is about, under a live session or a lapsed one, with what
        posting it needs of its municipality (read with it).

        A copy may print just as the session lapses, or the center may be away until after it
        did: the kiosk that holds the token the copy was issued under may still report it until
        the printing deadline (the sweeper voids it after that), so a copy lying in the tray is
        charged rather than voided. Outside that window the session's own refusal stands.
        """
        # The session, the locked row's columns and its municipality's posting terms in one
        # read; the refusals as `_session` gives them.
        digest = token_digest(token)
        conn = db.connection()
        found = None
        if _is_uuid(issuance_id):
            found = conn.execute(_reported_query(), {"id": issuance_id, "digest": digest}).first()
        row: _ReportedCopy | None = None
        terms: PostingTerms | None = None
        if found is None:  # no row to join the session to: read it alone
            alone = conn.execute(_session_state_query(), {"digest": digest}).first()
            sess = _SessionState(*alone) if alone is not None else None
        else:
            n = len(_REPORTED_COLUMNS)
            row = _ReportedCopy(*found[:n])
            sess = _SessionState(*found[n + 1 : n + 4]) if found.s_known else None
            terms = posting_terms(found[n + 4 :])
        refusal = _session_refusal(sess, kiosk_id, now)
        if isinstance(refusal, (SessionExpired, SessionInvalid)):
            lapsed = refusal
            # Bound by the issuance row itself: the token's digest and the kiosk it printed on.
            started = row.printing_started_at if row is not None else None
            if (
                row is None
                or started is None
                or row.session_token_sha256 != token_digest(token)
                or row.kiosk_id != kiosk_id
                or now >= started + self._settings.printing_ttl
            ):
                raise lapsed from None
            return row, terms
        if refusal is not None:
            raise refusal
        return _owned(row, issuance_id, token), terms

    def cancel(self, token: str, kiosk_id: str, reservation_id: str) -> IssuanceState:
        now = self._clock()
        with Session(self._engine) as db:
            row = self._own_locked(db, token, kiosk_id, reservation_id, now)
            if IssuanceState(row.state) is IssuanceState.VOIDED:
                return IssuanceState.VOIDED
            self._transition(db, row, IssuanceEvent.CANCEL, now, "cancelled at the kiosk")
            db.commit()
            return IssuanceState(row.state)

    def void_expired(self) -> int:
        """Void every reservation and unconfirmed print past its time. Returns how many."""
        now = self._clock()
        # A sweep is idempotent: one the database refused over a concurrent change runs again.
        return retry_on_conflict(lambda: self._sweep(now))

    def _sweep(self, now: datetime) -> int:
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
                # A copy a kiosk or clerk is moving right now is theirs; a later sweep gets it
                # if it is still stale. Locked rows are re-read, so a row just reported is gone.
                .with_for_update(skip_locked=True)
            ).all()
            for row in stale:
                self._transition(db, row, IssuanceEvent.EXPIRE, now, "timed out")
                voided += 1
            uncollected = db.exec(
                select(Issuance)
                .join(CounterReception, col(CounterReception.issuance_id) == col(Issuance.id))
                .where(col(Issuance.state) == IssuanceState.AWAITING_HANDOVER.value)
                .where(col(CounterReception.collect_by) <= now)
                .with_for_update(skip_locked=True, of=Issuance)
            ).all()
            for row in uncollected:  # never handed over at the counter: void, no fee
                self._transition(db, row, IssuanceEvent.EXPIRE, now, "not collected at the counter")
                voided += 1
            db.commit()
        return voided

    # -- internals --------------------------------------------------------------------------

    def _own_issuance(self, db: Session, issuance_id: str, token: str) -> Issuance:
        if not _is_uuid(issuance_id):
            raise InvalidArgument("not a reservation id", field="reservation_id")
        row = locked_issuance(db, issuance_id)
        digest = token_digest(token)
        if row is None or row.session_token_sha256 != digest:
            raise ReservationNotFound("no such reservation in this session")
        return row

    def _transition(
        self, db: Session, row: Issuance, event: IssuanceEvent, now: datetime, reason: str
    ) -> SettlementEntry | None:
        return apply_event(db, row, event, now, reason)

    def _report(
        self, db: Session, row: _ReportedCopy, settled: SettlementEntry | None = None
    ) -> PrintReport:
        charged = 0
        if settled is not None:  # posted by this transaction: no need to read it back
            charged = settled.fee_yen
        elif IssuanceState(row.state) is IssuanceState.ISSUED:
            charged = db.exec(
                select(SettlementEntry.fee_yen).where(SettlementEntry.issuance_id == row.id)
            ).one()
        reception = reception_of(db, row.id) if row.channel == Channel.COUNTER.value else None
        return PrintReport(
            IssuanceState(row.state),
            row.issue_number or "",
            charged,
            slip_for(db, reception, row) if reception is not None else None,
        )


def _ended(db: Session, token: str, now: datetime, report: PrintReport) -> PrintReport:
    """`report`, its session ended in the caller's transaction as EndSession ends one (an
    ended session keeps its time)."""
    db.connection().execute(END_SESSION, {"digest": token_digest(token), "now": now})
    return replace(report, session_ended=True)


def locked_issuance(db: Session, issuance_id: str) -> Issuance | None:
    """The issuance row, locked until the caller's transaction ends, as it is now.

    Every move of a copy decides from the state it reads: two moves at once (a retried report,
    a cancel, the sweeper) must not both decide from the same old state, or both would post.
    On PostgreSQL the second waits for the first and then reads what it committed; on SQLite
    the write transaction (BEGIN IMMEDIATE) already serializes them and FOR UPDATE is not
    rendered."""
    return db.get(Issuance, issuance_id, with_for_update=True, populate_existing=True)


def apply_event(
    db: Session,
    row: Issuance | _ReportedCopy,
    event: IssuanceEvent,
    now: datetime,
    reason: str,
    *,
    actor: str | None = None,
    terms: PostingTerms | None = None,
) -> SettlementEntry | None:
    """Move `row` by `event` through the state table, in the caller's transaction: the
    transition log, and the money (settlement entry, or void log) that goes with the move.
    `actor` is who moved it when not the terminal or the center (a clerk at the counter);
    `terms`, what posting needs of its municipality if the caller read it in this transaction.
    Returns the settlement entry when the move issued the copy."""
    old = IssuanceState(row.state)
    new = next_state(old, event)
    finished = now if new in (IssuanceState.ISSUED, IssuanceState.VOIDED) else None
    void_reason = (reason or event.value) if new is IssuanceState.VOIDED else row.void_reason
    # The move and its line in the transition log by two statements built once, on the
    # session's connection; the session's row is set to match without being marked changed
    # (a unit-of-work flush of the two cost more than the rest of the move).
    drop_pdf = new is not IssuanceState.PRINTING  # no personal data kept once printed or final
    conn = db.connection()
    conn.execute(
        _move_statement(drop_pdf),
        {"m_id": row.id, "m_state": new.value, "m_finished": finished, "m_void": void_reason},
    )
    conn.execute(
        _transition_statement(),
        {"t_id": row.id, "t_from": old.value, "t_to": new.value, "t_at": now, "t_why": reason},
    )
    if isinstance(row, Issuance):
        set_committed_value(row, "state", new.value)
        set_committed_value(row, "finished_at", finished)
        set_committed_value(row, "void_reason", void_reason)
        if drop_pdf:
            set_committed_value(row, "pdf", None)
    else:  # columns read without the ORM (a print report's): what is read of them after
        row.state = new.value
        row.void_reason = void_reason
    settled = None
    if new is IssuanceState.ISSUED:  # the register row and the journal entry
        settled = post_issued_copy(db, row, now, terms)
    elif new is IssuanceState.VOIDED:  # the void log only: a void costs nothing
        record_voided_copy(db, row, now, from_state=old.value)
    if actor is None:
        actor = "center" if event is IssuanceEvent.EXPIRE else row.kiosk_id
    _audit_issuance(db, row, new.value, actor, now, {"from": old.value, "reason": reason[:200]})
    return settled


@dataclass(frozen=True)
class _AuditedCopy:
    """What an audit entry says of a copy besides its move (`_audit_issuance`)."""

    id: str
    municipality_code: str
    kind: str
    channel: str


def _audit_issuance(
    db: Session | sa.Connection,
    row: Issuance | _ClaimedCopy | _AuditedCopy | _ReportedCopy,
    state: str,
    actor: str,
    now: datetime,
    details: dict[str, str],
) -> None:
    """Every move of a copy in the audit log: the copy's id, never whose it is."""
    audit.append(
        db,
        event=f"issuance.{state}",
        actor=actor,
        subject=row.id,
        municipality_code=row.municipality_code,
        details={"kind": row.kind, "channel": row.channel, **details},
        at=now,
    )


@dataclass(frozen=True)
class _CopyPlan:
    """What rendering a claimed copy needs: its document, the 戸籍 lookup to make it, or (read
    apart, on SQLite) the claimed row to read it from."""

    issuance_id: str
    printing_started_at: datetime
    fee_yen: int
    document: CertificateDocument | None
    lookup: KosekiLookup | None
    row: Issuance | _ClaimedCopy | None = None  # read apart (SQLite): the claimed row
    read: tuple[_Person, ...] = ()  # and the persons the claim read
    issuer: MunicipalityProfile | None = None  # and the municipality it read
    household: tuple[_Person, ...] | None = None  # and the requester's household, if it read it


@dataclass(frozen=True)
class _Choice:
    """One person the resident may choose: a resident here, or a member of their 戸籍."""

    handle: str  # what the kiosk sends back (`subject_handle` / `member_handle`)
    display_name: str
    is_self: bool
    resident: _Person | None = None  # for suppression; a 戸籍 member may live elsewhere
    member_no: int | None = None  # 戸籍 certificates


_KOSEKI_KINDS = frozenset(k for k in CertificateKind if k.needs_koseki_server)

# A resident as a copy's document reads it: the ORM row, or the columns of a Core read.
_Person = Resident | sa.Row[Any]
_Owned = TypeVar("_Owned", Issuance, "_ClaimedCopy", "_ReportedCopy")


_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_XREF_HEAD = re.compile(rb"xref\s+0 (\d+)\s+")
_ROOT = re.compile(rb"/Root (\d+) 0 R")
_PAGES = re.compile(rb"/Pages (\d+) 0 R")
_COUNT = re.compile(rb"/Count (\d+)")
_XREF_ENTRY = 20  # bytes: "oooooooooo ggggg n\r\n" (PDF 1.7, 7.5.4)


def pdf_page_count(pdf: bytes) -> int:
    """The page count of a rendered copy, read from its page tree by the cross-reference table
    (trailer → catalogue → root Pages → /Count): tens of microseconds where parsing the whole
    file (pypdf) took some 300. A file not laid out that way (a cross-reference stream, an
    incremental update, a catalogue or page tree it cannot read) is counted by pypdf."""
    try:
        tail = _STARTXREF.search(pdf, max(0, len(pdf) - 64))
        xref = _XREF_HEAD.match(pdf, int(tail[1])) if tail else None
        trailer = pdf.find(b"trailer", xref.end()) if xref else -1
        root = _ROOT.search(pdf, trailer) if xref and trailer > 0 else None
        catalogue = _object(pdf, xref, int(root[1])) if xref and root else None
        pages = _PAGES.search(catalogue) if catalogue else None
        tree = _object(pdf, xref, int(pages[1])) if xref and pages else None
        count = _COUNT.search(tree) if tree and b"/Type /Pages" in tree else None
        if count is not None:
            return int(count[1])
    except (ValueError, IndexError):
        pass
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _object(pdf: bytes, xref: re.Match[bytes], number: int) -> bytes | None:
    """The text of object `number` (generation 0, in use) between `obj` and `endobj`."""
    if not 0 < number < int(xref[1]):
        return None
    entry = pdf[xref.end() + number * _XREF_ENTRY : xref.end() + (number + 1) * _XREF_ENTRY]
    if len(entry) != _XREF_ENTRY or entry[11:18] != b"00000 n":
        return None
    start = int(entry[:10])
    head = f"{number} 0 obj".encode("ascii")
    if not pdf.startswith(head, start):
        return None
    end = pdf.find(b"endobj", start)
    return pdf[start + len(head) : end] if end > 0 else None


def _counter_municipality(db: Session, terminal_id: str) -> str | None:
    """Where a counter terminal stands (it issues only that municipality's certificates), or
    None for a kiosk."""
    terminal = db.get(Kiosk, terminal_id)
    if terminal is None or terminal.terminal_kind != Channel.COUNTER.value:
        return None
    return terminal.municipality_code


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _kind(value: str) -> CertificateKind | None:
    try:
        return CertificateKind(value)
    except ValueError:
        return None


def _issuer(
    db: Session,
    me: Resident,
    request: ReserveRequest,
    access: KosekiAccess | None,
    lookup: KosekiLookup | None,
) -> Municipality:
    """The municipality that certifies the copy: the 本籍地 for its 戸籍, else where one lives.

    For a 戸籍 certificate the resident cannot have, the most specific reason is given: the
    本籍地 has not decided the 利用登録 yet, the municipality has no 戸籍 server, or the
    resident is not a current member of a 戸籍 it keeps."""
    home = db.get(Municipality, me.municipality_code)
    assert home is not None  # the resident's foreign key
    wanted = request.municipality_code
    title = request.kind.printed_title
    if not request.kind.needs_koseki_server:
        if wanted and wanted != home.code:
            raise NotEligible(f"{title} is issued by the municipality you live in")
        return home
    if access is not None and wanted in ("", access.municipality_code):
        keeper = db.get(Municipality, access.municipality_code)
        if keeper is not None:
            return keeper
    pending = lookup.pending if lookup is not None else ()
    if (wanted and wanted in pending) or (not wanted and pending):
        raise HonsekiRegistrationPending(
            "the 本籍地 has not yet linked your registration to a 戸籍; try again later"
        )
    muni = db.get(Municipality, wanted or home.code)
    if muni is not None:
        check_offering_allowed(muni, request.kind)  # e.g. no 戸籍 server declared
    raise NotEligible(f"you are not a current member of a 戸籍 kept here ({title})")


def _linked_residents(db: Session, access: KosekiAccess) -> dict[int, Resident]:
    """Members of the 戸籍 who live in the municipality that keeps it, by 順位."""
    ids = {m.resident_id: m.member_no for m in access.koseki.members if m.resident_id}
    if not ids:
        return {}
    rows = db.exec(
        select(Resident)
        .where(Resident.municipality_code == access.municipality_code)
        .where(col(Resident.resident_id).in_(list(ids)))
    ).all()
    return {ids[r.resident_id]: r for r in rows}


def _extract(
    kind: CertificateKind,
    row: Issuance | _ClaimedCopy,
    detail: IssuanceDetail,
    access: KosekiAccess | None,
) -> KosekiExtract:
    """The 戸籍 as it is now, for the members reserved; refused if the requester left it."""
    if (
        access is None
        or access.municipality_code != row.municipality_code
        or access.koseki.koseki_id != detail.koseki_id
        or access.member_no != detail.requester_member_no
    ):
        raise NotEligible("you are no longer a current member of this 戸籍")
    koseki = access.koseki
    if kind is CertificateKind.KOSEKI_ZENBU:
        numbers = tuple(m.member_no for m in koseki.members)  # whoever it holds today
    else:
        numbers = tuple(int(n) for n in detail.member_nos.split(","))
        if not all(koseki.is_current_member(n) for n in numbers):
            raise NotEligible("a member chosen has left this 戸籍 since the reservation")
    return KosekiExtract(koseki, access.member_no, numbers)


def _tax_row(db: Session, resident_pk: int, fiscal_year: int) -> BclTaxRecord | None:
    params = {"resident_pk": resident_pk, "fiscal_year": fiscal_year}
    return db.exec(_tax_row_query(), params=params).first()


@cache
def _tax_row_query() -> SelectOfScalar[BclTaxRecord]:
    """A resident's (`resident_pk`) tax record of one fiscal year (`fiscal_year`)."""
    return (
        select(BclTaxRecord)
        .where(col(BclTaxRecord.resident_pk) == bindparam("resident_pk"))
        .where(col(BclTaxRecord.fiscal_year) == bindparam("fiscal_year"))
    )


def tax_record(row: BclTaxRecord, resident_id: str) -> TaxRecord:
    return TaxRecord(
        resident_id=resident_id,
        fiscal_year=row.fiscal_year,
        salary_income=row.salary_income,
        other_income=row.other_income,
        total_income=row.total_income,
        deductions=row.deductions,
        taxable_income=row.taxable_income,
        municipal_income_levy=row.municipal_income_levy,
        municipal_per_capita=row.municipal_per_capita,
        prefectural_income_levy=row.prefectural_income_levy,
        prefectural_per_capita=row.prefectural_per_capita,
        tax_exempt=row.tax_exempt,
        annual_tax=row.annual_tax,
        paid=row.paid,
        unpaid=row.unpaid,
    )


def _registration_view(db: Session, row: HonsekiRegistration) -> RegistrationView:
    muni = db.get(Municipality, row.honseki_municipality_code)
    return RegistrationView(
        registration_id=row.id,
        municipality_code=row.honseki_municipality_code,
        municipality_name=muni.full_name() if muni is not None else "",
        state=RegistrationState(row.state),
        requested_at=row.requested_at,
    )


def _pk(r: _Person) -> int:
    assert r.id is not None
    return int(r.id)


def _subjects(
    conn: sa.Connection, row: _ClaimedCopy
) -> tuple[list[sa.Row[Any]], bool, list[sa.Row[Any]] | None]:
    """The persons an issuance is of (as `_get_resident` each: their columns), whether 交付抑止
    holds for any of them, and for a copy that shows the requester's household (its head and
    size: `_HOUSEHOLD_KINDS`, 印鑑登録証明書) its members as `_household_query` has them, the
    requester among the persons then: one statement."""
    pks = [int(pk) for pk in row.subject_pks.split(",")]
    kind = CertificateKind(row.kind)
    with_household = kind in _HOUSEHOLD_KINDS or kind is CertificateKind.INKAN
    distinct = sorted(set(pks))
    params = {"pks": bound_values(distinct), "requester": row.requester_pk}
    rows = conn.execute(_residents_query(with_household, len(distinct) == 1), params).all()
    found = {r.id: r for r in rows}
    people = []
    blocked = False
    for pk in pks:
        resident = found.get(pk)
        if resident is None or resident.removed_on is not None:
            raise SessionInvalid("the resident of this session is no longer registered here")
        people.append(resident)
        blocked = blocked or bool(resident.suppressed_now)
    if not with_household:
        return people, blocked, None
    requester = found.get(row.requester_pk)
    if requester is None:
        raise SessionInvalid("the resident of this session is no longer registered here")
    if requester.id not in set(pks):
        people.append(requester)  # for the document: not a person on it, not judged
    home = (requester.municipality_code, requester.household_id)
    household = sorted(
        (r for r in rows if (r.municipality_code, r.household_id) == home and r.removed_on is None),
        key=lambda r: (not r.is_household_head, r.birth_date),  # as `_household_query`
    )
    return people, blocked, household


def _read_whole(kind: CertificateKind, household: Sequence[_Person] | None) -> bool:
    """Whether the claim's read (`_subjects`) holds all a copy of `kind` needs."""
    return kind in _HOUSEHOLD_KINDS and household is not None


def _record(person: _Person) -> ResidentRecord:
    """`resident_record` of a resident, or of a row of the residents table's columns."""
    return resident_record(person)


def _get_resident(db: Session, pk: int) -> Resident:
    row = db.get(Resident, pk)
    if row is None or row.removed_on is not None:  # removed by a BCL upload (転出, 死亡, …)
        raise SessionInvalid("the resident of this session is no longer registered here")
    return row


def _household(db: Session, me: _Person) -> list[sa.Row[Any]]:
    """The members of `me`'s household with their 交付抑止 (`suppressed_now`): their columns,
    no ORM objects (only read)."""
    params = {"municipality_code": me.municipality_code, "household_id": me.household_id}
    return list(db.connection().execute(_household_query(), params))


def _eligible_all(db: Session, kind: CertificateKind, who: _Me) -> list[_Person]:
    """Everyone the rules allow, suppressed or not (suppression is judged separately)."""
    if kind in _HOUSEHOLD_KINDS:
        return [r for r, _ in who.household(db)]
    if kind is CertificateKind.INKAN or kind.is_tax:
        return [who.me]  # self only
    return []


def _eligible(db: Session, kind: CertificateKind, who: _Me) -> list[_Person]:
    everyone = _eligible_all(db, kind, who)
    blocked = who.suppressed_among(db, everyone)
    people = [r for r in everyone if r.id not in blocked]
    if kind is CertificateKind.INKAN and not who.has_active_seal(db):
        return []
    return people


def _me(
    kiosk_id: str,
    subject_key: bytes,
    me: Resident | None,
    home: Municipality | None,
    suppressed: object,
    sealed: object,
    registered: object,
    *,
    seal: bool,
) -> _Me:
    """`_Me` of a session's resident as read with `_me_columns`, refused as `_get_resident`
    refuses one no longer registered."""
    if me is None or me.removed_on is not None:
        raise SessionInvalid("the resident of this session is no longer registered here")
    assert home is not None  # the resident's foreign key
    has_seal = bool(sealed) if seal else None
    return _Me(kiosk_id, subject_key, me, home, bool(suppressed), has_seal, bool(registered))


class _Me:
    """The session's resident as one call reads them: whether 交付抑止 holds for them and
    their household, and whether they have an active seal registration, each read at most
    once per transaction (live: read in the transaction that decides)."""

    def __init__(
        self,
        kiosk_id: str,
        subject_key: bytes,
        me: Resident,
        home: Municipality,
        suppressed: bool,
        has_seal: bool | None,
        registered: bool = True,
    ) -> None:
        self.kiosk_id = kiosk_id  # the session's
        self.subject_key = subject_key  # the session's key of its subject handles
        self.me = me
        self.registered = registered  # whether they filed any 本籍地 利用登録 (True: unknown)
        # Where they live, held for the call: `db.get(Municipality, …)` finds it in the session.
        self.home = home
        self.suppressed = suppressed
        self._has_seal = has_seal
        self._household: list[tuple[_Person, bool]] | None = None

    def household(self, db: Session) -> list[tuple[_Person, bool]]:
        """The members of `me`'s household, each with what `is_suppressed` says: one
        statement, their columns (no ORM objects: only read)."""
        if self._household is None:
            rows = _household(db, self.me)
            self._household = [(cast(_Person, r), bool(r.suppressed_now)) for r in rows]
        return self._household

    def suppressed_among(self, db: Session, people: Sequence[_Person]) -> set[int]:
        """`suppressed_among`, from what this call read already where it can."""
        known = {_pk(self.me): self.suppressed}
        if self._household is not None:
            known.update((_pk(r), flag) for r, flag in self._household)
        rest = [r for r in people if r.id not in known]
        blocked = {_pk(r) for r in people if known.get(_pk(r))}
        return blocked | suppressed_among(db, rest) if rest else blocked

    def has_active_seal(self, db: Session) -> bool:
        if self._has_seal is None:
            self._has_seal = _active_seal(db, _pk(self.me)) is not None
        return self._has_seal


# The statements of every call, built once (building one costs more than running it): the
# values are bound at execution.


def _me_columns(seal: bool, registered: bool) -> tuple[Any, ...]:
    """A resident, where they live, their 交付抑止, with `seal` whether they have an active
    seal registration, and with `registered` whether they filed any 本籍地 利用登録 (`_me`;
    without it, True: unknown)."""
    has_seal = (
        select(SealRegistration.id)
        .where(col(SealRegistration.resident_pk) == col(Resident.id))
        .where(col(SealRegistration.active).is_(True))
        .correlate(Resident)
        .exists()
        if seal
        else literal(False)
    )
    filed = (
        select(HonsekiRegistration.id)
        .where(col(HonsekiRegistration.resident_pk) == col(Resident.id))
        .correlate(Resident)
        .exists()
        if registered
        else literal(True)
    )
    return Resident, Municipality, suppressed_flag(), has_seal, filed


@cache
def _session_and_me_query(seal: bool, registered: bool) -> sa.Select[*tuple[Any, ...]]:
    """The session (by token digest) and `_me_columns` of its resident."""
    return (
        sa.select(KioskSession, *_me_columns(seal, registered))
        .outerjoin(Resident, col(Resident.id) == col(KioskSession.resident_pk))
        .outerjoin(Municipality, col(Municipality.code) == col(Resident.municipality_code))
        .where(col(KioskSession.token_sha256) == bindparam("digest"))
    )


@cache
def _me_query() -> sa.Select[*tuple[Any, ...]]:
    """`_me_columns` of the resident `resident_pk` (a session just opened), for a menu."""
    return (
        sa.select(*_me_columns(True, True))
        .join(Municipality, col(Municipality.code) == col(Resident.municipality_code))
        .where(col(Resident.id) == bindparam("resident_pk"))
    )


@cache
def _locked_with_session_query() -> sa.Select[*tuple[Any, ...]]:
    """The issuance row locked as `locked_issuance` reads it, the session of the token digest
    beside it."""
    return (
        sa.select(Issuance, KioskSession)
        .outerjoin_from(
            Issuance, KioskSession, col(KioskSession.token_sha256) == bindparam("digest")
        )
        .where(col(Issuance.id) == bindparam("id"))
        .with_for_update(of=Issuance)
        .execution_options(populate_existing=True)
    )


@dataclass
class _ReportedCopy:
    """The issuance row as a print report reads it (its columns, locked; never the stored
    PDF) and `apply_event` leaves it."""

    id: str
    state: str
    kind: str
    channel: str
    municipality_code: str
    kiosk_id: str
    operator_id: str
    kiosk_municipality_code: str
    session_token_sha256: str
    fee_yen: int
    issue_number: str | None
    printing_started_at: datetime | None
    page_count: int | None
    void_reason: str | None


_REPORTED_COLUMNS = tuple(f.name for f in fields(_ReportedCopy))


def _session_state_columns(sessions: sa.Table) -> tuple[sa.ColumnElement[Any], ...]:
    """What a locked read joined to the session of the token digest reads of it: `s_known`
    (a session has that digest), then `_SessionState`'s columns, in its order."""
    return (
        sessions.c.token_sha256.is_not(None).label("s_known"),
        sessions.c.kiosk_id.label("s_kiosk_id"),
        sessions.c.expires_at.label("s_expires_at"),
        sessions.c.ended_at.label("s_ended_at"),
    )


@cache
def _reported_query() -> sa.Select[*tuple[Any, ...]]:
    """A print report's one read: the issuance (`id`) locked as `locked_issuance` reads it,
    its `_REPORTED_COLUMNS`; then the session of the token digest (`digest`): `s_known` and
    `_SessionState`'s columns; last the `POSTING_TERMS_COLUMNS` of its municipality."""
    copies: sa.Table = Issuance.__table__  # type: ignore[attr-defined]
    sessions: sa.Table = KioskSession.__table__  # type: ignore[attr-defined]
    query = (
        sa.select(
            *(copies.c[name] for name in _REPORTED_COLUMNS),
            *_session_state_columns(sessions),
        )
        .select_from(copies)
        .outerjoin(sessions, sessions.c.token_sha256 == bindparam("digest"))
    )
    return (
        join_posting_terms(query, copies, copies.c.municipality_code)
        .where(copies.c.id == bindparam("id"))
        .with_for_update(of=copies)
    )


@cache
def _household_query() -> Select[Resident, bool]:
    """The members of a household (`municipality_code`, `household_id`), each with its
    交付抑止."""
    flag = suppressed_flag().label("suppressed_now")
    return (
        select(Resident, flag)
        .where(col(Resident.municipality_code) == bindparam("municipality_code"))
        .where(col(Resident.household_id) == bindparam("household_id"))
        .where(col(Resident.removed_on).is_(None))  # who left the register is not a member
        .order_by(col(Resident.is_household_head).desc(), col(Resident.birth_date))
    )


@cache
def _residents_query(household: bool, one: bool) -> sa.Select[*tuple[Any, ...]]:
    """The residents of some primary keys (`pks`, one with `one`: `among_bound`): their
    columns, and `suppressed_now` their 交付抑止; with `household`, also the requester
    (`requester`) and the members of their household (the rows `_household_query` selects,
    and some who left the register)."""
    table: sa.Table = Resident.__table__  # type: ignore[attr-defined]
    chosen = among_bound(table.c.id, "pks", one=one)  # mostly one person: a copy of oneself
    if household:
        requester = table.alias("requester")

        def of_requester(column: str) -> sa.ScalarSelect[Any]:
            return (
                sa.select(requester.c[column])
                .where(requester.c.id == bindparam("requester"))
                .scalar_subquery()
            )

        chosen = sa.or_(
            chosen,
            table.c.id == bindparam("requester"),
            sa.and_(
                table.c.municipality_code == of_requester("municipality_code"),
                table.c.household_id == of_requester("household_id"),
            ),
        )
    return sa.select(table, suppressed_flag().label("suppressed_now")).where(chosen)


# What Issue reads of the issuance it claims (`_ClaimedCopy`, in this order).
_COPY_COLUMNS = (
    "id",
    "state",
    "kind",
    "requester_pk",
    "subject_pks",
    "include_head_and_relationship",
    "include_honseki",
    "municipality_code",
    "kiosk_id",
    "channel",
    "fee_yen",
    "expires_at",
    "session_token_sha256",
    "idempotency_key",
    "issue_number",
    "printing_started_at",
    "page_count",
    "pdf",
    "pdf_sha256",
)


@dataclass(frozen=True)
class _ClaimedCopy:
    """The issuance row as Issue reads it (`_COPY_COLUMNS`) and its claim leaves it."""

    id: str
    state: str
    kind: str
    requester_pk: int
    subject_pks: str
    include_head_and_relationship: bool
    include_honseki: bool
    municipality_code: str
    kiosk_id: str
    channel: str
    fee_yen: int
    expires_at: datetime
    session_token_sha256: str
    idempotency_key: str | None
    issue_number: str | None
    printing_started_at: datetime | None
    page_count: int | None
    pdf: bytes | None
    pdf_sha256: bytes | None


@dataclass(frozen=True)
class _SessionState:
    """What the session check reads of a kiosk session."""

    kiosk_id: str
    expires_at: datetime
    ended_at: datetime | None


@cache
def _session_state_query() -> sa.Select[*tuple[Any, ...]]:
    """`_SessionState` of the session of a token digest (`digest`)."""
    table: sa.Table = KioskSession.__table__  # type: ignore[attr-defined]
    return sa.select(table.c.kiosk_id, table.c.expires_at, table.c.ended_at).where(
        table.c.token_sha256 == bindparam("digest")
    )


@cache
def _claim_read_query() -> sa.Select[*tuple[Any, ...]]:
    """Issue's one read: the issuance (`id`) locked as `locked_issuance` reads it, its
    `_COPY_COLUMNS`; its municipality's columns (not locked; `municipality_profile` reads them
    by name); `taken`, whether another copy holds the idempotency key (`key`); and last the
    session of the token digest (`digest`): `s_known`, then `_SessionState`'s columns."""
    copies: sa.Table = Issuance.__table__  # type: ignore[attr-defined]
    sessions: sa.Table = KioskSession.__table__  # type: ignore[attr-defined]
    municipalities: sa.Table = Municipality.__table__  # type: ignore[attr-defined]
    other = copies.alias("other")
    taken = sa.exists().where(other.c.idempotency_key == bindparam("key"))
    return (
        sa.select(
            *(copies.c[name] for name in _COPY_COLUMNS),
            *(c for c in municipalities.c),
            taken.label("taken"),
            *_session_state_columns(sessions),
        )
        .select_from(copies)
        .outerjoin(sessions, sessions.c.token_sha256 == bindparam("digest"))
        .outerjoin(municipalities, municipalities.c.code == copies.c.municipality_code)
        .where(copies.c.id == bindparam("id"))
        .with_for_update(of=copies)
    )


def _commit_claim(conn: sa.Connection, row: _ClaimedCopy, claimed: bool, now: datetime) -> None:
    """Commit Issue's transaction, with the claim's audit entry last if it claimed."""
    if claimed:
        details = {"issue_number": row.issue_number or ""}
        _audit_issuance(conn, row, "printing", row.kiosk_id, now, details)
    conn.commit()


@contextmanager
def _session_on(db: Session | sa.Connection) -> Iterator[Session]:
    """`db`, or a session in a Core connection's transaction (closed, not committed: the
    connection's owner ends the transaction)."""
    if isinstance(db, Session):
        yield db
        return
    with Session(bind=db) as session:
        yield session


def _session_refusal(
    row: KioskSession | _SessionState | None, kiosk_id: str, now: datetime
) -> DomainError | None:
    """Why the session `row` may not act for `kiosk_id` at `now`, or None."""
    if row is None or row.ended_at is not None:
        return SessionInvalid("no such session; authenticate again")
    if row.kiosk_id != kiosk_id:
        return WrongKiosk("this session belongs to another kiosk")
    if now >= row.expires_at:
        return SessionExpired("the session has expired; authenticate again")
    return None


def _owned(row: _Owned | None, issuance_id: str, token: str) -> _Owned:
    """`row` if it is the reservation `issuance_id` of the session `token` (`_own_issuance`)."""
    if not _is_uuid(issuance_id):
        raise InvalidArgument("not a reservation id", field="reservation_id")
    if row is None or row.session_token_sha256 != token_digest(token):
        raise ReservationNotFound("no such reservation in this session")
    return row


def _municipalities(db: Session, codes: Sequence[str]) -> list[Municipality]:
    return list(db.exec(select(Municipality).where(col(Municipality.code).in_(set(codes)))).all())


def _active_seal(db: Session, resident_pk: int) -> SealRegistration | None:
    return db.exec(_active_seal_query(), params={"resident_pk": resident_pk}).first()


@cache
def _active_seal_query() -> SelectOfScalar[SealRegistration]:
    """The active seal registration of a resident (`resident_pk`)."""
    return (
        select(SealRegistration)
        .where(col(SealRegistration.resident_pk) == bindparam("resident_pk"))
        .where(col(SealRegistration.active).is_(True))
    )


@cache
def _bump_sequence_statement() -> sa.Update:
    """Today's sequence of a terminal (`b_day`, `b_code`, `b_terminal`) plus one, returning the
    new value; Core, on the table: no ORM objects to keep in step."""
    table: sa.Table = IssueSequence.__table__  # type: ignore[attr-defined]
    return (
        sa.update(table)
        .where(table.c.issue_date == bindparam("b_day"))
        .where(table.c.municipality_code == bindparam("b_code"))
        .where(table.c.kiosk_id == bindparam("b_terminal"))
        .values(last_value=table.c.last_value + 1)
        .returning(table.c.last_value)
    )


@cache
def _reserve_statement() -> sa.Insert:
    """A new reservation: the issuances row, its columns bound by name (the claim and the
    copy's later columns are empty)."""
    table: sa.Table = Issuance.__table__  # type: ignore[attr-defined]
    return sa.insert(table)


@cache
def _first_of_day_statement() -> sa.Insert:
    """Today's sequence of a terminal (`b_day`, `b_code`, `b_terminal`), its first number
    taken."""
    table: sa.Table = IssueSequence.__table__  # type: ignore[attr-defined]
    return sa.insert(table).values(
        issue_date=bindparam("b_day"),
        municipality_code=bindparam("b_code"),
        kiosk_id=bindparam("b_terminal"),
        last_value=1,
    )


@cache
def _claim_statement() -> sa.Update:
    """RESERVED → PRINTING of one copy (`c_id`) with its key, printer, issue number and start;
    Core, on the table: the caller sets the session's row to match."""
    table: sa.Table = Issuance.__table__  # type: ignore[attr-defined]
    return (
        sa.update(table)
        .where(table.c.id == bindparam("c_id"))
        .where(table.c.state == IssuanceState.RESERVED.value)
        .values(
            state=IssuanceState.PRINTING.value,
            idempotency_key=bindparam("c_key"),
            printer_id=bindparam("c_printer"),
            issue_number=bindparam("c_number"),
            printing_started_at=bindparam("c_at"),
        )
    )


@cache
def _transition_statement() -> sa.Insert:
    """A line in the transition log (`t_id` from `t_from` to `t_to` at `t_at`, `t_why`)."""
    table: sa.Table = IssuanceTransition.__table__  # type: ignore[attr-defined]
    return sa.insert(table).values(
        issuance_id=bindparam("t_id"),
        from_state=bindparam("t_from"),
        to_state=bindparam("t_to"),
        at=bindparam("t_at"),
        reason=bindparam("t_why"),
    )


@cache
def _move_statement(drop_pdf: bool) -> sa.Update:
    """A move of one copy (`m_id`, `apply_event`): its new state `m_state`, `m_finished` and
    `m_void` (its void reason), with `drop_pdf` its stored PDF dropped."""
    table: sa.Table = Issuance.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {
        "state": bindparam("m_state"),
        "finished_at": bindparam("m_finished"),
        "void_reason": bindparam("m_void"),
    }
    if drop_pdf:
        values["pdf"] = None
    return sa.update(table).where(table.c.id == bindparam("m_id")).values(values)


@cache
def _store_copy_statement() -> sa.Update:
    """Store the first rendering of a PRINTING copy (`b_id`): its PDF, digest and page count,
    only if none is stored yet."""
    table: sa.Table = Issuance.__table__  # type: ignore[attr-defined]
    return (
        sa.update(table)
        .where(table.c.id == bindparam("b_id"))
        .where(table.c.state == IssuanceState.PRINTING.value)
        .where(table.c.pdf.is_(None))
        .values(
            pdf=bindparam("b_pdf"),
            pdf_sha256=bindparam("b_sha256"),
            page_count=bindparam("b_pages"),
        )
    )


def _next_sequence(
    db: Session | sa.Connection, now: datetime, municipality_code: str, kiosk_id: str
) -> int:
    """Next number of today's sequence for this terminal; safe under concurrent claims."""
    day = now.astimezone(JST).date()
    conn = db if isinstance(db, sa.Connection) else db.connection()
    params = {"b_day": day, "b_code": municipality_code, "b_terminal": kiosk_id}
    for _ in range(3):
        # The bumped value comes back with the UPDATE (RETURNING): no second read.
        value = conn.execute(_bump_sequence_statement(), params).scalar_one_or_none()
        if value is not None:
            return int(value)
        try:
            # First copy of the day: another claim may insert the same row at the same time.
            with db.begin_nested():
                conn.execute(_first_of_day_statement(), params)
            return 1
        except IntegrityError:
            continue
    raise FailedPrecondition("the issue number could not be allocated; retry")
