"""`offered_with_availability` reads in one query what `offerings_of` and `availability_of`
answer together: the enabled offerings of the municipalities, each with the first suspension
that covers it (its own kind or every kind, not cancelled, started and not ended) or else its
certificate hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col

from clients.seeding import seed_municipality
from server.db.engine import make_engine, upgrade
from server.db.models import Offering
from server.municipal.models import CertificateHoursRow, ServiceSuspension
from server.municipal.policy import availability_of, offered_with_availability, offerings_of
from server.municipal.rules import NATIONAL_KIOSK_HOURS
from tests.pki import test_authority

NOW = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo, a Wednesday
CODES = ("131016", "141003")


def _suspension(
    code: str, kind: str, start: timedelta, end: timedelta, *, cancelled: bool = False
) -> ServiceSuspension:
    return ServiceSuspension(
        municipality_code=code,
        kind=kind,
        starts_at=NOW + start,
        ends_at=NOW + end,
        reason=f"{code}/{kind or 'all'}/{start}",
        cancelled=cancelled,
    )


def test_one_query_agrees_with_the_offerings_and_rules_read_apart(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    upgrade(engine)
    authority = test_authority(lambda: NOW)
    for i, code in enumerate(CODES):
        seed_municipality(
            engine, authority, seed=7 + i, households=2, today=NOW.date(), now=NOW, code=code
        )
    hour = timedelta(hours=1)
    with Session(engine) as db:
        kinds = [o.kind for o in offerings_of(db, CODES[0], enabled_only=True)]
        assert len(kinds) >= 2
        db.add_all(
            [
                # the first municipality: two spans covering the first kind (the older is
                # given), a cancelled and an ended one, hours that exclude now for the second
                _suspension(CODES[0], kinds[0], -hour, hour),
                _suspension(CODES[0], "", -2 * hour, 2 * hour),
                _suspension(CODES[0], kinds[1], -hour, hour, cancelled=True),
                _suspension(CODES[0], kinds[1], -2 * hour, -hour),
                _suspension(CODES[0], kinds[1], hour, 2 * hour),  # not started
                CertificateHoursRow(
                    municipality_code=CODES[0], kind=kinds[1], opens="13:00", closes="17:00"
                ),
                # the second: one span of every kind, later than now
                _suspension(CODES[1], "", hour, 3 * hour),
            ]
        )
        db.exec(
            sa.update(Offering)
            .where(col(Offering.municipality_code) == CODES[1])
            .where(col(Offering.kind) == kinds[0])
            .values(enabled=False)
        )
        db.commit()
        for moment in (NOW, NOW + 1.5 * hour, NOW + 4 * hour):
            expected = []
            for code in CODES:
                offers = offerings_of(db, code, enabled_only=True)
                rules = availability_of(
                    db, code, [o.kind for o in offers], moment, NATIONAL_KIOSK_HOURS
                )
                expected += [(code, o.kind, o.fee_yen, rules[o.kind]) for o in offers]
            got = [
                (o.municipality_code, o.kind, o.fee_yen, rule)
                for o, rule in offered_with_availability(db, CODES, moment, NATIONAL_KIOSK_HOURS)
            ]
            assert got == expected
            for code in CODES:  # one municipality alone (its own statement): its share of both
                alone = offered_with_availability(db, [code, code], moment, NATIONAL_KIOSK_HOURS)
                assert [(o.municipality_code, o.kind, o.fee_yen, r) for o, r in alone] == [
                    g for g in got if g[0] == code
                ]
            assert offered_with_availability(db, [], moment, NATIONAL_KIOSK_HOURS) == []
            one = offered_with_availability(
                db, [CODES[0]], moment, NATIONAL_KIOSK_HOURS, kind=kinds[1]
            )
            assert [(o.kind, rule) for o, rule in one] == [
                (
                    kinds[1],
                    availability_of(db, CODES[0], [kinds[1]], moment, NATIONAL_KIOSK_HOURS)[
                        kinds[1]
                    ],
                )
            ]
        assert (
            offered_with_availability(db, [CODES[1]], NOW, NATIONAL_KIOSK_HOURS, kind=kinds[0])
            == []
        )  # disabled
    engine.dispose()
