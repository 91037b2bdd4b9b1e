"""The access policy: an entry for every RPC the center serves, default deny, scopes, tokens,
and the refusal to listen without TLS outside the demo mode."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from konbini.settlement.v1 import settlement_pb2
from konbini.staff.v1 import staff_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session

from clients.errors import decode_error
from server.access.caller import (
    ANONYMOUS,
    Caller,
    CallerKind,
    CredentialsMissing,
    OtherMunicipality,
    OtherOperator,
    RoleNotAllowed,
)
from server.access.interceptor import AccessInterceptor
from server.access.models import AccessToken
from server.access.policy import POLICY, MethodNotInPolicy, Rule, Scope, authorize
from server.access.resolve import CallerResolver
from server.access.tokens import AccessTokens
from server.app import SERVICE_NAMES, create_server
from server.bcl.servicer import create_bcl_server
from server.bcl.upload import BclSettings, BclUploads
from server.common.clock import FrozenClock
from server.common.errors import InvalidArgument
from server.common.tokens import token_digest
from server.config import ServerConfig
from server.db.engine import make_engine, upgrade
from server.db.models import Operator
from server.ereview.access import ClientRegistry
from server.grpc_errors import DomainErrorInterceptor
from server.kiosks.tls import InsecureListenerRefused

SERVED = (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME)
STAFF_131016 = Caller(
    CallerKind.MUNICIPALITY_STAFF,
    "S131016-1",
    municipality_code="131016",
    municipalities=frozenset({"131016"}),
)
LAWSON = Caller(CallerKind.KIOSK_OPERATOR, "T1", operator_id="lawson")
NATIONAL = Caller(CallerKind.NATIONAL_OPERATOR, "T2")


def served_methods() -> set[str]:
    pool = descriptor_pool.Default()
    return {
        f"/{name}/{method.name}"
        for name in SERVED
        for method in pool.FindServiceByName(name).methods
    }


def test_every_rpc_the_center_serves_has_a_policy_entry_and_no_entry_is_stale() -> None:
    served = served_methods()
    assert sorted(served - set(POLICY)) == []  # add the new RPC to server/access/policy.py
    assert sorted(set(POLICY) - served) == []


def test_no_rule_of_a_request_stream_needs_the_request() -> None:
    pool = descriptor_pool.Default()
    for name in SERVED:
        for method in pool.FindServiceByName(name).methods:
            if method.client_streaming:
                assert not POLICY[f"/{name}/{method.name}"].needs_request, method.full_name


def test_every_scope_field_of_the_policy_is_a_string_field_of_the_request() -> None:
    pool = descriptor_pool.Default()
    for name in SERVED:
        for method in pool.FindServiceByName(name).methods:
            rule = POLICY[f"/{name}/{method.name}"]
            for field in (rule.municipality_field, rule.operator_field):
                if field is not None:
                    found = method.input_type.fields_by_name.get(field)
                    assert found is not None, (method.full_name, field)
                    assert found.type == found.TYPE_STRING, (method.full_name, field)


def test_a_scoped_rule_without_its_request_field_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="municipality field"):
        Rule({CallerKind.MUNICIPALITY_STAFF: Scope.OWN_MUNICIPALITY})
    with pytest.raises(ValueError, match="operator field"):
        Rule({CallerKind.KIOSK_OPERATOR: Scope.OWN_OPERATOR})


@pytest.mark.parametrize("caller", [ANONYMOUS, STAFF_131016, NATIONAL])
def test_a_method_without_an_entry_is_refused_to_everyone(caller: Caller) -> None:
    with pytest.raises(MethodNotInPolicy):
        authorize(POLICY, "/konbini.new.v1.NewService/Anything", caller, None)


def test_kinds_and_scopes() -> None:
    statement = "/konbini.settlement.v1.SettlementService/GetMunicipalityStatement"
    own = settlement_pb2.MunicipalityStatementRequest(municipality_code="131016")
    other = settlement_pb2.MunicipalityStatementRequest(municipality_code="131024")
    authorize(POLICY, statement, STAFF_131016, own)
    authorize(POLICY, statement, NATIONAL, other)
    with pytest.raises(OtherMunicipality):
        authorize(POLICY, statement, STAFF_131016, other)
    with pytest.raises(InvalidArgument):
        authorize(POLICY, statement, STAFF_131016, settlement_pb2.MunicipalityStatementRequest())
    with pytest.raises(RoleNotAllowed):
        authorize(POLICY, statement, LAWSON, own)
    with pytest.raises(CredentialsMissing):
        authorize(POLICY, statement, ANONYMOUS, own)
    stats = "/konbini.settlement.v1.SettlementService/GetStatistics"
    with pytest.raises(OtherMunicipality):  # empty: national figures, not the staff's own
        authorize(POLICY, stats, STAFF_131016, settlement_pb2.StatisticsRequest(fiscal_year=2026))
    operator = "/konbini.settlement.v1.SettlementService/GetOperatorStatement"
    authorize(
        POLICY, operator, LAWSON, settlement_pb2.OperatorStatementRequest(operator_id="lawson")
    )
    with pytest.raises(OtherOperator):
        authorize(
            POLICY, operator, LAWSON, settlement_pb2.OperatorStatementRequest(operator_id="7eleven")
        )
    close = "/konbini.settlement.v1.SettlementService/CloseMonth"
    with pytest.raises(RoleNotAllowed):
        authorize(POLICY, close, STAFF_131016, settlement_pb2.CloseMonthRequest(month="2026-04"))
    authorize(POLICY, close, NATIONAL, settlement_pb2.CloseMonthRequest(month="2026-04"))
    suppress = "/konbini.staff.v1.MunicipalityStaffService/SuppressIssuance"
    authorize(POLICY, suppress, STAFF_131016, staff_pb2.SuppressIssuanceRequest())
    with pytest.raises(RoleNotAllowed):
        authorize(POLICY, suppress, NATIONAL, staff_pb2.SuppressIssuanceRequest())


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'center.db'}")
    upgrade(engine)
    with Session(engine) as db:
        db.add(Operator(operator_id="lawson", name="ローソン"))
        db.commit()
    yield engine
    engine.dispose()


def test_operator_tokens_are_stored_hashed_and_stop_working_when_revoked(engine: Engine) -> None:
    tokens = AccessTokens(engine, clock=FrozenClock())
    token_id, token = tokens.issue(
        CallerKind.KIOSK_OPERATOR, display_name="back office", operator_id="lawson"
    )
    with Session(engine) as db:
        row = db.get(AccessToken, token_id)
        assert row is not None and row.token_sha256 == token_digest(token) != token
        assert tokens.caller_for(db, token) == Caller(
            CallerKind.KIOSK_OPERATOR, token_id, operator_id="lawson"
        )
    tokens.revoke(token_id)
    with Session(engine) as db:
        assert tokens.caller_for(db, token) is None
    with pytest.raises(InvalidArgument):
        tokens.issue(CallerKind.MUNICIPALITY_STAFF, display_name="not here")
    with pytest.raises(InvalidArgument):
        tokens.issue(CallerKind.NATIONAL_OPERATOR, display_name="J-LIS", operator_id="lawson")


def test_over_grpc_a_method_missing_from_the_policy_is_permission_denied(engine: Engine) -> None:
    resolver = CallerResolver(
        engine, tokens=AccessTokens(engine, clock=FrozenClock()), ereview=ClientRegistry()
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        interceptors=[DomainErrorInterceptor(), AccessInterceptor(resolver, policy={})],
    )
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        with channel, pytest.raises(grpc.RpcError) as err:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        e = decode_error(err.value)
        assert (e.code, e.reason) == (grpc.StatusCode.PERMISSION_DENIED, "METHOD_NOT_IN_POLICY")
    finally:
        server.stop(grace=None).wait()


def test_the_center_will_not_listen_without_tls_outside_the_demo_mode(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    config = ServerConfig(
        trust_anchor_path=tmp_path / "ca.der",
        authority_url="http://127.0.0.1:1",
        database_url=f"sqlite:///{database}",
        port=0,
    )
    with pytest.raises(InsecureListenerRefused, match="TLS"):
        create_server(config)
    exposed = dataclasses.replace(config, insecure=True, host="0.0.0.0")
    with pytest.raises(InsecureListenerRefused, match="loopback"):
        create_server(exposed)
    assert not database.exists()  # refused before it touched anything


def test_the_demo_mode_is_an_explicit_setting() -> None:
    env = {"KONBINI_TRUST_ANCHOR": "ca.der", "KONBINI_AUTHORITY_URL": "http://127.0.0.1:1"}
    assert ServerConfig.from_env(env).insecure is False
    assert ServerConfig.from_env({**env, "KONBINI_INSECURE": "1"}).insecure is True
    with pytest.raises(ValueError, match="yes/no"):
        ServerConfig.from_env({**env, "KONBINI_INSECURE": "maybe"})
    assert ServerConfig.from_env({**env, "KONBINI_PORT": "7000"}).effective_api_port == 7001


def test_the_bcl_server_will_not_listen_without_tls_outside_the_demo_mode(
    engine: Engine, tmp_path: Path
) -> None:
    uploads = BclUploads(engine, BclSettings(data_dir=tmp_path / "bcl"), clock=FrozenClock())
    with pytest.raises(InsecureListenerRefused):
        create_bcl_server(uploads)


def test_the_bcl_server_in_the_demo_mode_listens_on_loopback_only(
    engine: Engine, tmp_path: Path
) -> None:
    # Plaintext carries staff and operator bearer tokens in the clear: like the center's demo
    # mode, never on an interface other hosts can reach.
    uploads = BclUploads(engine, BclSettings(data_dir=tmp_path / "bcl"), clock=FrozenClock())
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        with pytest.raises(InsecureListenerRefused, match="loopback"):
            create_bcl_server(uploads, host=host, insecure=True)
    server, port = create_bcl_server(uploads, host="127.0.0.1", insecure=True)
    assert port > 0
    server.stop(None)
