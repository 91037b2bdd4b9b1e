"""A whole issuance center on loopback: authority (HTTP OCSP/CRL), gRPC server, seeded data.

Parametrised over database backends: SQLite always, PostgreSQL when
KONBINI_TEST_DATABASE_URL names a server (a fresh database is created and dropped per run).

The center runs with mutual TLS as in production: every kiosk gets a client certificate from the
kiosk CA (`bench.channel_for(kiosk_id)`), so every scenario here also exercises the identity
path of `server.common.identity`. The `transport` fixture puts cards and phones on an in-process
reader or, through vpcd, on a PC/SC reader of the real pcscd (skipped with the reason when
pcscd is absent; CI runs it).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from sqlmodel import Session

from clients.kiosk.channel import KioskTls, open_channel
from clients.kiosk.payment import Till
from clients.kiosk.terminal import KioskTerminal
from clients.seeding import SeededMunicipality, card_serial, seed_municipality
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.kiosk_ca import KioskCa
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.credentials import CardCredentials, TokenKind
from hardware_sim.card.reader import InProcessReader
from hardware_sim.printer import KioskPrinter
from server.app import Center, create_server
from server.bcl.records import IssuingBackend, ResidentRecord, SealRegistrationRecord
from server.bcl.store import link_card_serials
from server.common.clock import JST, FrozenClock, system_clock
from server.config import ServerConfig
from server.db.engine import make_engine, upgrade
from server.db.models import Municipality
from server.municipal.onboarding import OnboardingRequest, onboard
from tests.credentials import bearer, national_token
from tests.databases import BACKENDS, fresh_postgres
from tests.hil.transports import InProcessTransport, PcscTransport, Transport
from tests.hil.vpcd_slots import VpcdSlot, hold_free_slot, unavailable_reason
from tests.pki import test_authority

START = datetime(2026, 4, 1, 10, 0, tzinfo=JST)


PHONE_PIN = "2580"  # the phones' own PIN (Android PIN mode; an iPhone keeps it internal)


@functools.cache
def kiosk_ca() -> KioskCa:
    """The kiosk CA of the test session. TLS checks dates on the wall clock, not the bench's."""
    return KioskCa.create(clock=system_clock)


YOKOHAMA = "141003"  # 横浜市: a second municipality on the bench's center, none of its residents
OSAKA = "271004"  # 大阪市: keeps 戸籍 of people who live elsewhere, through its 戸籍 server


def add_yokohama(engine: sa.Engine) -> str:
    """横浜市 joined on the center (once: a later call finds it), without residents or offerings."""
    with Session(engine) as db:
        if db.get(Municipality, YOKOHAMA) is None:
            db.add(
                Municipality(
                    code=YOKOHAMA,
                    prefecture="神奈川県",
                    name="横浜市",
                    mayor_title="市長",
                    mayor_name="横浜　太郎",
                    municipality_class="designated_city_1m",
                    backend="own",
                    population=3_770_000,
                    joined_on=date(2010, 2, 1),
                )
            )
            db.commit()
    return YOKOHAMA


def add_osaka(engine: sa.Engine) -> str:
    """大阪市 onboarded with its own 戸籍 server and fees for its 戸籍 certificates."""
    onboard(
        engine,
        OnboardingRequest(
            code=OSAKA,
            population=2_750_000,
            joined_on=date(2012, 4, 1),
            backend=IssuingBackend.OWN_SERVER,
            mayor_name="大阪　一郎",
            designated_city=True,
            fees={"juminhyo": 300, "koseki_zenbu": 450, "koseki_kojin": 450, "koseki_fuhyo": 300},
            koseki_server="osaka-koseki.example",
        ),
    )
    return OSAKA


