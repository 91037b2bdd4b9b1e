"""Domain errors with machine-readable codes.

Every error that may leave the server carries a gRPC status code and a reason string as class
attributes; one interceptor (`server.grpc_errors`) turns them into `google.rpc.Status` with
`ErrorInfo` details. Expected outcomes (a wrong PIN, a revoked certificate) are values, not
these exceptions; these are for refusals the caller must see as a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

import grpc

ERROR_DOMAIN = "konbini.jlis.example"


class DomainError(Exception):
    """Base: the caller's request cannot be honoured."""

    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.FAILED_PRECONDITION
    reason: ClassVar[str] = "FAILED_PRECONDITION"

    def __init__(
        self,
        message: str,
        *,
        metadata: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.metadata: dict[str, str] = dict(metadata or {})
        # The class names the usual reason; an instance may be more specific (e.g. which
        # certificate check failed).
        self.error_reason = reason or type(self).reason


class InvalidArgument(DomainError):
    """The caller misused the API: a malformed or missing field."""

    status = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, metadata=metadata)
        self.field = field


class Unauthenticated(DomainError):
    status = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    status = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class NotFound(DomainError):
    status = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class Conflict(DomainError):
    """The request contradicts the state of the resource (e.g. an idempotency key reused)."""

    status = grpc.StatusCode.ALREADY_EXISTS
    reason = "CONFLICT"


class FailedPrecondition(DomainError):
    status = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class Aborted(DomainError):
    """A concurrent request got there first; the caller may send the same request again."""

    status = grpc.StatusCode.ABORTED
    reason = "ABORTED"


class Unavailable(DomainError):
    """A dependency (database, OCSP responder) cannot be reached; the caller may retry."""

    status = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"


class RateLimited(DomainError):
    """Too many attempts for now; `retry_after` (a `google.rpc.RetryInfo`) says when to retry."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: timedelta) -> None:
        super().__init__(message, metadata={"retry_after_s": f"{retry_after.total_seconds():g}"})
        self.retry_after = retry_after
