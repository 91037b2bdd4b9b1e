"""The one access interceptor: resolve the caller, apply the policy, hand the caller on.

gRPC interceptors see the method name but not the peer, so the check wraps each handler and
runs first inside it, with the servicer context (certificate, metadata) and, for unary
requests, the request (the municipality or operator it is about). It is the error interceptor
(`server.grpc_errors.DomainErrorInterceptor`) with the check added inside its mapping, so
refusals become statuses and a call passes one wrapper. Servicers read the caller with
`bound_caller(context)` instead of authenticating again.

The caller is bound to the call in a context variable: gRPC runs each call (the interceptors,
the servicer and, for a streaming response, its iteration) in a `contextvars.Context` of its
own, so the binding is seen by that call alone and ends with it, with no lock and no table to
clean. It also names the servicer context it belongs to, and `bound_caller` answers only for
that one.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from typing import Any

import grpc

from server.access.caller import Caller, CallerKind
from server.access.policy import POLICY, Rule, authorize
from server.access.resolve import CallerResolver
from server.common.identity import kiosk_id_from_context
from server.grpc_errors import Admit, DomainErrorInterceptor

log = logging.getLogger(__name__)

_bound: contextvars.ContextVar[tuple[grpc.ServicerContext, Caller] | None] = contextvars.ContextVar(
    "konbini_caller", default=None
)


def bound_caller(context: grpc.ServicerContext) -> Caller | None:
    """The caller the access interceptor resolved for this call (None on a server without it)."""
    bound = _bound.get()
    if bound is not None and bound[0] is context:
        return bound[1]
    return None


def terminal_id(context: grpc.ServicerContext) -> str:
    """The kiosk or counter terminal making the call, as the interceptor resolved it; on a
    server without the interceptor, from the certificate (or the demo's header)."""
    caller = bound_caller(context)
    if caller is not None and caller.kind in (CallerKind.KIOSK, CallerKind.COUNTER_TERMINAL):
        return caller.id
    return kiosk_id_from_context(context)


class AccessInterceptor(DomainErrorInterceptor):
    def __init__(self, resolver: CallerResolver, policy: Mapping[str, Rule] = POLICY) -> None:
        super().__init__()
        self._resolver = resolver
        self._policy = policy

    def _admission(self, method: str) -> Admit:
        resolve = self._resolver.resolve
        policy = self._policy

        def admit(context: grpc.ServicerContext, request: Any) -> None:
            caller = resolve(context)
            try:
                authorize(policy, method, caller, request)
            except Exception:
                log.info("refused %s to %s %s", method, caller.kind.value, caller.id or "-")
                raise
            _bound.set((context, caller))

        return admit
