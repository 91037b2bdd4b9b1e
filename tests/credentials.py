"""Credentials for tests, issued the way `konbini` issues them (server.access, server.municipal).

Staff accounts need their municipality onboarded; a kiosk-operator token needs its operator.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from server.access.caller import CallerKind
from server.access.tokens import AccessTokens
from server.common.clock import Clock, system_clock
from server.municipal.staff import StaffDesk

Metadata = tuple[tuple[str, str], ...]


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


def staff_token(engine: Engine, municipality_code: str, *, clock: Clock = system_clock) -> str:
    _, token = StaffDesk(engine, clock=clock).create_account(municipality_code, "test staff")
    return token


def national_token(engine: Engine, *, clock: Clock = system_clock) -> str:
    tokens = AccessTokens(engine, clock=clock)
    return tokens.issue(CallerKind.NATIONAL_OPERATOR, display_name="test J-LIS")[1]


def operator_token(engine: Engine, operator_id: str, *, clock: Clock = system_clock) -> str:
    tokens = AccessTokens(engine, clock=clock)
    kind = CallerKind.KIOSK_OPERATOR
    return tokens.issue(kind, display_name=f"test {operator_id}", operator_id=operator_id)[1]
