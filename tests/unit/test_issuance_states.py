from __future__ import annotations

import itertools

import pytest

from server.issuance.states import (
    FINAL_STATES,
    TRANSITIONS,
    InvalidTransition,
    IssuanceEvent,
    IssuanceState,
    next_state,
)


def test_happy_path_goes_reserved_printing_issued() -> None:
    s = next_state(IssuanceState.RESERVED, IssuanceEvent.ISSUE)
    assert s is IssuanceState.PRINTING
    assert next_state(s, IssuanceEvent.PRINTED) is IssuanceState.ISSUED


def test_a_failed_print_voids_the_copy() -> None:
    assert next_state(IssuanceState.PRINTING, IssuanceEvent.PRINT_FAILED) is IssuanceState.VOIDED


@pytest.mark.parametrize(("state", "event"), list(itertools.product(IssuanceState, IssuanceEvent)))
def test_every_move_outside_the_table_is_refused(
    state: IssuanceState, event: IssuanceEvent
) -> None:
    if (state, event) in TRANSITIONS:
        assert next_state(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(InvalidTransition):
            next_state(state, event)


def test_final_states_have_no_way_out() -> None:
    assert not [k for k in TRANSITIONS if k[0] in FINAL_STATES]


def test_a_reserved_copy_can_never_become_issued_without_printing() -> None:
    with pytest.raises(InvalidTransition):
        next_state(IssuanceState.RESERVED, IssuanceEvent.PRINTED)
