"""E-review over loopback gRPC: the servicer behind the house error interceptor, a seeded
municipality with real JPKI cards (OCSP over HTTP), and the portal client decoding it all."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from konbini.ereview.v1 import ereview_pb2, ereview_pb2_grpc

from clients.ereview.client import EReviewClient, EReviewError, Person
from clients.errors import decode_error
from clients.kiosk.jpki import JpkiClient
from clients.seeding import SeededMunicipality, seed_municipality
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.reader import InProcessReader
from server.auth.revocation import build_revocation_checker
from server.bcl.records import ResidentRecord
from server.common.clock import JST, FrozenClock
from server.common.era import to_wareki
from server.db.engine import make_engine, upgrade
from server.ereview.access import ClientRegistry, add_client, new_client
from server.ereview.autofill import Autofill
from server.ereview.service import DatabaseResidents, EReviewService
from server.ereview.servicer import EReviewServicer
from server.grpc_errors import DomainErrorInterceptor
from tests.pki import test_authority

START = datetime(2026, 4, 1, 10, 0, tzinfo=JST)
CODE = "131016"


@dataclass
class Loopback:
    channel: grpc.Channel
    seeded: SeededMunicipality
    authority: JpkiAuthority
    secrets: dict[str, str]

    def client(self, client_id: str = "portal", secret: str | None = None) -> EReviewClient:
        return EReviewClient(
            self.channel, client_id=client_id, secret=secret or self.secrets[client_id]
        )

    def card(self, resident: ResidentRecord) -> JpkiClient:
        reader = InProcessReader()
        reader.insert(JpkiApplet(self.seeded.cards[resident.resident_id]))
        reader.connect()
        return JpkiClient(reader)

    def adult_with_card(self) -> ResidentRecord:
        return next(r for r in self.seeded.residents if r.resident_id in self.seeded.cards)


@pytest.fixture(scope="module")
def loopback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loopback]:
    clock = FrozenClock(START)
    authority = test_authority(clock)
    responder: ResponderHandle = serve_in_thread(authority)
    url = f"sqlite:///{tmp_path_factory.mktemp('ereview') / 'center.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seeded = seed_municipality(
        engine, authority, seed=21, households=12, today=START.date(), now=START.astimezone(UTC)
    )
    portal, portal_secret = new_client("portal", "千代田区電子申請", [CODE])
    other, other_secret = new_client("elsewhere", "他市の電子申請", ["011002"])
    service = EReviewService(
        registry=ClientRegistry([portal, other]),
        residents=DatabaseResidents(engine, clock=clock),
        autofill=Autofill(
            engine,
            trust_anchor=authority.auth_ca_cert,
            revocation=build_revocation_checker(
                "ocsp",
                base_url=responder.url,
                issuer=authority.auth_ca_cert,
                clock=clock,
                timeout=2.0,
            ),
            clock=clock,
        ),
        clock=clock,
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), interceptors=[DomainErrorInterceptor()]
    )
    ereview_pb2_grpc.add_EReviewServiceServicer_to_server(EReviewServicer(service), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Loopback(
            channel, seeded, authority, {"portal": portal_secret, "elsewhere": other_secret}
        )
    finally:
        channel.close()
        server.stop(grace=None).wait()
        engine.dispose()
        responder.stop()


def _as_written(r: ResidentRecord) -> Person:
    return Person(r.full_name, r.full_name_kana, r.birth_date.isoformat())


def test_a_resident_matches_with_household_and_suggestions(loopback: Loopback) -> None:
    me = loopback.seeded.residents[0]
    review = loopback.client().submit(
        CODE, _as_written(me), address=me.address, address_annex=me.address_annex,
        application_id="APP-1",
    )  # fmt: skip
    assert review.application_id == "APP-1"
    assert review.outcome == "match"
    assert review.resident is not None and review.resident.resident_id == me.resident_id
    assert {f.status for f in review.fields} == {"matched"}
    household = [r for r in loopback.seeded.residents if r.household_id == me.household_id]
    assert {h.resident_id for h in review.household} == {r.resident_id for r in household}
    assert review.household[0].is_household_head
    assert review.resident.birth_date_wareki == to_wareki(me.birth_date)


def test_variants_are_decoded_with_their_rules(loopback: Loopback) -> None:
    me = loopback.seeded.residents[0]
    hiragana = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in me.full_name_kana)
    review = loopback.client().submit(
        CODE,
        Person(me.full_name, hiragana, to_wareki(me.birth_date)),
        address=me.address.replace("東京都", ""),
    )
    assert review.outcome == "match"
    assert review.field("name_kana").status == "variant_matched"
    assert review.field("name_kana").rules == ("kana",)
    assert review.field("birth_date").rules == ("era_date",)
    assert review.field("address").rules == ("address_notation",)


def test_a_stranger_gets_no_match_and_no_resident_data(loopback: Loopback) -> None:
    review = loopback.client().submit(
        CODE, Person("無名 太郎", "ムメイ タロウ", "1901-01-01"), address="九段北1-1-1"
    )
    assert review.outcome == "no_match"
    assert review.resident is None and review.household == ()
    assert {f.status for f in review.fields} == {"not_found"}


def test_declared_members_are_checked(loopback: Loopback) -> None:
    residents = loopback.seeded.residents
    sizes = {
        r.household_id: sum(x.household_id == r.household_id for x in residents) for r in residents
    }
    head = next(r for r in residents if r.is_household_head and sizes[r.household_id] > 1)
    other = next(r for r in residents if r.household_id == head.household_id and r is not head)
    review = loopback.client().submit(
        CODE, _as_written(head), address=head.address, members=[_as_written(other)]
    )
    assert review.members[0].outcome == "match"
    assert review.members[0].resident_id == other.resident_id


@pytest.mark.parametrize(
    ("client_id", "secret", "reason"),
    [
        ("portal", "wrong", "EREVIEW_CLIENT_UNAUTHENTICATED"),
        ("nobody", "whatever", "EREVIEW_CLIENT_UNAUTHENTICATED"),
    ],
)
def test_unknown_clients_are_unauthenticated(
    loopback: Loopback, client_id: str, secret: str, reason: str
) -> None:
    with pytest.raises(EReviewError) as err:
        loopback.client(client_id, secret).submit(CODE, Person("佐藤 一郎"))
    assert err.value.details.code is grpc.StatusCode.UNAUTHENTICATED
    assert err.value.reason == reason


def test_missing_identity_is_refused(loopback: Loopback) -> None:
    stub = ereview_pb2_grpc.EReviewServiceStub(loopback.channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.SuggestProcedures(ereview_pb2.SuggestProceduresRequest(municipality_code=CODE))
    assert decode_error(err.value).reason == "EREVIEW_CLIENT_MISSING"


def test_other_municipalities_are_forbidden(loopback: Loopback) -> None:
    with pytest.raises(EReviewError) as err:
        loopback.client("elsewhere").submit(CODE, Person("佐藤 一郎"))
    assert err.value.details.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason == "MUNICIPALITY_NOT_ALLOWED"


def test_bad_birth_date_names_the_field(loopback: Loopback) -> None:
    with pytest.raises(EReviewError) as err:
        loopback.client().submit(CODE, Person("佐藤 一郎", birth_date="昭和99年1月1日"))
    assert err.value.details.code is grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details.field_violations[0][0] == "applicant.birth_date"


def test_unloaded_municipality_is_not_found(loopback: Loopback) -> None:
    with pytest.raises(EReviewError) as err:
        loopback.client("elsewhere").submit("011002", Person("佐藤 一郎"))
    assert err.value.details.code is grpc.StatusCode.NOT_FOUND
    assert err.value.reason == "MUNICIPALITY_NOT_FOUND"


def test_autofill_returns_the_applicants_own_household(loopback: Loopback) -> None:
    me = loopback.adult_with_card()
    filled = loopback.client().autofill(
        loopback.card(me), loopback.seeded.cards[me.resident_id].auth_pin
    )
    assert filled.municipality_code == CODE
    assert filled.applicant.resident_id == me.resident_id
    mine = {r.resident_id for r in loopback.seeded.residents if r.household_id == me.household_id}
    assert {h.resident_id for h in filled.household} == mine
    assert all(h.household_id == me.household_id for h in filled.household)


def test_autofill_challenge_is_single_use(loopback: Loopback) -> None:
    me = loopback.adult_with_card()
    client = loopback.client()
    challenge_id, tbs = client.begin_autofill()
    card = loopback.card(me)
    certificate = card.read_auth_certificate()
    assert card.verify_auth_pin(loopback.seeded.cards[me.resident_id].auth_pin).ok
    signature = card.sign_with_auth_key(tbs)
    client.complete_autofill(challenge_id, certificate, signature)
    with pytest.raises(EReviewError) as err:
        client.complete_autofill(challenge_id, certificate, signature)
    assert err.value.reason == "CHALLENGE_REPLAYED"


def test_autofill_challenge_belongs_to_its_client(loopback: Loopback) -> None:
    me = loopback.adult_with_card()
    challenge_id, tbs = loopback.client().begin_autofill()
    card = loopback.card(me)
    certificate = card.read_auth_certificate()
    assert card.verify_auth_pin(loopback.seeded.cards[me.resident_id].auth_pin).ok
    signature = card.sign_with_auth_key(tbs)
    with pytest.raises(EReviewError) as err:
        loopback.client("elsewhere").complete_autofill(challenge_id, certificate, signature)
    assert err.value.reason == "CHALLENGE_UNKNOWN"


def test_autofill_for_another_municipality_is_forbidden(loopback: Loopback) -> None:
    me = loopback.adult_with_card()
    with pytest.raises(EReviewError) as err:
        loopback.client("elsewhere").autofill(
            loopback.card(me), loopback.seeded.cards[me.resident_id].auth_pin
        )
    assert err.value.reason == "MUNICIPALITY_NOT_ALLOWED"


def test_a_signature_over_something_else_is_refused(loopback: Loopback) -> None:
    me = loopback.adult_with_card()
    client = loopback.client()
    challenge_id, _ = client.begin_autofill()
    card = loopback.card(me)
    certificate = card.read_auth_certificate()
    assert card.verify_auth_pin(loopback.seeded.cards[me.resident_id].auth_pin).ok
    signature = card.sign_with_auth_key(b"konbini-auth-v1\x00a kiosk challenge")
    with pytest.raises(EReviewError) as err:
        client.complete_autofill(challenge_id, certificate, signature)
    assert err.value.reason == "SIGNATURE_INVALID"


def test_suggest_procedures(loopback: Loopback) -> None:
    suggestions = loopback.client().suggest(
        CODE, [("1990-05-01", "世帯主"), ("1991-01-01", "妻"), ("令和8年2月1日", "子")]
    )
    by_procedure = {s.procedure: s for s in suggestions}
    assert by_procedure["jido_teate"].rule_id == "NEW_BABY"
    assert by_procedure["shussan_ichijikin"].members == (2,)


def test_registry_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    secret = add_client(path, "portal", "ポータル", [CODE])
    registry = ClientRegistry.from_file(path)
    assert registry.authenticate("portal", secret).may_act_for(CODE)
    add_client(path, "portal", "ポータル", [CODE])  # a new secret replaces the old one
    with pytest.raises(Exception, match="wrong secret"):
        registry.authenticate("portal", secret)
