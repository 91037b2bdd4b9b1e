"""本籍地 利用登録 without gRPC: the 戸籍 server over BCL tables, ranking, filing, deciding."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.bcl.models import BclFuhyoEntry, BclKosekiMember
from server.bcl.records import IssuingBackend, ResidentRecord
from server.bcl.registers import KosekiMemberRecord
from server.bcl.store import resident_row
from server.common.clock import FrozenClock
from server.db.engine import make_engine, upgrade
from server.db.models import Municipality, Resident
from server.koseki.backend import BclKosekiTables, KosekiServers, Probe
from server.koseki.matching import Applicant, Reason, rank, score
from server.koseki.registration import (
    HonsekiDesk,
    HonsekiIsResidence,
    HonsekiNotParticipating,
    HonsekiRequest,
    KosekiMemberLinked,
    KosekiMemberNotCurrent,
    KosekiMemberNotFound,
    OtherMunicipalitysRegistration,
    RegistrationNotPending,
    RegistrationState,
    file_request,
)
from server.municipal.onboarding import OnboardingRequest, onboard
from tests.certificates import HITTOUSHA, HONSEKI, KOSEKI_ID, koseki, member
from tests.unit.test_certificate_pdf import resident

NOW = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
HOME, HONSEKICHI, OTHER = "131016", "271004", "141003"  # 千代田区, 大阪市, 横浜市
KOSEKI_FEES = {"juminhyo": 200, "koseki_zenbu": 300, "koseki_kojin": 300, "koseki_fuhyo": 200}


def applicant(**changes: object) -> Applicant:
    """義太郎 as his 住民票 in 千代田区 describes him."""
    base = Applicant(
        family_name="甲野",
        given_name="義太郎",
        family_name_kana="コウノ",
        given_name_kana="ギタロウ",
        birth_date=date(1965, 6, 21),
        sex="男",
        honseki=HONSEKI,
        hittousha=HITTOUSHA,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# -- ranking ------------------------------------------------------------------------------------


def test_the_person_described_ranks_first_with_every_reason_named() -> None:
    members = list(koseki().members)
    best, *rest = rank(applicant(), members)
    assert best.member.member_no == 1 and best.score == 100
    assert set(best.reasons) == {
        Reason.BIRTH_DATE,
        Reason.NAME,
        Reason.READING,
        Reason.SEX,
        Reason.HITTOUSHA,
        Reason.HONSEKI,
    }
    assert all(c.score < best.score for c in rest)
    assert Reason.BIRTH_DATE_DIFFERS in rest[0].reasons


def test_variant_kanji_and_kana_spellings_still_match() -> None:
    m = dataclasses.replace(
        member(1), family_name="髙野", given_name="義太郎", family_name_kana="コーノ"
    )
    c = score(applicant(family_name="高野"), m)
    assert Reason.NAME_VARIANT in c.reasons and Reason.READING in c.reasons
    assert Reason.NAME_VARIANT.label == "氏名一致（異体字・表記の違い）"


def test_a_married_name_matches_the_koseki_through_the_former_name() -> None:
    # The 戸籍 is her parents': she is listed under her birth family name, her 旧氏 now.
    m = dataclasses.replace(member(4), family_name="甲野")
    c = score(
        applicant(
            family_name="乙川",
            given_name="花子",
            given_name_kana="ハナコ",
            birth_date=m.birth_date,
            sex="女",
            former_family_name="甲野",
        ),
        m,
    )
    assert {Reason.FORMER_FAMILY_NAME, Reason.GIVEN_NAME, Reason.BIRTH_DATE} <= set(c.reasons)


def test_a_different_birth_date_costs_the_most() -> None:
    right = score(applicant(), member(1)).score
    wrong_day = score(applicant(birth_date=date(1965, 6, 22)), member(1)).score
    wrong_name = score(applicant(given_name="吉太郎"), member(1)).score
    assert right - wrong_day > right - wrong_name


# -- the database ------------------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'center.db'}")
    upgrade(engine)
    for code, backend, server in (
        (HOME, IssuingBackend.BCL, ""),
        (HONSEKICHI, IssuingBackend.OWN_SERVER, "osaka-koseki"),
        (OTHER, IssuingBackend.OWN_SERVER, "yokohama-koseki"),
    ):
        onboard(
            engine,
            OnboardingRequest(
                code=code,
                population=100_000,
                joined_on=date(2015, 4, 1),
                backend=backend,
                mayor_name="山田　太郎",
                fees=KOSEKI_FEES if server else {"juminhyo": 200},
                koseki_server=server,
            ),
        )
    with Session(engine) as db:
        for m in koseki().members:
            db.add(_member_row(HONSEKICHI, m))
        for e in koseki().fuhyo:
            db.add(BclFuhyoEntry(municipality_code=HONSEKICHI, **dataclasses.asdict(e)))
        db.commit()
    yield engine
    engine.dispose()


def _member_row(code: str, m: KosekiMemberRecord) -> BclKosekiMember:
    values = dataclasses.asdict(m)
    values["sex"] = m.sex.value
    return BclKosekiMember(municipality_code=code, **values)


def _resident(engine: Engine, record: ResidentRecord, code: str = HOME) -> Resident:
    with Session(engine) as db:
        row = resident_row(code, record)
        db.add(row)
        db.commit()
        db.refresh(row)
        return row


GITARO = dataclasses.replace(
    resident(0),
    family_name="甲野",
    given_name="義太郎",
    family_name_kana="コウノ",
    given_name_kana="ギタロウ",
    birth_date=date(1965, 6, 21),
    honseki=HONSEKI,
    hittousha=HITTOUSHA,
)


def test_the_bcl_tables_serve_any_declared_server_unless_one_is_registered(engine: Engine) -> None:
    tables = BclKosekiTables(engine)
    other = BclKosekiTables(engine)
    servers = KosekiServers(tables, {"yokohama-koseki": other})
    assert servers.backend_for("") is None
    assert servers.backend_for("osaka-koseki") is tables
    assert servers.backend_for("yokohama-koseki") is other


def test_the_bcl_tables_return_the_koseki_and_its_fuhyo(engine: Engine) -> None:
    tables = BclKosekiTables(engine)
    k = tables.koseki(HONSEKICHI, KOSEKI_ID)
    assert k == koseki(municipality_code=HONSEKICHI)
    assert tables.koseki(HOME, KOSEKI_ID) is None  # 戸籍 are per municipality
    probe = Probe("甲野", "梅子", "コウノ", "ウメコ", date(1900, 1, 1))
    assert [m.member_no for m in tables.candidates(HONSEKICHI, probe, limit=10)] == [2]
    by_day = Probe("乙", "誰", "", "", date(1991, 3, 8))  # 啓太郎's day, but he left the 戸籍
    assert tables.candidates(HONSEKICHI, by_day, limit=10) == []


def test_a_resident_living_in_the_honsekichi_is_found_by_their_resident_id(engine: Engine) -> None:
    with Session(engine) as db:
        row = _member_row(HONSEKICHI, member(2, resident_id="000777"))
        row.koseki_id = "00099999"
        db.add(row)
        db.commit()
    ref = BclKosekiTables(engine).member_of_resident(HONSEKICHI, "000777")
    assert ref is not None and (ref.koseki_id, ref.member_no) == ("00099999", 2)
    assert BclKosekiTables(engine).member_of_resident(HONSEKICHI, "") is None


# -- filing and deciding -----------------------------------------------------------------------


def desk(engine: Engine) -> HonsekiDesk:
    return HonsekiDesk(engine, servers=KosekiServers.of_bcl(engine), clock=FrozenClock(NOW))


def file(engine: Engine, me: Resident, code: str = HONSEKICHI, now: datetime = NOW) -> str:
    with Session(engine) as db:
        row = file_request(
            db,
            me,
            HonsekiRequest(code),
            kiosk_id="K1",
            now=now,
            servers=KosekiServers.of_bcl(engine),
        )
        return row.id


def test_filing_twice_gives_the_same_request_and_staff_see_it_with_candidates(
    engine: Engine,
) -> None:
    me = _resident(engine, GITARO)
    first = file(engine, me)
    assert file(engine, me) == first
    [queued] = desk(engine).queue(HONSEKICHI)
    assert queued.registration.id == first
    assert queued.registration.hittousha == HITTOUSHA  # from the 住民票
    assert queued.candidates[0].member.member_no == 1 and queued.candidates[0].score == 100
    assert desk(engine).queue(OTHER) == []


def test_a_request_needs_a_participating_honsekichi_other_than_home(engine: Engine) -> None:
    me = _resident(engine, GITARO)
    with pytest.raises(HonsekiIsResidence):
        file(engine, me, HOME)
    with pytest.raises(HonsekiNotParticipating):
        file(engine, me, "011002")  # 札幌市: not onboarded
    with Session(engine) as db:  # 大阪市 withdraws its 戸籍 server
        muni = db.get(Municipality, HONSEKICHI)
        assert muni is not None
        muni.koseki_server = ""
        db.add(muni)
        db.commit()
    with pytest.raises(HonsekiNotParticipating):
        file(engine, me, HONSEKICHI)


def test_approval_links_a_current_member_once_and_only_by_the_honsekichi(engine: Engine) -> None:
    me = _resident(engine, GITARO)
    rid = file(engine, me)
    with pytest.raises(OtherMunicipalitysRegistration):
        desk(engine).approve(OTHER, "S2", rid, koseki_id=KOSEKI_ID, member_no=1)
    with pytest.raises(KosekiMemberNotFound):
        desk(engine).approve(HONSEKICHI, "S1", rid, koseki_id=KOSEKI_ID, member_no=9)
    with pytest.raises(KosekiMemberNotCurrent):
        desk(engine).approve(HONSEKICHI, "S1", rid, koseki_id=KOSEKI_ID, member_no=3)
    row = desk(engine).approve(HONSEKICHI, "S1", rid, koseki_id=KOSEKI_ID, member_no=1)
    assert row.state == RegistrationState.APPROVED and row.decided_by == "S1"
    assert (row.koseki_id, row.member_no, row.decided_at) == (KOSEKI_ID, 1, NOW)
    with pytest.raises(RegistrationNotPending):
        desk(engine).reject(HONSEKICHI, "S1", rid)
    # Someone else cannot be linked to the same member.
    impostor = _resident(
        engine, dataclasses.replace(GITARO, resident_id="R999999", juminhyo_code="12345678901")
    )
    other = file(engine, impostor)
    with pytest.raises(KosekiMemberLinked):
        desk(engine).approve(HONSEKICHI, "S1", other, koseki_id=KOSEKI_ID, member_no=1)


def test_after_a_rejection_a_new_request_may_be_filed(engine: Engine) -> None:
    me = _resident(engine, GITARO)
    rid = file(engine, me)
    assert desk(engine).reject(HONSEKICHI, "S1", rid, note="該当なし").state == "rejected"
    assert file(engine, me, now=NOW + timedelta(days=1)) != rid
    decided = desk(engine).queue(
        HONSEKICHI, states=(RegistrationState.PENDING, RegistrationState.REJECTED)
    )
    assert [q.registration.state for q in decided] == ["rejected", "pending"]
    assert decided[0].candidates == ()  # only pending requests are matched
