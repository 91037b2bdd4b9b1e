"""gRPC faces of the staff desk and the public portal: translation only."""

from __future__ import annotations

from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from konbini.portal.v1 import portal_pb2, portal_pb2_grpc
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.access.caller import CallerKind
from server.access.interceptor import bound_caller
from server.common.clock import Clock
from server.common.errors import FailedPrecondition, InvalidArgument
from server.common.protoconv import timestamp, to_datetime
from server.counter.desk import CounterCopy, CounterDesk
from server.koseki.registration import QueuedRequest
from server.municipal import models
from server.municipal.policy import availability_of, offerings_of
from server.municipal.rules import DailyHours, kiosk_open
from server.municipal.staff import StaffDesk, StaffIdentity, StaffTokenInvalid, active_notices
from server.settlement.queries import check_municipality_code

_BEARER = "bearer "


def staff_from_context(desk: StaffDesk, context: grpc.ServicerContext) -> StaffIdentity:
    """The staff member calling: as the center's access interceptor resolved them, or (a server
    without it) from the bearer token."""
    caller = bound_caller(context)
    if caller is not None and caller.kind is CallerKind.MUNICIPALITY_STAFF:
        assert caller.municipality_code is not None
        return StaffIdentity(caller.id, caller.municipality_code)
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str) and value.lower().startswith(_BEARER):
            return desk.authenticate(value[len(_BEARER) :].strip())
    raise StaffTokenInvalid("staff calls need `authorization: Bearer <token>`")


def _time(ts: Timestamp, field: str) -> datetime:
    if ts.seconds == 0 and ts.nanos == 0:
        raise InvalidArgument(f"{field} is required", field=field)
    return to_datetime(ts, field)


def _opt_ts(dt: datetime | None) -> Timestamp | None:
    return None if dt is None else timestamp(dt)


def suppression_pb(row: models.IssuanceSuppression) -> staff_pb2.Suppression:
    return staff_pb2.Suppression(
        suppression_id=row.id or 0,
        resident_id=row.resident_id or "",
        household_id=row.household_id or "",
        created_at=timestamp(row.created_at),
        lifted_at=_opt_ts(row.lifted_at),
        created_by=row.created_by,
    )


def suspension_pb(row: models.ServiceSuspension) -> staff_pb2.SuspensionWindow:
    return staff_pb2.SuspensionWindow(
        suspension_id=row.id or 0,
        kind=row.kind,
        starts_at=timestamp(row.starts_at),
        ends_at=timestamp(row.ends_at),
        reason=row.reason,
        cancelled=row.cancelled,
    )


def notice_pb(row: models.Notice) -> staff_pb2.Notice:
    return staff_pb2.Notice(
        notice_id=row.id or 0,
        municipality_code=row.municipality_code or "",
        title=row.title,
        body=row.body,
        starts_at=timestamp(row.starts_at),
        ends_at=timestamp(row.ends_at),
    )


def honseki_request_pb(queued: QueuedRequest) -> staff_pb2.HonsekiRequest:
    row = queued.registration
    return staff_pb2.HonsekiRequest(
        registration_id=row.id,
        state=row.state,
        residence_municipality_code=row.residence_municipality_code,
        family_name=row.family_name,
        given_name=row.given_name,
        family_name_kana=row.family_name_kana,
        given_name_kana=row.given_name_kana,
        former_family_name=row.former_family_name,
        birth_date=row.birth_date.isoformat(),
        sex=row.sex,
        address=row.address,
        honseki=row.honseki,
        hittousha=row.hittousha,
        requested_at=timestamp(row.requested_at),
        koseki_id=row.koseki_id or "",
        member_no=row.member_no or 0,
        decided_by=row.decided_by or "",
        decided_at=_opt_ts(row.decided_at),
        candidates=[
            staff_pb2.KosekiCandidate(
                koseki_id=c.member.koseki_id,
                member_no=c.member.member_no,
                family_name=c.member.family_name,
                given_name=c.member.given_name,
                family_name_kana=c.member.family_name_kana,
                given_name_kana=c.member.given_name_kana,
                birth_date=c.member.birth_date.isoformat(),
                sex=c.member.sex.value,
                relationship=c.member.relationship,
                honseki=c.member.honseki,
                hittousha=c.member.hittousha,
                score=c.score,
                reasons=[
                    staff_pb2.MatchReason(code=r.value, label=r.label, points=r.points)
                    for r in c.reasons
                ],
            )
            for c in queued.candidates
        ],
    )


