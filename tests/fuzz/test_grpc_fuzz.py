"""gRPC fuzzing: random and malformed requests to every RPC of every service the center serves.

The RPCs are enumerated from the descriptors of `server.app.SERVICE_NAMES`, so a new RPC is
fuzzed without touching this file. Each is sent, under each caller's credentials and none:

- messages drawn by Hypothesis from the request descriptor (strings empty, CJK or huge, integers
  at their bounds, nested messages, repeated fields, unknown enum numbers), with the values a
  real caller would know (its session token, its municipality) mixed in so that calls get past
  the first check;
- raw bytes, most of which are not a message of the request type, through a channel with
  identity serializers.

Callers come through each door of the center: the bench's TLS center (kiosk client
certificate on the terminals' port, bearer credentials on the API port, as the integration tests
call it) and a plaintext demo center on the same database (callers named by headers).

Every call must end in OK or a clear refusal — never INTERNAL or UNKNOWN; bytes that are not a
message must be INVALID_ARGUMENT; a refused call must change nothing in the books (the
issuance, settlement, ledger, municipal and BCL tables); the center must still answer its
health check. Streaming RPCs (the PDF download, BCL upload and restore) are driven the same way.

CI runs a few examples per RPC (bounded well under a minute); a long run:
`FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/fuzz` (the summary line counts the calls).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.access.caller import CallerKind
from server.access.tokens import AccessTokens
from server.app import SERVICE_NAMES, Center, create_server
from server.common.identity import KIOSK_ID_HEADER
from server.ereview.access import CLIENT_HEADER, add_client
from server.municipal.staff import StaffDesk
from tests.fuzz.conftest import FUZZ_CALLS
from tests.integration.conftest import Bench
from tests.integration.test_kiosk_visits import reserve_one

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
LEAKS = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})
# Tables a refused call may write by design: the audit trail of refusals, attempt counters.
MAY_RECORD_REFUSALS = frozenset({"audit_entries", "audit_chain_head", "auth_attempt_windows"})
CALL_TIMEOUT_S = 30.0

Metadata = tuple[tuple[str, str], ...]
# Who calls: the door ("plain": the demo listener, callers named by headers; "mtls": the
# terminals' port with the bench kiosk's client certificate; "api": the bearer callers' port,
# server TLS) and the metadata sent through it.
Caller = tuple[str, Metadata]

_POOL = descriptor_pool.Default()


def _methods() -> list[MethodDescriptor]:
    return [m for name in SERVICE_NAMES for m in _POOL.FindServiceByName(name).methods]


METHODS = _methods()


def _method_id(m: MethodDescriptor) -> str:
    return f"{m.containing_service.name}.{m.name}"


# -- the center and its callers ------------------------------------------------------------------


@dataclass
class Target:
    """The bench's TLS center and a plaintext one on its database, and what callers know."""

    center: Center
    channels: dict[str, grpc.Channel]  # door → channel
    profiles: dict[str, Caller]  # caller kind → the door and credentials it uses
    known: dict[str, tuple[str, ...]]  # field name → values a real caller would send
    engine: sa.Engine
    tables: tuple[str, ...]  # the books: every table but those that may log refusals
    _last: dict[str, str] | None = None  # the books as they were after the last call

    def books(self) -> dict[str, str]:
        """Per table of the books, its row count and a digest of every row."""
        out: dict[str, str] = {}
        raw = self.engine.raw_connection()  # DB-API directly: the ORM would triple the cost
        try:
            cursor = raw.cursor()
            for name in self.tables:
                cursor.execute(f'SELECT * FROM "{name}"')
                rows = cursor.fetchall()
                h = hashlib.sha256()
                for row in sorted(repr(tuple(r)) for r in rows):
                    h.update(row.encode())
                out[name] = f"{len(rows)}:{h.hexdigest()[:16]}"
            cursor.close()
            raw.rollback()  # hold no snapshot between calls
        finally:
            raw.close()
        return out

    def books_before(self) -> dict[str, str]:
        if self._last is None:
            self._last = self.books()
        return self._last

    def healthy(self, door: str) -> bool:
        stub = health_pb2_grpc.HealthStub(self.channels[door])
        answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=CALL_TIMEOUT_S)
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture(scope="module")
def target(bench: Bench, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The bench's data under a second, plaintext center (callers named by headers)."""
    state = tmp_path_factory.mktemp("fuzz")
    clients = state / "ereview-clients.json"
    code = bench.seeded.profile.code
    secret = add_client(clients, "fuzz-portal", "ファズ電子申請", [code])
    _, staff_token = StaffDesk(bench.center.engine, clock=bench.clock).create_account(
        code, "ファズ担当"
    )
    tokens = AccessTokens(bench.center.engine, clock=bench.clock)
    _, national = tokens.issue(CallerKind.NATIONAL_OPERATOR, display_name="ファズ J-LIS")
    [(operator_id,)] = bench.sql(
        "SELECT operator_id FROM kiosks WHERE kiosk_id = :k", k=bench.kiosk_id
    )
    _, chain = tokens.issue(
        CallerKind.KIOSK_OPERATOR, display_name="ファズ本部", operator_id=str(operator_id)
    )
    token = bench.shared_token()
    reservation = reserve_one(bench, token)
    config = dataclasses.replace(bench.config, ereview_clients_path=Path(clients))
    if any(f.name == "insecure" for f in dataclasses.fields(config)):
        config = dataclasses.replace(config, insecure=True)  # the demo mode: callers by header
    center = create_server(config, clock=bench.clock)
    center.server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{center.port}")
    channels = {"plain": channel, "mtls": bench.channel, "api": bench.api_channel}
    kiosk = ((KIOSK_ID_HEADER, bench.kiosk_id),)
    staff = (("authorization", f"Bearer {staff_token}"),)
    operator = (("authorization", f"Bearer {national}"),)
    profiles: dict[str, Caller] = {
        "anonymous": ("plain", ()),
        "kiosk": ("plain", kiosk),
        "staff": ("plain", staff),
        "ereview": (
            "plain",
            ((CLIENT_HEADER, "fuzz-portal"), ("authorization", f"Bearer {secret}")),
        ),
        "national_operator": ("plain", operator),
        "kiosk_operator": ("plain", (("authorization", f"Bearer {chain}"),)),
        "clerk_at_terminal": ("plain", (*kiosk, *staff)),
        "kiosk_mtls": ("mtls", kiosk),
        "clerk_at_terminal_mtls": ("mtls", staff),
        "anonymous_tls": ("api", ()),
        "staff_tls": ("api", staff),
        "national_operator_tls": ("api", operator),
    }
    resident = bench.seeded.residents[-1]
    known = {
        "session_token": (token,),
        "kiosk_id": (bench.kiosk_id,),
        "municipality_code": (code,),
        "reservation_id": (reservation,),
        "issuance_id": (reservation,),
        "resident_id": (resident.resident_id,),
        "household_id": (resident.household_id,),
        "month": ("2026-04", "2026-03"),
        "operator_id": (str(operator_id),),
        "printer_id": ("P1",),
        "idempotency_key": ("fuzz-key-1",),
    }
    tables = tuple(
        name
        for name in sorted(sa.inspect(center.engine).get_table_names())
        if name not in MAY_RECORD_REFUSALS and name != "alembic_version"
    )
    try:
        yield Target(center, channels, profiles, known, center.engine, tables)
    finally:
        channel.close()
        center.server.stop(grace=None).wait()
        center.engine.dispose()


# -- strategies from descriptors -----------------------------------------------------------------

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}

