"""The kiosk scenario list, run over every transport (STYLE 12).

Each scenario runs with the card or phone on the in-process reader and on a PC/SC reader of the
real pcscd (vsmartcard's vpcd, through pyscard; skipped with the reason when pcscd is absent, run
for real in CI), over each database backend, against the center over mutual TLS:
happy path, wrong PIN, lockout, revoked card, card removed mid-session, printer out of paper
(and a copy that cannot come out whole), phone with biometrics, phone with PIN.

A PC/SC session's card side is the vector `tests/vectors/jpki_apdu/kiosk_session_pcsc.txt`,
rewritten with `KONBINI_REGEN_VECTORS=1`; the in-process session must be the same conversation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.cli import main as konbini
from clients.kiosk.jpki import JpkiClient
from clients.kiosk.payment import EmulatedTill
from clients.kiosk.pcsc import PcscReader
from clients.kiosk.terminal import (
    CertificateChoice,
    KioskStep,
    KioskTerminal,
    Order,
    VisitOutcome,
    VisitStatus,
)
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.credentials import TokenKind
from hardware_sim.card.phone import Phone, Unlocked
from hardware_sim.printer import KioskPrinter, PrinterFault
from server.bcl.records import ResidentRecord
from tests.hil.transcripts import (
    assert_matches,
    check_self_consistent,
    exchanges_of,
    format_transcript,
    notes,
    parse_transcript,
)
from tests.hil.transports import PcscTransport, Transport
from tests.integration.conftest import PHONE_PIN, Bench
from tests.vectors.loader import VECTORS_DIR, load_vector

JUMINHYO = Order(CertificateChoice.JUMINHYO)
HOUSEHOLD = Order(CertificateChoice.JUMINHYO, "household")
TRANSCRIPT = "jpki_apdu/kiosk_session_pcsc.txt"
TRANSCRIPT_PIN = "1234"
REGENERATE = os.environ.get("KONBINI_REGEN_VECTORS") == "1"


@dataclass
class Kiosk:
    """One kiosk's devices, fresh per scenario."""

    terminal: KioskTerminal
    printer: KioskPrinter
    till: EmulatedTill


def kiosk(bench: Bench, printer: KioskPrinter | None = None) -> Kiosk:
    printer = printer or KioskPrinter("P1")
    till = EmulatedTill()
    return Kiosk(bench.terminal(printer, till=till), printer, till)


def card(bench: Bench, resident: ResidentRecord) -> JpkiApplet:
    return JpkiApplet(bench.seeded.cards[resident.resident_id])


def wrong_pin_for(right: str) -> str:
    return "9999" if right != "9999" else "9998"


def states_of(bench: Bench, resident: ResidentRecord) -> list[object]:
    """The state of every copy the resident asked for, oldest first."""
    rows = bench.sql(
        "SELECT i.state FROM issuances i JOIN residents r ON r.id = i.requester_pk"
        " WHERE r.resident_id = :rid ORDER BY i.reserved_at",
        rid=resident.resident_id,
    )
    return [row[0] for row in rows]


def settled_yen(bench: Bench, resident: ResidentRecord) -> int:
    [(total,)] = bench.sql(
        "SELECT COALESCE(SUM(s.fee_yen), 0) FROM settlement_entries s"
        " JOIN issuances i ON i.id = s.issuance_id JOIN residents r ON r.id = i.requester_pk"
        " WHERE r.resident_id = :rid",
        rid=resident.resident_id,
    )
    assert isinstance(total, int)
    return total


def serial_of_session(bench: Bench, outcome: VisitOutcome) -> str:
    [(serial,)] = bench.sql(
        "SELECT s.card_serial FROM issuances i"
        " JOIN kiosk_sessions s ON s.token_sha256 = i.session_token_sha256"
        " WHERE i.issue_number = :n",
        n=outcome.issue_number,
    )
    return str(serial)


def assert_nothing_kept(bench: Bench, resident: ResidentRecord, k: Kiosk, o: VisitOutcome) -> None:
    assert o.kept_yen == 0 and k.till.balance_yen == 0
    assert o.charged_yen == 0 and settled_yen(bench, resident) == 0


def fee(bench: Bench) -> int:
    return bench.seeded.profile.fees["juminhyo"]


def head_of_a_two_page_household(bench: Bench) -> ResidentRecord:
    # A 住民票 sheet holds 3 persons above the certification: 4 or more take two sheets.
    return bench.take(lambda r: r.is_household_head and len(bench.household(r)) >= 4)


