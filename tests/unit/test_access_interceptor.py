"""The access interceptor over loopback gRPC: each call sees its own caller, refusals keep their
status however the interceptors are composed, and a method's wrapped handler is built once.

Two plaintext kiosks (named by the demo header) call methods whose servicer reports the caller
the interceptor bound; a barrier holds both calls inside their servicers at the same time, so
the bindings of concurrent calls are proved apart without any timing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import wrappers_pb2
from sqlalchemy.engine import Engine
from sqlmodel import Session

from clients.errors import decode_error
from server.access.caller import CallerKind
from server.access.interceptor import AccessInterceptor, bound_caller, terminal_id
from server.access.policy import TERMINALS, Rule
from server.access.resolve import CallerResolver
from server.access.tokens import AccessTokens
from server.common.clock import system_clock
from server.common.handlers import Handler, HandlerCache
from server.common.identity import KIOSK_ID_HEADER
from server.db.engine import make_engine, upgrade
from server.db.models import Operator
from server.ereview.access import ClientRegistry
from server.grpc_errors import DomainErrorInterceptor
from server.kiosks.registry import KioskRegistry

KIOSKS = ("K13101701", "K13101702")
SERVICE = "test.Who"
POLICY = {f"/{SERVICE}/{m}": Rule(TERMINALS) for m in ("Unary", "Stream")}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'who.db'}")
    upgrade(engine)
    with Session(engine) as db:
        db.add(Operator(operator_id="lawson", name="ローソン"))
        db.commit()
    for kiosk_id in KIOSKS:
        KioskRegistry(engine).register(
            kiosk_id, operator_id="lawson", store_name="試験店", municipality_code="131016"
        )
    yield engine
    engine.dispose()


def _serve(engine: Engine, interceptors: list[Any], barrier: threading.Barrier) -> grpc.Server:
    def unary(_request: Any, context: grpc.ServicerContext) -> wrappers_pb2.StringValue:
        barrier.wait(timeout=10)  # both calls are inside their servicers now
        return wrappers_pb2.StringValue(value=terminal_id(context))

    def stream(_request: Any, context: grpc.ServicerContext) -> Iterator[wrappers_pb2.StringValue]:
        for _ in range(3):
            barrier.wait(timeout=10)
            caller = bound_caller(context)
            assert caller is not None and caller.kind is CallerKind.KIOSK
            yield wrappers_pb2.StringValue(value=caller.id)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=interceptors)
    kw: dict[str, Any] = {
        "request_deserializer": wrappers_pb2.StringValue.FromString,
        "response_serializer": wrappers_pb2.StringValue.SerializeToString,
    }
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(unary, **kw),
                    "Stream": grpc.unary_stream_rpc_method_handler(stream, **kw),
                },
            )
        ]
    )
    return server


def _resolver(engine: Engine) -> CallerResolver:
    tokens = AccessTokens(engine, clock=system_clock)
    return CallerResolver(engine, tokens=tokens, ereview=ClientRegistry())


@pytest.fixture
def target(engine: Engine) -> Iterator[str]:
    barrier = threading.Barrier(2)
    server = _serve(engine, [AccessInterceptor(_resolver(engine), POLICY)], barrier)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None).wait()


def _unary(channel: grpc.Channel, kiosk_id: str | None) -> str:
    call = channel.unary_unary(
        f"/{SERVICE}/Unary",
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )
    metadata = ((KIOSK_ID_HEADER, kiosk_id),) if kiosk_id else None
    return str(call(wrappers_pb2.StringValue(), metadata=metadata, timeout=10).value)


def _stream(channel: grpc.Channel, kiosk_id: str) -> list[str]:
    call = channel.unary_stream(
        f"/{SERVICE}/Stream",
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )
    replies = call(wrappers_pb2.StringValue(), metadata=((KIOSK_ID_HEADER, kiosk_id),), timeout=10)
    return [r.value for r in replies]


def test_concurrent_unary_calls_each_see_their_own_caller(target: str) -> None:
    with grpc.insecure_channel(target) as channel, futures.ThreadPoolExecutor(2) as pool:
        seen = list(pool.map(lambda k: _unary(channel, k), KIOSKS))
    assert seen == list(KIOSKS)


def test_a_streaming_response_sees_its_caller_at_every_message(target: str) -> None:
    with grpc.insecure_channel(target) as channel, futures.ThreadPoolExecutor(2) as pool:
        seen = list(pool.map(lambda k: _stream(channel, k), KIOSKS))
    assert seen == [[k] * 3 for k in KIOSKS]


def test_a_caller_is_bound_to_its_call_alone() -> None:
    # Outside any call (and for another call's context) nothing is bound.
    assert bound_caller(object()) is None  # type: ignore[arg-type]


def test_a_refusal_keeps_its_status_with_the_error_interceptor_around_it_too(
    engine: Engine,
) -> None:
    """A server that lists the error interceptor before the access one (as the BCL server did):
    a refusal mapped by the inner one must not be mapped again by the outer one (it would
    become INTERNAL)."""
    interceptors = [DomainErrorInterceptor(), AccessInterceptor(_resolver(engine), POLICY)]
    server = _serve(engine, interceptors, threading.Barrier(1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            for kiosk_id, expected in (
                (None, (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIALS_MISSING")),
                ("K99999999", (grpc.StatusCode.UNAUTHENTICATED, "KIOSK_NOT_REGISTERED")),
            ):
                with pytest.raises(grpc.RpcError) as caught:
                    _unary(channel, kiosk_id)
                err = decode_error(caught.value)
                assert (err.code, err.reason) == expected
            assert _unary(channel, KIOSKS[0]) == KIOSKS[0]
    finally:
        server.stop(grace=None).wait()


def test_a_methods_wrapped_handler_is_built_once_and_again_for_a_new_handler() -> None:
    wrapped_for: list[object] = []

    def wrap(method: str, handler: Handler) -> Handler:
        wrapped_for.append(handler)
        return grpc.unary_unary_rpc_method_handler(lambda r, c: r)

    cache = HandlerCache(wrap)
    first = grpc.unary_unary_rpc_method_handler(lambda r, c: r)
    once = cache.get("/s/M", first)
    assert cache.get("/s/M", first) is once
    assert wrapped_for == [first]
    second = grpc.unary_unary_rpc_method_handler(lambda r, c: r)
    assert cache.get("/s/M", second) is not once  # a new handler is not given the old wrapping
    assert wrapped_for == [first, second]
