"""Wrapping a gRPC method handler, whatever its kind, for the center's server interceptors.

A handler is one of four kinds (unary or streaming request × unary or streaming response) and
each needs its own `grpc.*_rpc_method_handler`. The interceptors (`server.grpc_errors`,
`server.access.interceptor`) each say once what runs around a call; `wrap_handler` builds the
handler of the right kind. A streaming response is wrapped as a generator, so whatever runs
around it also covers the errors raised while the response is iterated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import grpc

if TYPE_CHECKING:  # grpc-stubs makes it generic; the runtime class is not
    ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.ServerInterceptor

Behaviour = Callable[[Any, grpc.ServicerContext], Any]


class AroundCall(Protocol):
    def __call__(
        self, inner: Behaviour, request: Any, context: grpc.ServicerContext, *, streamed: bool
    ) -> Any:
        """Run `inner(request, context)` (`request` is an iterator when `streamed`)."""


class AroundStream(Protocol):
    def __call__(
        self, inner: Behaviour, request: Any, context: grpc.ServicerContext, *, streamed: bool
    ) -> Iterator[Any]:
        """Yield from `inner(request, context)`, a streaming response."""


def wrap_handler(
    handler: grpc.RpcMethodHandler[Any, Any],
    *,
    call: AroundCall,
    stream: AroundStream,
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with `call` around a unary response and `stream` around a streaming one."""
    kw: dict[str, Any] = {
        "request_deserializer": request_deserializer or handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        uu = handler.unary_unary
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: call(uu, request, context, streamed=False), **kw
        )
    if handler.unary_stream is not None:
        us = handler.unary_stream
        return grpc.unary_stream_rpc_method_handler(
            lambda request, context: stream(us, request, context, streamed=False), **kw
        )
    if handler.stream_unary is not None:
        su = handler.stream_unary
        return grpc.stream_unary_rpc_method_handler(
            lambda requests, context: call(su, requests, context, streamed=True), **kw
        )
    ss = handler.stream_stream
    assert ss is not None  # a handler is one of the four kinds
    return grpc.stream_stream_rpc_method_handler(
        lambda requests, context: stream(ss, requests, context, streamed=True), **kw
    )