# Strings that have broken parsers elsewhere: separators, injections, dates out of range.
_EDGE_STRINGS = (
    "",
    " ",
    "\x00",
    "0",
    "-1",
    "000000",
    "999999",
    "2026-13",
    "0000-00",
    "9999-12",
    "2026-02-30",
    "25:00-26:00",
    "00:00-24:00",
    "' OR 1=1 --",
    "../../etc/passwd",
    "%s%n",
    "ＡＢＣ１２３",
    "髙﨑　齋邊",
    "🀄️👨‍👩‍👧",
    "\u202e\u200b",
    "a" * 129,
)
_CJK = st.characters(min_codepoint=0x3000, max_codepoint=0x9FFF)


def _text(name: str, known: dict[str, tuple[str, ...]]) -> st.SearchStrategy[str]:
    options: list[st.SearchStrategy[str]] = [
        st.text(max_size=24),
        st.text(alphabet=_CJK, max_size=16),
        st.sampled_from(_EDGE_STRINGS),
        st.integers(1_000, 200_000).map(lambda n: "漢" * n),  # up to 600 kB of UTF-8
    ]
    if name in known:
        options = [st.sampled_from(known[name])] * 3 + options
    return st.one_of(options)


def _bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=64),
        st.integers(0, 300).map(lambda n: b"\x30\x82\x01\x00" + bytes(n)),  # DER-looking
        st.integers(100_000, 1_000_000).map(lambda n: b"\xff" * n),
    )