# -- the card -----------------------------------------------------------------------------------


def test_happy_path_prints_the_copy_and_charges_its_fee(bench: Bench, transport: Transport) -> None:
    me = bench.take()
    k = kiosk(bench)
    outcome = k.terminal.visit(transport.tap(card(bench, me)), bench.pin(me), JUMINHYO)
    assert outcome.status is VisitStatus.ISSUED, outcome
    assert outcome.token is TokenKind.CARD
    assert outcome.charged_yen == outcome.kept_yen == k.till.balance_yen == fee(bench)
    assert settled_yen(bench, me) == fee(bench)
    assert states_of(bench, me) == ["issued"]
    [printed] = k.printer.printed
    assert printed.complete and printed.pdf == outcome.pdf


def test_a_wrong_pin_shows_the_tries_left_and_the_right_one_still_works(
    bench: Bench, transport: Transport
) -> None:
    me = bench.take()
    k = kiosk(bench)
    connection = transport.tap(card(bench, me))
    wrong = k.terminal.visit(connection, wrong_pin_for(bench.pin(me)), JUMINHYO)
    assert (wrong.status, wrong.tries_left) == (VisitStatus.WRONG_PIN, 2)
    assert states_of(bench, me) == [] and k.till.collected == []
    right = k.terminal.visit(connection, bench.pin(me), JUMINHYO)
    assert right.status is VisitStatus.ISSUED
    client = JpkiClient(connection)
    client.select_ap()
    assert client.auth_pin_tries_left() == 3  # a right PIN resets the counter


def test_no_pin_entered_for_a_card_costs_no_try(bench: Bench, transport: Transport) -> None:
    me = bench.take()
    connection = transport.tap(card(bench, me))
    outcome = kiosk(bench).terminal.visit(connection, None, JUMINHYO)
    assert outcome.status is VisitStatus.PIN_REQUIRED
    client = JpkiClient(connection)
    client.select_ap()
    assert client.auth_pin_tries_left() == 3


def test_the_third_wrong_pin_locks_the_card_for_good(bench: Bench, transport: Transport) -> None:
    me = bench.take()
    k = kiosk(bench)
    connection = transport.tap(card(bench, me))
    wrong = wrong_pin_for(bench.pin(me))
    outcomes = [k.terminal.visit(connection, wrong, JUMINHYO) for _ in range(3)]
    assert [(o.status, o.tries_left) for o in outcomes] == [
        (VisitStatus.WRONG_PIN, 2),
        (VisitStatus.WRONG_PIN, 1),
        (VisitStatus.CARD_LOCKED, 0),
    ]
    # Locked for good: the card answers 6984 before any PIN is sent, even the right one.
    assert k.terminal.visit(connection, bench.pin(me), JUMINHYO).status is VisitStatus.CARD_LOCKED
    client = JpkiClient(connection)
    client.select_ap()
    assert client.verify_auth_pin(bench.pin(me)).blocked
    assert states_of(bench, me) == [] and k.till.collected == []


def test_a_revoked_card_is_refused_with_the_reason(bench: Bench, transport: Transport) -> None:
    me = bench.take()
    bench.authority.revoke(bench.serial_of(bench.seeded.cards[me.resident_id]))
    k = kiosk(bench)
    outcome = k.terminal.visit(transport.tap(card(bench, me)), bench.pin(me), JUMINHYO)
    assert outcome.status is VisitStatus.AUTH_REFUSED
    assert outcome.error is not None and outcome.error.reason == "CERTIFICATE_REVOKED"
    assert states_of(bench, me) == [] and k.till.collected == []


@pytest.mark.parametrize(
    "step",
    [KioskStep.RESERVED, KioskStep.PAID, KioskStep.COPY_RECEIVED],
    ids=["before-paying", "after-paying", "before-printing"],
)
def test_a_card_removed_mid_session_voids_the_copy_and_charges_nothing(
    bench: Bench, transport: Transport, step: KioskStep
) -> None:
    me = bench.take()
    k = kiosk(bench)
    connection = transport.tap(card(bench, me))

    def resident_walks_off(now: KioskStep) -> None:
        if now is step:
            transport.pull()

    outcome = k.terminal.visit(connection, bench.pin(me), JUMINHYO, on_step=resident_walks_off)
    assert outcome.status is VisitStatus.CARD_REMOVED, outcome
    assert states_of(bench, me) == ["voided"]  # cancelled, reserved or already printing
    assert_nothing_kept(bench, me, k, outcome)
    paid = 0 if step is KioskStep.RESERVED else fee(bench)
    assert outcome.refunded_yen == outcome.paid_yen == paid
    assert k.printer.printed == []


