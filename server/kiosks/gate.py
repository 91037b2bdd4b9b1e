"""An interceptor that admits only registered, active kiosks to the kiosk-facing services.

gRPC interceptors do not see the peer (its certificate is in the servicer context), so the gate
wraps each kiosk-facing handler and checks before it runs: the kiosk's identity
(`server.common.identity`: the client certificate under mTLS, the header in the demo) and its
row in the registry. It sits inside `DomainErrorInterceptor`, which turns its refusals into
statuses with reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import grpc

from server.common.identity import kiosk_id_from_context
from server.kiosks.registry import KioskRegistry

KIOSK_SERVICES = frozenset(
    {
        "konbini.auth.v1.AuthService",
        "konbini.issuance.v1.IssuanceService",
        "konbini.portal.v1.PortalService",
    }
)

if TYPE_CHECKING:  # grpc-stubs makes it generic; the runtime class is not
    _ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.ServerInterceptor


def _service_of(method: str) -> str:
    return method.lstrip("/").split("/", 1)[0]


class KioskGate(_ServerInterceptor):
    def __init__(self, registry: KioskRegistry) -> None:
        self._registry = registry

    def _admit(self, context: grpc.ServicerContext) -> None:
        self._registry.require_active(kiosk_id_from_context(context))

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or _service_of(handler_call_details.method) not in KIOSK_SERVICES:
            return handler
        admit = self._admit
        if handler.unary_unary is not None:
            inner_uu = handler.unary_unary

            def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
                admit(context)
                return inner_uu(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_us = handler.unary_stream

            def unary_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                admit(context)
                yield from inner_us(request, context)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # The kiosk services have no client-streaming methods; refuse rather than let one past.
        raise TypeError(f"{handler_call_details.method}: streaming requests are not gated")
