"""Joining a municipality to BCL: its profile (name, mayor, seal, fees), no residents yet.

Residents arrive by upload. `konbini seed` also creates a municipality (with kiosks and demo
residents); this is the bare onboarding a BCL-only setup or a benchmark needs.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.bcl.records import IssuingBackend, MunicipalityProfile
from server.bcl.store import load_municipality
from server.bcl.synthetic import build_profile
from server.db.models import Municipality


def join_municipality(
    engine: Engine,
    *,
    code: str,
    prefecture: str,
    name: str,
    seed: int = 2026,
) -> tuple[MunicipalityProfile, bool]:
    """The municipality's profile, and whether it was created now (False: it had joined)."""
    profile = build_profile(
        seed=seed,
        population=0,
        code=code,
        prefecture=prefecture,
        name=name,
        backend=IssuingBackend.BCL,
    )
    with Session(engine) as db:
        if db.get(Municipality, code) is not None:
            return profile, False
        load_municipality(db, profile, [], [])
        db.commit()
    return profile, True
