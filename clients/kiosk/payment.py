"""The kiosk's till: where the resident's fee goes in and, for a copy that failed, comes back out.

A real kiosk has a cash unit and e-money readers; the terminal only needs `collect` and `refund`.
`EmulatedTill` records every movement so tests (and the demo) can check that money taken for a
copy that did not come out whole was handed back (SPEC §4).
"""

from __future__ import annotations

from typing import Protocol


class Till(Protocol):
    def collect(self, amount_yen: int) -> bool:
        """Take the fee; False when the resident did not pay (cancelled, card declined)."""
        ...

    def refund(self, amount_yen: int) -> None: ...


class EmulatedTill:
    """Takes exactly what is asked (or declines every payment), and keeps a record."""

    def __init__(self, *, accepts: bool = True) -> None:
        self.accepts = accepts
        self.collected: list[int] = []
        self.refunded: list[int] = []

    def collect(self, amount_yen: int) -> bool:
        if amount_yen < 0:
            raise ValueError("a fee is never negative")
        if not self.accepts:
            return False
        self.collected.append(amount_yen)
        return True

    def refund(self, amount_yen: int) -> None:
        if not 0 <= amount_yen <= self.balance_yen:
            raise ValueError(f"cannot refund {amount_yen} yen of {self.balance_yen} held")
        self.refunded.append(amount_yen)

    @property
    def balance_yen(self) -> int:
        """What the till kept: collected minus refunded."""
        return sum(self.collected) - sum(self.refunded)
