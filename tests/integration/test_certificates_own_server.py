"""A municipality with its own issuing server and a declared 戸籍 server, over loopback gRPC.

住民票記載事項証明書 for the household, and the 戸籍 and 附票 of residents whose 本籍 is where
they live (found in the 戸籍 server by their 宛名番号): who may obtain which, what is refused (a
戸籍 one is not a member of, one left by marriage, a closed 戸籍), and a large 戸籍 over several
sheets.
"""

from __future__ import annotations

import dataclasses

import grpc
import pytest
from konbini.issuance.v1 import issuance_pb2
from konbini.staff.v1 import staff_pb2
from sqlmodel import Session

from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitStatus
from hardware_sim.printer import KioskPrinter
from server.bcl.records import ResidentRecord
from server.bcl.registers import KosekiMemberRecord
from server.db.models import Issuance, Municipality
from server.kiosks.registry import KioskRegistry
from server.municipal.staff import StaffDesk
from tests.integration.conftest import Bench
from tests.integration.test_certificates import (
    KIND,
    add_koseki,
    koseki_of,
    md,
    offering,
    pages_text,
    refusal,
    reserve,
    session,
    stub,
)
from tests.integration.test_counter_terminal import bearer
from tests.integration.test_counter_terminal import staff as counter_staff

C = CertificateChoice
HONSEKI = "東京都千代田区一番町3番地"


@pytest.fixture(scope="module", autouse=True)
def own_server(bench: Bench) -> None:
    """The bench's 千代田区 runs its own issuing server and declares a 戸籍 server."""
    code = bench.seeded.profile.code
    with Session(bench.center.engine) as db:
        muni = db.get(Municipality, code)
        assert muni is not None
        muni.backend, muni.koseki_server = "own", "chiyoda-koseki"
        db.add(muni)
        db.commit()
    desk = StaffDesk(bench.center.engine, clock=bench.clock)
    _, token = desk.create_account(code, "戸籍住民課")
    who = desk.authenticate(token)
    for kind, fee in (
        ("juminhyo_kisai", 200),
        ("koseki_zenbu", 350),
        ("koseki_kojin", 350),
        ("koseki_fuhyo", 250),
    ):
        desk.set_offering(who, kind, fee, True)


# Households a scenario has built a 戸籍 for, per bench (each database backend has its own).
_used: dict[int, set[str]] = {}


def used_households(bench: Bench) -> set[str]:
    return _used.setdefault(id(bench.center), set())


def family(bench: Bench, size: int = 3) -> list[ResidentRecord]:
    """A household no other scenario here has used, head first, all with cards."""
    used = used_households(bench)

    def fits(r: ResidentRecord) -> bool:
        members = bench.household(r)
        return (
            r.is_household_head
            and r.household_id not in used
            and len(members) >= size
            and all(m.resident_id in bench.seeded.cards for m in members[:size])
        )

    head = bench.take(fits)
    used.add(head.household_id)
    others = [m for m in bench.household(head) if m.resident_id != head.resident_id]
    return [head, *others[: size - 1]]


def stranger(bench: Bench) -> ResidentRecord:
    """A resident of a household without a 戸籍 here (then marked used)."""
    used = used_households(bench)
    me = bench.take(lambda r: r.household_id not in used)
    used.add(me.household_id)
    return me


def left_by_marriage(koseki_id: str, no: int, head: ResidentRecord) -> KosekiMemberRecord:
    """A son who married out: still listed in the 戸籍, marked 除籍, living elsewhere."""
    return KosekiMemberRecord(
        koseki_id=koseki_id,
        honseki=HONSEKI,
        hittousha=head.full_name,
        member_no=no,
        family_name=head.family_name,
        given_name="啓太郎",
        birth_date=head.birth_date.replace(year=head.birth_date.year + 26),
        sex=head.sex,
        relationship="二男",
        events=f"出生 {head.birth_date.year + 26}-03-08；婚姻 2024-05-05",
        removed_reason="婚姻",
    )


def test_kisai_for_the_household_from_an_own_server(bench: Bench) -> None:
    people = family(bench)
    head = people[0]
    done = bench.terminal().visit(
        bench.reader(head),
        bench.pin(head),
        Order(C.JUMINHYO_KISAI, subjects="household", include_head_and_relationship=True),
    )
    assert done.status is VisitStatus.ISSUED, done
    text = "".join(pages_text(done.pdf))
    assert "住民票記載事項証明書" in text and "住民票に記載されている事項と相違ない" in text
    for p in bench.household(head):
        assert "".join(p.full_name.split()) in text
    assert bench.sql(
        "SELECT kind, fee_yen, bcl_fee_yen FROM settlement_entries WHERE issue_number = :n",
        n=done.issue_number,
    ) == [("juminhyo_kisai", 200, 0)]  # an own server: no BCL issuing fee


