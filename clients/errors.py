"""Decoding the center's error statuses on the client side (`rpc_status.from_call`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class ErrorDetails:
    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: tuple[tuple[str, str], ...] = ()
    retry_after_s: float | None = None  # google.rpc.RetryInfo: wait this long before retrying


def decode_error(err: grpc.RpcError) -> ErrorDetails:
    """The status code, message, ErrorInfo reason/metadata, BadRequest violations, RetryInfo."""
    code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
    message = err.details() if isinstance(err, grpc.Call) else str(err)
    reason = ""
    metadata: dict[str, str] = {}
    violations: list[tuple[str, str]] = []
    retry_after: float | None = None
    status = rpc_status.from_call(err) if isinstance(err, grpc.Call) else None
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_after = retry.retry_delay.ToTimedelta().total_seconds()
    return ErrorDetails(code, message or "", reason, metadata, tuple(violations), retry_after)
