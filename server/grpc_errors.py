"""One server interceptor that turns domain errors into rich gRPC statuses (STYLE 6, 8).

A `DomainError` becomes its own status code with `google.rpc.ErrorInfo` (reason, domain,
metadata) and, for `InvalidArgument`, a `google.rpc.BadRequest` field violation. A database
that cannot be reached becomes UNAVAILABLE; one that refused a transaction because a concurrent
one got there first (a unique key, a deadlock, a serialization failure) becomes ABORTED,
reason TRANSACTION_CONFLICT, which the caller may retry (`server.db.conflicts`). Anything else
is a bug on our side: it is logged with its traceback here and the caller sees INTERNAL with
no detail, never a stack trace.

Bytes that do not parse as the method's request message are the caller's mistake too: gRPC
itself would answer INTERNAL, so the deserializer is wrapped to hand the servicer a marker
instead, and the call is refused as INVALID_ARGUMENT before any servicer code runs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from sqlalchemy.exc import DBAPIError, OperationalError

from server.common.errors import ERROR_DOMAIN, DomainError, InvalidArgument, RateLimited
from server.common.handlers import (
    Behaviour,
    HandlerCache,
    ServerInterceptor,
    StreamBehaviour,
    wrap_handler,
)
from server.db.conflicts import conflict_error, is_transaction_conflict

log = logging.getLogger(__name__)


def status_for(error: DomainError) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(
        reason=error.error_reason,
        domain=ERROR_DOMAIN,
        metadata=error.metadata,
    )
    details = [_pack(info)]
    if isinstance(error, InvalidArgument) and error.field:
        details.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=error.field, description=error.message
                        )
                    ]
                )
            )
        )
    if isinstance(error, RateLimited):
        delay = duration_pb2.Duration()
        delay.FromTimedelta(error.retry_after)
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status_pb2.Status(code=error.status.value[0], message=error.message, details=details)


def _pack(msg: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


def _unavailable(what: str) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason="DATABASE_UNAVAILABLE", domain=ERROR_DOMAIN)
    return status_pb2.Status(
        code=code_pb2.UNAVAILABLE, message=f"{what}; retry later", details=[_pack(info)]
    )


class _Undecodable:
    """Stands in for a request whose bytes are not a message of the method's request type."""

    __slots__ = ()


_UNDECODABLE = _Undecodable()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # DecodeError, or anything a broken message makes the parser raise
            return _UNDECODABLE

    return parse


def _decoded(request: Any) -> Any:
    if request is _UNDECODABLE:
        raise InvalidArgument(
            "the request is not a valid message of this method's request type", field="request"
        )
    return request


def _decoded_stream(requests: Iterator[Any]) -> Iterator[Any]:
    for request in requests:
        yield _decoded(request)


def _decoded_request(request: Any, streamed: bool) -> Any:
    return _decoded_stream(request) if streamed else _decoded(request)


def _internal() -> status_pb2.Status:
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")


class _Aborted(Exception):
    """Raised once a call was aborted with its status, so that an outer interceptor of this
    kind passes it on instead of mapping it again (gRPC itself raises a bare `Exception`)."""


def _abort(context: grpc.ServicerContext, exc: Exception, method: str) -> NoReturn:
    if isinstance(exc, _Aborted):
        raise exc
    if isinstance(exc, DomainError):
        status = status_for(exc)
    elif is_transaction_conflict(exc):  # before OperationalError: a deadlock is one too
        log.info("transaction conflict in %s: %s", method, type(exc.__cause__ or exc).__name__)
        status = status_for(conflict_error())
    elif isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        log.warning("database unavailable in %s: %s", method, type(exc).__name__)
        status = _unavailable("the database is unavailable")
    else:
        log.exception("unexpected error in %s", method)
        status = _internal()
    with contextlib.suppress(Exception):  # gRPC's way of ending the behaviour; the status is set
        context.abort_with_status(rpc_status.to_status(status))
    raise _Aborted from None


Admit = Callable[[grpc.ServicerContext, Any], None]


class DomainErrorInterceptor(ServerInterceptor):
    """Maps what a servicer raises to its status. A subclass may admit each call first, inside
    the same mapping (`_admission`), so the center's every call passes one wrapper, not two."""

    def __init__(self) -> None:
        self._handlers = HandlerCache(self._wrap)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler_call_details.method, handler)

    def _admission(self, method: str) -> Admit | None:
        """What runs before `method`'s servicer, with the context and the request (None for a
        request stream); it refuses a call by raising. None: nothing."""
        return None

    def _wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        admit = self._admission(method)

        def call(inner: Behaviour, streamed: bool) -> Behaviour:
            def behaviour(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    request = _decoded_request(request, streamed)
                    if admit is not None:
                        admit(context, None if streamed else request)
                    return inner(request, context)
                except Exception as exc:
                    _abort(context, exc, method)

            return behaviour

        def stream(inner: StreamBehaviour, streamed: bool) -> StreamBehaviour:
            def behaviour(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                try:
                    request = _decoded_request(request, streamed)
                    if admit is not None:
                        admit(context, None if streamed else request)
                    yield from inner(request, context)
                except Exception as exc:
                    _abort(context, exc, method)

            return behaviour

        return wrap_handler(
            handler,
            call=call,
            stream=stream,
            request_deserializer=_tolerant(handler.request_deserializer),
        )
