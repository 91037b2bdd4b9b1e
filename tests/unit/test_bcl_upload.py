"""BCL uploads in the domain (no gRPC): generations, full and difference, errors, restore,
retention, and uploads cut short before their commit."""

from __future__ import annotations

import errno
import hashlib
import io
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from clients.bcl.generate import generate_dataset
from clients.bcl.onboard import join_municipality
from server.bcl.csvformat import (
    CARD_SERIALS,
    DELETIONS,
    FUHYO,
    KOSEKI,
    KOSEKI_EVENTS,
    RESIDENTS,
    SEAL_IMAGES,
    SEALS,
    TAXES,
    CsvWriter,
    ErrorCode,
    ErrorSink,
    FileSchema,
    read_stream,
)
from server.bcl.export import export_generation
from server.bcl.generations import GenerationNotKept, UploadKind, manifest_checksum
from server.bcl.records import (
    ResidentRecord,
    individual_number_check_digit,
    municipality_check_digit,
)
from server.bcl.registers import CardSerialRecord, DeletionRecord, TokenCarrier
from server.bcl.store import resident_record, seal_record
from server.bcl.upload import (
    BaseGenerationMismatch,
    BclSettings,
    BclUploads,
    Committed,
    MunicipalityMismatch,
    MunicipalityNotFound,
    NotBclMunicipality,
    Phase,
    Rejected,
    StorageFull,
    UploadCorrupted,
    UploadFile,
    UploadHeader,
    UploadOutcome,
    UploadProtocolError,
)
from server.common.clock import JST, FrozenClock
from server.db.engine import make_engine, upgrade
from server.db.models import Municipality, Resident, SealRegistration

CODE = "131016"
OTHER = f"13103{municipality_check_digit('13103')}"  # 港区
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=JST)
TODAY = NOW.date()
Files = dict[str, bytes]


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Files:
    out = tmp_path_factory.mktemp("dataset")
    generate_dataset(out, residents=400, seed=3, today=TODAY)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def new_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    join_municipality(engine, code=CODE, prefecture="東京都", name="千代田区")
    join_municipality(engine, code=OTHER, prefecture="東京都", name="港区")
    return engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return new_engine(tmp_path / "center.db")


def new_desk(engine: Engine, data_dir: Path, **settings: Any) -> BclUploads:
    return BclUploads(engine, BclSettings(data_dir=data_dir, **settings), clock=FrozenClock(NOW))


@pytest.fixture
def desk(engine: Engine, tmp_path: Path) -> BclUploads:
    return new_desk(engine, tmp_path / "bcl")


def upload(
    desk: BclUploads,
    files: Files,
    *,
    difference: bool = False,
    base: int = 0,
    municipality: str = CODE,
) -> UploadOutcome:
    kind = UploadKind.DIFFERENCE if difference else UploadKind.FULL
    header = UploadHeader(
        municipality, kind, tuple(UploadFile(n, len(b)) for n, b in files.items()), base
    )
    with desk.begin(municipality, header) as up:
        for i, data in enumerate(files.values()):
            for off in range(0, len(data), 7_000):
                up.write(i, data[off : off + 7_000])
        return up.finish([hashlib.sha256(b).digest() for b in files.values()])


def committed(outcome: UploadOutcome) -> Committed:
    assert isinstance(outcome, Committed), outcome
    return outcome


def rejected(outcome: UploadOutcome) -> list[tuple[str, int, str, ErrorCode]]:
    assert isinstance(outcome, Rejected), outcome
    assert outcome.error_count == len(outcome.errors)
    return [(e.file, e.row, e.column, e.code) for e in outcome.errors]


def rows_of(files: Files, schema: FileSchema) -> list[dict[str, Any]]:
    sink = ErrorSink()
    rows = [r.values for r in read_stream(io.BytesIO(files[schema.name]), schema, sink)]
    assert not sink
    return rows


def residents_of(files: Files) -> list[ResidentRecord]:
    return [
        ResidentRecord(**v, is_household_head=v["relationship"] == "世帯主")
        for v in rows_of(files, RESIDENTS)
    ]


def csv_bytes(schema: FileSchema, records: Iterable[object]) -> bytes:
    buf = io.BytesIO()
    writer = CsvWriter(buf, schema)
    writer.write_all(records)
    writer.close()
    return buf.getvalue()


