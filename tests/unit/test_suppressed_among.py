"""`suppressed_among` answers for many residents in one query exactly what `is_suppressed`
answers for each: the uploaded flag, a staff suppression of the person or of the household,
in that municipality, unless lifted. So does the column `suppressed_flag` that the issuance desk
reads with the residents themselves (`residents_with_suppression`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from clients.seeding import seed_municipality
from server.db.engine import make_engine, upgrade
from server.db.models import Resident
from server.municipal.models import IssuanceSuppression
from server.municipal.policy import (
    is_suppressed,
    residents_with_suppression,
    suppressed_among,
)
from tests.pki import test_authority

NOW = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)


def test_one_query_agrees_with_the_check_of_each_resident(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(engine)
    authority = test_authority(lambda: NOW)
    for i, code in enumerate(("131016", "141003")):
        seed_municipality(
            engine, authority, seed=7 + i, households=8, today=NOW.date(), now=NOW, code=code
        )
    with Session(engine) as db:
        residents = list(db.exec(select(Resident).order_by(col(Resident.id))).all())
        here = [r for r in residents if r.municipality_code == "131016"]
        there = [r for r in residents if r.municipality_code == "141003"]
        people = {r.household_id: r for r in here}  # one resident of each household
        picks = list(people.values())
        rows = [
            # a person, a household, a lifted one, and one that names a person of this
            # municipality's numbering in the other municipality (which does not count here)
            IssuanceSuppression(
                municipality_code="131016",
                resident_id=picks[0].resident_id,
                created_by="t",
                created_at=NOW,
            ),
            IssuanceSuppression(
                municipality_code="131016",
                household_id=picks[1].household_id,
                created_by="t",
                created_at=NOW,
            ),
            IssuanceSuppression(
                municipality_code="131016",
                resident_id=picks[2].resident_id,
                created_by="t",
                created_at=NOW - timedelta(days=2),
                lifted_at=NOW - timedelta(days=1),
            ),
            IssuanceSuppression(
                municipality_code="141003",
                resident_id=picks[3].resident_id,
                created_by="t",
                created_at=NOW,
            ),
        ]
        db.add_all(rows)
        db.exec(sa.update(Resident).where(col(Resident.id) == there[0].id).values(suppressed=True))
        db.commit()
        residents = list(db.exec(select(Resident).order_by(col(Resident.id))).all())
        expected = {r.id for r in residents if is_suppressed(db, r)}
        assert suppressed_among(db, residents) == expected
        assert picks[0].id in expected and picks[1].id in expected and there[0].id in expected
        assert picks[2].id not in expected and picks[3].id not in expected
        assert suppressed_among(db, []) == set()
        flagged = residents_with_suppression(db, col(Resident.id).in_([r.id for r in residents]))
        assert len(flagged) == len(residents)
        assert {r.id for r, blocked in flagged if blocked} == expected
    engine.dispose()
