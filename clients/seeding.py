"""Onboarding demo data: a synthetic municipality, its kiosks, and a card for each resident.

This stands where, in the real system, the municipality uploads its residents to BCL and the
JPKI authority personalises My Number Cards. The cards are written as JSON files that the
`konbini kiosk` command (and the demo) put on an emulated reader.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.card.credentials import CardCredentials, TokenKind
from server.bcl.records import MunicipalityProfile, ResidentRecord, SealRegistrationRecord
from server.bcl.store import link_card_serials, load_municipality
from server.bcl.synthetic import generate_municipality
from server.db.models import Kiosk, Operator

DEMO_OPERATORS = (
    ("seven", "セブン-イレブン"),
    ("lawson", "ローソン"),
    ("famima", "ファミリーマート"),
)
MIN_CARD_AGE = 15  # below this a parent applies for the child; keep the demo to self-service


@dataclass(frozen=True)
class SeededMunicipality:
    profile: MunicipalityProfile
    residents: tuple[ResidentRecord, ...]
    seals: tuple[SealRegistrationRecord, ...]
    cards: dict[str, CardCredentials]  # resident_id → card
    kiosk_ids: tuple[str, ...]


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def seed_municipality(
    engine: Engine,
    authority: JpkiAuthority,
    *,
    seed: int,
    households: int,
    today: date,
    now: datetime,
    code: str = "131016",
    prefecture: str = "東京都",
    name: str = "千代田区",
    cards_dir: Path | None = None,
) -> SeededMunicipality:
    muni = generate_municipality(
        seed=seed, households=households, code=code, prefecture=prefecture, name=name, today=today
    )
    rng = random.Random(seed)
    cards: dict[str, CardCredentials] = {}
    with Session(engine) as db:
        pks = load_municipality(db, muni.profile, muni.residents, muni.seals)
        links: dict[int, tuple[int, str]] = {}
        for r in muni.residents:
            if age_on(r.birth_date, today) < MIN_CARD_AGE:
                continue
            pin = f"{rng.randrange(10_000):04d}"
            password = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
            card = authority.issue_card(
                r.resident_id, token=TokenKind.CARD, pin=pin, sign_password=password
            )
            cards[r.resident_id] = card
            links[card_serial(card)] = (pks[r.resident_id], card.token.value)
        link_card_serials(db, links, at=now)
        for op_id, op_name in DEMO_OPERATORS:
            if db.get(Operator, op_id) is None:
                db.add(Operator(operator_id=op_id, name=op_name))
        db.flush()  # operators before the kiosks that reference them
        kiosk_ids = []
        for i, (op_id, op_name) in enumerate(DEMO_OPERATORS, start=1):
            kiosk_id = f"K{code}{i:02d}"
            db.add(
                Kiosk(
                    kiosk_id=kiosk_id,
                    operator_id=op_id,
                    store_name=f"{op_name} {name}店",
                    municipality_code=code,
                )
            )
            kiosk_ids.append(kiosk_id)
        db.commit()
    if cards_dir is not None:
        cards_dir.mkdir(parents=True, exist_ok=True)
        for resident_id, card in cards.items():
            path = cards_dir / f"{resident_id}.json"
            path.write_text(card.to_json(), encoding="utf-8")
            path.chmod(0o600)
    return SeededMunicipality(muni.profile, muni.residents, muni.seals, cards, tuple(kiosk_ids))


def card_serial(card: CardCredentials) -> int:
    """The serial of the card's user-authentication certificate (what 利用者管理 keys on)."""
    return x509.load_der_x509_certificate(card.auth_cert_der).serial_number
