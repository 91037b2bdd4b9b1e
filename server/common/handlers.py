"""Wrapping a gRPC method handler, whatever its kind, for the center's server interceptors.

A handler is one of four kinds (unary or streaming request × unary or streaming response) and
each needs its own `grpc.*_rpc_method_handler`. An interceptor (`server.grpc_errors`, and the
access check built on it) says once what runs around a call, as two factories that take the
servicer's behaviour and return the one that runs instead; `wrap_handler` builds the handler of
the right kind. A streaming response is wrapped as a generator, so whatever runs around it also
covers the errors raised while the response is iterated.

gRPC asks the interceptors for a method's handler at every call; `HandlerCache` keeps what was
built for a method, so a call costs one function around the servicer, not a new handler and
closures each time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:  # grpc-stubs makes them generic; the runtime classes are not
    ServerInterceptor = grpc.ServerInterceptor[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    ServerInterceptor = grpc.ServerInterceptor
    Handler = grpc.RpcMethodHandler

Behaviour = Callable[[Any, grpc.ServicerContext], Any]
StreamBehaviour = Callable[[Any, grpc.ServicerContext], Iterator[Any]]
# (the servicer's behaviour, whether its request is a stream) -> what gRPC calls instead
AroundCall = Callable[[Behaviour, bool], Behaviour]
AroundStream = Callable[[StreamBehaviour, bool], StreamBehaviour]


def wrap_handler(
    handler: Handler,
    *,
    call: AroundCall,
    stream: AroundStream,
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> Handler:
    """`handler` with `call(...)` around a unary response and `stream(...)` around a stream."""
    kw: dict[str, Any] = {
        "request_deserializer": request_deserializer or handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(call(handler.unary_unary, False), **kw)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream, False), **kw)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(call(handler.stream_unary, True), **kw)
    assert handler.stream_stream is not None  # a handler is one of the four kinds
    return grpc.stream_stream_rpc_method_handler(stream(handler.stream_stream, True), **kw)


_MAX_CACHED = 1024  # methods; a generic handler could answer for any name a caller sends


class HandlerCache:
    """The wrapped handler of each method, built once: reused while the servicer's handler for
    the method is the same object (a generic handler may hand out a new one; it is then wrapped
    again)."""

    def __init__(self, wrap: Callable[[str, Handler], Handler]) -> None:
        self._wrap = wrap
        self._built: dict[str, tuple[Handler, Handler]] = {}
        self._lock = threading.Lock()

    def get(self, method: str, handler: Handler) -> Handler:
        built = self._built.get(method)
        if built is not None and built[0] is handler:
            return built[1]
        wrapped = self._wrap(method, handler)
        with self._lock:
            if len(self._built) < _MAX_CACHED or method in self._built:
                self._built[method] = (handler, wrapped)
        return wrapped
