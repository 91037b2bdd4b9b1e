"""An Issue that refuses the copy it read: the copy is moved as any other move is (its state,
its line in the transition log, its audit entry, no money), in the Issue's own transaction."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from konbini.issuance.v1 import issuance_pb2

from clients.errors import decode_error
from server.common.clock import FrozenClock
from server.common.errors import DomainError
from server.issuance.documents import CertificateDocument, CertificateKind
from server.issuance.service import IssuanceDesk, IssuanceSettings, ReserveRequest
from server.municipal.staff import StaffDesk
from tests.integration.conftest import Bench
from tests.integration.test_certificates import KIND, md, offering, reserve, session, stub


class _RendersNothing:
    """These Issues are refused before any copy is rendered."""

    def render(self, doc: CertificateDocument, *, created_at: object) -> bytes:
        raise AssertionError("a refused Issue rendered a copy")


def _moves(bench: Bench, issuance_id: str) -> list[tuple[object, ...]]:
    return bench.sql(
        "SELECT from_state, to_state, reason FROM issuance_transitions WHERE issuance_id = :i"
        " ORDER BY id",
        i=issuance_id,
    )


def _audited(bench: Bench, issuance_id: str) -> list[tuple[object, ...]]:
    return bench.sql(
        "SELECT event FROM audit_entries WHERE subject = :i ORDER BY seq", i=issuance_id
    )


def _money(bench: Bench, issuance_id: str) -> list[tuple[object, ...]]:
    return bench.sql("SELECT fee_yen FROM settlement_entries WHERE issuance_id = :i", i=issuance_id)


def test_issue_after_suppression_voids_the_reservation_with_its_transition_and_audit_entry(
    bench: Bench,
) -> None:
    me = bench.take()
    token = session(bench, me)
    juminhyo = offering(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO)
    assert juminhyo is not None
    mine = [s.subject_id for s in juminhyo.eligible_subjects if s.is_self]
    rid = reserve(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO, mine).reservation_id
    desk = StaffDesk(bench.center.engine, clock=bench.clock)
    _, staff = desk.create_account(bench.seeded.profile.code, "支援措置担当")
    who = desk.authenticate(staff)
    suppression = desk.suppress(who, resident_id=me.resident_id, note="DV支援措置")
    request = issuance_pb2.IssueRequest(
        session_token=token, reservation_id=rid, idempotency_key=f"s-{rid}", printer_id="P1"
    )
    try:
        with pytest.raises(grpc.RpcError) as err:
            list(stub(bench).Issue(request, metadata=md(bench.kiosk_id)))
    finally:
        assert suppression.id is not None
        desk.lift_suppression(who, suppression.id)
    assert decode_error(err.value).reason == "NOT_AVAILABLE_AT_KIOSK"
    assert bench.sql("SELECT state, void_reason FROM issuances WHERE id = :i", i=rid) == [
        ("voided", "suppressed")
    ]
    assert _moves(bench, rid) == [("reserved", "voided", "suppressed")]
    assert _audited(bench, rid) == [("issuance.reserved",), ("issuance.voided",)]
    assert _money(bench, rid) == []


def test_issue_of_an_expired_reservation_in_a_live_session_voids_it_with_its_audit_entry(
    bench: Bench,
) -> None:
    me = bench.take()
    token = session(bench, me)  # ten minutes
    clock = FrozenClock(bench.clock.now)
    settings = IssuanceSettings(reservation_ttl=timedelta(minutes=1))
    desk = IssuanceDesk(
        bench.center.engine, renderer=_RendersNothing(), clock=clock, settings=settings
    )
    juminhyo = offering(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO)
    assert juminhyo is not None
    mine = tuple(s.subject_id for s in juminhyo.eligible_subjects if s.is_self)
    rid = desk.reserve(token, bench.kiosk_id, ReserveRequest(CertificateKind.JUMINHYO, mine))
    clock.advance(timedelta(minutes=2))
    with pytest.raises(DomainError) as err:
        desk.issue(token, bench.kiosk_id, rid.reservation_id, f"e-{rid.reservation_id}", "P1")
    assert err.value.error_reason == "RESERVATION_EXPIRED"
    assert bench.sql("SELECT state FROM issuances WHERE id = :i", i=rid.reservation_id) == [
        ("voided",)
    ]
    assert _moves(bench, rid.reservation_id) == [("reserved", "voided", "reservation expired")]
    assert _audited(bench, rid.reservation_id) == [("issuance.reserved",), ("issuance.voided",)]
    assert _money(bench, rid.reservation_id) == []