# -- the printer ----------------------------------------------------------------------------------


def test_a_printer_out_of_paper_is_refused_before_reserving_or_taking_money(
    bench: Bench, transport: Transport
) -> None:
    me = bench.take()
    k = kiosk(bench)
    k.printer.inject(PrinterFault.OUT_OF_PAPER)
    outcome = k.terminal.visit(transport.tap(card(bench, me)), bench.pin(me), JUMINHYO)
    assert outcome.status is VisitStatus.PRINTER_NOT_READY
    assert states_of(bench, me) == []  # nothing reserved
    assert k.till.collected == [] and outcome.paid_yen == 0


def test_too_little_paper_for_a_two_page_copy_voids_it_before_a_sheet_is_wasted(
    bench: Bench, transport: Transport
) -> None:
    head = head_of_a_two_page_household(bench)
    k = kiosk(bench, KioskPrinter("P1", paper_sheets=1))
    outcome = k.terminal.visit(transport.tap(card(bench, head)), bench.pin(head), HOUSEHOLD)
    assert outcome.status is VisitStatus.PRINT_FAILED
    assert outcome.paid_yen == outcome.refunded_yen > 0
    assert_nothing_kept(bench, head, k, outcome)
    assert states_of(bench, head) == ["voided"]
    assert k.printer.printed == [] and k.printer.status().paper_left == 1


def test_a_jam_part_way_through_a_two_page_copy_voids_the_whole_copy(
    bench: Bench, transport: Transport, tmp_path: Path
) -> None:
    head = head_of_a_two_page_household(bench)
    k = kiosk(bench)
    k.printer.inject_mid_job(PrinterFault.JAM, after_pages=1)
    outcome = k.terminal.visit(transport.tap(card(bench, head)), bench.pin(head), HOUSEHOLD)
    assert outcome.status is VisitStatus.PRINT_FAILED
    assert_nothing_kept(bench, head, k, outcome)
    assert states_of(bench, head) == ["voided"]
    [partial] = k.printer.printed  # the sheet that came out is kept for inspection
    assert (partial.pages, partial.pages_printed, partial.complete) == (2, 1, False)
    [sheet] = partial.sheets()
    (tmp_path / "sheet-1.pdf").write_bytes(sheet)
    assert sheet.startswith(b"%PDF")


# -- phones -------------------------------------------------------------------------------------


def test_an_android_phone_unlocked_with_biometrics_needs_no_pin(
    bench: Bench, transport: Transport
) -> None:
    me = bench.take()
    credentials = bench.issue_linked(me, TokenKind.ANDROID)
    phone = Phone.android(credentials, biometrics=True)
    assert isinstance(phone.authenticate_user(), Unlocked)
    k = kiosk(bench)
    outcome = k.terminal.visit(transport.tap(phone), None, JUMINHYO)
    assert outcome.status is VisitStatus.ISSUED, outcome
    assert outcome.token is TokenKind.ANDROID
    assert serial_of_session(bench, outcome) == str(bench.serial_of(credentials))
    assert outcome.kept_yen == fee(bench)
    sent_pins = [n for n in notes(exchanges_of(transport.transcript())) if n.startswith("VERIFY ")]
    assert sent_pins == ["VERIFY (no data: is the PIN still needed?)"]  # no PIN crossed the reader
    assert not phone.unlocked  # one unlock, one authentication


def test_an_iphone_asks_for_face_id_first_then_issues_without_a_pin(
    bench: Bench, transport: Transport
) -> None:
    me = bench.take()
    phone = Phone.iphone(bench.issue_linked(me, TokenKind.IPHONE))
    k = kiosk(bench)
    first = k.terminal.visit(transport.tap(phone), None, JUMINHYO)
    assert first.status is VisitStatus.AUTHENTICATE_ON_PHONE
    assert first.token is TokenKind.IPHONE and "スマートフォン" in first.screen
    assert states_of(bench, me) == [] and k.till.collected == []
    phone.authenticate_user()  # Face ID
    again = k.terminal.visit(transport.tap(phone), None, JUMINHYO)
    assert again.status is VisitStatus.ISSUED, again
    assert again.token is TokenKind.IPHONE