def _scalar(f: FieldDescriptor, known: dict[str, tuple[str, ...]]) -> st.SearchStrategy[Any]:
    if f.type == FieldDescriptor.TYPE_STRING:
        return _text(f.name, known)
    if f.type == FieldDescriptor.TYPE_BYTES:
        return _bytes()
    if f.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if f.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        # NaN and infinities included.
        return st.floats(width=64) if f.type == FieldDescriptor.TYPE_DOUBLE else st.floats(width=32)
    if f.type == FieldDescriptor.TYPE_ENUM:
        assert f.enum_type is not None
        numbers = [v.number for v in f.enum_type.values]
        return st.one_of(st.sampled_from(numbers), st.integers(-(2**31), 2**31 - 1))
    lo, hi = _INT_RANGES[f.type]
    edges = sorted(v for v in {lo, hi, 0, 1, -1, 2026, 202604, lo + 1, hi - 1} if lo <= v <= hi)
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


MAX_DEPTH = 3


def _field(f: FieldDescriptor, known: dict[str, tuple[str, ...]], depth: int) -> Any:
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        assert f.message_type is not None
        if f.message_type.GetOptions().map_entry:
            key_f = f.message_type.fields_by_name["key"]
            value_f = f.message_type.fields_by_name["value"]
            return st.dictionaries(
                _scalar(key_f, known), _field(value_f, known, depth + 1), max_size=4
            )
        if depth >= MAX_DEPTH:
            return None
        one = messages(f.message_type, known, depth + 1)
    else:
        one = _scalar(f, known)
    if f.is_repeated:
        return st.lists(one, max_size=6)
    return one


def messages(
    desc: Descriptor, known: dict[str, tuple[str, ...]], depth: int = 0
) -> st.SearchStrategy[Message]:
    """Messages of `desc`, any subset of fields set (a oneof keeps the last member set)."""
    cls = message_factory.GetMessageClass(desc)
    fields = {f.name: _field(f, known, depth) for f in desc.fields}
    optional = {name: s for name, s in fields.items() if s is not None}
    return st.fixed_dictionaries({}, optional=optional).map(lambda kw: cls(**kw))


# -- calls ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str


def _path(m: MethodDescriptor) -> str:
    return f"/{m.containing_service.full_name}/{m.name}"


def _invoke(
    channel: grpc.Channel,
    m: MethodDescriptor,
    payload: Sequence[Any],
    metadata: Metadata,
    serialize: Callable[[Any], bytes] | None,
) -> Outcome:
    """One call; `payload` holds one request, or the stream of requests of a streaming RPC."""
    path = _path(m)
    kw = {"request_serializer": serialize, "response_deserializer": None}
    try:
        if m.client_streaming and m.server_streaming:
            for _ in channel.stream_stream(path, **kw)(
                iter(payload), metadata=metadata, timeout=CALL_TIMEOUT_S
            ):
                pass
        elif m.client_streaming:
            channel.stream_unary(path, **kw)(
                iter(payload), metadata=metadata, timeout=CALL_TIMEOUT_S
            )
        elif m.server_streaming:
            for _ in channel.unary_stream(path, **kw)(
                payload[0], metadata=metadata, timeout=CALL_TIMEOUT_S
            ):
                pass
        else:
            channel.unary_unary(path, **kw)(payload[0], metadata=metadata, timeout=CALL_TIMEOUT_S)
    except grpc.RpcError as err:
        assert isinstance(err, grpc.Call)
        return Outcome(err.code(), err.details() or "")
    return Outcome(grpc.StatusCode.OK, "")


