"""The role matrix: every RPC × every kind of caller × own/other municipality (or operator).

Over real gRPC on loopback with TLS, as in production: kiosks and counter terminals on the
terminal port with their client certificates, everyone else on the API port with bearer
credentials or none. Each call either gets past access control (any status but
UNAUTHENTICATED and PERMISSION_DENIED: the servicer ran, and usually refused the deliberately
empty request with INVALID_ARGUMENT or NOT_FOUND) or is refused with exactly the expected status
and reason; nothing in between.

The RPCs come from the generated descriptors of every service the center serves, and requests
are built from them: the request's `municipality_code` / `operator_id` (also one level down, as
in an upload's header or a report's rows) is set to the caller's own, then to another one.
`EXPECTED` below is the table of docs/security.md, written out independently of
`server.access.policy` (a service that is one kind of caller's by design is stated once, for
all the RPCs its descriptor declares; the others method by method); an RPC missing from it
fails the test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from clients.errors import decode_error
from clients.kiosk.channel import open_channel
from server.access.caller import CallerKind
from server.app import SERVICE_NAMES, Center, create_server
from server.ereview.access import AUTHORIZATION_HEADER, CLIENT_HEADER, add_client
from server.kiosks.registry import KioskRegistry
from tests.credentials import Metadata, bearer, national_token, operator_token, staff_token
from tests.integration.conftest import Bench

SERVED = (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME)
OTHER_MUNICIPALITY = "141003"  # 横浜市: not the bench's
OTHER_OPERATOR = "no-such-operator"
DENIED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)

KIOSK, COUNTER, STAFF, EREVIEW, OPERATOR, NATIONAL, ANONYMOUS = KINDS = (
    "kiosk",
    "counter_terminal",
    "municipality_staff",
    "ereview_client",
    "kiosk_operator",
    "national_operator",
    "anonymous",
)


@dataclass(frozen=True)
class Allowed:
    """Past access control for the caller's own and for another municipality/operator."""


@dataclass(frozen=True)
class OwnOnly:
    """Past access control for the caller's own; another is refused with `reason`."""

    reason: str


ANY = Allowed()
OWN_MUNICIPALITY = OwnOnly("OTHER_MUNICIPALITY")
OWN_OPERATOR = OwnOnly("OTHER_OPERATOR")
Expectation = Allowed | OwnOnly

TERMINALS: dict[str, Expectation] = {KIOSK: ANY, COUNTER: ANY}  # sessions stay with the terminal
STAFF_DESK: dict[str, Expectation] = {STAFF: ANY}  # the desk acts on the staff's own municipality
BOOKS: dict[str, Expectation] = {STAFF: OWN_MUNICIPALITY, NATIONAL: ANY}
EVERYONE: dict[str, Expectation] = dict.fromkeys(KINDS, ANY)
PARTIES: dict[str, Expectation] = {
    KIOSK: ANY,
    COUNTER: ANY,
    STAFF: ANY,
    OPERATOR: ANY,
    NATIONAL: ANY,
}
OPERATOR_BOOKS: dict[str, Expectation] = {OPERATOR: OWN_OPERATOR, NATIONAL: ANY}


def whole_service(
    service: str, expected: dict[str, Expectation]
) -> dict[str, dict[str, Expectation]]:
    """The same expectation for every RPC the service declares (its generated descriptor):
    for services that are one kind of caller's by design, so the method names are not
    written out a second time."""
    methods = descriptor_pool.Default().FindServiceByName(service).methods
    return {f"/{service}/{m.name}": expected for m in methods}