def test_an_android_phone_has_its_own_pin(bench: Bench, transport: Transport) -> None:
    me = bench.take()
    phone = Phone.android(bench.issue_linked(me, TokenKind.ANDROID))  # PIN mode
    k = kiosk(bench)
    connection = transport.tap(phone)
    card_pin = bench.pin(me) if bench.pin(me) != PHONE_PIN else wrong_pin_for(PHONE_PIN)
    wrong = k.terminal.visit(connection, card_pin, JUMINHYO)
    assert (wrong.status, wrong.tries_left, wrong.token) == (
        VisitStatus.WRONG_PIN,
        2,
        TokenKind.ANDROID,
    )
    right = k.terminal.visit(connection, PHONE_PIN, JUMINHYO)
    assert right.status is VisitStatus.ISSUED and right.token is TokenKind.ANDROID


def test_a_lost_phone_is_revoked_alone_and_the_card_keeps_working(
    bench: Bench, transport: Transport
) -> None:
    me = bench.take()
    lost = bench.issue_linked(me, TokenKind.ANDROID)
    bench.authority.revoke(bench.serial_of(lost))
    k = kiosk(bench)
    phone = k.terminal.visit(transport.tap(Phone.android(lost)), PHONE_PIN, JUMINHYO)
    assert (phone.status, phone.token) == (VisitStatus.AUTH_REFUSED, TokenKind.ANDROID)
    assert phone.error is not None and phone.error.reason == "CERTIFICATE_REVOKED"
    with_card = k.terminal.visit(transport.tap(card(bench, me)), bench.pin(me), JUMINHYO)
    assert with_card.status is VisitStatus.ISSUED


# -- the session on the wire ----------------------------------------------------------------------

TRANSCRIPT_HEADER = (
    "One kiosk session, card side: KioskTerminal.visit (clients/kiosk/terminal.py) with a",
    "My Number Card in a PC/SC reader (pcscd + vsmartcard vpcd), the center over mTLS.",
    "Captured on the card's side of the vpcd socket. Provenance and format: README.md here.",
    "Regenerate: KONBINI_REGEN_VECTORS=1 pytest tests/integration/test_transports.py -k vector",
)


def test_a_kiosk_session_is_the_apdu_conversation_of_the_vector(
    bench: Bench, transport: Transport
) -> None:
    me = bench.take()
    renewed = bench.issue_linked(me, TokenKind.CARD, pin=TRANSCRIPT_PIN)  # a known PIN
    outcome = kiosk(bench).terminal.visit(
        transport.tap(JpkiApplet(renewed)), TRANSCRIPT_PIN, JUMINHYO
    )
    assert outcome.status is VisitStatus.ISSUED
    live = exchanges_of(transport.transcript())
    check_self_consistent(live)
    if REGENERATE and transport.name == "pcsc":
        (VECTORS_DIR / TRANSCRIPT).write_text(
            format_transcript(live, TRANSCRIPT_HEADER), encoding="utf-8"
        )
    raw = load_vector(TRANSCRIPT)
    assert isinstance(raw, bytes)
    golden = parse_transcript(raw.decode("utf-8"))
    check_self_consistent(golden)
    assert_matches(live, golden, fresh_session=True)


# -- the kiosk command -------------------------------------------------------------------------


def test_the_kiosk_command_runs_a_session_on_the_chosen_reader(
    bench: Bench, transport: Transport, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    me = bench.take()
    card_file = tmp_path / "card.json"
    card_file.write_text(bench.seeded.cards[me.resident_id].to_json(), encoding="utf-8")
    tls = bench.kiosk_tls(bench.kiosk_id)
    paths = {}
    for name, pem in (("cert", tls.cert_pem), ("key", tls.key_pem), ("ca", tls.server_ca_pem)):
        paths[name] = tmp_path / f"{name}.pem"
        paths[name].write_bytes(pem)
    reader = ["--reader", "emulated"]
    if isinstance(transport, PcscTransport):
        transport.close()  # the command inserts the card into the slot itself
        reader = ["--reader", "pcsc", "--reader-name", transport.reader_name]
    code = konbini(
        [
            "kiosk",
            "--server",
            bench.target,
            "--kiosk-id",
            bench.kiosk_id,
            "--card",
            str(card_file),
            "--pin",
            bench.pin(me),
            *reader,
            "--client-cert",
            str(paths["cert"]),
            "--client-key",
            str(paths["key"]),
            "--server-ca",
            str(paths["ca"]),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.startswith("issued:")
    assert list((tmp_path / "out").glob("juminhyo-*.pdf"))
    if isinstance(transport, PcscTransport):  # the next scenario starts with an empty slot
        assert PcscReader(transport.reader_name).wait_until_removed(10.0)