def _check(
    target: Target,
    m: MethodDescriptor,
    payload: Sequence[Any],
    caller: Caller,
    serialize: Callable[[Any], bytes] | None,
) -> Outcome:
    door, metadata = caller
    before = target.books_before()
    target._last = None  # whatever happens next, the books are read afresh
    outcome = _invoke(target.channels[door], m, payload, metadata, serialize)
    assert outcome.code not in LEAKS, f"{_method_id(m)} leaked {outcome.code.name}: {outcome}"
    if outcome.code is not grpc.StatusCode.OK:
        after = target.books()
        changed = sorted(t for t in before if before[t] != after.get(t))
        assert not changed, f"{_method_id(m)} refused ({outcome.code.name}) yet changed {changed}"
        target._last = after
    assert target.healthy(door), f"the center stopped serving after {_method_id(m)}"
    return outcome


_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,  # CI: the same cases every run
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

_forged = st.lists(
    st.tuples(
        st.sampled_from(
            [KIOSK_ID_HEADER, "authorization", CLIENT_HEADER, "konbini-municipality", "x-fuzz"]
        ),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
    ),
    max_size=4,
).map(tuple)


def _callers(target: Target) -> st.SearchStrategy[Caller]:
    known = st.sampled_from(sorted(target.profiles)).map(target.profiles.__getitem__)
    forged = st.tuples(st.sampled_from(["plain", "api"]), _forged)
    return st.one_of(known, forged)


@functools.cache
def _request_class(m: MethodDescriptor) -> type[Message]:
    return message_factory.GetMessageClass(m.input_type)


# -- the tests -----------------------------------------------------------------------------------


def test_every_rpc_of_every_served_service_is_fuzzed() -> None:
    names = {_method_id(m) for m in METHODS}
    assert len(names) == len(METHODS) >= 40  # and each gets the two tests below
    assert {"BclService.Upload", "IssuanceService.Issue", "BclService.Restore"} <= names


@pytest.mark.parametrize("method", METHODS, ids=_method_id)
def test_random_messages_never_leak_an_internal_error_or_change_the_books_when_refused(
    target: Target, method: MethodDescriptor
) -> None:
    strategy = messages(method.input_type, target.known)
    payloads = (
        st.lists(strategy, min_size=1, max_size=4)
        if method.client_streaming
        else (strategy.map(lambda msg: [msg]))
    )

    @_SETTINGS
    @given(payload=payloads, caller=_callers(target))
    def run(payload: list[Message], caller: Caller) -> None:
        outcome = _check(target, method, payload, caller, _serialize)
        FUZZ_CALLS["ok" if outcome.code is grpc.StatusCode.OK else "refused"] += 1

    run()


def _serialize(msg: Message) -> bytes:
    return msg.SerializeToString()


def _parses(cls: type[Message], data: bytes) -> bool:
    try:
        cls.FromString(data)
    except (DecodeError, RuntimeError, ValueError):
        return False
    return True


_garbage = st.one_of(
    st.binary(max_size=256),
    # A valid tag and a length that runs past the end: always undecodable.
    st.binary(max_size=32).map(lambda b: b"\x0a\xff\xff\x03" + b),
    # Field 1 as a group start with no end.
    st.binary(max_size=32).map(lambda b: b"\x0b" + b),
)


@pytest.mark.parametrize("method", METHODS, ids=_method_id)
def test_malformed_bytes_are_refused_as_invalid_argument_and_change_nothing(
    target: Target, method: MethodDescriptor
) -> None:
    cls = _request_class(method)
    expected = {grpc.StatusCode.INVALID_ARGUMENT}
    if method.client_streaming:
        expected |= {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
    frames = (
        st.lists(_garbage, min_size=1, max_size=3)
        if method.client_streaming
        else (_garbage.map(lambda b: [b]))
    )

    @_SETTINGS
    @given(payload=frames, caller=_callers(target))
    def run(payload: list[bytes], caller: Caller) -> None:
        outcome = _check(target, method, payload, caller, None)
        if not _parses(cls, payload[0]):
            # A unary request is parsed before anything else looks at the call; a stream is
            # read by the servicer, after the caller was checked.
            assert outcome.code in expected, outcome
            FUZZ_CALLS["malformed"] += 1
        else:
            FUZZ_CALLS["ok" if outcome.code is grpc.StatusCode.OK else "refused"] += 1

    run()
