"""The one access interceptor: resolve the caller, apply the policy, hand the caller on.

gRPC interceptors see the method name but not the peer, so the check wraps each handler and
runs first inside it, with the servicer context (certificate, metadata) and, for unary
requests, the request (the municipality or operator it is about). It sits inside
`DomainErrorInterceptor`, which turns refusals into statuses. Servicers read the caller with
`bound_caller(context)` instead of authenticating again.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grpc

from server.access.caller import Caller, CallerKind
from server.access.policy import POLICY, Rule, authorize
from server.access.resolve import CallerResolver
from server.common.handlers import Behaviour, ServerInterceptor, wrap_handler
from server.common.identity import kiosk_id_from_context

log = logging.getLogger(__name__)

_bound: weakref.WeakKeyDictionary[grpc.ServicerContext, Caller] = weakref.WeakKeyDictionary()
_bound_lock = threading.Lock()


def bound_caller(context: grpc.ServicerContext) -> Caller | None:
    """The caller the access interceptor resolved for this call (None on a server without it)."""
    with _bound_lock:
        return _bound.get(context)


def terminal_id(context: grpc.ServicerContext) -> str:
    """The kiosk or counter terminal making the call, as the interceptor resolved it; on a
    server without the interceptor, from the certificate (or the demo's header)."""
    caller = bound_caller(context)
    if caller is not None and caller.kind in (CallerKind.KIOSK, CallerKind.COUNTER_TERMINAL):
        return caller.id
    return kiosk_id_from_context(context)


def _bind(context: grpc.ServicerContext, caller: Caller) -> None:
    with _bound_lock:
        _bound[context] = caller


class AccessInterceptor(ServerInterceptor):
    def __init__(self, resolver: CallerResolver, policy: Mapping[str, Rule] = POLICY) -> None:
        self._resolver = resolver
        self._policy = policy

    def _admit(self, method: str, context: grpc.ServicerContext, request: Any) -> None:
        caller = self._resolver.resolve(context)
        try:
            authorize(self._policy, method, caller, request)
        except Exception:
            log.info("refused %s to %s %s", method, caller.kind.value, caller.id or "-")
            raise
        _bind(context, caller)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        admit = self._admit

        def call(
            inner: Behaviour, request: Any, context: grpc.ServicerContext, *, streamed: bool
        ) -> Any:
            admit(method, context, None if streamed else request)
            return inner(request, context)

        def stream(
            inner: Behaviour, request: Any, context: grpc.ServicerContext, *, streamed: bool
        ) -> Iterator[Any]:
            admit(method, context, None if streamed else request)
            yield from inner(request, context)

        return wrap_handler(handler, call=call, stream=stream)