def restored(desk: BclUploads, number: int) -> Files:
    restore = desk.restore(CODE, CODE, number)
    out = {f.name: bytearray() for f in restore.files}
    for index, chunk in restore.chunks(chunk_size=10_000):
        out[restore.files[index].name] += chunk
    return {name: bytes(data) for name, data in out.items()}


def state(engine: Engine, code: str = CODE) -> dict[str, list[tuple[Any, ...]]]:
    """What a generation holds for a municipality (current residents), without surrogate keys."""
    queries = {
        "residents": "SELECT resident_id, household_id, family_name, given_name, address,"
        " address_annex, relationship, birth_date, suppressed FROM residents"
        " WHERE municipality_code = :m AND removed_on IS NULL",
        "serials": "SELECT r.resident_id, s.serial, s.token, s.active FROM card_serials s"
        " JOIN residents r ON r.id = s.resident_pk WHERE r.municipality_code = :m"
        " AND r.removed_on IS NULL",
        "seals": "SELECT r.resident_id, s.registration_number, s.registered_on,"
        " s.impression_sha256, s.active FROM seal_registrations s"
        " JOIN residents r ON r.id = s.resident_pk WHERE r.municipality_code = :m"
        " AND r.removed_on IS NULL",
        "taxes": "SELECT r.resident_id, t.fiscal_year, t.annual_tax, t.paid FROM bcl_tax_records t"
        " JOIN residents r ON r.id = t.resident_pk WHERE r.municipality_code = :m"
        " AND r.removed_on IS NULL",
        "koseki": "SELECT koseki_id, member_no, resident_id, family_name, relationship"
        " FROM bcl_koseki_members WHERE municipality_code = :m",
        "fuhyo": "SELECT koseki_id, member_no, entry_no, address, address_set_on"
        " FROM bcl_fuhyo_entries WHERE municipality_code = :m",
        "koseki_events": "SELECT koseki_id, member_no, event_no, kind, event_date, notified_on,"
        " notifier, place, partner_name, detail, from_koseki, to_koseki"
        " FROM bcl_koseki_events WHERE municipality_code = :m",
    }
    with engine.connect() as conn:
        return {
            k: sorted(tuple(r) for r in conn.execute(sa.text(q), {"m": code}))
            for k, q in queries.items()
        }


