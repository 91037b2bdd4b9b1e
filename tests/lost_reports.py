"""A center the kiosk cannot reach for print reports: client-side test doubles.

`Lost` is what a kiosk sees when the connection drops (UNAVAILABLE, no details);
`LoseReportsWhile` raises it for every ReportPrintResult while its `down` flag is set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc


class Lost(grpc.RpcError, grpc.Call):
    """What a kiosk sees when the connection drops: UNAVAILABLE, no details."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "connection lost (injected)"

    def initial_metadata(self) -> Any:
        return ()

    def trailing_metadata(self) -> Any:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


class LoseReportsWhile(grpc.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Every ReportPrintResult is lost while `down` is set: the center is out of reach."""

    def __init__(self) -> None:
        self.down = True

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if self.down and details.method.endswith("/ReportPrintResult"):
            raise Lost()
        return continuation(details, request)
