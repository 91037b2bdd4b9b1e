"""A 住民票 shows the household of the resident who asked for it (its 世帯主 and whether the
copy is of the whole household), also when they are not on the copy themselves."""

from __future__ import annotations

from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from hardware_sim.printer import KioskPrinter
from tests.integration.conftest import Bench
from tests.integration.test_kiosk_visits import pdf_text


def test_juminhyo_of_one_other_member_names_the_requesters_head_and_a_part_of_the_household(
    bench: Bench,
) -> None:
    me = bench.take(lambda r: not r.is_household_head and len(bench.household(r)) >= 3)
    household = bench.household(me)
    head = next(r for r in household if r.is_household_head)
    other = next(r for r in household if r is not me and not r.is_household_head)
    outcome = bench.terminal(KioskPrinter("P1")).visit(
        bench.reader(me),
        bench.pin(me),
        Order(
            CertificateChoice.JUMINHYO,
            (f"{other.family_name}　{other.given_name}",),
            include_head_and_relationship=True,
        ),
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    text = pdf_text(outcome.pdf)
    assert head.given_name in text and other.given_name in text
    assert me.given_name not in text
    assert "世帯の一部" in text and "世帯全員" not in text


def test_juminhyo_of_the_whole_household_says_so(bench: Bench) -> None:
    me = bench.take(lambda r: not r.is_household_head and len(bench.household(r)) >= 2)
    outcome = bench.terminal(KioskPrinter("P1")).visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO, "household")
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    text = pdf_text(outcome.pdf)
    assert all(r.given_name in text for r in bench.household(me))
    assert "世帯全員" in text and "世帯の一部" not in text
