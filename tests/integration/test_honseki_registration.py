"""本籍地 利用登録 end to end over loopback gRPC: kiosk request, the 本籍地's staff, the 戸籍 copy.

The bench's residents live in 千代田区; 大阪市 keeps some of their 戸籍 (it declares a 戸籍 server
and offers 戸籍 certificates). A resident files a registration with 大阪市 at a kiosk; 大阪市's
staff — only theirs — see it with ranked candidates and link it to a 戸籍 member; from the next
authentication on, at any kiosk, that 戸籍 is offered, certified by 大阪市's mayor, charged and
settled to 大阪市.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import grpc
import pytest
from konbini.issuance.v1 import issuance_pb2
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc
from sqlmodel import Session

from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from server.bcl.models import BclKosekiEvent
from server.bcl.records import ResidentRecord
from server.bcl.registers import KosekiEventKind
from server.common.era import to_wareki
from server.municipal.staff import StaffDesk
from tests.integration.conftest import OSAKA, Bench, add_osaka
from tests.integration.test_certificates import (
    KIND,
    add_koseki,
    koseki_of,
    menu,
    offering,
    pages_text,
    refusal,
    reserve,
    session,
)

OSAKA_HONSEKI = "大阪府大阪市北区中之島一丁目3番地"
OSAKA_HENSEI = date(2012, 6, 1)  # 戸籍編製 of the families' 戸籍
C = CertificateChoice


@pytest.fixture(scope="module")
def osaka(bench: Bench) -> None:
    add_osaka(bench.center.engine)  # the 本籍地


def staff_token(bench: Bench, code: str) -> str:
    _, token = StaffDesk(bench.center.engine, clock=bench.clock).create_account(code, "戸籍担当")
    return token


@pytest.fixture(scope="module")
def osaka_staff(bench: Bench, osaka: None) -> str:
    return staff_token(bench, OSAKA)


@pytest.fixture(scope="module")
def chiyoda_staff(bench: Bench) -> str:
    return staff_token(bench, bench.seeded.profile.code)


def staff(bench: Bench) -> staff_pb2_grpc.MunicipalityStaffServiceStub:
    return staff_pb2_grpc.MunicipalityStaffServiceStub(bench.channel)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def family_in_osaka(bench: Bench, koseki_id: str) -> list[ResidentRecord]:
    """A 千代田区 household whose 戸籍 大阪市 keeps (not linked: they do not live there)."""
    head = bench.take(lambda r: r.is_household_head and len(bench.household(r)) >= 2)
    people = [head, *(m for m in bench.household(head) if m.resident_id != head.resident_id)]
    members = koseki_of(koseki_id, people, honseki=OSAKA_HONSEKI, linked=False)
    # A namesake in another 戸籍, born on another day: a candidate that must rank lower.
    namesake = dataclasses.replace(
        members[0],
        koseki_id=f"{koseki_id}-N",
        birth_date=date(head.birth_date.year - 30, 1, 1),
        hittousha="別人　太郎",
        events="",
    )
    add_koseki(bench, OSAKA, [*members, namesake])
    with Session(bench.center.engine) as db:  # its 戸籍事項, and each member's 出生
        db.add(
            BclKosekiEvent(
                municipality_code=OSAKA,
                koseki_id=koseki_id,
                member_no=0,
                event_no=1,
                kind=KosekiEventKind.HENSEI.value,
                event_date=OSAKA_HENSEI,
            )
        )
        for m in members:
            db.add(
                BclKosekiEvent(
                    municipality_code=OSAKA,
                    koseki_id=koseki_id,
                    member_no=m.member_no,
                    event_no=1,
                    kind=KosekiEventKind.BIRTH.value,
                    event_date=m.birth_date,
                    notified_on=m.birth_date,
                    notifier="父",
                    place="大阪府大阪市北区",
                )
            )
        db.commit()
    return people


def queued(bench: Bench, token: str, **kw: bool) -> list[staff_pb2.HonsekiRequest]:
    resp = staff(bench).ListHonsekiRequests(
        staff_pb2.ListHonsekiRequestsRequest(**kw), metadata=bearer(token)
    )
    return list(resp.requests)


def test_registration_approved_by_the_honsekichi_lets_the_resident_print_their_koseki(
    bench: Bench, osaka_staff: str, chiyoda_staff: str
) -> None:
    people = family_in_osaka(bench, "OSK-0001")
    me = people[0]

    # 1. Before any registration: no 戸籍 offered, and a copy cannot be reserved.
    token = session(bench, me)
    assert offering(bench, token, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU) is None

    # 2. At a kiosk, the resident files the request with 大阪市.
    filed = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), OSAKA)
    assert filed.status is VisitStatus.REGISTRATION_FILED, filed
    assert filed.municipality_name == "大阪府大阪市" and not filed.approved
    again = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), OSAKA)
    assert again.registration_id == filed.registration_id  # one request, not two

    # 3. Pending: the kiosk lists it, and a 戸籍 copy is refused with its own reason.
    token = session(bench, me)
    [reg] = menu(bench, token).honseki_registrations
    assert reg.state == issuance_pb2.HONSEKI_REGISTRATION_STATE_PENDING
    assert reg.municipality_code == OSAKA
    err = refusal(lambda: reserve(bench, token, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU, ["x"]))
    assert err.reason == "HONSEKI_REGISTRATION_PENDING"
    pending = bench.terminal().visit(bench.reader(me), bench.pin(me), Order(C.KOSEKI_ZENBU))
    assert pending.status is VisitStatus.NOT_OFFERED

    # 4. 大阪市's staff see it with the right member ranked first, and why; 千代田区's do not.
    assert all(q.registration_id != filed.registration_id for q in queued(bench, chiyoda_staff))
    [request] = [
        q for q in queued(bench, osaka_staff) if q.registration_id == filed.registration_id
    ]
    assert (request.family_name, request.given_name) == (me.family_name, me.given_name)
    assert request.birth_date == me.birth_date.isoformat()
    assert request.hittousha == me.hittousha and request.residence_municipality_code == "131016"
    best, second = request.candidates[0], request.candidates[1]
    assert (best.koseki_id, best.member_no) == ("OSK-0001", 1)
    codes = {r.code for r in best.reasons}
    assert {"BIRTH_DATE", "NAME", "READING", "SEX"} <= codes
    assert best.score > second.score and second.koseki_id == "OSK-0001-N"
    assert "BIRTH_DATE_DIFFERS" in {r.code for r in second.reasons}
    assert any(r.label == "生年月日一致" for r in best.reasons)

    # 5. Only the 本籍地 decides.
    denied = refusal(
        lambda: staff(bench).ApproveHonsekiRequest(
            staff_pb2.ApproveHonsekiRequestRequest(
                registration_id=filed.registration_id, koseki_id="OSK-0001", member_no=1
            ),
            metadata=bearer(chiyoda_staff),
        )
    )
    assert (
        denied.code is grpc.StatusCode.PERMISSION_DENIED and denied.reason == "OTHER_MUNICIPALITY"
    )
    approved = staff(bench).ApproveHonsekiRequest(
        staff_pb2.ApproveHonsekiRequestRequest(
            registration_id=filed.registration_id, koseki_id=best.koseki_id, member_no=1
        ),
        metadata=bearer(osaka_staff),
    )
    assert approved.state == "approved" and approved.decided_by.startswith(f"S{OSAKA}")

    # 6. Next authentication, at another kiosk: 大阪市's 戸籍 certificates are offered.
    other_kiosk = bench.seeded.kiosk_ids[1]
    token = session(bench, me, other_kiosk)
    offered = {
        o.kind: o for o in menu(bench, token, other_kiosk).offerings if o.municipality_code == OSAKA
    }
    assert set(offered) == {
        KIND.CERTIFICATE_KIND_KOSEKI_ZENBU,
        KIND.CERTIFICATE_KIND_KOSEKI_KOJIN,
        KIND.CERTIFICATE_KIND_KOSEKI_FUHYO,
    }
    assert offered[KIND.CERTIFICATE_KIND_KOSEKI_ZENBU].municipality_name == "大阪府大阪市"
    assert offered[KIND.CERTIFICATE_KIND_KOSEKI_ZENBU].fee_yen == 450

    # 7. The 戸籍全部事項証明書 prints with every member, certified by 大阪市.
    done = bench.terminal(kiosk_id=other_kiosk).visit(
        bench.reader(me), bench.pin(me), Order(C.KOSEKI_ZENBU)
    )
    assert done.status is VisitStatus.ISSUED, done
    text = "".join(pages_text(done.pdf))
    assert "戸籍全部事項証明書" in text and OSAKA_HONSEKI in text
    assert "".join(me.full_name.split()) in text
    for p in people[1:]:
        assert f"【名】{p.given_name}" in text
    squeezed = "".join(text.split())
    assert f"戸籍事項戸籍編製【編製日】{to_wareki(OSAKA_HENSEI)}" in squeezed
    for p in people:
        assert f"出生【出生日】{to_wareki(p.birth_date)}【出生地】大阪府大阪市北区" in squeezed
    assert "大阪府大阪市長大阪一郎" in text and "別人" not in text
    assert f"-{OSAKA}-{other_kiosk}-" in done.issue_number
    assert bench.sql(
        "SELECT municipality_code, kind, fee_yen, kiosk_municipality_code FROM settlement_entries"
        " WHERE issue_number = :n",
        n=done.issue_number,
    ) == [(OSAKA, "koseki_zenbu", 450, "131016")]


def test_a_rejected_request_offers_nothing_and_may_be_filed_again(
    bench: Bench, osaka_staff: str
) -> None:
    me = family_in_osaka(bench, "OSK-0002")[0]
    filed = bench.terminal().request_honseki_registration(
        bench.reader(me), bench.pin(me), OSAKA, hittousha="誰か　別の人"
    )
    rejected = staff(bench).RejectHonsekiRequest(
        staff_pb2.RejectHonsekiRequestRequest(
            registration_id=filed.registration_id, note="筆頭者が一致しない"
        ),
        metadata=bearer(osaka_staff),
    )
    assert rejected.state == "rejected" and rejected.hittousha == "誰か　別の人"
    token = session(bench, me)
    assert offering(bench, token, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU) is None
    [reg] = menu(bench, token).honseki_registrations
    assert reg.state == issuance_pb2.HONSEKI_REGISTRATION_STATE_REJECTED
    assert any(
        q.registration_id == filed.registration_id
        for q in queued(bench, osaka_staff, include_decided=True)
    )
    again = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), OSAKA)
    assert again.status is VisitStatus.REGISTRATION_FILED
    assert again.registration_id != filed.registration_id
    twice = refusal(
        lambda: staff(bench).RejectHonsekiRequest(
            staff_pb2.RejectHonsekiRequestRequest(registration_id=filed.registration_id),
            metadata=bearer(osaka_staff),
        )
    )
    assert twice.reason == "REGISTRATION_NOT_PENDING"


def test_a_member_who_left_the_koseki_cannot_be_linked(bench: Bench, osaka_staff: str) -> None:
    people = family_in_osaka(bench, "OSK-0003")
    me = people[0]
    add_koseki(
        bench,
        OSAKA,
        koseki_of("OSK-0003-OLD", [me], honseki=OSAKA_HONSEKI, linked=False, removed=[1]),
    )
    filed = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), OSAKA)
    err = refusal(
        lambda: staff(bench).ApproveHonsekiRequest(
            staff_pb2.ApproveHonsekiRequestRequest(
                registration_id=filed.registration_id, koseki_id="OSK-0003-OLD", member_no=1
            ),
            metadata=bearer(osaka_staff),
        )
    )
    assert err.reason == "KOSEKI_MEMBER_NOT_CURRENT"
    missing = refusal(
        lambda: staff(bench).ApproveHonsekiRequest(
            staff_pb2.ApproveHonsekiRequestRequest(
                registration_id=filed.registration_id, koseki_id="OSK-9999", member_no=1
            ),
            metadata=bearer(osaka_staff),
        )
    )
    assert missing.code is grpc.StatusCode.NOT_FOUND and missing.reason == "KOSEKI_MEMBER_NOT_FOUND"


def test_requests_need_a_participating_honsekichi_elsewhere(bench: Bench, osaka: None) -> None:
    me = bench.take()
    home = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), "131016")
    assert home.status is VisitStatus.REFUSED
    assert home.error is not None and home.error.reason == "HONSEKI_IS_RESIDENCE"
    absent = bench.terminal().request_honseki_registration(
        bench.reader(me), bench.pin(me), "011002"
    )
    assert absent.error is not None and absent.error.reason == "HONSEKI_NOT_PARTICIPATING"
    bad = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), "27100")
    assert bad.error is not None and bad.error.code is grpc.StatusCode.INVALID_ARGUMENT
