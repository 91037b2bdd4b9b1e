"""Checking the books against what the kiosks saw, after the faults.

The rules (SPEC section 4): no copy is charged unless it was printed; a failed or abandoned copy
is voided and costs nothing; a retried request never issues or charges twice. So, copy by copy:

- printed at a kiosk  → ISSUED, one settlement row, one journal entry `copy:<id>`, the fee the
  kiosk was quoted, and the issue number the kiosk printed;
- anything else (failed print, walked away, a reservation whose answer was lost) → VOIDED, one
  line in the void log, no settlement row, no journal entry;
- an idempotency key names one copy only, and every answer to it named the same copy;
- every state change is in the transition log, written with the change: a copy's history
  leads from RESERVED to the state it is in, nothing half-written;
- the journal balances: every entry sums to zero (`unbalanced_entries`) and so does the trial
  balance, whose fee income is exactly the fees of the printed copies.

Every discrepancy is a line in `differences`; the tests require there be none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.common.clock import system_clock
from server.issuance.documents import CertificateDocument
from server.issuance.service import IssuanceDesk
from server.settlement.ledger import Account, trial_balance, unbalanced_entries
from tests.faults.kiosks import CopyRecord


@dataclass(frozen=True)
class BooksAudit:
    issuances: int  # rows checked in the database
    printed: int  # copies the kiosks saw come out of the printer
    issued: int
    voided: int
    voided_by_sweeper: int
    still_open: int  # RESERVED or PRINTING (must be 0 once the sweeper ran)
    settlement_rows: int
    journal_copy_entries: int
    fee_income_yen: int  # minus the credit balance of fee_income
    differences: tuple[str, ...]

    @property
    def copies_checked(self) -> int:
        return self.issuances


def audit_books(
    engine: Engine, copies: Sequence[CopyRecord], *, require_closed: bool = True
) -> BooksAudit:
    """Compare the database with the kiosks' notebook; see the module docstring."""
    diffs: list[str] = []
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, state, idempotency_key, issue_number, fee_yen, void_reason "
                "FROM issuances"
            )
        ).all()
        settled = Counter(
            r[0] for r in conn.execute(sa.text("SELECT issuance_id FROM settlement_entries"))
        )
        settled_fee: dict[str, int] = dict(
            conn.execute(sa.text("SELECT issuance_id, fee_yen FROM settlement_entries")).all()
        )
        journal = Counter(
            r[0]
            for r in conn.execute(
                sa.text("SELECT issuance_id FROM ledger_entries WHERE kind = 'copy_issued'")
            )
        )
        keys = Counter(
            r[0]
            for r in conn.execute(
                sa.text("SELECT entry_key FROM ledger_entries WHERE kind = 'copy_issued'")
            )
        )
        void_log = Counter(
            r[0] for r in conn.execute(sa.text("SELECT issuance_id FROM voided_copies"))
        )
        history: dict[str, list[tuple[str, str]]] = {}
        for iid, src, dst in conn.execute(
            sa.text(
                "SELECT issuance_id, from_state, to_state FROM issuance_transitions ORDER BY id"
            )
        ):
            history.setdefault(iid, []).append((src, dst))
        # Reservations the sweeper voided before their time (there must be none).
        early = conn.execute(
            sa.text(
                "SELECT i.id FROM issuances i JOIN issuance_transitions t ON t.issuance_id = i.id "
                "WHERE t.from_state = 'reserved' AND t.to_state = 'voided' "
                "AND t.reason = 'timed out' AND t.at < i.expires_at"
            )
        ).all()
    by_id = {r[0]: r for r in rows}
    diffs += [f"{r[0]} was voided by the sweeper before it expired" for r in early]
    state = {r[0]: r[1] for r in rows}

    printed = [c for c in copies if c.printed]
    printed_ids = {c.issuance_id for c in printed}
    if len(printed_ids) != len(printed):
        diffs.append("two printed copies carry the same issuance id")
    for c in printed:
        row = by_id.get(c.issuance_id)
        if row is None:
            diffs.append(f"printed {c.issue_number} ({c.issuance_id}) is not in the database")
            continue
        if row[1] != "issued":
            diffs.append(f"printed {c.issue_number} is {row[1]}, not issued")
        if settled[c.issuance_id] != 1:
            diffs.append(f"printed {c.issue_number} has {settled[c.issuance_id]} settlement rows")
        if journal[c.issuance_id] != 1:
            diffs.append(f"printed {c.issue_number} has {journal[c.issuance_id]} journal entries")
        if keys[f"copy:{c.issuance_id}"] != 1:
            diffs.append(f"printed {c.issue_number} has no journal entry under its key")
        if settled_fee.get(c.issuance_id, c.fee_yen) != c.fee_yen or row[4] != c.fee_yen:
            diffs.append(f"printed {c.issue_number} was quoted {c.fee_yen} yen, charged otherwise")
        if row[3] != c.issue_number:
            diffs.append(f"printed {c.issue_number} is numbered {row[3]} in the database")
        if row[2] != c.idempotency_key:
            diffs.append(f"printed {c.issue_number} is filed under another idempotency key")
        if c.final_state not in ("issued", ""):
            diffs.append(f"printed {c.issue_number} was answered {c.final_state}")
        if c.final_state == "issued" and c.charged_yen != c.fee_yen:
            diffs.append(f"printed {c.issue_number}: kiosk told {c.charged_yen} yen charged")

    for c in copies:
        if c.different_answers:
            diffs.append(
                f"key {c.idempotency_key} was answered with {c.different_answers} other copies"
            )
        if not c.printed and c.issuance_id and state.get(c.issuance_id) == "issued":
            diffs.append(f"{c.issue_number} never printed ({c.plan.value}) but is issued")
        if not c.printed and c.final_state == "issued":
            diffs.append(f"{c.issue_number} never printed but the center answered issued")

    key_owner = Counter(r[2] for r in rows if r[2] is not None)
    for key, n in key_owner.items():
        if n > 1:
            diffs.append(f"idempotency key {key} is on {n} issuances")
    issued_numbers = Counter(r[3] for r in rows if r[1] == "issued")
    for number, n in issued_numbers.items():
        if n > 1:
            diffs.append(f"issue number {number} was issued {n} times")

    still_open = 0
    for r in rows:
        iid, st = r[0], r[1]
        path = history.get(iid, [])
        walked = "reserved"
        for src, dst in path:
            if src != walked:
                diffs.append(f"{iid}: transition {src}->{dst} from {walked}")
            walked = dst
        if walked != st:
            diffs.append(f"{iid} is {st} but its transitions end at {walked}")
        if st == "issued" and iid not in printed_ids:
            diffs.append(f"{r[3]} is issued (and charged) but no kiosk printed it")
        if st == "voided":
            if settled[iid] or journal[iid]:
                diffs.append(f"voided {iid} was charged")
            if void_log[iid] != 1:
                diffs.append(f"voided {iid} has {void_log[iid]} lines in the void log")
        if st in ("reserved", "printing"):
            still_open += 1
            if require_closed:
                diffs.append(f"{iid} is still {st}")
    for iid in set(settled) | set(journal):
        if state.get(iid) != "issued":
            diffs.append(f"{iid} is charged while {state.get(iid)}")

    with Session(engine) as db:
        unbalanced = unbalanced_entries(db)
        balances = trial_balance(db)
    if unbalanced:
        diffs.append(f"journal entries that do not balance: {unbalanced}")
    if sum(balances.values()) != 0:
        diffs.append(f"the trial balance is off by {sum(balances.values())} yen")
    fee_income = -balances.get(Account.FEE_INCOME, 0)
    if fee_income != sum(c.fee_yen for c in printed):
        diffs.append(
            f"fee income {fee_income} yen, printed copies' fees {sum(c.fee_yen for c in printed)}"
        )

    return BooksAudit(
        issuances=len(rows),
        printed=len(printed),
        issued=sum(1 for r in rows if r[1] == "issued"),
        voided=sum(1 for r in rows if r[1] == "voided"),
        voided_by_sweeper=sum(1 for r in rows if r[1] == "voided" and r[5] == "timed out"),
        still_open=still_open,
        settlement_rows=sum(settled.values()),
        journal_copy_entries=sum(journal.values()),
        fee_income_yen=fee_income,
        differences=tuple(diffs),
    )


class _NoRenderer:
    def render(self, doc: CertificateDocument, *, created_at: datetime) -> bytes:
        raise AssertionError("the sweep renders nothing")


def sweep_later(engine: Engine, *, after: timedelta = timedelta(days=1)) -> int:
    """Run the sweeper's own step (`IssuanceDesk.void_expired`) as it would run `after` from
    now, when every reservation and unconfirmed copy of the run has run out. Returns how many
    it voided."""
    later = system_clock() + after
    desk = IssuanceDesk(engine, renderer=_NoRenderer(), clock=lambda: later)
    return desk.void_expired()
