"""Municipal seal keys: made at onboarding, kept as private files, published once, reused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.bcl.records import IssuingBackend
from server.common.clock import FrozenClock
from server.db.engine import make_engine, upgrade
from server.municipal.onboarding import OnboardingRequest, onboard
from server.verify.keys import SealKeyStore, published_keys

AT = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def onboarded(tmp_path: Path) -> tuple[SealKeyStore, Path, Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    upgrade(engine)
    key_dir = tmp_path / "seal-keys"
    store = SealKeyStore(key_dir, engine, clock=FrozenClock(AT))
    request = OnboardingRequest(
        code="131016",
        population=68_000,
        joined_on=date(2026, 10, 1),
        backend=IssuingBackend.BCL,
        mayor_name="千代田　一郎",
    )
    onboard(engine, request, seal_keys=store)
    return store, key_dir, engine


def test_onboarding_makes_a_private_key_file_and_publishes_its_public_half(
    tmp_path: Path,
) -> None:
    store, key_dir, engine = onboarded(tmp_path)
    path = key_dir / "131016.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert key_dir.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in key_dir.iterdir()] == ["131016.pem"]  # no temporary file left
    with Session(engine) as db:
        [published] = published_keys(db).values()
    assert published.municipality_code == "131016"
    assert published.key_id == store.signer("131016").key_id


def test_a_restarted_center_reuses_the_key_and_publishes_nothing_new(tmp_path: Path) -> None:
    store, key_dir, engine = onboarded(tmp_path)
    before = store.signer("131016").key_id
    again = SealKeyStore(key_dir, engine)
    assert again.provision("131016").key_id == before
    with Session(engine) as db:
        assert list(published_keys(db)) == [before]


def test_a_key_published_already_is_looked_up_without_a_write_transaction(
    tmp_path: Path,
) -> None:
    _, key_dir, engine = onboarded(tmp_path)
    verbs: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        verbs.append(statement.split(None, 1)[0].upper())  # SQLite: BEGIN IMMEDIATE to write

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        SealKeyStore(key_dir, engine).signer("131016")  # another worker process, a restart
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert verbs == ["SELECT"]


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    _, key_dir, engine = onboarded(tmp_path)
    (key_dir / "131016.pem").chmod(0o644)
    with pytest.raises(PermissionError):
        SealKeyStore(key_dir, engine).signer("131016")


def test_a_signature_verifies_under_the_published_key(tmp_path: Path) -> None:
    store, _, _ = onboarded(tmp_path)
    signer = store.signer("131016")
    signature = signer.sign(b"20261001-131016-K0001-P1-000001")
    assert len(signature) == 64
    assert signer.published.verifies(b"20261001-131016-K0001-P1-000001", signature)
    assert not signer.published.verifies(b"20261001-131016-K0001-P1-000002", signature)
