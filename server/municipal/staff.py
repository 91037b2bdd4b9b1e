"""What municipality staff do: offerings and fees, suppression, suspensions, hours, notices,
and the 本籍地 利用登録 requests filed with them.

Every operation takes the acting `StaffIdentity` and works only on that staff member's own
municipality. Suppression (交付抑止) takes effect on the next kiosk request: the issuance desk
reads it live, and a copy reserved but not yet printed is stopped too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.audit import log as audit
from server.bcl.records import IssuingBackend
from server.common.clock import JST, Clock
from server.common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from server.common.tokens import new_secret, token_digest
from server.db.models import Municipality, Offering, Resident
from server.issuance.documents import CertificateKind
from server.issuance.tax import KIOSK_TAX_YEARS, TaxYears
from server.koseki.backend import KosekiServers
from server.koseki.registration import HonsekiDesk, QueuedRequest, RegistrationState
from server.municipal.models import (
    CertificateHoursRow,
    IssuanceSuppression,
    Notice,
    ServiceSuspension,
    StaffAccount,
)
from server.municipal.policy import offerings_of
from server.municipal.rules import DailyHours, format_hhmm

MAX_FEE_YEN = 10_000
MAX_SUSPENSION = timedelta(days=31)


class StaffTokenInvalid(Unauthenticated):
    reason = "STAFF_TOKEN_INVALID"


class OtherMunicipality(PermissionDenied):
    reason = "OTHER_MUNICIPALITY"


class OfferingNotAllowed(FailedPrecondition):
    reason = "OFFERING_NOT_ALLOWED"


@dataclass(frozen=True)
class TaxYearsView:
    fiscal_years: int  # how many assessed years are issued
    municipality_setting: bool  # False: the center's default applies
    offered: tuple[int, ...]  # today's fiscal years, newest first


@dataclass(frozen=True)
class StaffIdentity:
    staff_id: str
    municipality_code: str


def parse_kind(kind: str, *, allow_all: bool = False) -> str:
    if allow_all and kind == "":
        return ""
    try:
        return CertificateKind(kind).value
    except ValueError:
        valid = ", ".join(k.value for k in CertificateKind)
        raise InvalidArgument(
            f"unknown certificate kind {kind!r}; one of {valid}", field="kind"
        ) from None


class StaffDesk:
    def __init__(
        self, engine: Engine, *, clock: Clock, koseki: KosekiServers | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        servers = koseki or KosekiServers.of_bcl(engine)
        self._honseki = HonsekiDesk(engine, servers=servers, clock=clock)

    # -- accounts -----------------------------------------------------------------------------

    def create_account(self, municipality_code: str, display_name: str) -> tuple[str, str]:
        """A new staff account; returns (staff_id, token). The token is shown only once."""
        with Session(self._engine) as db:
            if db.get(Municipality, municipality_code) is None:
                raise NotFound(f"municipality {municipality_code} is not onboarded")
            staff_id = f"S{municipality_code}-{secrets.token_hex(4)}"
            token = new_secret()
            db.add(
                StaffAccount(
                    staff_id=staff_id,
                    municipality_code=municipality_code,
                    display_name=display_name,
                    token_sha256=token_digest(token),
                    created_at=self._clock(),
                )
            )
            db.commit()
        return staff_id, token

    def authenticate(self, token: str) -> StaffIdentity:
        with Session(self._engine) as db:
            row = db.exec(
                select(StaffAccount).where(StaffAccount.token_sha256 == token_digest(token))
            ).first()
            if row is None or not row.active:
                raise StaffTokenInvalid("unknown or disabled staff token")
            return StaffIdentity(row.staff_id, row.municipality_code)

    # -- offerings ----------------------------------------------------------------------------

    def list_offerings(self, who: StaffIdentity) -> list[Offering]:
        with Session(self._engine) as db:
            return offerings_of(db, who.municipality_code)

    def set_offering(self, who: StaffIdentity, kind: str, fee_yen: int, enabled: bool) -> Offering:
        kind_value = parse_kind(kind)
        if not 0 <= fee_yen <= MAX_FEE_YEN:
            raise InvalidArgument(f"fee must be 0..{MAX_FEE_YEN} yen", field="fee_yen")
        with Session(self._engine) as db:
            muni = db.get(Municipality, who.municipality_code)
            assert muni is not None  # the account's foreign key
            if enabled:
                check_offering_allowed(muni, CertificateKind(kind_value))
            row = db.get(Offering, (who.municipality_code, kind_value))
            if row is None:
                row = Offering(municipality_code=who.municipality_code, kind=kind_value, fee_yen=0)
            row.fee_yen = fee_yen
            row.enabled = enabled
            db.add(row)
            details = {"fee_yen": str(fee_yen), "enabled": str(enabled).lower()}
            _audit(db, who, "staff.offering_set", kind_value, self._clock(), details)
            db.commit()
            db.refresh(row)
            return row

    def set_tax_years(self, who: StaffIdentity, fiscal_years: int) -> TaxYearsView:
        """How many assessed fiscal years of tax certificates the municipality issues (1-10);
        0 returns to the center's default."""
        if not 0 <= fiscal_years <= 10:
            raise InvalidArgument(
                "fiscal_years is 1-10, or 0 for the default", field="fiscal_years"
            )
        with Session(self._engine) as db:
            muni = db.get(Municipality, who.municipality_code)
            assert muni is not None  # the account's foreign key
            muni.tax_fiscal_years = fiscal_years or None
            db.add(muni)
            db.commit()
            db.refresh(muni)
            years = tax_years_setting(muni)
            return TaxYearsView(
                fiscal_years=years.count,
                municipality_setting=muni.tax_fiscal_years is not None,
                offered=years.offered(self._clock().astimezone(JST).date()),
            )

    # -- suppression (交付抑止) ---------------------------------------------------------------

    def suppress(
        self,
        who: StaffIdentity,
        *,
        resident_id: str | None = None,
        household_id: str | None = None,
        note: str = "",
    ) -> IssuanceSuppression:
        if bool(resident_id) == bool(household_id):
            raise InvalidArgument("name either a resident or a household", field="target")
        with Session(self._engine) as db:
            query = select(Resident.id).where(Resident.municipality_code == who.municipality_code)
            if resident_id:
                query = query.where(Resident.resident_id == resident_id)
            else:
                query = query.where(Resident.household_id == household_id)
            if db.exec(query.limit(1)).first() is None:
                raise NotFound("no such resident or household in this municipality")
            row = IssuanceSuppression(
                municipality_code=who.municipality_code,
                resident_id=resident_id or None,
                household_id=household_id or None,
                note=note[:500],
                created_by=who.staff_id,
                created_at=self._clock(),
            )
            db.add(row)
            db.flush()  # its id is the audit subject (the resident is not named in the log)
            _audit(db, who, "staff.suppression_set", f"suppression:{row.id}", row.created_at)
            db.commit()
            db.refresh(row)
            return row

    def lift_suppression(self, who: StaffIdentity, suppression_id: int) -> IssuanceSuppression:
        with Session(self._engine) as db:
            row = db.get(IssuanceSuppression, suppression_id)
            _own(who, row, "suppression")
            assert row is not None
            if row.lifted_at is None:
                row.lifted_at = self._clock()
                db.add(row)
                _audit(db, who, "staff.suppression_lifted", f"suppression:{row.id}", row.lifted_at)
                db.commit()
                db.refresh(row)
            return row

    def list_suppressions(
        self, who: StaffIdentity, *, include_lifted: bool
    ) -> list[IssuanceSuppression]:
        with Session(self._engine) as db:
            query = select(IssuanceSuppression).where(
                IssuanceSuppression.municipality_code == who.municipality_code
            )
            if not include_lifted:
                query = query.where(col(IssuanceSuppression.lifted_at).is_(None))
            return list(db.exec(query.order_by(col(IssuanceSuppression.id))).all())

    # -- suspensions, hours, notices ----------------------------------------------------------

    def add_suspension(
        self, who: StaffIdentity, kind: str, starts_at: datetime, ends_at: datetime, reason: str
    ) -> ServiceSuspension:
        kind_value = parse_kind(kind, allow_all=True)
        _check_window(starts_at, ends_at, limit=MAX_SUSPENSION)
        with Session(self._engine) as db:
            row = ServiceSuspension(
                municipality_code=who.municipality_code,
                kind=kind_value,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=reason[:200],
            )
            db.add(row)
            db.commit()
            db.refresh(row)
            return row

    def cancel_suspension(self, who: StaffIdentity, suspension_id: int) -> ServiceSuspension:
        with Session(self._engine) as db:
            row = db.get(ServiceSuspension, suspension_id)
            _own(who, row, "suspension")
            assert row is not None
            row.cancelled = True
            db.add(row)
            db.commit()
            db.refresh(row)
            return row

    def list_suspensions(self, who: StaffIdentity) -> list[ServiceSuspension]:
        with Session(self._engine) as db:
            return list(
                db.exec(
                    select(ServiceSuspension)
                    .where(ServiceSuspension.municipality_code == who.municipality_code)
                    .order_by(col(ServiceSuspension.starts_at))
                ).all()
            )

    def set_certificate_hours(
        self, who: StaffIdentity, kind: str, opens: str, closes: str, weekdays_only: bool
    ) -> CertificateHoursRow:
        kind_value = parse_kind(kind)
        hours = DailyHours.parse(f"{opens}-{closes}", weekdays_only=weekdays_only)
        with Session(self._engine) as db:
            row = db.get(CertificateHoursRow, (who.municipality_code, kind_value))
            if row is None:
                row = CertificateHoursRow(
                    municipality_code=who.municipality_code, kind=kind_value, opens="", closes=""
                )
            row.opens, row.closes = format_hhmm(hours.opens), format_hhmm(hours.closes)
            row.weekdays_only = weekdays_only
            db.add(row)
            db.commit()
            db.refresh(row)
            return row

    def publish_notice(
        self, who: StaffIdentity, title: str, body: str, starts_at: datetime, ends_at: datetime
    ) -> Notice:
        if not title.strip() or len(title) > 100:
            raise InvalidArgument("title must be 1-100 characters", field="title")
        if len(body) > 2000:
            raise InvalidArgument("body must be at most 2000 characters", field="body")
        _check_window(starts_at, ends_at, limit=timedelta(days=366))
        with Session(self._engine) as db:
            row = Notice(
                municipality_code=who.municipality_code,
                title=title,
                body=body,
                starts_at=starts_at,
                ends_at=ends_at,
                created_by=who.staff_id,
            )
            db.add(row)
            db.commit()
            db.refresh(row)
            return row

    # -- 本籍地 利用登録 ------------------------------------------------------------------------

    def honseki_requests(
        self, who: StaffIdentity, *, include_decided: bool = False
    ) -> list[QueuedRequest]:
        """Requests filed with this municipality as 本籍地; pending ones with candidates."""
        states = [RegistrationState.PENDING]
        if include_decided:
            states += [RegistrationState.APPROVED, RegistrationState.REJECTED]
        return self._honseki.queue(who.municipality_code, states=states)

    def approve_honseki(
        self, who: StaffIdentity, registration_id: str, koseki_id: str, member_no: int, note: str
    ) -> QueuedRequest:
        row = self._honseki.approve(
            who.municipality_code,
            who.staff_id,
            registration_id,
            koseki_id=koseki_id,
            member_no=member_no,
            note=note,
        )
        return QueuedRequest(row, ())

    def reject_honseki(self, who: StaffIdentity, registration_id: str, note: str) -> QueuedRequest:
        row = self._honseki.reject(who.municipality_code, who.staff_id, registration_id, note=note)
        return QueuedRequest(row, ())


