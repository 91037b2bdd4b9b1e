"""A whole issuance center on loopback: authority (HTTP OCSP/CRL), gRPC server, seeded data.

Parametrised over database backends: SQLite always, PostgreSQL when
KONBINI_TEST_DATABASE_URL names a server (a fresh database is created and dropped per run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
import psycopg
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from clients.kiosk.terminal import KioskTerminal
from clients.seeding import SeededMunicipality, card_serial, seed_municipality
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.credentials import CardCredentials
from hardware_sim.card.reader import InProcessReader
from hardware_sim.printer import KioskPrinter
from server.app import Center, create_server
from server.bcl.records import ResidentRecord, SealRegistrationRecord
from server.common.clock import JST, FrozenClock
from server.config import ServerConfig
from server.db.engine import make_engine, upgrade

START = datetime(2026, 4, 1, 10, 0, tzinfo=JST)
PG_URL = os.environ.get("KONBINI_TEST_DATABASE_URL", "")


@dataclass
class Bench:
    center: Center
    channel: grpc.Channel
    authority: JpkiAuthority
    responder: ResponderHandle
    seeded: SeededMunicipality
    clock: FrozenClock
    config: ServerConfig
    _taken: set[str] = field(default_factory=set)
    _token: str = ""

    @property
    def kiosk_id(self) -> str:
        return self.seeded.kiosk_ids[0]

    def terminal(
        self, printer: KioskPrinter | None = None, kiosk_id: str | None = None
    ) -> KioskTerminal:
        return KioskTerminal(
            self.channel, kiosk_id=kiosk_id or self.kiosk_id, printer=printer or KioskPrinter("P1")
        )

    def take(self, predicate: Callable[[ResidentRecord], bool] = lambda r: True) -> ResidentRecord:
        """A resident with a card that no other test has used (tests may lock or revoke it)."""
        for r in self.seeded.residents:
            if r.resident_id in self._taken or r.resident_id not in self.seeded.cards:
                continue
            if predicate(r):
                self._taken.add(r.resident_id)
                return r
        raise LookupError("no unused resident matches; seed more households")

    def reader(self, resident: ResidentRecord) -> InProcessReader:
        return self.reader_for_card(self.seeded.cards[resident.resident_id])

    def reader_for_card(self, card: CardCredentials) -> InProcessReader:
        reader = InProcessReader()
        reader.insert(JpkiApplet(card))
        reader.connect()
        return reader

    def seeded_seals(self) -> tuple[SealRegistrationRecord, ...]:
        return self.seeded.seals

    @staticmethod
    def serial_of(card: CardCredentials) -> int:
        return card_serial(card)

    def shared_token(self) -> str:
        """A valid session for tests that only need one to send malformed requests."""
        if not self._token:
            me = self.take()
            token = self.terminal().authenticate(self.reader(me), self.pin(me))
            assert isinstance(token, str), token
            self._token = token
        return self._token

    def pin(self, resident: ResidentRecord) -> str:
        return self.seeded.cards[resident.resident_id].auth_pin

    def household(self, resident: ResidentRecord) -> list[ResidentRecord]:
        return [r for r in self.seeded.residents if r.household_id == resident.household_id]

    def sql(self, statement: str, **params: object) -> list[tuple[object, ...]]:
        with self.center.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(statement), params)]

    def sql_write(self, statement: str, **params: object) -> None:
        with self.center.engine.begin() as conn:
            conn.execute(sa.text(statement), params)


def _backends() -> list[object]:
    return [
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not PG_URL, reason="KONBINI_TEST_DATABASE_URL not set"),
            ],
        ),
    ]


@pytest.fixture(scope="module", params=_backends())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'center.db'}"
        return
    name = f"konbini_it_{uuid.uuid4().hex[:12]}"
    admin = sa.engine.make_url(PG_URL)
    conninfo = (
        f"host={admin.host} port={admin.port or 5432} user={admin.username} dbname={admin.database}"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def bench(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    clock = FrozenClock(START)
    state = tmp_path_factory.mktemp("state")
    authority = JpkiAuthority.create(clock=clock)
    responder = serve_in_thread(authority)
    anchor = state / "auth_ca.der"
    anchor.write_bytes(authority.auth_ca_cert.public_bytes(serialization.Encoding.DER))
    engine = make_engine(database_url)
    upgrade(engine)
    seeded = seed_municipality(
        engine,
        authority,
        seed=7,
        households=16,
        today=START.date(),
        now=START.astimezone(UTC),
    )
    engine.dispose()
    config = ServerConfig(
        trust_anchor_path=Path(anchor),
        authority_url=responder.url,
        database_url=database_url,
        port=0,
        revocation_mode="ocsp",
        max_workers=8,
    )
    center = create_server(config, clock=clock)
    center.server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{center.port}")
    try:
        yield Bench(center, channel, authority, responder, seeded, clock, config)
    finally:
        channel.close()
        center.server.stop(grace=None).wait()
        center.engine.dispose()
        responder.stop()
