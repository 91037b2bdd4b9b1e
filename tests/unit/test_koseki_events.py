"""戸籍事項 and 身分事項 (koseki_events.csv): the row rules of each kind, the checks against the
rest of an upload, what a difference replaces, restore, the generator's families, and the
戸籍全部事項証明書 / 個人事項証明書 printed from an upload.

Uploads run on SQLite, and on PostgreSQL when KONBINI_TEST_DATABASE_URL is set (a fresh
database per test)."""

from __future__ import annotations

import io
import string
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from clients.bcl.generate import KAISEI_REASON, generate_dataset
from clients.bcl.onboard import join_municipality
from server.bcl.csvformat import (
    FUHYO,
    KOSEKI,
    KOSEKI_EVENTS,
    CsvWriter,
    ErrorCode,
    ErrorSink,
    read_stream,
)
from server.bcl.registers import (
    EventScope,
    KosekiEventKind,
    KosekiEventRecord,
    KosekiMemberRecord,
)
from server.bcl.upload import BclUploads
from server.common.era import to_wareki
from server.db.engine import make_engine, upgrade
from server.issuance.documents import CertificateKind, KosekiExtract
from server.issuance.pdf import CertificateRenderer, RendererConfig
from server.koseki.backend import BclKosekiTables
from server.koseki.records import Koseki
from tests.certificates import document
from tests.certificates import koseki as sample_koseki
from tests.databases import BACKENDS, fresh_postgres
from tests.unit.test_bcl_upload import (
    CODE,
    TODAY,
    Files,
    committed,
    csv_bytes,
    new_desk,
    new_engine,
    rejected,
    restored,
    rows_of,
    state,
    upload,
)
from tests.unit.test_certificate_layouts import assert_furniture, pages_text
from tests.unit.test_certificate_pdf import CREATED, HOUSEHOLD, MINCHO, MUNICIPALITY

K = KosekiEventKind
E = ErrorCode
HEAD = ",".join(KOSEKI_EVENTS.header)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Files:
    out = tmp_path_factory.mktemp("koseki-dataset")
    generate_dataset(out, residents=500, seed=7, today=TODAY)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield new_engine(tmp_path / "center.db")
        return
    with fresh_postgres("konbini_kev") as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            join_municipality(engine, code=CODE, prefecture="東京都", name="千代田区")
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def printed(dataset: Files, tmp_path_factory: pytest.TempPathFactory) -> Koseki:
    """A 戸籍 of the dataset uploaded (SQLite), read back through the 戸籍 server."""
    work = tmp_path_factory.mktemp("printed")
    engine = new_engine(work / "center.db")
    committed(upload(new_desk(engine, work / "bcl"), dataset))
    return uploaded_koseki(engine, dataset)


@pytest.fixture
def desk(engine: Engine, tmp_path: Path) -> BclUploads:
    return new_desk(engine, tmp_path / "bcl")


def event_row(**values: str) -> str:
    fields = dict.fromkeys(KOSEKI_EVENTS.header, "")
    fields |= {
        "koseki_id": "K1",
        "member_no": "1",
        "event_no": "1",
        "kind": "出生",
        "event_date": "1980-01-02",
        "notified_on": "1980-01-05",
        "notifier": "父",
        "place": "東京都千代田区",
    }
    fields |= values
    return ",".join(fields[c] for c in KOSEKI_EVENTS.header)


def found(data: str) -> tuple[list[dict[str, Any]], list[tuple[int, str, ErrorCode]]]:
    sink = ErrorSink()
    rows = [r.values for r in read_stream(io.BytesIO(data.encode()), KOSEKI_EVENTS, sink)]
    return rows, [(e.row, e.column, e.code) for e in sink.errors]


def events_of(files: Files) -> list[KosekiEventRecord]:
    return [KosekiEventRecord(**v) for v in rows_of(files, KOSEKI_EVENTS)]


def members_of(files: Files) -> list[KosekiMemberRecord]:
    return [KosekiMemberRecord(**v) for v in rows_of(files, KOSEKI)]