def pks(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        result = conn.execute(
            sa.text("SELECT resident_id, id FROM residents WHERE municipality_code = :m"),
            {"m": CODE},
        )
        return {rid: pk for rid, pk in result}


def whole_households(residents: list[ResidentRecord], n: int) -> list[ResidentRecord]:
    """The members of the first `n` households that have at least two members."""
    by_household: dict[str, list[ResidentRecord]] = {}
    for r in residents:
        by_household.setdefault(r.household_id, []).append(r)
    chosen = [m for m in by_household.values() if len(m) >= 2][:n]
    return [r for members in chosen for r in members]


# --- full uploads ------------------------------------------------------------------------------


def test_a_full_upload_applies_every_register_and_restores_byte_for_byte(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    gen = committed(upload(desk, dataset)).generation
    assert (gen.number, gen.kind, gen.current, gen.kept) == (1, UploadKind.FULL, True, True)
    counts = gen.counts
    assert counts.residents == 400 and counts.removed == 0
    assert counts.card_serials == len(rows_of(dataset, CARD_SERIALS)) > 0
    assert counts.seals == len(rows_of(dataset, SEALS)) > 0
    assert counts.tax_records == len(rows_of(dataset, TAXES)) > 0
    assert counts.koseki_members == len(rows_of(dataset, KOSEKI)) > 0
    assert counts.fuhyo_entries == len(rows_of(dataset, FUHYO)) > 0
    assert counts.koseki_events == len(rows_of(dataset, KOSEKI_EVENTS)) > 0
    digests = {f.name: f.sha256 for f in gen.uploaded_files}
    assert digests == {n: hashlib.sha256(b).hexdigest() for n, b in dataset.items()}
    assert gen.checksum == gen.backup_checksum == manifest_checksum(gen.uploaded_files)

    with Session(engine) as db:
        rows = db.exec(select(Resident).where(Resident.municipality_code == CODE)).all()
        assert sorted((resident_record(r) for r in rows), key=lambda r: r.resident_id) == sorted(
            residents_of(dataset), key=lambda r: r.resident_id
        )
    assert restored(desk, 1) == dataset
    assert restored(desk, 0) == dataset  # 0: the current generation


def test_a_full_export_writes_the_data_as_it_was_uploaded(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    committed(upload(desk, dataset))
    key = desk.store.new_key(CODE)
    with engine.connect() as conn:
        digests = export_generation(conn, CODE, desk.store, key)
    exported = {}
    for d in digests:
        with desk.store.open(key, d.name) as f:
            exported[d.name] = f.read()
    assert {n: hashlib.sha256(b).hexdigest() for n, b in exported.items()} == {
        d.name: d.sha256 for d in digests
    }
    # The generator writes these in key order too, so the bytes are the same; serials and
    # images come out in key order (the generator's are in resident order).
    for schema in (RESIDENTS, SEALS, TAXES, KOSEKI, KOSEKI_EVENTS, FUHYO):
        name = schema.name
        assert exported[name] == dataset[name], name
    for schema in (CARD_SERIALS,):
        assert sorted(rows_of(exported, schema), key=lambda v: v["serial"]) == sorted(
            rows_of(dataset, schema), key=lambda v: v["serial"]
        )


def test_seal_images_are_stored_once_and_certificates_read_them(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    gen = committed(upload(desk, dataset)).generation
    with Session(engine) as db:
        images = db.connection().execute(sa.text("SELECT COUNT(*) FROM bcl_seal_images")).scalar()
        assert images == gen.counts.seal_images < gen.counts.seals
        seal = db.exec(select(SealRegistration)).first()
        assert seal is not None and seal.impression_png == b"" and seal.impression_sha256
        owner = db.get(Resident, seal.resident_pk)
        assert owner is not None
        record = seal_record(seal, owner.resident_id)  # as the issuance desk calls it
        assert hashlib.sha256(record.impression_png).hexdigest() == seal.impression_sha256
        assert record.impression_png.startswith(b"\x89PNG")


def test_a_later_full_upload_keeps_primary_keys_and_removes_who_it_omits(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    committed(upload(desk, dataset))
    before = pks(engine)
    everyone = residents_of(dataset)
    leaving = {r.resident_id for r in whole_households(everyone, 2)}
    staying = [r for r in everyone if r.resident_id not in leaving]
    moved = staying[0].household_id
    staying = [
        replace(r, address="東京都千代田区九段南一丁目1番1号") if r.household_id == moved else r
        for r in staying
    ]
    second = dict(dataset)
    second[RESIDENTS.name] = csv_bytes(RESIDENTS, staying)
    for schema in (CARD_SERIALS, SEALS, TAXES):  # their rows of the leavers go too
        kept = [v for v in rows_of(dataset, schema) if v["resident_id"] not in leaving]
        second[schema.name] = csv_bytes(schema, kept)
    members = [v for v in rows_of(dataset, KOSEKI) if v["resident_id"] not in leaving]
    second[KOSEKI.name] = csv_bytes(KOSEKI, members)
    kept_members = {(v["koseki_id"], v["member_no"]) for v in members}
    kept_members |= {(koseki_id, 0) for koseki_id, _ in kept_members}
    second[KOSEKI_EVENTS.name] = csv_bytes(  # and the 事項 of the members who left with them
        KOSEKI_EVENTS,
        [
            v
            for v in rows_of(dataset, KOSEKI_EVENTS)
            if (v["koseki_id"], v["member_no"]) in kept_members
        ],
    )
    second.pop(FUHYO.name)  # a full upload without a register empties it

    gen = committed(upload(desk, second)).generation
    assert (gen.number, gen.counts.removed) == (2, len(leaving))
    assert pks(engine) == before  # nobody got a new primary key
    with engine.connect() as conn:
        gone = conn.execute(
            sa.text("SELECT resident_id, removed_on FROM residents WHERE removed_on IS NOT NULL")
        ).all()
        assert {g[0] for g in gone} == leaving
        assert {g[1] for g in gone} == {TODAY.isoformat()}
        active = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM card_serials s JOIN residents r ON r.id = s.resident_pk"
                " WHERE r.removed_on IS NOT NULL AND s.active"
            )
        ).scalar()
        assert active == 0  # their cards no longer authenticate
    now = state(engine)
    assert now["fuhyo"] == []
    assert {r[4] for r in now["residents"] if r[1] == moved} == {"東京都千代田区九段南一丁目1番1号"}
    assert restored(desk, 2) == second
    assert restored(desk, 1) == dataset


# --- differences -------------------------------------------------------------------------------


def test_a_difference_upserts_and_deletes_and_is_kept_as_a_full_export(
    desk: BclUploads, engine: Engine, dataset: Files, tmp_path: Path
) -> None:
    committed(upload(desk, dataset))
    before = pks(engine)
    everyone = residents_of(dataset)
    households = whole_households(everyone, 2)
    first = [r for r in households if r.household_id == households[0].household_id]
    second = [r for r in households if r.household_id != first[0].household_id]
    movers = [replace(r, address="東京都千代田区麹町六丁目6番6号", address_annex="") for r in first]
    newborn = replace(
        first[0],
        resident_id="9999999999",
        given_name="陽葵",
        given_name_kana="ヒマリ",
        relationship="子",
        is_household_head=False,
        birth_date=date(2026, 3, 1),
        became_resident_on=date(2026, 3, 1),
        address_set_on=date(2026, 3, 1),
        juminhyo_code="99999999999",
        individual_number=f"99999999999{individual_number_check_digit('99999999999')}",
        address="東京都千代田区麹町六丁目6番6号",
        address_annex="",
    )
    holder = next(r for r in everyone if r not in households)
    diff = {
        RESIDENTS.name: csv_bytes(RESIDENTS, [*movers, newborn]),
        DELETIONS.name: csv_bytes(
            DELETIONS, [DeletionRecord(r.resident_id, "転出", date(2026, 3, 20)) for r in second]
        ),
        CARD_SERIALS.name: csv_bytes(
            CARD_SERIALS, [CardSerialRecord(holder.resident_id, "123456789", TokenCarrier.IPHONE)]
        ),
    }
    gen = committed(upload(desk, diff, difference=True, base=1)).generation
    assert (gen.number, gen.kind, gen.base_number) == (2, UploadKind.DIFFERENCE, 1)
    assert (gen.counts.residents, gen.counts.removed, gen.counts.card_serials) == (
        len(movers) + 1,
        len(second),
        1,
    )
    after = pks(engine)
    assert {k: v for k, v in after.items() if k in before} == before
    assert "9999999999" in after
    live = {r[0]: r for r in state(engine)["residents"]}
    assert live["9999999999"][4] == "東京都千代田区麹町六丁目6番6号"
    assert not any(r.resident_id in live for r in second)
    assert "123456789" in {s[1] for s in state(engine)["serials"]}

    # The kept copy is a full export: uploaded in full elsewhere, it gives the same data.
    export = restored(desk, 2)
    assert set(export) == {n for n in dataset if n != DELETIONS.name}
    assert gen.backup_checksum != gen.checksum
    elsewhere = new_engine(tmp_path / "elsewhere.db")
    committed(upload(new_desk(elsewhere, tmp_path / "bcl2"), export))
    assert state(elsewhere) == state(engine)


def test_a_difference_against_an_old_generation_is_refused(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    committed(upload(desk, dataset))
    committed(upload(desk, dataset))
    diff = {DELETIONS.name: csv_bytes(DELETIONS, [])}
    with pytest.raises(BaseGenerationMismatch):
        upload(desk, diff, difference=True, base=1)
    assert [g.number for g in desk.generations(CODE, CODE)] == [2, 1]


# --- errors: all of them, and nothing applied --------------------------------------------------


def test_an_upload_with_errors_applies_nothing_and_lists_them_all(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    committed(upload(desk, dataset))
    before = state(engine)
    everyone = residents_of(dataset)
    clone = replace(everyone[1], resident_id=everyone[0].resident_id)  # the same 宛名番号
    twin = replace(  # a new member with someone else's 個人番号
        everyone[3], resident_id="8888888888", juminhyo_code="88888888888", relationship="子",
        is_household_head=False,
    )  # fmt: skip
    people = [*everyone, clone, twin]
    bad = dict(dataset)
    bad[RESIDENTS.name] = csv_bytes(RESIDENTS, people)
    bad[CARD_SERIALS.name] = csv_bytes(
        CARD_SERIALS, [CardSerialRecord("424242", "77", TokenCarrier.CARD)]
    )
    seals = rows_of(dataset, SEALS)
    seals[0]["impression_sha256"] = "0" * 64
    bad[SEALS.name] = csv_bytes(SEALS, seals)
    taxes = rows_of(dataset, TAXES)
    bad[TAXES.name] = csv_bytes(TAXES, [*taxes, taxes[0]])
    koseki = rows_of(dataset, KOSEKI)
    koseki[1]["honseki"] = "北海道札幌市中央区1番"
    bad[KOSEKI.name] = csv_bytes(KOSEKI, koseki)
    fuhyo = rows_of(dataset, FUHYO)
    fuhyo[0]["member_no"] = 999
    bad[FUHYO.name] = csv_bytes(FUHYO, fuhyo)

    errors = rejected(upload(desk, bad))
    assert errors[:7] == [
        ("residents.csv", len(everyone) + 2, "resident_id", ErrorCode.DUPLICATE),
        ("residents.csv", len(everyone) + 2, "juminhyo_code", ErrorCode.DUPLICATE),
        ("residents.csv", len(everyone) + 2, "individual_number", ErrorCode.DUPLICATE),
        ("residents.csv", len(everyone) + 3, "individual_number", ErrorCode.DUPLICATE),
        ("seals.csv", 2, "impression_sha256", ErrorCode.UNKNOWN_SEAL_IMAGE),
        ("card_serials.csv", 2, "resident_id", ErrorCode.UNKNOWN_RESIDENT),
        ("taxes.csv", len(taxes) + 2, "fiscal_year", ErrorCode.DUPLICATE),
    ]
    assert errors[7][0:2] == ("koseki.csv", 3) and errors[7][3] is ErrorCode.INCONSISTENT
    assert errors[8] == ("fuhyo.csv", 2, "member_no", ErrorCode.UNKNOWN_KOSEKI_MEMBER)
    assert len(errors) == 9, errors[7:]
    assert state(engine) == before
    assert [g.number for g in desk.generations(CODE, CODE)] == [1]
    assert not any((desk.settings.spool_dir).iterdir())


def test_a_seal_image_under_another_sha256_is_one_error_not_one_per_seal(
    desk: BclUploads, dataset: Files
) -> None:
    images = rows_of(dataset, SEAL_IMAGES)
    images[0]["png"] = images[1]["png"]  # another image filed under the first one's SHA-256
    bad = dict(dataset)
    bad[SEAL_IMAGES.name] = csv_bytes(SEAL_IMAGES, images)
    assert rejected(upload(desk, bad)) == [
        ("seal_images.csv", 2, "png_base64", ErrorCode.SEAL_IMAGE)
    ]


def test_file_level_errors_are_reported_with_the_rows_of_the_known_files(
    desk: BclUploads, dataset: Files
) -> None:
    residents = dataset[RESIDENTS.name].replace(b",1980-", b",1980/", 1)
    bad = {"notes.csv": b"x\n", DELETIONS.name: b"resident_id\n", RESIDENTS.name: residents}
    errors = rejected(upload(desk, bad))
    assert errors[0] == ("notes.csv", 0, "", ErrorCode.FILE_UNKNOWN)  # unknown files first
    assert ("deletions.csv", 0, "", ErrorCode.FILE_NOT_ALLOWED) in errors
    first = next(e for e in errors if e[0] == "residents.csv")
    assert first[2:] == ("birth_date", ErrorCode.DATE)


def test_households_need_one_head_and_one_address(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    everyone = residents_of(dataset)
    family = whole_households(everyone, 2)
    first = [r for r in family if r.household_id == family[0].household_id]
    second = [r for r in family if r.household_id != first[0].household_id]
    two_heads = [replace(first[1], relationship="世帯主", is_household_head=True)]
    elsewhere = [replace(second[1], address="東京都千代田区外神田一丁目1番1号")]
    changed = {r.resident_id: r for r in two_heads + elsewhere}
    bad = dict(dataset)
    bad[RESIDENTS.name] = csv_bytes(RESIDENTS, [changed.get(r.resident_id, r) for r in everyone])
    errors = rejected(upload(desk, bad))
    assert [(f, c, code) for f, _, c, code in errors] == [
        ("residents.csv", "household_id", ErrorCode.HOUSEHOLD)
    ] * 2
    rows = {everyone.index(r) + 2 for r in first} | {everyone.index(r) + 2 for r in second}
    assert {row for _, row, _, _ in errors} <= rows

    # A difference that removes a head and leaves the members without one.
    committed(upload(desk, dataset))
    head = first[0]
    diff = {DELETIONS.name: csv_bytes(DELETIONS, [DeletionRecord(head.resident_id, "死亡", TODAY)])}
    assert rejected(upload(desk, diff, difference=True)) == [
        ("deletions.csv", 2, "resident_id", ErrorCode.HOUSEHOLD)
    ]


def test_difference_references_are_checked_against_the_current_residents(
    desk: BclUploads, dataset: Files
) -> None:
    committed(upload(desk, dataset))
    everyone = residents_of(dataset)
    alone = next(
        r for r in everyone if sum(x.household_id == r.household_id for x in everyone) == 1
    )
    other = everyone[1]
    diff = {
        RESIDENTS.name: csv_bytes(RESIDENTS, [other]),
        DELETIONS.name: csv_bytes(
            DELETIONS,
            [
                DeletionRecord("31415926", "転出", TODAY),
                DeletionRecord(other.resident_id, "転出", TODAY),
                DeletionRecord(alone.resident_id, "転出", TODAY),
            ],
        ),
        CARD_SERIALS.name: csv_bytes(
            CARD_SERIALS, [CardSerialRecord(alone.resident_id, "5", TokenCarrier.CARD)]
        ),
    }
    assert rejected(upload(desk, diff, difference=True)) == [
        ("deletions.csv", 2, "resident_id", ErrorCode.UNKNOWN_RESIDENT),
        ("deletions.csv", 3, "resident_id", ErrorCode.DELETED_AND_UPDATED),
        ("card_serials.csv", 2, "resident_id", ErrorCode.UNKNOWN_RESIDENT),
    ]


def test_a_serial_of_another_municipality_is_refused(desk: BclUploads, dataset: Files) -> None:
    committed(upload(desk, dataset))
    serial = rows_of(dataset, CARD_SERIALS)[0]["serial"]
    theirs = residents_of(dataset)[:1]
    files = {
        RESIDENTS.name: csv_bytes(RESIDENTS, theirs),
        CARD_SERIALS.name: csv_bytes(
            CARD_SERIALS, [CardSerialRecord(theirs[0].resident_id, serial, TokenCarrier.CARD)]
        ),
    }
    assert rejected(upload(desk, files, municipality=OTHER)) == [
        ("card_serials.csv", 2, "serial", ErrorCode.SERIAL_TAKEN)
    ]


# --- the upload itself -------------------------------------------------------------------------


def test_callers_act_only_for_their_municipality(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    header = UploadHeader(CODE, UploadKind.FULL, (UploadFile("residents.csv", 1),))
    with pytest.raises(MunicipalityMismatch):
        desk.begin(OTHER, header)
    with pytest.raises(MunicipalityMismatch):
        desk.generations(OTHER, CODE)
    with pytest.raises(MunicipalityMismatch):
        desk.restore(OTHER, CODE, 0)
    unknown = f"01100{municipality_check_digit('01100')}"
    with pytest.raises(MunicipalityNotFound):
        desk.begin(unknown, replace(header, municipality_code=unknown))
    with Session(engine) as db:
        row = db.get(Municipality, OTHER)
        assert row is not None
        row.backend = "own"
        db.add(row)
        db.commit()
    with pytest.raises(NotBclMunicipality):
        desk.begin(OTHER, replace(header, municipality_code=OTHER))


def test_chunks_sizes_and_digests_are_checked(desk: BclUploads, dataset: Files) -> None:
    files = (UploadFile("residents.csv", 10), UploadFile("taxes.csv", 3))
    header = UploadHeader(CODE, UploadKind.FULL, files)
    with desk.begin(CODE, header) as up:
        up.write(1, b"abc")
        with pytest.raises(UploadProtocolError):
            up.write(0, b"x")  # files go in header order
    with desk.begin(CODE, header) as up, pytest.raises(UploadCorrupted):
        up.write(0, b"x" * 11)  # more than declared
    with desk.begin(CODE, header) as up:
        up.write(0, b"x" * 10)
        up.write(1, b"abc")
        with pytest.raises(UploadCorrupted):
            up.finish([hashlib.sha256(b"y" * 10).digest(), hashlib.sha256(b"abc").digest()])
    assert not any(desk.settings.spool_dir.iterdir())
    assert desk.generations(CODE, CODE) == []


# --- generations: retention and interruptions --------------------------------------------------


def test_retention_keeps_the_files_of_the_newest_generations(
    engine: Engine, tmp_path: Path, dataset: Files
) -> None:
    desk = new_desk(engine, tmp_path / "bcl", retention=2)
    committed(upload(desk, dataset))
    committed(upload(desk, dataset))
    third = committed(upload(desk, dataset))
    assert third.pruned == (1,)
    gens = desk.generations(CODE, CODE)
    assert [(g.number, g.kept, g.current) for g in gens] == [
        (3, True, True),
        (2, True, False),
        (1, False, False),
    ]
    with pytest.raises(GenerationNotKept):
        desk.restore(CODE, CODE, 1)
    assert restored(desk, 2) == dataset
    assert len(desk.store.keys()) == 2


@pytest.mark.parametrize("phase", [Phase.SPOOLED, Phase.APPLIED])
def test_a_crash_between_spool_and_commit_changes_nothing(
    engine: Engine, tmp_path: Path, dataset: Files, phase: Phase
) -> None:
    committed(upload(new_desk(engine, tmp_path / "bcl"), dataset))
    before = state(engine)

    class Crash(Exception):
        pass

    def crash_at(at: Phase, _upload: str) -> None:
        if at is phase:
            raise Crash

    crashing = BclUploads(
        engine, BclSettings(data_dir=tmp_path / "bcl"), clock=FrozenClock(NOW), checkpoint=crash_at
    )
    everyone = residents_of(dataset)
    change = dict(dataset)
    change[RESIDENTS.name] = csv_bytes(RESIDENTS, everyone[:-1])
    with pytest.raises(Crash):
        upload(crashing, {RESIDENTS.name: csv_bytes(RESIDENTS, everyone[:-1])})
    assert state(engine) == before
    desk = new_desk(engine, tmp_path / "bcl")
    assert [(g.number, g.current) for g in desk.generations(CODE, CODE)] == [(1, True)]
    assert len(desk.store.keys()) == 1 and not any(desk.settings.spool_dir.iterdir())
    assert restored(desk, 1) == dataset


def test_a_full_disk_is_a_storage_refusal_and_changes_nothing(
    desk: BclUploads, engine: Engine, dataset: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed(upload(desk, dataset))
    before = state(engine)

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(desk.store, "put", full)  # keeping the upload's compressed copy
    with pytest.raises(StorageFull):
        upload(desk, dataset)
    assert state(engine) == before
    assert [g.number for g in desk.generations(CODE, CODE)] == [1]
    assert len(desk.store.keys()) == 1 and not any(desk.settings.spool_dir.iterdir())


def test_recovery_removes_what_a_killed_server_left(
    desk: BclUploads, engine: Engine, dataset: Files
) -> None:
    committed(upload(desk, dataset))
    # What a server killed mid-upload leaves: a spool, and kept files of no generation.
    (desk.settings.spool_dir / "dead").mkdir(parents=True)
    (desk.settings.spool_dir / "dead" / "00-residents.csv").write_bytes(b"half")
    orphan = desk.store.new_key(CODE)
    with desk.store.writer(orphan, "residents.csv") as out:
        out.write(b"half")
    assert len(desk.store.keys()) == 2
    left = desk.recover()
    assert sorted(left) == sorted(["spool/dead", f"backups/{orphan}"])
    assert len(desk.store.keys()) == 1 and restored(desk, 1) == dataset
