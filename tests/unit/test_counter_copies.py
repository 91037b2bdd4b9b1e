"""Counter copies (らくらく窓口) without a server: the state table, the money, the reception number,
the 受付票, and the per-municipality range of tax years."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pypdf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.bcl.records import IssuingBackend
from server.common.errors import FailedPrecondition, InvalidArgument
from server.config import DEFAULT_FONT
from server.counter.reception import ReceptionSlip, check_reception_number, reception_number
from server.counter.slip import SlipRenderer
from server.db.models import Municipality
from server.issuance.states import (
    Channel,
    InvalidTransition,
    IssuanceEvent,
    IssuanceState,
    next_state,
    printed_event,
)
from server.municipal.onboarding import OnboardingRequest
from server.municipal.staff import tax_years_setting
from server.settlement.fees import BCL_ISSUING_FEE_YEN, charges_for_copy
from server.settlement.ledger import Account, copy_postings

S, E = IssuanceState, IssuanceEvent


def test_a_counter_copy_waits_for_the_clerk_between_printing_and_issued() -> None:
    printed = next_state(S.PRINTING, printed_event(Channel.COUNTER))
    assert printed is S.AWAITING_HANDOVER
    assert next_state(printed, E.HAND_OVER) is S.ISSUED
    assert next_state(printed, E.EXPIRE) is S.VOIDED  # never collected
    assert next_state(printed, E.WITHHOLD) is S.VOIDED  # 交付抑止 set since it printed


def test_a_kiosk_copy_is_issued_when_it_prints_and_never_waits_for_a_clerk() -> None:
    assert next_state(S.PRINTING, printed_event(Channel.KIOSK)) is S.ISSUED
    with pytest.raises(InvalidTransition):
        next_state(S.PRINTING, E.HAND_OVER)


@pytest.mark.parametrize("event", [E.PRINTED, E.PRINT_FAILED, E.CANCEL, E.ISSUE])
def test_a_copy_waiting_at_the_counter_moves_only_by_hand_over_or_expiry(
    event: IssuanceEvent,
) -> None:
    with pytest.raises(InvalidTransition):
        next_state(S.AWAITING_HANDOVER, event)


@pytest.mark.parametrize("backend", list(IssuingBackend))
def test_a_counter_copy_owes_no_commission_but_the_bcl_fee_still_applies(
    backend: IssuingBackend,
) -> None:
    charges = charges_for_copy(fee_yen=300, backend=backend, channel=Channel.COUNTER)
    assert charges.commission_yen == 0
    assert charges.bcl_fee_yen == (BCL_ISSUING_FEE_YEN if backend is IssuingBackend.BCL else 0)
    kiosk = charges_for_copy(fee_yen=300, backend=backend)
    assert kiosk.commission_yen == 117 and kiosk.bcl_fee_yen == charges.bcl_fee_yen


def test_a_counter_copy_books_the_fee_to_the_counter_till_not_to_an_operator() -> None:
    charges = charges_for_copy(fee_yen=300, backend=IssuingBackend.BCL, channel=Channel.COUNTER)
    postings = {p.account: p.amount_yen for p in copy_postings(charges, Channel.COUNTER)}
    assert postings == {
        Account.COUNTER_CASH: 300,
        Account.FEE_INCOME: -300,
        Account.BCL_FEE_EXPENSE: 180,
        Account.BCL_FEE_ACCRUED: -180,
    }


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    sequence=st.integers(min_value=1, max_value=9999),
)
def test_reception_numbers_are_what_the_clerk_can_type_back(day: date, sequence: int) -> None:
    number = reception_number(day, sequence)
    assert check_reception_number(f" {number} ") == number
    assert number.startswith(f"{day:%Y%m%d}-") and int(number[-4:]) == sequence


def test_a_day_has_at_most_9999_reception_numbers_and_a_typo_is_invalid_argument() -> None:
    with pytest.raises(FailedPrecondition):
        reception_number(date(2026, 11, 26), 10_000)
    for typo in ("2026112-0001", "20261126-001", "20261126_0001", ""):
        with pytest.raises(InvalidArgument):
            check_reception_number(typo)


SLIP = ReceptionSlip(
    reception_number="20260401-0007",
    municipality_name="東京都千代田区",
    certificate_title="住民票の写し",
    copies=1,
    pages=2,
    fee_yen=1300,
    printed_at=datetime(2026, 4, 1, 1, 0, tzinfo=UTC),
    collect_by=datetime(2026, 4, 1, 5, 0, tzinfo=UTC),
    terminal_id="C13101601",
)


@pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="IPAex明朝 is not installed")
def test_the_slip_shows_the_number_what_and_what_to_pay_and_renders_the_same_twice() -> None:
    renderer = SlipRenderer(DEFAULT_FONT)
    pdf = renderer.render(SLIP)
    assert renderer.render(SLIP) == pdf
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    for expected in (
        "受付票",
        "20260401-0007",
        "住民票の写し",
        "1通（2枚）",
        "1,300円",
        "10時00分",
    ):
        assert expected in text, expected


def _municipality(tax_fiscal_years: int | None) -> Municipality:
    return Municipality(
        code="131016",
        prefecture="東京都",
        name="千代田区",
        mayor_title="区長",
        mayor_name="千代田　太郎",
        municipality_class="city_50k",
        backend="bcl",
        population=68_000,
        joined_on=date(2016, 1, 1),
        tax_fiscal_years=tax_fiscal_years,
    )


def test_each_municipality_has_its_own_range_of_tax_years_or_the_default() -> None:
    today = date(2026, 7, 1)
    assert tax_years_setting(_municipality(None)).offered(today) == (2026, 2025, 2024)
    assert tax_years_setting(_municipality(5)).offered(today) == (2026, 2025, 2024, 2023, 2022)
    assert tax_years_setting(_municipality(1)).offered(today - timedelta(days=31)) == (2025,)


@pytest.mark.parametrize("years", [0, 11])
def test_onboarding_refuses_a_range_of_tax_years_outside_1_to_10(years: int) -> None:
    with pytest.raises(InvalidArgument):
        OnboardingRequest(
            code="131016",
            population=68_000,
            joined_on=date(2016, 1, 1),
            backend=IssuingBackend.BCL,
            mayor_name="千代田　太郎",
            tax_fiscal_years=years,
        )
