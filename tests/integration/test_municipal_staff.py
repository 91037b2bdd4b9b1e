"""Municipality staff over loopback gRPC, and what kiosks see as a result."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from konbini.issuance.v1 import issuance_pb2
from konbini.portal.v1 import portal_pb2, portal_pb2_grpc
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc

from clients.errors import decode_error
from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from server.common.identity import KIOSK_ID_HEADER
from server.common.protoconv import timestamp
from server.municipal.staff import StaffDesk
from tests.integration.conftest import Bench, add_yokohama
from tests.integration.test_kiosk_visits import (
    download,
    issuance_stub,
    md,
    reserve_one,
    session_for,
)


@pytest.fixture(scope="module")
def staff_token(bench: Bench) -> str:
    _, token = StaffDesk(bench.center.engine, clock=bench.clock).create_account(
        bench.seeded.profile.code, "住民課 窓口担当"
    )
    return token


@pytest.fixture(scope="module")
def other_staff_token(bench: Bench) -> str:
    """Staff of another municipality (神奈川県横浜市) on the same center."""
    code = add_yokohama(bench.center.engine)
    _, token = StaffDesk(bench.center.engine, clock=bench.clock).create_account(code, "市民課")
    return token


def staff(bench: Bench) -> staff_pb2_grpc.MunicipalityStaffServiceStub:
    return staff_pb2_grpc.MunicipalityStaffServiceStub(bench.api_channel)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def test_household_suppression_stops_kiosk_issuance_at_once_and_lifting_restores_it(
    bench: Bench, staff_token: str
) -> None:
    me = bench.take(lambda r: len(bench.household(r)) >= 2)
    order = Order(CertificateChoice.JUMINHYO)
    sup = staff(bench).SuppressIssuance(
        staff_pb2.SuppressIssuanceRequest(household_id=me.household_id, note="DV支援措置"),
        metadata=bearer(staff_token),
    )
    refused = bench.terminal().visit(bench.reader(me), bench.pin(me), order)
    assert refused.status is VisitStatus.NOT_AVAILABLE
    assert refused.error is not None
    assert "DV" not in refused.error.message + refused.screen
    staff(bench).LiftSuppression(
        staff_pb2.LiftSuppressionRequest(suppression_id=sup.suppression_id),
        metadata=bearer(staff_token),
    )
    assert (
        bench.terminal().visit(bench.reader(me), bench.pin(me), order).status is VisitStatus.ISSUED
    )


def test_suppression_set_after_reservation_stops_the_copy_before_it_prints(
    bench: Bench, staff_token: str
) -> None:
    me = bench.take()
    token = session_for(bench, me)
    rid = reserve_one(bench, token)
    staff(bench).SuppressIssuance(
        staff_pb2.SuppressIssuanceRequest(resident_id=me.resident_id), metadata=bearer(staff_token)
    )
    with pytest.raises(grpc.RpcError) as err:
        download(bench, token, rid, "after-suppression")
    assert decode_error(err.value).reason == "NOT_AVAILABLE_AT_KIOSK"
    assert bench.sql("SELECT state FROM issuances WHERE id = :i", i=rid) == [("voided",)]


def test_staff_cannot_touch_another_municipalitys_records(
    bench: Bench, staff_token: str, other_staff_token: str
) -> None:
    me = bench.take()
    sup = staff(bench).SuppressIssuance(
        staff_pb2.SuppressIssuanceRequest(resident_id=me.resident_id), metadata=bearer(staff_token)
    )
    with pytest.raises(grpc.RpcError) as err:
        staff(bench).LiftSuppression(
            staff_pb2.LiftSuppressionRequest(suppression_id=sup.suppression_id),
            metadata=bearer(other_staff_token),
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        staff(bench).SuppressIssuance(
            staff_pb2.SuppressIssuanceRequest(resident_id=me.resident_id),
            metadata=bearer(other_staff_token),
        )
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


def test_staff_calls_without_a_valid_token_are_unauthenticated(bench: Bench) -> None:
    missing, invalid = ((), "CREDENTIALS_MISSING"), (bearer("not-a-token"), "CREDENTIALS_INVALID")
    for md_, reason in (missing, invalid):
        with pytest.raises(grpc.RpcError) as err:
            staff(bench).ListOfferings(staff_pb2.ListOfferingsRequest(), metadata=md_)
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert decode_error(err.value).reason == reason


def test_bcl_municipality_cannot_offer_kisai_and_koseki_needs_a_koseki_server(
    bench: Bench, staff_token: str
) -> None:
    for kind in ("juminhyo_kisai", "koseki_zenbu", "koseki_fuhyo"):
        with pytest.raises(grpc.RpcError) as err:
            staff(bench).SetOffering(
                staff_pb2.SetOfferingRequest(kind=kind, fee_yen=300, enabled=True),
                metadata=bearer(staff_token),
            )
        assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert decode_error(err.value).reason == "OFFERING_NOT_ALLOWED"


def test_fee_change_applies_to_the_next_reservation(bench: Bench, staff_token: str) -> None:
    me = bench.take()
    staff(bench).SetOffering(
        staff_pb2.SetOfferingRequest(kind="juminhyo", fee_yen=150, enabled=True),
        metadata=bearer(staff_token),
    )
    try:
        token = session_for(bench, me)
        rid = reserve_one(bench, token)
        assert bench.sql("SELECT fee_yen FROM issuances WHERE id = :i", i=rid) == [(150,)]
    finally:
        staff(bench).SetOffering(
            staff_pb2.SetOfferingRequest(
                kind="juminhyo", fee_yen=bench.seeded.profile.fees["juminhyo"], enabled=True
            ),
            metadata=bearer(staff_token),
        )


def test_a_suspension_window_closes_that_kind_and_the_kiosk_shows_its_reason(
    bench: Bench, staff_token: str
) -> None:
    me = bench.take()
    now = bench.clock.now
    window = staff(bench).AddSuspension(
        staff_pb2.AddSuspensionRequest(
            kind="juminhyo",
            starts_at=timestamp(now - timedelta(minutes=1)),
            ends_at=timestamp(now + timedelta(hours=1)),
            reason="システムメンテナンスのため停止しています。",
        ),
        metadata=bearer(staff_token),
    )
    try:
        outcome = bench.terminal().visit(
            bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
        )
        assert outcome.status is VisitStatus.CLOSED
        assert outcome.screen == "システムメンテナンスのため停止しています。"
        token = session_for(bench, me)
        offers = issuance_stub(bench).ListOfferings(
            issuance_pb2.ListOfferingsRequest(session_token=token), metadata=md(bench.kiosk_id)
        )
        by_kind = {o.kind: o for o in offers.offerings}
        assert not by_kind[issuance_pb2.CERTIFICATE_KIND_JUMINHYO].available
        assert by_kind[issuance_pb2.CERTIFICATE_KIND_JUMINHYO].unavailable_reason == "SUSPENDED"
        with pytest.raises(grpc.RpcError) as err:
            reserve_one(bench, token)
        assert decode_error(err.value).reason == "SUSPENDED"
    finally:
        staff(bench).CancelSuspension(
            staff_pb2.CancelSuspensionRequest(suspension_id=window.suspension_id),
            metadata=bearer(staff_token),
        )


def test_outside_kiosk_hours_authentication_is_refused_with_the_hours(
    bench: Bench, restore_clock: None
) -> None:
    me = bench.take()
    bench.clock.now = bench.clock.now.replace(hour=23, minute=30)
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.CLOSED
    assert outcome.error is not None and outcome.error.reason == "OUTSIDE_SERVICE_HOURS"
    assert "6時30分" in outcome.screen


def test_certificate_hours_limit_one_kind(
    bench: Bench, staff_token: str, restore_clock: None
) -> None:
    registered = {s.resident_id for s in bench.seeded.seals}
    me = bench.take(lambda r: r.resident_id in registered)
    staff(bench).SetCertificateHours(
        staff_pb2.SetCertificateHoursRequest(
            hours=staff_pb2.CertificateHours(kind="inkan", opens="08:30", closes="17:15")
        ),
        metadata=bearer(staff_token),
    )
    try:
        bench.clock.now = bench.clock.now.replace(hour=18, minute=0)
        late = bench.terminal().visit(
            bench.reader(me), bench.pin(me), Order(CertificateChoice.INKAN)
        )
        assert late.status is VisitStatus.CLOSED
        # Other kinds keep the national hours.
        assert (
            bench.terminal()
            .visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
            .status
            is VisitStatus.ISSUED
        )
    finally:
        staff(bench).SetCertificateHours(
            staff_pb2.SetCertificateHoursRequest(
                hours=staff_pb2.CertificateHours(kind="inkan", opens="00:00", closes="24:00")
            ),
            metadata=bearer(staff_token),
        )


def test_published_notice_is_listed_to_kiosks_while_in_force(
    bench: Bench, staff_token: str
) -> None:
    now = bench.clock.now
    staff(bench).PublishNotice(
        staff_pb2.PublishNoticeRequest(
            title="システム停止のお知らせ",
            body="4月5日 2時から5時まで停止します。",
            starts_at=timestamp(now - timedelta(hours=1)),
            ends_at=timestamp(now + timedelta(days=5)),
        ),
        metadata=bearer(staff_token),
    )
    portal = portal_pb2_grpc.PortalServiceStub(bench.channel)
    kiosk_md = ((KIOSK_ID_HEADER, bench.kiosk_id),)
    listed = portal.ListNotices(
        portal_pb2.ListNoticesRequest(municipality_code=bench.seeded.profile.code),
        metadata=kiosk_md,
    )
    assert "システム停止のお知らせ" in [n.title for n in listed.notices]
    status = portal.ServiceStatus(
        portal_pb2.ServiceStatusRequest(municipality_code=bench.seeded.profile.code),
        metadata=kiosk_md,
    )
    assert status.open and status.hours == "06:30-23:00"