# --- one row on its own ------------------------------------------------------------------------


def test_each_kind_needs_its_items_and_no_others_reported_at_row_and_column() -> None:
    data = "\n".join(
        [
            HEAD,
            event_row(),  # 2: a good 出生
            event_row(place="", notifier=""),  # 3
            event_row(kind="婚姻", notified_on="", notifier=""),  # 4: 出生地 is no 婚姻 item
            event_row(kind="編製", member_no="3", notified_on="", notifier="", place=""),  # 5
            event_row(kind="出生", member_no="0"),  # 6: a 出生 of the 戸籍 itself
            event_row(kind="死亡", event_date="2020-05-01", notified_on="2020-04-30"),  # 7
            event_row(kind="結婚"),  # 8
            event_row(event_date="1980-02-30"),  # 9
            event_row(
                kind="養子縁組", notified_on="", notifier="", place="", from_koseki="大阪府大阪市"
            ),  # 10: neither adoptive parent
            event_row(
                kind="改製",
                member_no="0",
                notified_on="",
                notifier="",
                place="",
                detail="平成6年法務省令第51号附則第2条第1項による改製",
            ),  # 11: good
        ]
    )
    rows, errors = found(data + "\n")
    assert errors == [
        (3, "place", E.INCONSISTENT),
        (3, "notifier", E.INCONSISTENT),
        (4, "place", E.INCONSISTENT),
        (4, "partner_name", E.INCONSISTENT),
        (4, "from_koseki", E.INCONSISTENT),
        (5, "member_no", E.INCONSISTENT),
        (6, "member_no", E.INCONSISTENT),
        (7, "notified_on", E.INCONSISTENT),
        (8, "kind", E.CHOICE),
        (9, "event_date", E.DATE),
        (10, "adoptive_father", E.INCONSISTENT),
    ]
    assert [(r["kind"], r["member_no"]) for r in rows] == [(K.BIRTH, 1), (K.KAISEI, 0)]


_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n\x85\u2028\u2029"
    ),
    min_size=1,
    max_size=20,
)
_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 3, 31))


@st.composite
def koseki_events(draw: st.DrawFn) -> KosekiEventRecord:
    """Any valid event: each kind with its required items, some of its optional ones."""
    kind = draw(st.sampled_from(list(KosekiEventKind)))
    spec = kind.spec
    day = draw(_DATES)
    items: dict[str, Any] = {}
    for column, _ in spec.items:
        if not (column in spec.required or draw(st.booleans())):
            continue
        if column == "notified_on":
            items[column] = draw(st.dates(min_value=day, max_value=date(2026, 3, 31)))
        else:
            items[column] = draw(_TEXT)
    if spec.one_of and not any(items.get(c) for c in spec.one_of):
        items[spec.one_of[0]] = draw(_TEXT)
    return KosekiEventRecord(
        koseki_id=draw(st.text(alphabet=string.digits, min_size=1, max_size=8)),
        member_no=0 if spec.scope is EventScope.KOSEKI else draw(st.integers(1, 999)),
        event_no=draw(st.integers(1, 99)),
        kind=kind,
        event_date=day,
        **items,
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(koseki_events(), max_size=6))
def test_event_rows_round_trip_through_csv(records: list[KosekiEventRecord]) -> None:
    buf = io.BytesIO()
    writer = CsvWriter(buf, KOSEKI_EVENTS)
    writer.write_all(records)
    writer.close()
    sink = ErrorSink()
    rows = read_stream(io.BytesIO(buf.getvalue()), KOSEKI_EVENTS, sink)
    back = [KosekiEventRecord(**r.values) for r in rows]
    assert not sink.errors
    assert back == records


# --- against the rest of the upload ------------------------------------------------------------


