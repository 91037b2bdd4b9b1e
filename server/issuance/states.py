"""The issuance state machine, as one table (STYLE 4).

    RESERVED ──issue──► PRINTING ──printed──► ISSUED
        │                   │
        └──cancel/expire──► VOIDED ◄──failed/expire──┘

ISSUED and VOIDED are final. Any move not in `TRANSITIONS` is a protocol error.
"""

from __future__ import annotations

from enum import StrEnum

from server.common.errors import FailedPrecondition


class IssuanceState(StrEnum):
    RESERVED = "reserved"
    PRINTING = "printing"
    ISSUED = "issued"
    VOIDED = "voided"


class IssuanceEvent(StrEnum):
    ISSUE = "issue"  # the fee is paid; the center renders the copy
    PRINTED = "printed"  # the kiosk confirms the copy came out whole
    PRINT_FAILED = "print_failed"  # out of paper, jam, … : the copy is void, fee refunded
    CANCEL = "cancel"  # the resident walked away or the card was removed
    EXPIRE = "expire"  # nobody finished it in time


TRANSITIONS: dict[tuple[IssuanceState, IssuanceEvent], IssuanceState] = {
    (IssuanceState.RESERVED, IssuanceEvent.ISSUE): IssuanceState.PRINTING,
    (IssuanceState.RESERVED, IssuanceEvent.CANCEL): IssuanceState.VOIDED,
    (IssuanceState.RESERVED, IssuanceEvent.EXPIRE): IssuanceState.VOIDED,
    (IssuanceState.PRINTING, IssuanceEvent.PRINTED): IssuanceState.ISSUED,
    (IssuanceState.PRINTING, IssuanceEvent.PRINT_FAILED): IssuanceState.VOIDED,
    (IssuanceState.PRINTING, IssuanceEvent.CANCEL): IssuanceState.VOIDED,
    (IssuanceState.PRINTING, IssuanceEvent.EXPIRE): IssuanceState.VOIDED,
}

FINAL_STATES = frozenset({IssuanceState.ISSUED, IssuanceState.VOIDED})


class InvalidTransition(FailedPrecondition):
    reason = "INVALID_STATE"


def next_state(state: IssuanceState, event: IssuanceEvent) -> IssuanceState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(
            f"an issuance in state {state.value} cannot take event {event.value}",
            metadata={"state": state.value, "event": event.value},
        ) from None
