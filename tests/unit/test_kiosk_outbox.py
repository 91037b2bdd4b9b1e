"""The kiosk's outbox of unacknowledged print reports survives a restart and a damaged line."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc
from konbini.issuance.v1 import issuance_pb2

from clients.kiosk.terminal import KioskTerminal
from hardware_sim.printer import KioskPrinter


def _terminal(outbox: Path) -> KioskTerminal:
    # The channel is never used: nothing is sent while the terminal starts.
    return KioskTerminal(
        grpc.insecure_channel("127.0.0.1:9"),
        kiosk_id="K13101601",
        printer=KioskPrinter("P1"),
        outbox_path=outbox,
    )


def _line(issuance_id: str) -> str:
    request = issuance_pb2.ReportPrintResultRequest(
        session_token="t", issuance_id=issuance_id, outcome=issuance_pb2.PRINT_OUTCOME_PRINTED
    )
    return base64.b64encode(request.SerializeToString()).decode()


def test_a_damaged_outbox_line_is_set_aside_and_the_readable_reports_are_kept(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox"
    outbox.write_text(f"{_line('a')}\nnot base64 at all!\n{_line('b')}\n")

    terminal = _terminal(outbox)

    assert [r.issuance_id for r in terminal.pending_reports] == ["a", "b"]
    assert (tmp_path / "outbox.unreadable").read_text() == "not base64 at all!\n"
    # The outbox on disk now holds only what can be sent; a second start finds the same.
    assert [r.issuance_id for r in _terminal(outbox).pending_reports] == ["a", "b"]
