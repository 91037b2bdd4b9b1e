"""Tax certificates and the backend rules of SPEC section 3, at a kiosk over loopback gRPC.

The bench's municipality (千代田区) issues through BCL: tax certificates of oneself for each
fiscal year kiosks issue, never a 住民票記載事項証明書, and no 戸籍 without a 戸籍 server. The
scenarios of a municipality with its own server and a 戸籍 server are in
`test_certificates_own_server.py`; 本籍地 利用登録 in `test_honseki_registration.py`. The helpers
here serve all three.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import TypeAlias

import grpc
import pypdf
import pytest
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc
from sqlmodel import Session, select

from clients.bcl.generate import resident_tax
from clients.errors import ErrorDetails, decode_error
from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from server.bcl.models import BclFuhyoEntry, BclKosekiMember, BclTaxRecord
from server.bcl.records import ResidentRecord, Sex
from server.bcl.registers import KosekiMemberRecord
from server.common.identity import KIOSK_ID_HEADER
from server.db.models import Issuance, Offering, Resident
from server.municipal.staff import StaffDesk
from tests.integration.conftest import Bench

KIND = issuance_pb2.CertificateKind
KindValue: TypeAlias = issuance_pb2.CertificateKind
C = CertificateChoice


# -- helpers (also used by the other certificate scenarios) ------------------------------------


def md(kiosk_id: str) -> tuple[tuple[str, str], ...]:
    return ((KIOSK_ID_HEADER, kiosk_id),)


def stub(bench: Bench, kiosk_id: str | None = None) -> issuance_pb2_grpc.IssuanceServiceStub:
    return issuance_pb2_grpc.IssuanceServiceStub(bench.channel_for(kiosk_id or bench.kiosk_id))


def session(bench: Bench, me: ResidentRecord, kiosk_id: str | None = None) -> str:
    token = bench.terminal(kiosk_id=kiosk_id).authenticate(bench.reader(me), bench.pin(me))
    assert isinstance(token, str), token
    return token


def menu(
    bench: Bench, token: str, kiosk_id: str | None = None
) -> issuance_pb2.ListOfferingsResponse:
    return stub(bench, kiosk_id).ListOfferings(
        issuance_pb2.ListOfferingsRequest(session_token=token),
        metadata=md(kiosk_id or bench.kiosk_id),
    )


def offering(bench: Bench, token: str, kind: KindValue) -> issuance_pb2.Offering | None:
    return next((o for o in menu(bench, token).offerings if o.kind == kind), None)


def reserve(
    bench: Bench, token: str, kind: KindValue, subject_ids: Sequence[str], **fields: object
) -> issuance_pb2.ReserveResponse:
    return stub(bench).Reserve(
        issuance_pb2.ReserveRequest(
            session_token=token,
            kind=kind,
            subject_ids=list(subject_ids),
            **fields,  # type: ignore[arg-type]
        ),
        metadata=md(bench.kiosk_id),
    )


def refusal(call: Callable[[], object]) -> ErrorDetails:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def pages_text(pdf: bytes) -> list[str]:
    return ["".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def resident_pk(bench: Bench, r: ResidentRecord) -> int:
    with Session(bench.center.engine) as db:
        row = db.exec(
            select(Resident)
            .where(Resident.resident_id == r.resident_id)
            .where(Resident.municipality_code == bench.seeded.profile.code)
        ).one()
        assert row.id is not None
        return row.id


def offer(bench: Bench, code: str, kinds: Iterable[str], fee: int = 300) -> None:
    """Offerings stored as they are, past the staff rules (a legacy row, or a test's setup)."""
    with Session(bench.center.engine) as db:
        for kind in kinds:
            row = db.get(Offering, (code, kind)) or Offering(
                municipality_code=code, kind=kind, fee_yen=fee
            )
            row.fee_yen, row.enabled = fee, True
            db.add(row)
        db.commit()


def add_taxes(
    bench: Bench, r: ResidentRecord, years: Iterable[int], salary: int = 3_800_000
) -> None:
    """Tax records of `r` for `years` (a year already uploaded is kept as it is)."""
    pk = resident_pk(bench, r)
    with Session(bench.center.engine) as db:
        have = set(
            db.exec(select(BclTaxRecord.fiscal_year).where(BclTaxRecord.resident_pk == pk)).all()
        )
        for year in set(years) - have:
            t = resident_tax(r.resident_id, year, salary, 0, 1.0)
            values = dataclasses.asdict(t)
            del values["resident_id"]
            db.add(BclTaxRecord(resident_pk=pk, **values))
        db.commit()


def add_koseki(bench: Bench, code: str, members: Iterable[KosekiMemberRecord]) -> None:
    """A 戸籍 as a municipality's upload leaves it: members and, per member, two addresses."""
    with Session(bench.center.engine) as db:
        for m in members:
            values = dataclasses.asdict(m)
            values["sex"] = m.sex.value
            db.add(BclKosekiMember(municipality_code=code, **values))
            db.add(
                BclFuhyoEntry(
                    municipality_code=code,
                    koseki_id=m.koseki_id,
                    member_no=m.member_no,
                    entry_no=1,
                    address="大阪府大阪市北区梅田三丁目3番地",
                    address_set_on=m.birth_date,
                )
            )
            db.add(
                BclFuhyoEntry(
                    municipality_code=code,
                    koseki_id=m.koseki_id,
                    member_no=m.member_no,
                    entry_no=2,
                    address="東京都千代田区千代田一丁目1番1号",
                    address_set_on=date(2015, 4, 1),
                )
            )
        db.commit()


def koseki_of(
    koseki_id: str,
    people: Sequence[ResidentRecord],
    *,
    honseki: str,
    linked: bool,
    removed: Sequence[int] = (),
) -> list[KosekiMemberRecord]:
    """A 戸籍 of `people` (the first is the 筆頭者); `linked`: they live where it is kept."""
    head = people[0]
    out = []
    for no, p in enumerate(people, start=1):
        out.append(
            KosekiMemberRecord(
                koseki_id=koseki_id,
                honseki=honseki,
                hittousha=head.full_name,
                member_no=no,
                family_name=p.family_name,
                given_name=p.given_name,
                birth_date=p.birth_date,
                sex=p.sex,
                relationship=_relationship(no, p),
                resident_id=p.resident_id if linked else "",
                family_name_kana=p.family_name_kana,
                given_name_kana=p.given_name_kana,
                events=f"出生 {p.birth_date.isoformat()}",
                removed_reason="婚姻" if no in removed else "",
            )
        )
    return out


def _relationship(no: int, p: ResidentRecord) -> str:
    if no > 1 and p.relationship in ("妻", "夫"):
        return p.relationship
    return "長男" if p.sex is Sex.MALE else "長女"


def adult(bench: Bench) -> Callable[[ResidentRecord], bool]:
    """Old enough to have been taxed on last year's income (18 by the end of it)."""
    return lambda r: r.birth_date <= date(2006, 12, 31)


# -- tax certificates ---------------------------------------------------------------------------

TAX_KINDS = ("tax_income", "tax_assessment", "tax_payment")


@pytest.fixture(scope="module", autouse=True)
def tax_offered(bench: Bench) -> None:
    offer(bench, bench.seeded.profile.code, TAX_KINDS, fee=300)


def test_tax_certificates_of_oneself_for_each_offered_year(bench: Bench) -> None:
    me = bench.take(lambda r: adult(bench)(r) and len(bench.household(r)) >= 2)
    add_taxes(bench, me, (2023, 2024, 2025))
    token = session(bench, me)
    for kind in (KIND.CERTIFICATE_KIND_TAX_INCOME, KIND.CERTIFICATE_KIND_TAX_PAYMENT):
        o = offering(bench, token, kind)
        assert o is not None and list(o.fiscal_years) == [2025, 2024, 2023]
        assert [s.is_self for s in o.eligible_subjects] == [True]  # never the household
        assert o.municipality_code == bench.seeded.profile.code
    done = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(C.TAX_INCOME, fiscal_year=2024)
    )
    assert done.status is VisitStatus.ISSUED, done
    text = "".join(pages_text(done.pdf))
    assert "所得証明書" in text and "令和6年度（令和5年分）" in text
    assert "3,800,000円" in text and "".join(me.full_name.split()) in text
    for choice, title in (
        (C.TAX_ASSESSMENT, "課税（非課税）証明書"),
        (C.TAX_PAYMENT, "納税証明書"),
    ):
        newest = bench.terminal().visit(bench.reader(me), bench.pin(me), Order(choice))
        assert newest.status is VisitStatus.ISSUED, newest
        assert title in pages_text(newest.pdf)[0] and "令和7年度" in pages_text(newest.pdf)[0]
    assert bench.sql(
        "SELECT kind, fee_yen FROM settlement_entries WHERE issue_number = :n",
        n=done.issue_number,
    ) == [("tax_income", 300)]


