"""End to end: a municipality of 100,000 residents goes up to BCL over loopback gRPC, one of
its residents gets a 住民票 at a kiosk with a card linked by that upload, and the generation
comes back out byte for byte.

The municipality is the generator's, with three real cards from the test authority whose
serials ride in card_serials.csv like any others. Runs in CI; about half a minute on 2 cores.
"""

from __future__ import annotations

import filecmp
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import grpc
import pypdf
import pytest
from cryptography.hazmat.primitives import serialization

from clients.bcl.client import BclClient, upload_files
from clients.bcl.generate import generate_dataset
from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitStatus
from clients.seeding import age_on, card_serial, seed_municipality
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import serve_in_thread
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.credentials import CardCredentials, TokenKind
from hardware_sim.card.reader import InProcessReader
from hardware_sim.printer import KioskPrinter
from server.app import create_server
from server.bcl.records import ResidentRecord
from server.bcl.registers import CardSerialRecord, TokenCarrier
from server.bcl.servicer import create_bcl_server
from server.bcl.synthetic import iter_residents
from server.bcl.upload import BclSettings, BclUploads
from server.common.clock import JST, FrozenClock
from server.config import ServerConfig
from server.db.engine import make_engine, upgrade
from tests.credentials import staff_token
from tests.pki import test_authority as pooled_authority

RESIDENTS = 100_000
SEED = 2026
CODE = "131016"
START = FrozenClock().now  # 2026-04-01 10:00 JST: kiosks are open


@dataclass(frozen=True)
class Holder:
    resident: ResidentRecord
    card: CardCredentials


def a_family(authority: JpkiAuthority) -> tuple[list[ResidentRecord], list[Holder]]:
    """A household of the generated municipality with two adults, and cards for them.

    The generator streams the same households in the same order, so these are its residents.
    """
    today = START.astimezone(JST).date()
    for household in iter_residents(seed=SEED, households=200, code=CODE, today=today):
        adults = [m for m in household.members if age_on(m.birth_date, today) >= 18]
        if len(adults) >= 2 and not household.members[0].suppressed:
            holders = [
                Holder(
                    m,
                    authority.issue_card(
                        m.resident_id, token=TokenKind.CARD, pin="4321", sign_password="BCL2026"
                    ),
                )
                for m in adults[:2]
            ]
            return list(household.members), holders
    raise LookupError("no household with two adults among the first 200")


@dataclass
class World:
    municipality: Path
    family: list[ResidentRecord]
    holders: list[Holder]
    bcl: BclClient
    kiosk: KioskTerminal
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bcl-e2e")
    clock = FrozenClock(START)
    authority = pooled_authority(clock)
    responder = serve_in_thread(authority)
    anchor = tmp / "auth_ca.der"
    anchor.write_bytes(authority.auth_ca_cert.public_bytes(serialization.Encoding.DER))
    url = f"sqlite:///{tmp / 'center.db'}"
    engine = make_engine(url)
    upgrade(engine)
    # The municipality joins with its kiosks and no residents: they come by upload.
    seeded = seed_municipality(
        engine, authority, seed=SEED, households=0, today=START.date(), now=START.astimezone(UTC)
    )
    family, holders = a_family(authority)
    serials = [
        CardSerialRecord(h.resident.resident_id, str(card_serial(h.card)), TokenCarrier.CARD)
        for h in holders
    ]
    municipality = tmp / "municipality"
    generate_dataset(
        municipality, residents=RESIDENTS, seed=SEED, today=START.date(), extra_serials=serials
    )
    uploads = BclUploads(engine, BclSettings(data_dir=tmp / "bcl"), clock=clock)
    bcl_server, bcl_port = create_bcl_server(uploads, insecure=True)
    bcl_server.start()
    config = ServerConfig(
        trust_anchor_path=anchor,
        authority_url=responder.url,
        database_url=url,
        port=0,
        revocation_mode="ocsp",
        max_workers=4,
        insecure=True,  # the demo mode: kiosks named by a header
    )
    center = create_server(config, clock=clock)
    center.server.start()
    bcl_channel = grpc.insecure_channel(f"127.0.0.1:{bcl_port}")
    kiosk_channel = grpc.insecure_channel(f"127.0.0.1:{center.port}")
    kiosk = KioskTerminal(kiosk_channel, kiosk_id=seeded.kiosk_ids[0], printer=KioskPrinter("P1"))
    try:
        bcl = BclClient(bcl_channel, CODE, token=staff_token(engine, CODE))
        yield World(municipality, family, holders, bcl, kiosk, tmp)
    finally:
        bcl_channel.close()
        kiosk_channel.close()
        center.server.stop(grace=None).wait()
        bcl_server.stop(grace=None).wait()
        center.engine.dispose()
        engine.dispose()
        responder.stop()


def test_a_resident_of_an_uploaded_municipality_gets_a_juminhyo_and_the_upload_restores(
    world: World,
) -> None:
    result = world.bcl.upload(upload_files(world.municipality))
    assert result.generation is not None, result.errors
    gen = result.generation
    assert (gen.number, gen.kind, gen.counts["residents"]) == (1, "full", RESIDENTS)

    me = world.holders[0]
    reader = InProcessReader()
    reader.insert(JpkiApplet(me.card))
    reader.connect()
    outcome = world.kiosk.visit(
        reader,
        me.card.auth_pin,
        Order(CertificateChoice.JUMINHYO, "household", include_head_and_relationship=True),
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(outcome.pdf)).pages)
    for member in world.family:
        assert member.family_name in text and member.given_name in text
    assert me.resident.individual_number not in text.replace(" ", "")

    out = world.tmp / "restored"
    restored = world.bcl.restore(out, number=gen.number)
    assert restored.kept_checksum == gen.checksum
    names = [p.name for p in upload_files(world.municipality)]
    match, mismatch, errors = filecmp.cmpfiles(world.municipality, out, names, shallow=False)
    assert (sorted(match), mismatch, errors) == (sorted(names), [], [])