def _audit(
    db: Session,
    who: StaffIdentity,
    event: str,
    subject: str,
    at: datetime,
    details: dict[str, str] | None = None,
) -> None:
    audit.append(
        db,
        event=event,
        actor=who.staff_id,
        subject=subject,
        municipality_code=who.municipality_code,
        details=details,
        at=at,
    )


def active_notices(engine: Engine, municipality_code: str, now: datetime) -> list[Notice]:
    """National notices and the municipality's own, in force at `now` (the portal's list)."""
    with Session(engine) as db:
        query = (
            select(Notice)
            .where(col(Notice.starts_at) <= now)
            .where(col(Notice.ends_at) > now)
            .order_by(col(Notice.starts_at))
        )
        if municipality_code:
            query = query.where(
                col(Notice.municipality_code).is_(None)
                | (col(Notice.municipality_code) == municipality_code)
            )
        return list(db.exec(query).all())


def tax_years_setting(muni: Municipality, default: TaxYears = KIOSK_TAX_YEARS) -> TaxYears:
    """The range of tax years `muni` issues: its own count, else the center's default."""
    if muni.tax_fiscal_years is None:
        return default
    return TaxYears(count=muni.tax_fiscal_years, assessment_month=default.assessment_month)


def offering_refusal(muni: Municipality, kind: CertificateKind) -> str | None:
    """Why `muni` cannot issue `kind` (SPEC 3), or None: BCL cannot issue
    住民票記載事項証明書; 戸籍 and 附票 need a 戸籍 server."""
    if kind is CertificateKind.JUMINHYO_KISAI and muni.backend == IssuingBackend.BCL.value:
        return "住民票記載事項証明書 needs the municipality's own issuing server, not BCL"
    if kind.needs_koseki_server and not muni.koseki_server:
        return f"{kind.printed_title} needs a declared 戸籍 server"
    return None


def check_offering_allowed(muni: Municipality, kind: CertificateKind) -> None:
    refusal = offering_refusal(muni, kind)
    if refusal is not None:
        raise OfferingNotAllowed(refusal)


def _check_window(starts_at: datetime, ends_at: datetime, *, limit: timedelta) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidArgument("times must carry a timezone", field="starts_at")
    if ends_at <= starts_at:
        raise InvalidArgument("the window must end after it starts", field="ends_at")
    if ends_at - starts_at > limit:
        raise InvalidArgument(f"the window may last at most {limit.days} days", field="ends_at")


def _own(
    who: StaffIdentity, row: IssuanceSuppression | ServiceSuspension | None, what: str
) -> None:
    if row is None:
        raise NotFound(f"no such {what}")
    if row.municipality_code != who.municipality_code:
        raise OtherMunicipality(f"this {what} belongs to another municipality")
