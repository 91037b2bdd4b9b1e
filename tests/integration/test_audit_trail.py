"""The audit trail of a whole center over loopback gRPC: what each action writes, that the chain
of a busy day verifies, and that no personal data of the register reaches the audit log or the
application log (captured at DEBUG from every logger of the process, which runs the center).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import pytest
from konbini.issuance.v1 import issuance_pb2
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc

from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from server.audit.log import opaque_id
from server.audit.verify import verify_chain
from server.bcl.records import ResidentRecord
from server.municipal.staff import StaffDesk
from tests.integration.conftest import OSAKA, Bench
from tests.integration.test_honseki_registration import (  # noqa: F401 (fixtures)
    family_in_osaka,
    osaka,
    osaka_staff,
)
from tests.integration.test_kiosk_visits import issuance_stub, md, reserve_one
from tests.pki import foreign_authority, issue_test_card

Row = tuple[object, ...]


def entries(bench: Bench, after: int, event: str = "") -> list[Row]:
    return bench.sql(
        "SELECT seq, event, actor, subject, municipality_code, details FROM audit_entries"
        " WHERE seq > :after AND event LIKE :event ORDER BY seq",
        after=after,
        event=f"{event}%",
    )


def last_seq(bench: Bench) -> int:
    [(seq,)] = bench.sql("SELECT COALESCE(MAX(seq), 0) FROM audit_entries")
    assert isinstance(seq, int)
    return seq


def staff(bench: Bench) -> staff_pb2_grpc.MunicipalityStaffServiceStub:
    return staff_pb2_grpc.MunicipalityStaffServiceStub(bench.api_channel)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture(scope="module")
def staff_token(bench: Bench) -> str:
    _, token = StaffDesk(bench.center.engine, clock=bench.clock).create_account(
        bench.seeded.profile.code, "住民課"
    )
    return token


def test_a_kiosk_visit_leaves_authentication_and_every_move_of_the_copy(bench: Bench) -> None:
    me = bench.take()
    before = last_seq(bench)
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    trail = entries(bench, before)
    serial = bench.serial_of(bench.seeded.cards[me.resident_id])
    muni = bench.seeded.profile.code
    assert trail[0][1:5] == ("auth.success", bench.kiosk_id, opaque_id(str(serial)), muni)
    copies = [row for row in trail if str(row[1]).startswith("issuance.")]
    assert [row[1] for row in copies] == [
        "issuance.reserved",
        "issuance.printing",
        "issuance.issued",
    ]
    [issuance_id] = {row[3] for row in copies}
    [(copy_id,)] = bench.sql(
        "SELECT id FROM issuances WHERE issue_number = :n", n=outcome.issue_number
    )
    assert issuance_id == copy_id
    issued = json.loads(str(copies[-1][5]))
    assert issued["kind"] == "juminhyo" and issued["from"] == "printing"


def test_a_refused_authentication_is_recorded_with_its_reason(bench: Bench) -> None:
    me = bench.take()
    card = issue_test_card(foreign_authority(bench.clock), me.resident_id)
    before = last_seq(bench)
    outcome = bench.terminal().visit(
        bench.reader_for_card(card), card.auth_pin, Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is not VisitStatus.ISSUED
    [refused] = entries(bench, before)
    assert refused[1:3] == ("auth.refused", bench.kiosk_id)
    assert json.loads(str(refused[5])) == {"reason": "CERTIFICATE_UNTRUSTED_ISSUER"}


def test_a_cancelled_copy_is_recorded_as_voided(bench: Bench) -> None:
    me = bench.take()
    before = last_seq(bench)
    token = bench.terminal().authenticate(bench.reader(me), bench.pin(me))
    assert isinstance(token, str)
    reservation_id = reserve_one(bench, token)
    issuance_stub(bench).CancelReservation(
        issuance_pb2.CancelReservationRequest(session_token=token, reservation_id=reservation_id),
        metadata=md(bench.kiosk_id),
    )
    voided = entries(bench, before, "issuance.voided")
    assert [(row[3], json.loads(str(row[5]))["from"]) for row in voided] == [
        (reservation_id, "reserved")
    ]


def test_suppression_and_its_lifting_name_the_staff_not_the_resident(
    bench: Bench, staff_token: str
) -> None:
    me = bench.take()
    before = last_seq(bench)
    sup = staff(bench).SuppressIssuance(
        staff_pb2.SuppressIssuanceRequest(resident_id=me.resident_id, note="DV支援措置"),
        metadata=bearer(staff_token),
    )
    staff(bench).LiftSuppression(
        staff_pb2.LiftSuppressionRequest(suppression_id=sup.suppression_id),
        metadata=bearer(staff_token),
    )
    trail = entries(bench, before, "staff.")
    subject = f"suppression:{sup.suppression_id}"
    assert [(row[1], row[3]) for row in trail] == [
        ("staff.suppression_set", subject),
        ("staff.suppression_lifted", subject),
    ]
    assert {str(row[2]).startswith(f"S{bench.seeded.profile.code}-") for row in trail} == {True}
    assert me.resident_id not in json.dumps(trail, default=str)


def personal_strings(people: Iterable[ResidentRecord]) -> set[str]:
    found: set[str] = set()
    for p in people:
        found |= {
            p.full_name,
            p.family_name + p.given_name,
            p.full_name_kana,
            p.family_name_kana + p.given_name_kana,
            p.birth_date.isoformat(),
            p.birth_date.strftime("%Y%m%d"),
            p.address,
            p.juminhyo_code,
            p.individual_number,
        }
    return found


def test_no_personal_data_in_the_application_log_or_the_audit_log(
    bench: Bench,
    staff_token: str,
    osaka_staff: str,  # noqa: F811 (the fixture)
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger of the process
    before = last_seq(bench)
    head = bench.take(lambda r: r.is_household_head and len(bench.household(r)) >= 2)
    visited = bench.terminal().visit(
        bench.reader(head), bench.pin(head), Order(CertificateChoice.JUMINHYO, "household")
    )
    assert visited.status is VisitStatus.ISSUED, visited
    sup = staff(bench).SuppressIssuance(
        staff_pb2.SuppressIssuanceRequest(household_id=head.household_id, note="支援措置"),
        metadata=bearer(staff_token),
    )
    refused = bench.terminal().visit(
        bench.reader(head), bench.pin(head), Order(CertificateChoice.JUMINHYO)
    )
    assert refused.status is VisitStatus.NOT_AVAILABLE
    staff(bench).LiftSuppression(
        staff_pb2.LiftSuppressionRequest(suppression_id=sup.suppression_id),
        metadata=bearer(staff_token),
    )
    # 本籍地 利用登録: filed at a kiosk, decided by 大阪市's staff.
    applicant = family_in_osaka(bench, "OSK-AUDIT")[0]
    filed = bench.terminal().request_honseki_registration(
        bench.reader(applicant), bench.pin(applicant), OSAKA
    )
    assert filed.status is VisitStatus.REGISTRATION_FILED, filed
    staff(bench).RejectHonsekiRequest(
        staff_pb2.RejectHonsekiRequestRequest(registration_id=filed.registration_id),
        metadata=bearer(osaka_staff),
    )

    trail = entries(bench, before)
    events = {str(row[1]) for row in trail}
    assert {
        "auth.success",
        "issuance.issued",
        "staff.suppression_set",
        "staff.suppression_lifted",
        "honseki.rejected",
    } <= events
    audit_text = json.dumps(trail, ensure_ascii=False, default=str)
    logged = [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert logged, "nothing was logged: the capture is not working"
    people = [*bench.household(head), applicant]
    for secret in personal_strings(people):
        assert secret not in audit_text, secret
        leaks = [line for line in logged if secret in line]
        assert leaks == [], (secret, leaks[:3])


def test_the_chain_of_everything_above_verifies(bench: Bench) -> None:
    report = verify_chain(bench.center.engine)
    assert report.ok, report.problems
    assert report.entries == last_seq(bench) > 0
