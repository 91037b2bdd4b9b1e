"""The kiosk registry: each kiosk belongs to an operator and stands in a store in a municipality.

A terminal is of one of two kinds (`terminal_kind`): a store's kiosk ("kiosk"), or a counter
terminal ("counter", らくらく窓口) in a town hall. A counter terminal stands in its own
municipality and belongs to it: its operator of record is the municipality itself (operator id
`LG<code>`, registered with the terminal), which earns no commission — the clerk takes the fee.

A kiosk the registry does not know is refused (`KIOSK_NOT_REGISTERED`, UNAUTHENTICATED: the
center cannot tell who it is); a known kiosk that is suspended is refused at every call
(`KIOSK_SUSPENDED`, PERMISSION_DENIED: it is known, but not allowed now). Suspension takes effect
at the next call, also in the middle of a session.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.auth.service import KioskNotRegistered
from server.common.errors import InvalidArgument, NotFound, PermissionDenied
from server.db.models import Kiosk, Municipality, Operator
from server.issuance.states import Channel
from server.kiosks.certificates import KIOSK_ID_PATTERN


class KioskSuspended(PermissionDenied):
    reason = "KIOSK_SUSPENDED"


class OperatorNotFound(NotFound):
    reason = "OPERATOR_NOT_FOUND"


TERMINAL_KINDS = frozenset(c.value for c in Channel)  # "kiosk", "counter"


def counter_operator_id(municipality_code: str) -> str:
    """The operator of record of a municipality's counter terminals: the municipality."""
    return f"LG{municipality_code}"


@dataclass(frozen=True)
class RegisteredKiosk:
    kiosk_id: str
    operator_id: str
    operator_name: str
    store_name: str
    municipality_code: str  # where the kiosk stands
    active: bool
    terminal_kind: str = Channel.KIOSK.value  # "kiosk" | "counter" (らくらく窓口)

    def __post_init__(self) -> None:
        if not KIOSK_ID_PATTERN.fullmatch(self.kiosk_id):
            raise ValueError(f"bad kiosk id {self.kiosk_id!r}")
        if self.terminal_kind not in TERMINAL_KINDS:
            raise ValueError(f"bad terminal kind {self.terminal_kind!r}")

    @property
    def is_counter(self) -> bool:
        return self.terminal_kind == Channel.COUNTER.value


class KioskRegistry:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, kiosk_id: str) -> RegisteredKiosk | None:
        with Session(self._engine) as db:
            kiosk = db.get(Kiosk, kiosk_id)
            if kiosk is None:
                return None
            operator = db.get(Operator, kiosk.operator_id)
            assert operator is not None  # foreign key
            return RegisteredKiosk(
                kiosk.kiosk_id,
                operator.operator_id,
                operator.name,
                kiosk.store_name,
                kiosk.municipality_code,
                kiosk.active,
                kiosk.terminal_kind,
            )

    def require_active(self, kiosk_id: str) -> None:
        """Refuse a kiosk that is not registered or is suspended (one primary-key read)."""
        with Session(self._engine) as db:
            kiosk = db.get(Kiosk, kiosk_id)
            if kiosk is None:
                raise KioskNotRegistered(f"kiosk {kiosk_id!r} is not registered")
            if not kiosk.active:
                raise KioskSuspended(f"kiosk {kiosk_id!r} is suspended")

    def register(
        self, kiosk_id: str, *, operator_id: str, store_name: str, municipality_code: str
    ) -> RegisteredKiosk:
        if not KIOSK_ID_PATTERN.fullmatch(kiosk_id):
            raise ValueError(f"bad kiosk id {kiosk_id!r}")
        with Session(self._engine) as db:
            if db.get(Operator, operator_id) is None:
                raise OperatorNotFound(f"no operator {operator_id!r}")
            db.add(
                Kiosk(
                    kiosk_id=kiosk_id,
                    operator_id=operator_id,
                    store_name=store_name,
                    municipality_code=municipality_code,
                )
            )
            db.commit()
        registered = self.get(kiosk_id)
        assert registered is not None
        return registered

    def register_counter_terminal(
        self, terminal_id: str, *, municipality_code: str, location: str
    ) -> RegisteredKiosk:
        """A らくらく窓口 terminal in the town hall of `municipality_code` (onboarded), owned by
        it: the municipality is registered as the terminal's operator of record if need be."""
        if not KIOSK_ID_PATTERN.fullmatch(terminal_id):
            raise InvalidArgument(f"bad terminal id {terminal_id!r}", field="terminal_id")
        with Session(self._engine) as db:
            muni = db.get(Municipality, municipality_code)
            if muni is None:
                raise NotFound(f"municipality {municipality_code} is not onboarded")
            operator_id = counter_operator_id(municipality_code)
            if db.get(Operator, operator_id) is None:
                name = f"{muni.full_name()}（らくらく窓口）"
                db.add(Operator(operator_id=operator_id, name=name))
                db.flush()
            db.add(
                Kiosk(
                    kiosk_id=terminal_id,
                    operator_id=operator_id,
                    store_name=location,
                    municipality_code=municipality_code,
                    terminal_kind=Channel.COUNTER.value,
                )
            )
            db.commit()
        registered = self.get(terminal_id)
        assert registered is not None
        return registered

    def set_active(self, kiosk_id: str, active: bool) -> None:
        """Suspend (False) or resume (True) a kiosk."""
        with Session(self._engine) as db:
            kiosk = db.get(Kiosk, kiosk_id)
            if kiosk is None:
                raise KioskNotRegistered(f"kiosk {kiosk_id!r} is not registered")
            kiosk.active = active
            db.add(kiosk)
            db.commit()