@dataclass
class Bench:
    center: Center
    authority: JpkiAuthority
    responder: ResponderHandle
    seeded: SeededMunicipality
    clock: FrozenClock
    config: ServerConfig  # the plaintext demo mode: for tests that start a second center
    tls_config: ServerConfig  # what `center` runs: mutual TLS with the kiosk CA
    _channels: dict[str, grpc.Channel] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)
    _token: str = ""

    @property
    def kiosk_id(self) -> str:
        return self.seeded.kiosk_ids[0]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.center.port}"

    @property
    def channel(self) -> grpc.Channel:
        """The channel of the bench's first kiosk (its client certificate)."""
        return self.channel_for(self.kiosk_id)

    @functools.cached_property
    def national(self) -> tuple[tuple[str, str], ...]:
        """Call metadata of a national operator (BCL/J-LIS operations: settlement, any data)."""
        return bearer(national_token(self.center.engine, clock=self.clock))

    @property
    def api_target(self) -> str:
        return f"127.0.0.1:{self.center.api_port}"

    @property
    def api_channel(self) -> grpc.Channel:
        """A channel to the API port: server TLS, no client certificate (bearer callers)."""
        if "" not in self._channels:
            credentials = grpc.ssl_channel_credentials(root_certificates=kiosk_ca().ca_pem)
            self._channels[""] = grpc.secure_channel(self.api_target, credentials)
        return self._channels[""]

    def kiosk_tls(self, kiosk_id: str) -> KioskTls:
        """A fresh client certificate for `kiosk_id` from the kiosk CA."""
        issued = kiosk_ca().issue_kiosk(kiosk_id)
        return KioskTls(issued.cert_pem, issued.key_pem, issued.ca_pem)

    def channel_for(self, kiosk_id: str) -> grpc.Channel:
        """A mutual-TLS channel presenting `kiosk_id`'s certificate (one per kiosk, kept)."""
        if kiosk_id not in self._channels:
            self._channels[kiosk_id] = open_channel(self.target, self.kiosk_tls(kiosk_id))
        return self._channels[kiosk_id]

    def terminal(
        self,
        printer: KioskPrinter | None = None,
        kiosk_id: str | None = None,
        till: Till | None = None,
    ) -> KioskTerminal:
        kiosk_id = kiosk_id or self.kiosk_id
        return KioskTerminal(
            self.channel_for(kiosk_id),
            kiosk_id=kiosk_id,
            printer=printer or KioskPrinter("P1"),
            till=till,
        )

    def issue_linked(
        self, resident: ResidentRecord, token: TokenKind, *, pin: str = PHONE_PIN
    ) -> CardCredentials:
        """Another certificate for the resident: a phone's (スマホ用電子証明書) or a renewed card's,
        linked in 利用者管理 to the same resident as their card (one more serial)."""
        credentials = self.authority.issue_card(
            resident.resident_id, token=token, pin=pin, sign_password="LINKED2026"
        )
        [(resident_pk,)] = self.sql(
            "SELECT id FROM residents WHERE resident_id = :r AND municipality_code = :m",
            r=resident.resident_id,
            m=self.seeded.profile.code,
        )
        assert isinstance(resident_pk, int)
        with Session(self.center.engine) as db:
            links = {card_serial(credentials): (resident_pk, token.value)}
            link_card_serials(db, links, at=self.clock.now.astimezone(UTC))
            db.commit()
        return credentials

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


@pytest.fixture
def restore_clock(bench: Bench) -> Iterator[None]:
    """The bench's clock set back after a test that moves it (the bench is shared per module)."""
    saved = bench.clock.now
    yield
    bench.clock.now = saved


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'center.db'}"
        return
    with fresh_postgres("konbini_it") as url:
        yield url


@pytest.fixture(scope="module")
def bench(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    clock = FrozenClock(START)
    state = tmp_path_factory.mktemp("state")
    authority = test_authority(clock)  # the session's CA keys, pooled card keys (tests/pki.py)
    responder = serve_in_thread(authority)
    anchor = state / "auth_ca.der"
    anchor.write_bytes(authority.auth_ca_cert.public_bytes(serialization.Encoding.DER))
    engine = make_engine(database_url)
    upgrade(engine)
    seeded = seed_municipality(
        engine,
        authority,
        seed=7,
        households=24,  # the scenario list takes a fresh resident per test and transport
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
        insecure=True,  # the demo mode; the bench's own center runs `tls_config`
    )
    server_cert, server_key = kiosk_ca().issue_server().save(state, "center")
    ca_path = state / "kiosk-ca.pem"
    ca_path.write_bytes(kiosk_ca().ca_pem)
    tls_config = dataclasses.replace(
        config,
        tls_cert_path=server_cert,
        tls_key_path=server_key,
        kiosk_ca_path=ca_path,
        insecure=False,
    )
    center = create_server(tls_config, clock=clock)
    center.server.start()
    bench = Bench(center, authority, responder, seeded, clock, config, tls_config)
    try:
        yield bench
    finally:
        for channel in bench._channels.values():
            channel.close()
        center.server.stop(grace=None).wait()
        center.engine.dispose()
        responder.stop()


# -- readers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vpcd_slot() -> Iterator[VpcdSlot]:
    """A vpcd slot for this module's PC/SC scenarios (skipped with the reason without pcscd)."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with hold_free_slot() as slot:
        yield slot


@pytest.fixture(
    params=["in-process", pytest.param("pcsc", marks=pytest.mark.pcsc)],
)
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    """Where the resident holds the card or phone: every scenario runs over each."""
    chosen: Transport
    if request.param == "pcsc":
        chosen = PcscTransport(request.getfixturevalue("vpcd_slot"))
    else:
        chosen = InProcessTransport()
    try:
        yield chosen
    finally:
        chosen.close()
