"""Any kiosk in the country, and a resident with more than one certificate."""

from __future__ import annotations

import io
from datetime import UTC, timedelta

import pypdf

from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from hardware_sim.card.credentials import TokenKind
from tests.integration.conftest import Bench


def test_a_kiosk_in_another_municipality_issues_and_records_where_it_stood(bench: Bench) -> None:
    me = bench.take()
    bench.sql_write(
        "INSERT INTO kiosks (kiosk_id, operator_id, store_name, municipality_code, active)"
        " VALUES ('K14100399', 'lawson', 'ローソン 横浜駅前店', '141003', :a)",
        a=True,
    )
    outcome = bench.terminal(kiosk_id="K14100399").visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.ISSUED
    rows = bench.sql(
        "SELECT municipality_code, kiosk_municipality_code, operator_id FROM settlement_entries"
        " WHERE issue_number = :n",
        n=outcome.issue_number,
    )
    assert rows == [(bench.seeded.profile.code, "141003", "lawson")]


def test_a_renewed_card_works_and_revoking_the_old_one_leaves_it_working(bench: Bench) -> None:
    me = bench.take()
    old_card = bench.seeded.cards[me.resident_id]
    new_card = bench.authority.issue_card(
        me.resident_id, token=TokenKind.CARD, pin="2468", sign_password="RENEW2026"
    )
    [(resident_pk,)] = bench.sql(
        "SELECT id FROM residents WHERE resident_id = :r", r=me.resident_id
    )
    bench.sql_write(
        "INSERT INTO card_serials (serial, resident_pk, token, linked_at, active)"
        " VALUES (:s, :pk, 'JPKIAPICCTOKEN2', :at, :a)",
        s=str(bench.serial_of(new_card)),
        pk=resident_pk,
        at=bench.clock.now.astimezone(UTC),
        a=True,
    )
    bench.authority.revoke(bench.serial_of(old_card))
    order = Order(CertificateChoice.JUMINHYO)
    old = bench.terminal().visit(bench.reader_for_card(old_card), old_card.auth_pin, order)
    new = bench.terminal().visit(bench.reader_for_card(new_card), "2468", order)
    assert old.status is VisitStatus.AUTH_REFUSED
    assert old.error is not None and old.error.reason == "CERTIFICATE_REVOKED"
    assert new.status is VisitStatus.ISSUED
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(new.pdf)).pages)
    assert me.given_name in text  # the new serial maps to the same resident


def test_a_certificate_not_linked_to_any_resident_is_refused(bench: Bench) -> None:
    stray = bench.authority.issue_card("nobody", pin="1357", sign_password="STRAY123")
    outcome = bench.terminal().visit(
        bench.reader_for_card(stray), "1357", Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.AUTH_REFUSED
    assert outcome.error is not None and outcome.error.reason == "CERTIFICATE_NOT_REGISTERED"


def test_used_challenges_and_old_sessions_are_purged_after_a_day(bench: Bench) -> None:
    me = bench.take()
    assert (
        bench.terminal()
        .visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
        .status
        is VisitStatus.ISSUED
    )
    saved = bench.clock.now
    try:
        bench.clock.advance(timedelta(days=2))
        assert bench.center.authenticator.purge_expired() > 0
        assert bench.sql(
            "SELECT count(*) FROM auth_challenges WHERE expires_at < :t",
            t=(bench.clock.now - timedelta(days=1)).astimezone(UTC),
        ) == [(0,)]
        # Settled copies keep what they need: the books are untouched.
        (settled,) = bench.sql("SELECT count(*) FROM settlement_entries")[0]
        assert isinstance(settled, int) and settled >= 1
    finally:
        bench.clock.now = saved


def test_a_resident_removed_from_the_register_can_no_longer_authenticate(bench: Bench) -> None:
    me = bench.take()
    bench.sql_write(
        "UPDATE residents SET removed_on = :d, removed_reason = '転出' WHERE resident_id = :r",
        d=bench.clock.now.date(),
        r=me.resident_id,
    )
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.AUTH_REFUSED
    assert outcome.error is not None and outcome.error.reason == "CERTIFICATE_NOT_REGISTERED"
