"""Which kiosk is calling: client certificates (mTLS), the kiosk registry, and the demo header.

The bench's center runs mutual TLS with the kiosk CA; a kiosk is the one its certificate names.
A connection without a certificate from that CA never reaches a servicer; a registered kiosk
that is suspended is refused at every call; a session stays with the kiosk that opened it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc

from clients.errors import ErrorDetails, decode_error
from clients.kiosk.channel import KioskTls, open_channel
from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from hardware_sim.authority.kiosk_ca import KioskCa
from server.app import create_server
from server.common.identity import KIOSK_ID_HEADER
from server.kiosks.certificates import kiosk_id_of, kiosk_uri
from server.kiosks.registry import KioskRegistry
from tests.integration.conftest import Bench, kiosk_ca

JUMINHYO = Order(CertificateChoice.JUMINHYO)


def health_check(channel: grpc.Channel) -> None:
    health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)


def refused_at_connection(bench: Bench, tls: grpc.ChannelCredentials) -> grpc.StatusCode:
    with grpc.secure_channel(bench.target, tls) as channel, pytest.raises(grpc.RpcError) as err:
        health_check(channel)
    return err.value.code()


def error_of(call: object) -> ErrorDetails:
    assert callable(call)
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def offerings(channel: grpc.Channel, token: str, header: str | None = None) -> object:
    metadata = ((KIOSK_ID_HEADER, header),) if header else None
    return issuance_pb2_grpc.IssuanceServiceStub(channel).ListOfferings(
        issuance_pb2.ListOfferingsRequest(session_token=token), metadata=metadata, timeout=5
    )


def session_at(bench: Bench, kiosk_id: str) -> str:
    me = bench.take()
    token = bench.terminal(kiosk_id=kiosk_id).authenticate(bench.reader(me), bench.pin(me))
    assert isinstance(token, str), token
    return token


@pytest.fixture
def new_kiosk(bench: Bench) -> Iterator[str]:
    """A kiosk of its own for a test that suspends it."""
    kiosk_id = f"KT{uuid.uuid4().hex[:8]}"
    KioskRegistry(bench.center.engine).register(
        kiosk_id, operator_id="lawson", store_name="ローソン 試験店", municipality_code="131016"
    )
    yield kiosk_id


# -- the TLS handshake ---------------------------------------------------------------------------


def test_a_kiosk_with_its_certificate_gets_in(bench: Bench) -> None:
    health_check(bench.channel)


def test_no_client_certificate_no_connection(bench: Bench) -> None:
    anonymous = grpc.ssl_channel_credentials(root_certificates=kiosk_ca().ca_pem)
    assert refused_at_connection(bench, anonymous) is grpc.StatusCode.UNAVAILABLE


def test_a_certificate_from_another_ca_is_refused(bench: Bench) -> None:
    forged = KioskCa.create(name="Konbini Kiosk CA").issue_kiosk(bench.kiosk_id)  # same names
    tls = KioskTls(forged.cert_pem, forged.key_pem, kiosk_ca().ca_pem).credentials()
    assert refused_at_connection(bench, tls) is grpc.StatusCode.UNAVAILABLE


def test_an_expired_kiosk_certificate_is_refused(bench: Bench) -> None:
    old = kiosk_ca().issue_kiosk(
        bench.kiosk_id, valid_days=30, not_before=datetime.now(UTC) - timedelta(days=60)
    )
    tls = KioskTls(old.cert_pem, old.key_pem, old.ca_pem).credentials()
    assert refused_at_connection(bench, tls) is grpc.StatusCode.UNAVAILABLE


def test_the_centers_own_certificate_is_no_kiosk_certificate(bench: Bench) -> None:
    server = kiosk_ca().issue_server()  # same CA, but for servers (extendedKeyUsage serverAuth)
    tls = KioskTls(server.cert_pem, server.key_pem, server.ca_pem).credentials()
    assert refused_at_connection(bench, tls) is grpc.StatusCode.UNAVAILABLE


# -- the registry ---------------------------------------------------------------------------------


def test_a_certified_kiosk_the_registry_does_not_know_is_unauthenticated(bench: Bench) -> None:
    unknown = bench.channel_for("K99999901")
    err = error_of(lambda: offerings(unknown, "t"))
    assert (err.code, err.reason) == (grpc.StatusCode.UNAUTHENTICATED, "KIOSK_NOT_REGISTERED")


def test_a_suspended_kiosk_is_refused_at_every_call_and_back_when_resumed(
    bench: Bench, new_kiosk: str
) -> None:
    registry = KioskRegistry(bench.center.engine)
    token = session_at(bench, new_kiosk)  # a resident is in the middle of a visit
    channel = bench.channel_for(new_kiosk)
    registry.set_active(new_kiosk, False)

    err = error_of(lambda: offerings(channel, token))
    assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "KIOSK_SUSPENDED")
    begin = auth_pb2_grpc.AuthServiceStub(channel).BeginAuthentication
    assert error_of(lambda: begin(auth_pb2.BeginAuthenticationRequest())).reason == (
        "KIOSK_SUSPENDED"
    )
    me = bench.take()
    visit = bench.terminal(kiosk_id=new_kiosk).visit(bench.reader(me), bench.pin(me), JUMINHYO)
    assert visit.status is VisitStatus.KIOSK_OUT_OF_SERVICE
    assert visit.error is not None and visit.error.reason == "KIOSK_SUSPENDED"
    assert "この端末" in visit.screen  # the kiosk, not the card, is out of service

    registry.set_active(new_kiosk, True)
    assert offerings(channel, token)


def test_the_registry_knows_operator_store_and_municipality(bench: Bench, new_kiosk: str) -> None:
    kiosk = KioskRegistry(bench.center.engine).get(new_kiosk)
    assert kiosk is not None
    assert (kiosk.operator_id, kiosk.operator_name) == ("lawson", "ローソン")
    assert (kiosk.store_name, kiosk.municipality_code, kiosk.active) == (
        "ローソン 試験店",
        "131016",
        True,
    )


# -- sessions and the header ----------------------------------------------------------------------


def test_a_session_cannot_move_to_another_kiosks_certificate(bench: Bench) -> None:
    kiosk_a, kiosk_b = bench.seeded.kiosk_ids[:2]
    token = session_at(bench, kiosk_a)
    err = error_of(lambda: offerings(bench.channel_for(kiosk_b), token))
    assert err.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.reason == "SESSION_BOUND_TO_OTHER_KIOSK"
    assert offerings(bench.channel_for(kiosk_a), token)


def test_the_header_cannot_name_another_kiosk_than_the_certificate(bench: Bench) -> None:
    token = session_at(bench, bench.kiosk_id)
    err = error_of(lambda: offerings(bench.channel, token, header=bench.seeded.kiosk_ids[1]))
    assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "KIOSK_ID_MISMATCH")


def test_under_mtls_the_certificate_alone_names_the_kiosk(bench: Bench) -> None:
    token = session_at(bench, bench.kiosk_id)
    assert offerings(bench.channel, token, header=None)


def test_in_the_plaintext_demo_the_header_names_the_kiosk(bench: Bench) -> None:
    plain = create_server(bench.config, clock=bench.clock)  # the demo mode: no TLS
    plain.server.start()
    try:
        with open_channel(f"127.0.0.1:{plain.port}") as channel:
            err = error_of(lambda: offerings(channel, "t"))
            assert (err.code, err.reason) == (
                grpc.StatusCode.UNAUTHENTICATED,
                "CREDENTIALS_MISSING",  # no header, no certificate: an anonymous caller
            )
            err = error_of(lambda: offerings(channel, "t", header="K99999902"))
            assert err.reason == "KIOSK_NOT_REGISTERED"  # the registry still applies
            err = error_of(lambda: offerings(channel, "t", header=bench.kiosk_id))
            assert err.reason == "SESSION_INVALID"  # past the kiosk checks
    finally:
        plain.server.stop(grace=None).wait()
        plain.engine.dispose()


def test_a_center_with_a_terminal_ttl_lets_a_suspended_kiosk_in_until_its_row_is_read_again(
    bench: Bench, new_kiosk: str
) -> None:
    """KONBINI_TERMINAL_TTL reaches the resolver: within the TTL (an hour here, so nothing
    waits) the row read before the suspension is reused; a center without it refuses at once."""
    hour = create_server(dataclasses.replace(bench.config, terminal_ttl_s=3600), clock=bench.clock)
    every_call = create_server(bench.config, clock=bench.clock)
    for center in (hour, every_call):
        center.server.start()
    try:
        with (
            open_channel(f"127.0.0.1:{hour.port}") as cached,
            open_channel(f"127.0.0.1:{every_call.port}") as uncached,
        ):
            for channel in (cached, uncached):
                err = error_of(lambda c=channel: offerings(c, "t", header=new_kiosk))
                assert err.reason == "SESSION_INVALID"  # admitted: past the kiosk checks
            KioskRegistry(bench.center.engine).set_active(new_kiosk, False)
            err = error_of(lambda: offerings(cached, "t", header=new_kiosk))
            assert err.reason == "SESSION_INVALID"  # the row read before, reused
            err = error_of(lambda: offerings(uncached, "t", header=new_kiosk))
            assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "KIOSK_SUSPENDED")
    finally:
        for center in (hour, every_call):
            center.server.stop(grace=None).wait()
            center.engine.dispose()


# -- what a kiosk certificate says ----------------------------------------------------------------


def _certificate(
    *, cn: str, uris: tuple[str, ...] = (), usage: x509.ObjectIdentifier | None = None
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
    )
    if uris:
        san = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris])
        builder = builder.add_extension(san, critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize(
    ("cn", "uris", "usage", "expected"),
    [
        ("K1", (kiosk_uri("K2"),), ExtendedKeyUsageOID.CLIENT_AUTH, "K2"),  # the URI counts
        ("K1", (), None, "K1"),  # no SAN URI: the CN
        ("K1", ("https://example.com/",), None, None),  # URIs, none of ours
        ("K1", (kiosk_uri("K2"), kiosk_uri("K3")), None, None),  # two kiosks in one
        ("K1", (kiosk_uri("K2"),), ExtendedKeyUsageOID.SERVER_AUTH, None),  # not for clients
        ("no spaces allowed", (), None, None),
    ],
)
def test_a_kiosk_certificate_names_exactly_one_kiosk(
    cn: str, uris: tuple[str, ...], usage: x509.ObjectIdentifier | None, expected: str | None
) -> None:
    assert kiosk_id_of(_certificate(cn=cn, uris=uris, usage=usage)) == expected


def test_the_kiosk_ca_puts_the_kiosk_id_in_the_certificate() -> None:
    issued = kiosk_ca().issue_kiosk("K13101601")
    assert kiosk_id_of(issued.certificate) == "K13101601"
    with pytest.raises(ValueError):
        kiosk_ca().issue_kiosk("K 1")