def test_zenbu_and_kojin_for_members_of_the_koseki_kept_here(bench: Bench) -> None:
    people = family(bench)
    head, spouse = people[0], people[1]
    members = koseki_of("K-HOME1", people, honseki=HONSEKI, linked=True)
    members.append(left_by_marriage("K-HOME1", len(members) + 1, head))
    add_koseki(bench, bench.seeded.profile.code, members)

    zenbu = bench.terminal().visit(bench.reader(head), bench.pin(head), Order(C.KOSEKI_ZENBU))
    assert zenbu.status is VisitStatus.ISSUED, zenbu
    text = "".join(pages_text(zenbu.pdf))
    assert "戸籍全部事項証明書" in text and HONSEKI in text
    for p in people:
        assert f"【名】{p.given_name}" in text or "".join(p.full_name.split()) in text
    assert "【名】啓太郎" in text and "【除籍事由】婚姻" in text

    # The spouse asks for the head's 個人事項: one current member of her own 戸籍.
    kojin = bench.terminal().visit(
        bench.reader(spouse),
        bench.pin(spouse),
        Order(C.KOSEKI_KOJIN, subjects=(head.full_name,)),
    )
    assert kojin.status is VisitStatus.ISSUED, kojin
    text = "".join(pages_text(kojin.pdf))
    assert "戸籍個人事項証明書" in text and "一部の者について" in text
    assert f"【名】{head.given_name}" in text and f"【名】{spouse.given_name}" not in text
    assert "啓太郎" not in text


def test_fuhyo_shows_the_addresses_of_the_members_chosen(bench: Bench) -> None:
    people = family(bench)
    add_koseki(
        bench, bench.seeded.profile.code, koseki_of("K-HOME2", people, honseki=HONSEKI, linked=True)
    )
    me = people[0]
    done = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(C.KOSEKI_FUHYO, subjects="household")
    )
    assert done.status is VisitStatus.ISSUED, done
    text = "".join(pages_text(done.pdf))
    assert "戸籍の附票の写し" in text and "【住所】大阪府大阪市北区梅田三丁目3番地" in text
    assert text.count("附票に記録されている者") == len(people)
    assert "戸籍の附票の原本と相違ない" in text


def test_koseki_of_a_koseki_one_is_not_a_member_of_is_refused(bench: Bench) -> None:
    people = family(bench)
    add_koseki(
        bench, bench.seeded.profile.code, koseki_of("K-HOME3", people, honseki=HONSEKI, linked=True)
    )
    outsider = stranger(bench)  # no 戸籍 kept here
    token = session(bench, outsider)
    assert offering(bench, token, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU) is None
    their_token = session(bench, people[0])
    theirs = offering(bench, their_token, KIND.CERTIFICATE_KIND_KOSEKI_KOJIN)
    assert theirs is not None
    handle = theirs.eligible_subjects[0].subject_id  # another session's handle means nothing
    err = refusal(lambda: reserve(bench, token, KIND.CERTIFICATE_KIND_KOSEKI_KOJIN, [handle]))
    assert err.code is grpc.StatusCode.PERMISSION_DENIED and err.reason == "NOT_ELIGIBLE"
    refused = bench.terminal().visit(
        bench.reader(outsider), bench.pin(outsider), Order(C.KOSEKI_KOJIN)
    )
    assert refused.status is VisitStatus.NOT_OFFERED


def test_a_member_who_left_and_a_closed_koseki_are_not_issued(bench: Bench) -> None:
    code = bench.seeded.profile.code
    married_out = stranger(bench)
    parents = koseki_of("K-LEFT", [married_out], honseki=HONSEKI, linked=True, removed=[1])
    head = dataclasses.replace(
        parents[0], member_no=1, given_name="幸雄", resident_id="", removed_reason=""
    )
    add_koseki(bench, code, [head, dataclasses.replace(parents[0], member_no=2)])
    widowed = stranger(bench)
    closed = koseki_of("K-CLOSED", [widowed], honseki=HONSEKI, linked=True, removed=[1])
    add_koseki(bench, code, closed)  # its only member left: a 除籍
    for me in (married_out, widowed):
        token = session(bench, me)
        for kind in (
            KIND.CERTIFICATE_KIND_KOSEKI_ZENBU,
            KIND.CERTIFICATE_KIND_KOSEKI_KOJIN,
            KIND.CERTIFICATE_KIND_KOSEKI_FUHYO,
        ):
            assert offering(bench, token, kind) is None
        err = refusal(lambda t=token: reserve(bench, t, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU, ["x"]))  # type: ignore[misc]
        assert err.reason == "NOT_ELIGIBLE" and "current member" in err.message


def test_a_suppressed_member_is_never_on_a_koseki_copy(bench: Bench) -> None:
    people = family(bench)
    add_koseki(
        bench, bench.seeded.profile.code, koseki_of("K-HOME4", people, honseki=HONSEKI, linked=True)
    )
    desk = StaffDesk(bench.center.engine, clock=bench.clock)
    _, token = desk.create_account(bench.seeded.profile.code, "支援措置担当")
    desk.suppress(desk.authenticate(token), resident_id=people[1].resident_id, note="DV支援措置")
    me = people[0]
    t = session(bench, me)
    fuhyo = offering(bench, t, KIND.CERTIFICATE_KIND_KOSEKI_FUHYO)
    assert fuhyo is not None
    names = {s.display_name for s in fuhyo.eligible_subjects}
    assert people[1].full_name not in names and me.full_name in names
    assert offering(bench, t, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU) is None  # it would show them