def counter_copy_pb(copy: CounterCopy) -> staff_pb2.CounterCopy:
    return staff_pb2.CounterCopy(
        reception_number=copy.reception_number,
        state=copy.state.value,
        kind=copy.kind.value,
        title=copy.kind.printed_title,
        fee_yen=copy.fee_yen,
        pages=copy.pages,
        issue_number=copy.issue_number,
        terminal_id=copy.terminal_id,
        printed_at=timestamp(copy.printed_at),
        collect_by=timestamp(copy.collect_by),
        handed_over_at=_opt_ts(copy.handed_over_at),
        handed_over_by=copy.handed_over_by or "",
    )


class StaffServicer(staff_pb2_grpc.MunicipalityStaffServiceServicer):
    def __init__(self, desk: StaffDesk, counter: CounterDesk | None = None) -> None:
        self._desk = desk
        self._counter = counter  # らくらく窓口 hand-over; absent on a center without counters

    def _who(self, context: grpc.ServicerContext) -> StaffIdentity:
        return staff_from_context(self._desk, context)

    def ListOfferings(
        self, request: staff_pb2.ListOfferingsRequest, context: grpc.ServicerContext
    ) -> staff_pb2.ListOfferingsResponse:
        rows = self._desk.list_offerings(self._who(context))
        return staff_pb2.ListOfferingsResponse(
            offerings=[
                staff_pb2.OfferingEntry(kind=r.kind, fee_yen=r.fee_yen, enabled=r.enabled)
                for r in rows
            ]
        )

    def SetOffering(
        self, request: staff_pb2.SetOfferingRequest, context: grpc.ServicerContext
    ) -> staff_pb2.OfferingEntry:
        row = self._desk.set_offering(
            self._who(context), request.kind, request.fee_yen, request.enabled
        )
        return staff_pb2.OfferingEntry(kind=row.kind, fee_yen=row.fee_yen, enabled=row.enabled)

    def SuppressIssuance(
        self, request: staff_pb2.SuppressIssuanceRequest, context: grpc.ServicerContext
    ) -> staff_pb2.Suppression:
        which = request.WhichOneof("target")
        row = self._desk.suppress(
            self._who(context),
            resident_id=request.resident_id if which == "resident_id" else None,
            household_id=request.household_id if which == "household_id" else None,
            note=request.note,
        )
        return suppression_pb(row)

    def LiftSuppression(
        self, request: staff_pb2.LiftSuppressionRequest, context: grpc.ServicerContext
    ) -> staff_pb2.Suppression:
        return suppression_pb(
            self._desk.lift_suppression(self._who(context), request.suppression_id)
        )

    def ListSuppressions(
        self, request: staff_pb2.ListSuppressionsRequest, context: grpc.ServicerContext
    ) -> staff_pb2.ListSuppressionsResponse:
        rows = self._desk.list_suppressions(
            self._who(context), include_lifted=request.include_lifted
        )
        return staff_pb2.ListSuppressionsResponse(suppressions=[suppression_pb(r) for r in rows])

    def AddSuspension(
        self, request: staff_pb2.AddSuspensionRequest, context: grpc.ServicerContext
    ) -> staff_pb2.SuspensionWindow:
        row = self._desk.add_suspension(
            self._who(context),
            request.kind,
            _time(request.starts_at, "starts_at"),
            _time(request.ends_at, "ends_at"),
            request.reason,
        )
        return suspension_pb(row)

    def CancelSuspension(
        self, request: staff_pb2.CancelSuspensionRequest, context: grpc.ServicerContext
    ) -> staff_pb2.SuspensionWindow:
        return suspension_pb(
            self._desk.cancel_suspension(self._who(context), request.suspension_id)
        )

    def ListSuspensions(
        self, request: staff_pb2.ListSuspensionsRequest, context: grpc.ServicerContext
    ) -> staff_pb2.ListSuspensionsResponse:
        rows = self._desk.list_suspensions(self._who(context))
        return staff_pb2.ListSuspensionsResponse(suspensions=[suspension_pb(r) for r in rows])

    def SetCertificateHours(
        self, request: staff_pb2.SetCertificateHoursRequest, context: grpc.ServicerContext
    ) -> staff_pb2.CertificateHours:
        h = request.hours
        row = self._desk.set_certificate_hours(
            self._who(context), h.kind, h.opens, h.closes, h.weekdays_only
        )
        return staff_pb2.CertificateHours(
            kind=row.kind, opens=row.opens, closes=row.closes, weekdays_only=row.weekdays_only
        )

    def PublishNotice(
        self, request: staff_pb2.PublishNoticeRequest, context: grpc.ServicerContext
    ) -> staff_pb2.Notice:
        row = self._desk.publish_notice(
            self._who(context),
            request.title,
            request.body,
            _time(request.starts_at, "starts_at"),
            _time(request.ends_at, "ends_at"),
        )
        return notice_pb(row)

    def ListHonsekiRequests(
        self, request: staff_pb2.ListHonsekiRequestsRequest, context: grpc.ServicerContext
    ) -> staff_pb2.ListHonsekiRequestsResponse:
        queued = self._desk.honseki_requests(
            self._who(context), include_decided=request.include_decided
        )
        return staff_pb2.ListHonsekiRequestsResponse(
            requests=[honseki_request_pb(q) for q in queued]
        )

    def ApproveHonsekiRequest(
        self, request: staff_pb2.ApproveHonsekiRequestRequest, context: grpc.ServicerContext
    ) -> staff_pb2.HonsekiRequest:
        if request.member_no <= 0:
            raise InvalidArgument("member_no is the member's 順位, from 1", field="member_no")
        return honseki_request_pb(
            self._desk.approve_honseki(
                self._who(context),
                request.registration_id,
                request.koseki_id,
                request.member_no,
                request.note,
            )
        )

    def RejectHonsekiRequest(
        self, request: staff_pb2.RejectHonsekiRequestRequest, context: grpc.ServicerContext
    ) -> staff_pb2.HonsekiRequest:
        return honseki_request_pb(
            self._desk.reject_honseki(self._who(context), request.registration_id, request.note)
        )

    def _counter_desk(self) -> CounterDesk:
        if self._counter is None:
            raise FailedPrecondition("this center has no counter terminals")
        return self._counter

    def HandOverCounterCopy(
        self, request: staff_pb2.HandOverCounterCopyRequest, context: grpc.ServicerContext
    ) -> staff_pb2.CounterCopy:
        who = self._who(context)
        copy = self._counter_desk().hand_over(
            who.municipality_code, who.staff_id, request.reception_number
        )
        return counter_copy_pb(copy)

    def ListCounterCopies(
        self, request: staff_pb2.ListCounterCopiesRequest, context: grpc.ServicerContext
    ) -> staff_pb2.ListCounterCopiesResponse:
        who = self._who(context)
        copies = self._counter_desk().waiting(who.municipality_code)
        return staff_pb2.ListCounterCopiesResponse(copies=[counter_copy_pb(c) for c in copies])

    def SetTaxYears(
        self, request: staff_pb2.SetTaxYearsRequest, context: grpc.ServicerContext
    ) -> staff_pb2.TaxYearsSetting:
        view = self._desk.set_tax_years(self._who(context), request.fiscal_years)
        return staff_pb2.TaxYearsSetting(
            fiscal_years=view.fiscal_years,
            municipality_setting=view.municipality_setting,
            offered=view.offered,
        )