def test_someone_elses_tax_certificate_is_refused(bench: Bench) -> None:
    me = bench.take(lambda r: adult(bench)(r) and len(bench.household(r)) >= 2)
    add_taxes(bench, me, (2025,))
    other = next(r for r in bench.household(me) if r.resident_id != me.resident_id)
    add_taxes(bench, other, (2025,))
    token = session(bench, me)
    juminhyo = offering(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO)
    assert juminhyo is not None
    theirs = next(s.subject_id for s in juminhyo.eligible_subjects if not s.is_self)
    err = refusal(
        lambda: reserve(bench, token, KIND.CERTIFICATE_KIND_TAX_INCOME, [theirs], fiscal_year=2025)
    )
    assert err.code is grpc.StatusCode.PERMISSION_DENIED and err.reason == "NOT_ELIGIBLE"


def test_a_year_outside_the_kiosk_range_is_refused(bench: Bench) -> None:
    me = bench.take(adult(bench))
    add_taxes(bench, me, (2021, 2022, 2025))
    token = session(bench, me)
    o = offering(bench, token, KIND.CERTIFICATE_KIND_TAX_ASSESSMENT)
    assert o is not None and list(o.fiscal_years) == [2025]  # 2022 has a record, but is too old
    mine = [o.eligible_subjects[0].subject_id]
    for year in (2022, 2026):
        err = refusal(
            lambda y=year: reserve(  # type: ignore[misc]
                bench, token, KIND.CERTIFICATE_KIND_TAX_ASSESSMENT, mine, fiscal_year=y
            )
        )
        assert err.reason == "FISCAL_YEAR_OUT_OF_RANGE", err
        assert err.metadata == {"first": "2023", "last": "2025"}
    err = refusal(lambda: reserve(bench, token, KIND.CERTIFICATE_KIND_TAX_ASSESSMENT, mine))
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in err.field_violations] == ["fiscal_year"]


