"""A counter terminal in the 本籍地's town hall issues that town's 戸籍 to a resident of another
municipality once the 本籍地 approved their 利用登録 — and nothing of where they live: a counter
terminal issues, and its clerks take the fee for, only its own municipality's certificates."""

from __future__ import annotations

from konbini.staff.v1 import staff_pb2

from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitStatus
from hardware_sim.printer import KioskPrinter
from server.kiosks.registry import KioskRegistry, counter_operator_id
from tests.integration.conftest import OSAKA, Bench
from tests.integration.test_certificates import pages_text
from tests.integration.test_honseki_registration import (  # noqa: F401 (fixtures)
    OSAKA_HONSEKI,
    bearer,
    family_in_osaka,
    osaka,
    osaka_staff,
    staff,
)


def test_the_honsekichi_counter_hands_over_its_koseki_to_a_resident_of_another_town(
    bench: Bench,
    osaka_staff: str,  # noqa: F811
) -> None:
    me = family_in_osaka(bench, "OSK-C001")[0]
    filed = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), OSAKA)
    staff(bench).ApproveHonsekiRequest(
        staff_pb2.ApproveHonsekiRequestRequest(
            registration_id=filed.registration_id, koseki_id="OSK-C001", member_no=1
        ),
        metadata=bearer(osaka_staff),
    )
    KioskRegistry(bench.center.engine).register_counter_terminal(
        f"C{OSAKA}01", municipality_code=OSAKA, location="北区役所 戸籍登録課"
    )
    counter, slips = KioskPrinter("CP1"), KioskPrinter("SLIP1")
    terminal = KioskTerminal(
        bench.channel_for(f"C{OSAKA}01"),
        kiosk_id=f"C{OSAKA}01",
        printer=slips,
        counter_printer=counter,
    )
    # Where the resident lives (千代田区) is not this counter's to issue.
    juminhyo = terminal.visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
    assert juminhyo.status is VisitStatus.NOT_OFFERED, juminhyo
    done = terminal.visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.KOSEKI_ZENBU))
    assert done.status is VisitStatus.AWAITING_HANDOVER, done
    assert OSAKA_HONSEKI in "".join(pages_text(counter.printed[0].pdf))
    assert done.fee_due_yen == 450 and len(slips.printed) == 1
    handed = staff(bench).HandOverCounterCopy(
        staff_pb2.HandOverCounterCopyRequest(reception_number=done.reception_number),
        metadata=bearer(osaka_staff),
    )
    assert (handed.state, handed.fee_yen) == ("issued", 450)
    assert bench.sql(
        "SELECT municipality_code, fee_yen, commission_yen, operator_id FROM settlement_entries"
        " WHERE issue_number = :n",
        n=done.issue_number,
    ) == [(OSAKA, 450, 0, counter_operator_id(OSAKA))]