class PortalServicer(portal_pb2_grpc.PortalServiceServicer):
    """What kiosks list: notices in force and whether service is open now."""

    def __init__(self, engine: Engine, *, clock: Clock, kiosk_hours: DailyHours) -> None:
        self._engine = engine
        self._clock = clock
        self._hours = kiosk_hours

    def ListNotices(
        self, request: portal_pb2.ListNoticesRequest, context: grpc.ServicerContext
    ) -> portal_pb2.ListNoticesResponse:
        code = request.municipality_code
        if code:
            check_municipality_code(code)
        rows = active_notices(self._engine, code, self._clock())
        return portal_pb2.ListNoticesResponse(notices=[notice_pb(r) for r in rows])

    def ServiceStatus(
        self, request: portal_pb2.ServiceStatusRequest, context: grpc.ServicerContext
    ) -> portal_pb2.ServiceStatusResponse:
        code = check_municipality_code(request.municipality_code)
        now = self._clock()
        with Session(self._engine) as db:
            kinds = [o.kind for o in offerings_of(db, code, enabled_only=True)]
            rules = availability_of(db, code, kinds, now, self._hours)
        return portal_pb2.ServiceStatusResponse(
            open=kiosk_open(now, self._hours).available,
            hours=str(self._hours),
            kinds=[
                portal_pb2.KindStatus(
                    kind=k, available=a.available, reason=a.reason.value if a.reason else ""
                )
                for k, a in sorted(rules.items())
            ],
        )