def test_a_year_without_a_record_is_refused_and_no_record_means_no_offer(bench: Bench) -> None:
    me = bench.take(adult(bench))
    add_taxes(bench, me, (2025,))
    token = session(bench, me)
    o = offering(bench, token, KIND.CERTIFICATE_KIND_TAX_PAYMENT)
    assert o is not None
    mine = [o.eligible_subjects[0].subject_id]
    err = refusal(
        lambda: reserve(bench, token, KIND.CERTIFICATE_KIND_TAX_PAYMENT, mine, fiscal_year=2024)
    )
    assert err.code is grpc.StatusCode.NOT_FOUND and err.reason == "NO_TAX_RECORD"
    assert "令和6年度" in err.message
    nobody = bench.take(adult(bench))  # never taxed here (no record uploaded)
    refused = bench.terminal().visit(bench.reader(nobody), bench.pin(nobody), Order(C.TAX_INCOME))
    assert refused.status is VisitStatus.NOT_OFFERED


# -- what BCL cannot issue ----------------------------------------------------------------------


def test_a_bcl_municipality_never_issues_kisai_even_with_an_offering_row(bench: Bench) -> None:
    offer(bench, bench.seeded.profile.code, ("juminhyo_kisai",))
    me = bench.take()
    token = session(bench, me)
    assert offering(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO_KISAI) is None
    juminhyo = offering(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO)
    assert juminhyo is not None
    mine = [s.subject_id for s in juminhyo.eligible_subjects if s.is_self]
    err = refusal(lambda: reserve(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO_KISAI, mine))
    assert err.reason == "OFFERING_NOT_ALLOWED" and "own issuing server" in err.message


def test_koseki_is_not_issued_without_a_declared_koseki_server(bench: Bench) -> None:
    code = bench.seeded.profile.code
    offer(bench, code, ("koseki_zenbu",))
    me = bench.take()
    add_koseki(
        bench, code, koseki_of("K-NOSERVER", [me], honseki="東京都千代田区一番町1番地", linked=True)
    )
    token = session(bench, me)
    assert offering(bench, token, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU) is None
    err = refusal(lambda: reserve(bench, token, KIND.CERTIFICATE_KIND_KOSEKI_ZENBU, ["x"]))
    assert err.reason == "OFFERING_NOT_ALLOWED" and "戸籍 server" in err.message


def test_suppression_set_before_a_retried_issue_stops_the_rendered_copy(bench: Bench) -> None:
    """An Issue whose answer was lost has stored the rendered copy; if 交付抑止 is set before the
    kiosk's retry (same idempotency key), the retry does not hand out the stored copy: it is
    voided unprinted and the kiosk is told only that it is not available."""
    me = bench.take()
    token = session(bench, me)
    juminhyo = offering(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO)
    assert juminhyo is not None
    mine = [s.subject_id for s in juminhyo.eligible_subjects if s.is_self]
    reserved = reserve(bench, token, KIND.CERTIFICATE_KIND_JUMINHYO, mine)
    request = issuance_pb2.IssueRequest(
        session_token=token,
        reservation_id=reserved.reservation_id,
        idempotency_key=f"retried-{reserved.reservation_id}",
        printer_id="P1",
    )
    first = list(stub(bench).Issue(request, metadata=md(bench.kiosk_id)))
    assert first  # rendered and stored; say the answer never reached the kiosk
    desk = StaffDesk(bench.center.engine, clock=bench.clock)
    _, staff = desk.create_account(bench.seeded.profile.code, "支援措置担当")
    who = desk.authenticate(staff)
    suppression = desk.suppress(who, resident_id=me.resident_id, note="DV支援措置")
    try:
        err = refusal(lambda: list(stub(bench).Issue(request, metadata=md(bench.kiosk_id))))
    finally:
        assert suppression.id is not None
        desk.lift_suppression(who, suppression.id)
    assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_AVAILABLE_AT_KIOSK")
    with Session(bench.center.engine) as db:
        row = db.get(Issuance, reserved.reservation_id)
        assert row is not None and row.state == "voided" and row.pdf is None