EXPECTED: dict[str, dict[str, Expectation]] = {
    **whole_service("konbini.auth.v1.AuthService", TERMINALS),
    **whole_service("konbini.issuance.v1.IssuanceService", TERMINALS),
    **whole_service("konbini.portal.v1.PortalService", PARTIES),
    **whole_service("konbini.staff.v1.MunicipalityStaffService", STAFF_DESK),
    **{
        f"/konbini.settlement.v1.SettlementService/{m}": BOOKS
        for m in (
            "ListIssuances",
            "MonthlySummary",
            "GetMunicipalityStatement",
            "GetFiscalYearReport",
            "GetStatistics",
            "ListVoidedCopies",
            "GetCounterHours",
        )
    },
    "/konbini.settlement.v1.SettlementService/SetCounterHours": {STAFF: OWN_MUNICIPALITY},
    "/konbini.settlement.v1.SettlementService/CloseMonth": {NATIONAL: ANY},
    "/konbini.settlement.v1.SettlementService/CorrectCopy": {NATIONAL: ANY},
    "/konbini.settlement.v1.SettlementService/GetOperatorStatement": OPERATOR_BOOKS,
    "/konbini.settlement.v1.SettlementService/Reconcile": OPERATOR_BOOKS,
    "/konbini.settlement.v1.SettlementService/SubmitOperatorReport": {OPERATOR: OWN_OPERATOR},
    "/konbini.ereview.v1.EReviewService/SubmitApplication": {EREVIEW: OWN_MUNICIPALITY},
    "/konbini.ereview.v1.EReviewService/SuggestProcedures": {EREVIEW: OWN_MUNICIPALITY},
    "/konbini.ereview.v1.EReviewService/BeginAutofill": {EREVIEW: ANY},
    "/konbini.ereview.v1.EReviewService/CompleteAutofill": {EREVIEW: ANY},
    # An upload names its municipality in the stream's header: the servicer compares it.
    "/konbini.bcl.v1.BclService/Upload": {STAFF: OwnOnly("MUNICIPALITY_MISMATCH")},
    "/konbini.bcl.v1.BclService/ListGenerations": BOOKS,
    "/konbini.bcl.v1.BclService/Restore": BOOKS,
    **whole_service("konbini.verify.v1.VerifyService", EVERYONE),
    **whole_service(health.SERVICE_NAME, EVERYONE),
    **whole_service(reflection.SERVICE_NAME, EVERYONE),
}


def served_methods() -> dict[str, MethodDescriptor]:
    pool = descriptor_pool.Default()
    return {f"/{name}/{m.name}": m for name in SERVED for m in pool.FindServiceByName(name).methods}


METHODS = served_methods()


# -- requests ---------------------------------------------------------------------------------


def _scope_fields(desc: Any) -> set[str]:  # a message Descriptor (either runtime kind) or None
    if desc is None:
        return set()
    return {"municipality_code", "operator_id"} & set(desc.fields_by_name)


def _fill(msg: Message, municipality: str, operator: str) -> None:
    """Set the request's municipality and operator, and those of the messages it carries."""
    values = {"municipality_code": municipality, "operator_id": operator}
    for name in _scope_fields(msg.DESCRIPTOR):
        setattr(msg, name, values[name])
    for field in msg.DESCRIPTOR.fields:
        inner = field.message_type
        if field.type != FieldDescriptor.TYPE_MESSAGE or not _scope_fields(inner):
            continue
        if field.is_repeated:
            _fill(getattr(msg, field.name).add(), municipality, operator)
        else:
            _fill(getattr(msg, field.name), municipality, operator)


def request_for(method: MethodDescriptor, municipality: str, operator: str) -> Message:
    msg = message_factory.GetMessageClass(method.input_type)()
    _fill(msg, municipality, operator)
    return msg


def call(
    channel: grpc.Channel, path: str, method: MethodDescriptor, request: Message, md: Metadata
) -> tuple[grpc.StatusCode, str]:
    """The status of one call (a stream: of its first message), with the ErrorInfo reason."""
    response = message_factory.GetMessageClass(method.output_type)
    serialize, parse = (lambda m: m.SerializeToString()), response.FromString
    streaming = (method.client_streaming, method.server_streaming)
    try:
        if streaming == (False, False):
            channel.unary_unary(path, serialize, parse)(request, metadata=md, timeout=30)
        elif streaming == (True, False):
            channel.stream_unary(path, serialize, parse)(iter([request]), metadata=md, timeout=30)
        else:
            responses: Any
            if method.client_streaming:
                stream = channel.stream_stream(path, serialize, parse)
                responses = stream(iter([request]), metadata=md, timeout=30)
            else:
                unary = channel.unary_stream(path, serialize, parse)
                responses = unary(request, metadata=md, timeout=30)
            next(responses, None)  # the first message, or the end of an empty stream
            responses.cancel()  # e.g. Health/Watch streams until cancelled
    except grpc.RpcError as err:
        e = decode_error(err)
        return e.code, e.reason
    return grpc.StatusCode.OK, ""