def test_a_large_koseki_prints_on_several_sheets_each_numbered(bench: Bench) -> None:
    people = family(bench, size=1)
    head = people[0]
    members = koseki_of("K-BIG", people, honseki=HONSEKI, linked=True)
    for no in range(2, 17):
        members.append(
            dataclasses.replace(
                left_by_marriage("K-BIG", no, head), given_name=f"子{no}", removed_reason=""
            )
        )
    add_koseki(bench, bench.seeded.profile.code, members)
    printer = KioskPrinter("P1")
    done = bench.terminal(printer).visit(bench.reader(head), bench.pin(head), Order(C.KOSEKI_ZENBU))
    assert done.status is VisitStatus.ISSUED, done
    texts = pages_text(done.pdf)
    assert done.pages == len(texts) >= 3
    for page, text in enumerate(texts, start=1):
        assert f"交付番号{done.issue_number}" in text and f"{page}/{len(texts)}" in text
        assert HONSEKI in text and "戸籍全部事項証明書" in text
    assert "".join(texts).count("戸籍に記録されている者") == 16
    assert "戸籍に記録されている事項の全部を証明した" in texts[-1]
    assert bench.sql(
        "SELECT sheets FROM settlement_entries WHERE issue_number = :n", n=done.issue_number
    ) == [(len(texts),)]


def test_a_member_suppressed_after_a_zenbu_reservation_stops_its_issue(bench: Bench) -> None:
    """交付抑止 stops issuance at once: set on another member of the 戸籍 between Reserve and
    Issue, the 全部事項 copy (which would show them) is not printed, and nothing is charged."""
    people = family(bench, size=2)
    add_koseki(
        bench, bench.seeded.profile.code, koseki_of("K-HOME5", people, honseki=HONSEKI, linked=True)
    )
    me = people[0]
    t = session(bench, me)
    zenbu = offering(bench, t, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU)
    assert zenbu is not None
    mine = [s.subject_id for s in zenbu.eligible_subjects if s.is_self]
    reserved = reserve(bench, t, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU, mine)
    desk = StaffDesk(bench.center.engine, clock=bench.clock)
    _, staff = desk.create_account(bench.seeded.profile.code, "支援措置担当")
    desk.suppress(desk.authenticate(staff), resident_id=people[1].resident_id, note="DV支援措置")
    err = refusal(
        lambda: list(
            stub(bench).Issue(
                issuance_pb2.IssueRequest(
                    session_token=t,
                    reservation_id=reserved.reservation_id,
                    idempotency_key=f"zenbu-suppressed-{reserved.reservation_id}",
                    printer_id="P1",
                ),
                metadata=md(bench.kiosk_id),
            )
        )
    )
    assert err.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.reason == "NOT_AVAILABLE_AT_KIOSK"
    with Session(bench.center.engine) as db:
        row = db.get(Issuance, reserved.reservation_id)
        assert row is not None and row.state == "voided" and row.pdf is None


def test_a_member_suppressed_after_a_counter_zenbu_printed_stops_its_hand_over(
    bench: Bench,
) -> None:
    """At the counter too: 交付抑止 set on another member of the 戸籍 after the 全部事項 printed
    behind the counter means the clerk may not hand it over; it is void and costs nothing."""
    code = bench.seeded.profile.code
    people = family(bench, size=2)
    add_koseki(bench, code, koseki_of("K-HOME6", people, honseki=HONSEKI, linked=True))
    terminal_id = f"C{code}09"
    KioskRegistry(bench.center.engine).register_counter_terminal(
        terminal_id, municipality_code=code, location="戸籍住民課 窓口"
    )
    terminal = KioskTerminal(
        bench.channel_for(terminal_id),
        kiosk_id=terminal_id,
        printer=KioskPrinter("SLIP9"),
        counter_printer=KioskPrinter("CP9"),
    )
    me = people[0]
    done = terminal.visit(bench.reader(me), bench.pin(me), Order(C.KOSEKI_ZENBU))
    assert done.status is VisitStatus.AWAITING_HANDOVER, done
    desk = StaffDesk(bench.center.engine, clock=bench.clock)
    _, clerk = desk.create_account(code, "戸籍住民課 窓口")
    desk.suppress(desk.authenticate(clerk), resident_id=people[1].resident_id, note="DV支援措置")
    err = refusal(
        lambda: counter_staff(bench).HandOverCounterCopy(
            staff_pb2.HandOverCounterCopyRequest(reception_number=done.reception_number),
            metadata=bearer(clerk),
        )
    )
    assert err.code is grpc.StatusCode.FAILED_PRECONDITION
    assert err.reason == "SUPPRESSED_SINCE_PRINTED"
    assert bench.sql(
        "SELECT count(*) FROM settlement_entries WHERE issue_number = :n", n=done.issue_number
    ) == [(0,)]
