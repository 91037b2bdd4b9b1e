"""The resolver's read of a terminal's registry row: at every call, or reused for a bounded time.

With `terminal_ttl` 0 (the default) a suspension stops the very next call. With a TTL an active
terminal's row is reused for at most that long after the read that fetched it, so a suspension
is refused within the bound and never later; unknown and suspended terminals are never
remembered, so a resumed terminal is admitted at once. The bound runs on an injected monotonic
clock here, so nothing waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.access.caller import CallerKind
from server.access.resolve import CallerResolver
from server.access.tokens import AccessTokens
from server.auth.service import KioskNotRegistered
from server.common.clock import system_clock
from server.common.identity import KIOSK_ID_HEADER
from server.config import ServerConfig
from server.db.engine import make_engine, upgrade
from server.db.models import Operator
from server.ereview.access import ClientRegistry
from server.kiosks.registry import KioskRegistry, KioskSuspended

KIOSK = "K13101699"


class _Call:
    """A plaintext call naming its kiosk by the demo header (what the resolver reads)."""

    def __init__(self, kiosk_id: str) -> None:
        self._metadata = ((KIOSK_ID_HEADER, kiosk_id),)

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}


class _Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'resolve.db'}")
    upgrade(engine)
    with Session(engine) as db:
        db.add(Operator(operator_id="lawson", name="ローソン"))
        db.commit()
    KioskRegistry(engine).register(
        KIOSK, operator_id="lawson", store_name="ローソン 試験店", municipality_code="131016"
    )
    yield engine
    engine.dispose()


def _resolver(engine: Engine, ttl: float, clock: _Monotonic) -> CallerResolver:
    return CallerResolver(
        engine,
        tokens=AccessTokens(engine, clock=system_clock),
        ereview=ClientRegistry(),
        terminal_ttl=ttl,
        monotonic=clock,
    )


def _reads(engine: Engine) -> list[str]:
    """The resolver's reads of the kiosk registry from now on (its statement selects these
    columns and no others; the registry's own reads in the tests select the whole row)."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM kiosks" in statement and "store_name" not in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen


def test_by_default_a_suspension_stops_the_very_next_call(engine: Engine) -> None:
    clock = _Monotonic()
    resolver = _resolver(engine, 0, clock)
    reads = _reads(engine)
    caller = resolver.resolve(_Call(KIOSK))  # type: ignore[arg-type]
    assert (caller.kind, caller.id, caller.municipality_code, caller.operator_id) == (
        CallerKind.KIOSK,
        KIOSK,
        "131016",
        "lawson",
    )
    resolver.resolve(_Call(KIOSK))  # type: ignore[arg-type]
    assert len(reads) == 2  # read at every call
    KioskRegistry(engine).set_active(KIOSK, False)
    with pytest.raises(KioskSuspended):
        resolver.resolve(_Call(KIOSK))  # type: ignore[arg-type]


def test_with_a_ttl_a_suspension_is_refused_within_the_bound(engine: Engine) -> None:
    clock = _Monotonic()
    resolver = _resolver(engine, 2.0, clock)
    reads = _reads(engine)
    first = resolver.resolve(_Call(KIOSK))  # type: ignore[arg-type]
    KioskRegistry(engine).set_active(KIOSK, False)
    clock.now += 1.999  # within the bound of the read: the row is reused, not read again
    assert resolver.resolve(_Call(KIOSK)) == first  # type: ignore[arg-type]
    assert len(reads) == 1
    clock.now += 0.001  # the bound: read again, and refused from now on
    for _ in range(3):
        with pytest.raises(KioskSuspended):
            resolver.resolve(_Call(KIOSK))  # type: ignore[arg-type]
    assert len(reads) == 4  # a refused terminal is never remembered
    KioskRegistry(engine).set_active(KIOSK, True)
    assert resolver.resolve(_Call(KIOSK)) == first  # type: ignore[arg-type]  # resumed: at once


def test_an_unknown_terminal_is_never_remembered(engine: Engine) -> None:
    clock = _Monotonic()
    resolver = _resolver(engine, 60.0, clock)
    for _ in range(2):
        with pytest.raises(KioskNotRegistered):
            resolver.resolve(_Call("K99999999"))  # type: ignore[arg-type]
    KioskRegistry(engine).register(
        "K99999999", operator_id="lawson", store_name="新店", municipality_code="131016"
    )
    assert resolver.resolve(_Call("K99999999")).id == "K99999999"  # type: ignore[arg-type]


def test_a_negative_ttl_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError):
        _resolver(engine, -1, _Monotonic())


def test_the_ttl_comes_from_konbini_terminal_ttl_and_is_off_by_default() -> None:
    env = {"KONBINI_TRUST_ANCHOR": "ca.der", "KONBINI_AUTHORITY_URL": "http://127.0.0.1:1"}
    assert ServerConfig.from_env(env).terminal_ttl_s == 0
    assert ServerConfig.from_env({**env, "KONBINI_TERMINAL_TTL": "2.5"}).terminal_ttl_s == 2.5
    for refused in ("-1", "nan", "inf"):
        with pytest.raises(ValueError):
            ServerConfig.from_env({**env, "KONBINI_TERMINAL_TTL": refused})


def test_a_setting_that_is_not_a_number_is_refused_naming_its_variable() -> None:
    env = {"KONBINI_TRUST_ANCHOR": "ca.der", "KONBINI_AUTHORITY_URL": "http://127.0.0.1:1"}
    with pytest.raises(ValueError, match="KONBINI_TERMINAL_TTL='abc'"):
        ServerConfig.from_env({**env, "KONBINI_TERMINAL_TTL": "abc"})
    with pytest.raises(ValueError, match="KONBINI_WORKERS='many'"):
        ServerConfig.from_env({**env, "KONBINI_WORKERS": "many"})