# -- callers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    kind: str
    channel: grpc.Channel
    metadata: Metadata
    municipality: str  # its own (the bench's municipality for those without one)
    operator: str  # its own (the bench kiosk's operator for those without one)


@dataclass
class Matrix:
    center: Center
    callers: dict[str, Caller]


@pytest.fixture(scope="module")
def matrix(bench: Bench, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    tmp = tmp_path_factory.mktemp("matrix")
    engine = bench.center.engine
    home = bench.seeded.profile.code
    registry = KioskRegistry(engine)
    kiosk = registry.get(bench.kiosk_id)
    assert kiosk is not None and kiosk.municipality_code == home
    registry.register_counter_terminal("MX-COUNTER-1", municipality_code=home, location="市民課")
    clients = tmp / "ereview-clients.json"
    secret = add_client(clients, "matrix-portal", "role matrix", [home])
    config = dataclasses.replace(bench.tls_config, ereview_clients_path=clients)
    center = create_server(config, clock=bench.clock)
    center.server.start()
    terminals = f"127.0.0.1:{center.port}"
    server_ca = bench.kiosk_tls(bench.kiosk_id).server_ca_pem  # the CA of the bench's center
    api = grpc.secure_channel(
        f"127.0.0.1:{center.api_port}", grpc.ssl_channel_credentials(root_certificates=server_ca)
    )
    channels = [
        open_channel(terminals, bench.kiosk_tls(bench.kiosk_id)),
        open_channel(terminals, bench.kiosk_tls("MX-COUNTER-1")),
        api,
    ]
    kiosk_ch, counter_ch = channels[0], channels[1]
    ereview_md = ((CLIENT_HEADER, "matrix-portal"), (AUTHORIZATION_HEADER, f"Bearer {secret}"))
    own = (home, kiosk.operator_id)
    callers = {
        KIOSK: Caller(KIOSK, kiosk_ch, (), *own),
        COUNTER: Caller(COUNTER, counter_ch, (), *own),
        STAFF: Caller(STAFF, api, bearer(staff_token(engine, home, clock=bench.clock)), *own),
        EREVIEW: Caller(EREVIEW, api, ereview_md, *own),
        OPERATOR: Caller(OPERATOR, api, bearer(operator_token(engine, kiosk.operator_id)), *own),
        NATIONAL: Caller(NATIONAL, api, bearer(national_token(engine)), *own),
        ANONYMOUS: Caller(ANONYMOUS, api, (), *own),
    }
    try:
        yield Matrix(center, callers)
    finally:
        for channel in channels:
            channel.close()
        center.server.stop(grace=None).wait()


def test_every_served_rpc_is_in_the_matrix() -> None:
    assert sorted(set(METHODS) - set(EXPECTED)) == []  # add the new RPC's row to EXPECTED
    assert sorted(set(EXPECTED) - set(METHODS)) == []


@pytest.mark.parametrize("path", sorted(set(METHODS) & set(EXPECTED)))
def test_role_matrix(matrix: Matrix, path: str) -> None:
    method = METHODS[path]
    wrong: list[str] = []
    calls = 0
    for kind, caller in matrix.callers.items():
        own = request_for(method, caller.municipality, caller.operator)
        other = request_for(method, OTHER_MUNICIPALITY, OTHER_OPERATOR)
        variants = [("own", own)] + ([("other", other)] if other != own else [])
        expectation = EXPECTED[path].get(kind)
        for variant, request in variants:
            calls += 1
            got = call(caller.channel, path, method, request, caller.metadata)
            if expectation is None:
                want: object = (
                    (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING")
                    if kind == ANONYMOUS
                    else (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")
                )
                ok = got == want
            elif isinstance(expectation, OwnOnly) and variant == "other":
                want = (grpc.StatusCode.PERMISSION_DENIED, expectation.reason)
                ok = got == want
            else:
                want = "past access control"
                ok = got[0] not in DENIED
            if not ok:
                wrong.append(f"{kind} ({variant}): got {got[0].name} {got[1]}, want {want}")
    assert wrong == [], f"{path}, {calls} calls"


def test_kinds_of_the_matrix_cover_every_caller_kind() -> None:
    assert set(KINDS) == {k.value for k in CallerKind}


def test_a_terminal_certificate_is_refused_on_the_api_port_and_required_on_the_terminal_port(
    matrix: Matrix, bench: Bench
) -> None:
    api_target = f"127.0.0.1:{matrix.center.api_port}"
    with open_channel(api_target, bench.kiosk_tls(bench.kiosk_id)) as channel:
        # The API port asks for no certificate: a kiosk there is just an anonymous caller.
        path = "/konbini.issuance.v1.IssuanceService/ListOfferings"
        got = call(channel, path, METHODS[path], request_for(METHODS[path], "", ""), ())
        assert got == (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING")
    staff = matrix.callers[STAFF]
    server_ca = bench.kiosk_tls(bench.kiosk_id).server_ca_pem
    no_certificate = grpc.ssl_channel_credentials(root_certificates=server_ca)
    target = f"127.0.0.1:{matrix.center.port}"
    with grpc.secure_channel(target, no_certificate) as channel:
        path = "/konbini.staff.v1.MunicipalityStaffService/ListOfferings"
        got = call(channel, path, METHODS[path], request_for(METHODS[path], "", ""), staff.metadata)
        assert got[0] is grpc.StatusCode.UNAVAILABLE  # the handshake fails: no servicer runs


# -- how callers are resolved -------------------------------------------------------------------

LIST_NOTICES = "/konbini.portal.v1.PortalService/ListNotices"


def _notices(channel: grpc.Channel, md: Metadata) -> tuple[grpc.StatusCode, str]:
    method = METHODS[LIST_NOTICES]
    return call(channel, LIST_NOTICES, method, request_for(method, "", ""), md)


def test_over_tls_a_kiosk_id_header_without_its_certificate_is_refused(
    matrix: Matrix, bench: Bench
) -> None:
    api = matrix.callers[ANONYMOUS].channel
    got = _notices(api, (("konbini-kiosk-id", bench.kiosk_id),))
    assert got == (grpc.StatusCode.UNAUTHENTICATED, "KIOSK_IDENTITY_MISSING")


def test_bad_credentials_never_fall_back_to_anonymous(matrix: Matrix) -> None:
    api = matrix.callers[ANONYMOUS].channel
    invalid = (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_INVALID")
    assert _notices(api, (("authorization", "Basic dXNlcjpwdw=="),)) == invalid
    assert _notices(api, bearer("x" * 300)) == invalid
    assert _notices(api, bearer("not-issued")) == invalid
    wrong_secret = ((CLIENT_HEADER, "matrix-portal"), (AUTHORIZATION_HEADER, "Bearer wrong"))
    path = "/grpc.health.v1.Health/Check"  # open to anonymous callers, not to wrong secrets
    got = call(api, path, METHODS[path], request_for(METHODS[path], "", ""), wrong_secret)
    assert got == (grpc.StatusCode.UNAUTHENTICATED, "EREVIEW_CLIENT_UNAUTHENTICATED")


def test_a_revoked_operator_token_is_refused_at_the_next_call(matrix: Matrix, bench: Bench) -> None:
    from server.access.tokens import AccessTokens

    tokens = AccessTokens(bench.center.engine, clock=bench.clock)
    token_id, token = tokens.issue(CallerKind.NATIONAL_OPERATOR, display_name="short-lived")
    api = matrix.callers[ANONYMOUS].channel
    assert _notices(api, bearer(token))[0] is grpc.StatusCode.OK
    tokens.revoke(token_id)
    assert _notices(api, bearer(token)) == (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_INVALID")


def test_a_staff_token_through_a_terminal_acts_as_the_staff_member(matrix: Matrix) -> None:
    """A clerk at a counter terminal: the bearer token names the caller, not the machine."""
    staff = matrix.callers[STAFF]
    counter = matrix.callers[COUNTER].channel
    path = "/konbini.staff.v1.MunicipalityStaffService/ListSuppressions"
    request = request_for(METHODS[path], "", "")
    assert call(counter, path, METHODS[path], request, staff.metadata)[0] is grpc.StatusCode.OK
    issue = "/konbini.issuance.v1.IssuanceService/ListOfferings"
    got = call(counter, issue, METHODS[issue], request_for(METHODS[issue], "", ""), staff.metadata)
    assert got == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")