def test_events_of_missing_members_or_off_the_birth_date_reject_the_whole_upload(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    events = events_of(dataset)
    members = members_of(dataset)
    first = members[0]
    birth = next(e for e in events if e.kind is K.BIRTH and e.koseki_id == first.koseki_id)
    bad = [
        KosekiEventRecord(first.koseki_id, 99, 1, K.SPOUSE_DEATH, date(2020, 1, 1)),
        KosekiEventRecord("NO-SUCH", 0, 1, K.HENSEI, date(2020, 1, 1)),
        KosekiEventRecord(
            first.koseki_id,
            birth.member_no,
            50,
            K.BIRTH,
            birth.event_date + timedelta(days=1),
            notified_on=birth.event_date + timedelta(days=3),
            notifier="父",
            place="東京都千代田区",
        ),
        KosekiEventRecord(
            first.koseki_id,
            birth.member_no,
            51,
            K.DEATH,
            birth.event_date - timedelta(days=1),
            notified_on=birth.event_date,
            notifier="親族",
            place="東京都千代田区",
        ),
        events[0],  # the same key again
    ]
    files = dict(dataset)
    files[KOSEKI_EVENTS.name] = csv_bytes(KOSEKI_EVENTS, [*events, *bad])
    n = len(events) + 1  # the last good row's number
    assert rejected(upload(desk, files)) == [
        (KOSEKI_EVENTS.name, n + 1, "member_no", E.UNKNOWN_KOSEKI_MEMBER),
        (KOSEKI_EVENTS.name, n + 2, "member_no", E.UNKNOWN_KOSEKI_MEMBER),
        (KOSEKI_EVENTS.name, n + 3, "event_date", E.INCONSISTENT),
        (KOSEKI_EVENTS.name, n + 4, "event_date", E.INCONSISTENT),
        (KOSEKI_EVENTS.name, n + 5, "event_no", E.DUPLICATE),
    ]
    assert all(rows == [] for rows in state(engine).values())  # nothing applied

    # Without its 戸籍 in the upload, a 戸籍 its events name does not exist either.
    files = {n: b for n, b in dataset.items() if n not in (KOSEKI.name, FUHYO.name)}
    errors = rejected(upload(desk, files))
    assert len(errors) == len(events)
    assert {(e[0], e[2], e[3]) for e in errors} == {
        (KOSEKI_EVENTS.name, "member_no", E.UNKNOWN_KOSEKI_MEMBER)
    }


def test_a_full_upload_restores_its_events_byte_for_byte(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    gen = committed(upload(desk, dataset)).generation
    assert gen.counts.koseki_events == len(events_of(dataset)) > 0
    assert restored(desk, 1) == dataset
    assert restored(desk, 1)[KOSEKI_EVENTS.name] == dataset[KOSEKI_EVENTS.name]


def test_a_difference_replaces_the_events_of_the_koseki_it_carries(
    desk: BclUploads, engine: Engine, dataset: Files, tmp_path: Path
) -> None:
    committed(upload(desk, dataset))
    events = events_of(dataset)
    members = members_of(dataset)
    ids = sorted({m.koseki_id for m in members})
    redone, resent = ids[0], ids[1]
    head = next(m for m in members if m.koseki_id == redone and m.member_no == 1)
    new_events = [
        KosekiEventRecord(redone, 0, 1, K.TENSEKI, date(2025, 4, 1), from_koseki="京都府京都市"),
        KosekiEventRecord(
            redone,
            1,
            1,
            K.BIRTH,
            head.birth_date,
            notified_on=head.birth_date + timedelta(days=5),
            notifier="母",
            place="京都府京都市",
        ),
    ]
    diff = {
        KOSEKI.name: csv_bytes(KOSEKI, [m for m in members if m.koseki_id == resent]),
        KOSEKI_EVENTS.name: csv_bytes(KOSEKI_EVENTS, new_events),
    }
    gen = committed(upload(desk, diff, difference=True, base=1)).generation
    assert gen.counts.koseki_events == 2

    after = BclKosekiTables(engine)
    assert after.koseki(CODE, redone).events == tuple(new_events)  # type: ignore[union-attr]
    assert after.koseki(CODE, resent).events == ()  # type: ignore[union-attr]
    untouched = ids[2]
    assert after.koseki(CODE, untouched).events == tuple(  # type: ignore[union-attr]
        e for e in events if e.koseki_id == untouched
    )
    # The kept copy of the difference is a full export holding exactly those events.
    export = restored(desk, 2)
    assert set(events_of(export)) == {
        *(e for e in events if e.koseki_id not in (redone, resent)),
        *new_events,
    }
    elsewhere = new_desk(new_engine(tmp_path / "elsewhere.db"), tmp_path / "bcl2")
    committed(upload(elsewhere, export))  # the export is a valid full upload, kept as it is
    assert restored(elsewhere, 1) == export


# --- the generator -----------------------------------------------------------------------------


@dataclass
class Family:
    members: dict[int, KosekiMemberRecord]
    events: dict[int, list[KosekiEventRecord]]


def families(directory: Path) -> Iterator[tuple[str, Family]]:
    files = {n: (directory / n).read_bytes() for n in (KOSEKI.name, KOSEKI_EVENTS.name)}
    book: dict[str, Family] = defaultdict(lambda: Family({}, defaultdict(list)))
    for m in members_of(files):
        book[m.koseki_id].members[m.member_no] = m
    for e in events_of(files):
        book[e.koseki_id].events[e.member_no].append(e)
    yield from book.items()


def years(n: int) -> timedelta:
    return timedelta(days=int(n * 365.2425))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_generated_events_are_consistent_with_each_family(seed: int, tmp_path: Path) -> None:
    today = date(2026, 4, 1)
    generate_dataset(tmp_path, residents=1500, seed=seed, today=today)
    removed = marriages = adopters = 0
    matters: set[KosekiEventKind] = set()
    for kid, f in families(tmp_path):
        # 戸籍事項: one, and of a kind of the 戸籍 itself.
        [matter] = f.events[0]
        assert matter.kind.spec.scope is EventScope.KOSEKI and matter.event_date <= today
        matters.add(matter.kind)
        head = f.members[1]
        names = [f"{m.family_name}　{m.given_name}" for m in f.members.values()]
        by_name = {  # a parent's name points at one member only if no one else shares it
            n: m for n, m in zip(names, f.members.values(), strict=True) if names.count(n) == 1
        }
        for no, m in f.members.items():
            evs = f.events[no]
            # 出生 first, on the birth date; nothing before it or after today; notified after.
            assert evs[0].kind is K.BIRTH and evs[0].event_date == m.birth_date, (kid, no)
            assert [e.event_no for e in evs] == list(range(1, len(evs) + 1))
            for e in evs:
                assert m.birth_date <= e.event_date <= today, (kid, no, e)
                assert e.notified_on is None or e.event_date <= e.notified_on <= today
            # Children are born after their parents (grown ones, at that).
            for parent_name in (m.father_name, m.mother_name):
                if parent_name in by_name:
                    assert by_name[parent_name].birth_date + years(15) < m.birth_date, (kid, no)
            # Whoever left the 戸籍 has the event that took them out.
            if m.removed_reason:
                removed += 1
                assert m.removed_reason in {e.kind.value for e in evs}, (kid, no)
            # A spouse and the 筆頭者 married on the same day, each naming the other.
            if m.relationship in ("妻", "夫"):
                marriages += 1
                [mine] = [e for e in evs if e.kind is K.MARRIAGE]
                [theirs] = [e for e in f.events[1] if e.kind is K.MARRIAGE]
                assert mine.event_date == theirs.event_date
                assert mine.partner_name == f"{head.family_name}　{head.given_name}"
                assert mine.partner_name == head.hittousha
                assert theirs.partner_name.endswith(f"　{m.given_name}")
                assert mine.from_koseki and theirs.from_koseki
                adult = max(m.birth_date, head.birth_date) + years(18)
                assert adult <= mine.event_date, kid
                children = [c for c in f.members.values() if c.father_name or c.mother_name]
                born = [c for c in children if c.relationship not in ("養子", "養女")]
                assert all(mine.event_date < c.birth_date for c in born), kid
                for c in children:  # one adopted is adopted by the 筆頭者, once married
                    for e in f.events[c.member_no]:
                        if e.kind is K.ADOPTION:
                            adopters += 1
                            assert head.hittousha in (e.adoptive_father, e.adoptive_mother)
                            assert e.event_date >= mine.event_date and e.from_koseki
                # A death or divorce is recorded on both sides.
                for end in (K.DEATH, K.DIVORCE):
                    ended = [e for e in (*evs, *f.events[1]) if e.kind is end]
                    if ended:
                        echo = K.SPOUSE_DEATH if end is K.DEATH else K.DIVORCE
                        dates = {e.event_date for e in (*evs, *f.events[1]) if e.kind is echo}
                        assert ended[0].event_date in dates, kid
    assert removed > 0 and marriages > 0 and adopters > 0
    assert {K.HENSEI, K.KAISEI} <= matters


# --- printed -----------------------------------------------------------------------------------

needs_font = pytest.mark.skipif(not MINCHO.is_file(), reason="IPAex fonts not installed")


def flat(texts: list[str]) -> str:
    return "".join("".join(texts).split())


def uploaded_koseki(engine: Engine, dataset: Files) -> Koseki:
    """A 戸籍 of the upload with someone who left it, read back through the 戸籍 server."""
    members = members_of(dataset)
    ids = sorted({m.koseki_id for m in members if m.removed_reason})
    backend = BclKosekiTables(engine)
    for kid in ids:
        k = backend.koseki(CODE, kid)
        assert k is not None
        if len(k.members) >= 3 and k.current_members:
            return k
    raise AssertionError("the dataset has no 戸籍 of three with someone who left")


def render(koseki: Koseki, kind: CertificateKind, subjects: tuple[int, ...]) -> bytes:
    me = koseki.current_members[0].member_no
    doc = document(kind, MUNICIPALITY, HOUSEHOLD[:1], koseki=KosekiExtract(koseki, me, subjects))
    return CertificateRenderer(RendererConfig(font_path=MINCHO)).render(doc, created_at=CREATED)


def birth_text(e: KosekiEventRecord) -> str:
    assert e.kind is K.BIRTH and e.notified_on is not None
    return (
        f"出生【出生日】{to_wareki(e.event_date)}【出生地】{e.place}"
        f"【届出日】{to_wareki(e.notified_on)}【届出人】{e.notifier}"
    )


@needs_font
def test_zenbu_prints_the_koseki_matters_and_every_members_birth(printed: Koseki) -> None:
    k = printed
    every = tuple(m.member_no for m in k.members)
    texts = assert_furniture(
        render(k, CertificateKind.KOSEKI_ZENBU, every),
        "戸籍全部事項証明書",
        "これは、戸籍に記録されている事項の全部を証明した書面である。",
    )
    text = flat(texts)
    [matter] = k.matters
    spec = matter.kind.spec
    assert f"戸籍事項{spec.title}【{spec.date_label}】{to_wareki(matter.event_date)}" in text
    assert text.index("戸籍事項") < text.index("戸籍に記録されている者")
    assert text.count("戸籍に記録されている者") == len(k.members)
    for m in k.members:
        [born] = [e for e in k.events_of(m.member_no) if e.kind is K.BIRTH]
        assert birth_text(born) in text, m
    left = [m for m in k.members if m.removed_reason]
    assert text.count("除籍") >= len(left) > 0
    for m in left:  # the event that took them out is printed
        [why] = [e for e in k.events_of(m.member_no) if e.kind.value == m.removed_reason]
        assert f"【{why.kind.spec.date_label}】{to_wareki(why.event_date)}" in text


@needs_font
def test_kojin_prints_the_matters_and_only_the_chosen_member(printed: Koseki) -> None:
    k = printed
    me = k.current_members[0]
    text = flat(pages_text(render(k, CertificateKind.KOSEKI_KOJIN, (me.member_no,))))
    assert "戸籍個人事項証明書" in text and "戸籍事項" in text
    assert text.count("戸籍に記録されている者") == 1
    [born] = [e for e in k.events_of(me.member_no) if e.kind is K.BIRTH]
    assert birth_text(born) in text
    for other in k.members:
        if other.member_no != me.member_no and other.birth_date != me.birth_date:
            assert f"【出生日】{to_wareki(other.birth_date)}" not in text
            assert f"【名】{other.given_name}" not in text


@needs_font
def test_a_koseki_of_many_events_spans_pages_each_with_the_issue_number(printed: Koseki) -> None:
    k = printed
    # Twelve members' worth of history: the same people over and over, each a block.
    more = [replace(m, member_no=m.member_no + 10 * i) for i in range(4) for m in k.members]
    events = [
        replace(e, member_no=e.member_no + 10 * i)
        for i in range(4)
        for e in k.events
        if e.member_no
    ]
    big = replace(
        k,
        members=tuple(sorted(more, key=lambda m: m.member_no)),
        fuhyo=(),
        events=(*k.matters, *events),
    )
    every = tuple(m.member_no for m in big.members)
    texts = pages_text(render(big, CertificateKind.KOSEKI_ZENBU, every))
    assert len(texts) >= 3
    for page, t in enumerate(texts, start=1):
        squeezed = "".join(t.split())
        assert f"{page}/{len(texts)}" in squeezed and "交付番号" in squeezed
    assert flat(texts).count("【出生日】") == len(big.members)


@needs_font
def test_itemised_events_print_each_item_under_its_name_beside_free_text_ones() -> None:
    k = sample_koseki()  # 甲野 family: member 3 left by 婚姻; free-text 身分事項 for all
    kaisei = date(2000, 3, 4)
    itemised = replace(
        k,
        events=(
            KosekiEventRecord(k.koseki_id, 0, 1, K.KAISEI, kaisei, detail=KAISEI_REASON),
            KosekiEventRecord(
                k.koseki_id,
                3,
                1,
                K.BIRTH,
                date(1991, 3, 8),
                notified_on=date(1991, 3, 12),
                notifier="父",
                place="東京都千代田区",
            ),
            KosekiEventRecord(
                k.koseki_id,
                3,
                2,
                K.MARRIAGE,
                date(2019, 6, 1),
                partner_name="乙川　春子",
                detail="夫の氏",
                to_koseki="大阪府堺市堺区1番",
            ),
            KosekiEventRecord(
                k.koseki_id,
                4,
                1,
                K.ADOPTION,
                date(2001, 2, 3),
                adoptive_father="甲野　義太郎",
                from_koseki="京都府京都市1番地　乙野　一郎",
            ),
        ),
    )
    every = tuple(m.member_no for m in k.members)
    text = flat(pages_text(render(itemised, CertificateKind.KOSEKI_ZENBU, every)))
    assert f"戸籍事項戸籍改製【改製日】{to_wareki(kaisei)}【改製事由】{KAISEI_REASON}" in text
    married = "【婚姻日】令和元年6月1日【配偶者氏名】乙川春子【称する氏】夫の氏"
    assert f"婚姻{married}【新本籍】大阪府堺市堺区1番" in text
    assert "【除籍事由】" not in text  # the 婚姻 says why member 3 left
    assert "【養父】甲野義太郎" in text
    adopted = "【縁組日】平成13年2月3日【養父氏名】甲野義太郎【従前戸籍】京都府京都市1番地乙野一郎"
    assert f"養子縁組{adopted}" in text
    # Members without itemised rows keep their free-text history.
    assert "婚姻【婚姻日】平成2年10月1日" in text and "出生【出生日】昭和40年6月21日" in text
    # Member 4 has only the adoption itemised: the free text is not printed beside it.
    assert text.count("【出生日】平成5年11月30日") == 0
