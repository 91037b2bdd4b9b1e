"""`konbini demo`: the whole path once, on the embedded default (SQLite).

It creates a JPKI authority and a synthetic municipality, starts the authority (OCSP/CRL over
HTTP) and the issuance center as separate processes, walks residents through a kiosk with an
emulated My Number Card and printer, writes the printed PDFs to `demo-output/`, prints a
summary, and stops what it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from konbini.settlement.v1 import settlement_pb2, settlement_pb2_grpc
from konbini.verify.v1 import verify_pb2, verify_pb2_grpc

from clients.credentials import bearer
from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitOutcome
from clients.seeding import SeededMunicipality, seed_municipality
from hardware_sim.authority.ca import AUTH_CA_CERT_FILE, JpkiAuthority
from hardware_sim.card.applet import JpkiApplet
from hardware_sim.card.reader import InProcessReader
from hardware_sim.printer import KioskPrinter
from server.common.clock import JST, system_clock
from server.db.engine import make_engine, upgrade
from server.municipal.staff import StaffDesk


@dataclass(frozen=True)
class DemoResult:
    outcomes: tuple[tuple[str, VisitOutcome], ...]
    pdfs: tuple[Path, ...]
    summary: settlement_pb2.MonthlySummaryResponse
    # What a receiving institution learns from each printed copy: (pdf, result, reason).
    verifications: tuple[tuple[Path, str, str], ...] = ()


def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"{path} did not appear")


def _wait_serving(channel: grpc.Channel, timeout: float = 30.0) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            if resp.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the issuance center did not become ready")


def run_demo(output: Path, state: Path, *, seed: int = 2026, households: int = 12) -> DemoResult:
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    output.mkdir(parents=True, exist_ok=True)
    for old in output.glob("*.pdf"):
        old.unlink()

    now = datetime.now(UTC)
    authority = JpkiAuthority.create(clock=lambda: datetime.now(UTC))
    db_url = f"sqlite:///{state / 'konbini.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    seeded = seed_municipality(
        engine,
        authority,
        seed=seed,
        households=households,
        today=now.astimezone(JST).date(),
        now=now,
        cards_dir=state / "cards",
    )
    # The settlement summary at the end is read as the municipality's staff would read it.
    _, staff_token = StaffDesk(engine, clock=system_clock).create_account(
        seeded.profile.code, "demo"
    )
    engine.dispose()
    authority.save(state / "authority")  # after seeding: it now knows every issued serial

    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        auth_port_file = state / "authority.port"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "clients.cli",
                    "authority",
                    "serve",
                    "--state",
                    str(state / "authority"),
                    "--port",
                    "0",
                    "--port-file",
                    str(auth_port_file),
                ],
                env=env,
            )
        )
        authority_url = f"http://127.0.0.1:{_wait_for_file(auth_port_file, procs[0])}"
        server_port_file = state / "server.port"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "clients.cli",
                    "serve",
                    "--database-url",
                    db_url,
                    "--port",
                    "0",
                    "--port-file",
                    str(server_port_file),
                    "--trust-anchor",
                    str(state / "authority" / AUTH_CA_CERT_FILE),
                    "--authority-url",
                    authority_url,
                    "--revocation",
                    "ocsp",
                    # The demo runs at any hour; real kiosks serve 06:30-23:00 (the default).
                    "--kiosk-hours",
                    "00:00-24:00",
                    # Plaintext on loopback, kiosks named by a header: only the demo may.
                    "--insecure-demo",
                    # One process starts fastest; the demo makes a handful of calls.
                    "--processes",
                    "1",
                ],
                env=env,
            )
        )
        target = f"127.0.0.1:{_wait_for_file(server_port_file, procs[1])}"
        with grpc.insecure_channel(target) as channel:
            _wait_serving(channel)
            return _visits(channel, seeded, output, now, staff_token)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _visits(
    channel: grpc.Channel,
    seeded: SeededMunicipality,
    output: Path,
    now: datetime,
    staff_token: str,
) -> DemoResult:
    printer = KioskPrinter("P1")
    terminal = KioskTerminal(channel, kiosk_id=seeded.kiosk_ids[0], printer=printer)
    # The head of the largest household asks for the whole household's 住民票.
    by_household: dict[str, list[str]] = {}
    for r in seeded.residents:
        by_household.setdefault(r.household_id, []).append(r.resident_id)
    head = max(
        (r for r in seeded.residents if r.is_household_head and r.resident_id in seeded.cards),
        key=lambda r: len(by_household[r.household_id]),
    )
    card = seeded.cards[head.resident_id]
    reader = InProcessReader()
    reader.insert(JpkiApplet(card))
    reader.connect()
    outcomes: list[tuple[str, VisitOutcome]] = []
    pdfs: list[Path] = []

    wrong_pin = "0000" if card.auth_pin != "0000" else "1111"
    outcomes.append(
        (
            "暗証番号の入力を1回間違える",
            terminal.visit(reader, wrong_pin, Order(CertificateChoice.JUMINHYO)),
        )
    )
    juminhyo = terminal.visit(
        reader,
        card.auth_pin,
        Order(CertificateChoice.JUMINHYO, "household", include_head_and_relationship=True),
    )
    outcomes.append(("住民票の写し（世帯全員、世帯主・続柄あり）", juminhyo))
    if juminhyo.pdf:
        path = output / f"juminhyo-{juminhyo.issue_number}.pdf"
        path.write_bytes(juminhyo.pdf)
        pdfs.append(path)
    inkan = terminal.visit(reader, card.auth_pin, Order(CertificateChoice.INKAN))
    outcomes.append(("印鑑登録証明書", inkan))
    if inkan.pdf:
        path = output / f"inkan-{inkan.issue_number}.pdf"
        path.write_bytes(inkan.pdf)
        pdfs.append(path)

    summary = settlement_pb2_grpc.SettlementServiceStub(channel).MonthlySummary(
        settlement_pb2.MonthlySummaryRequest(
            municipality_code=seeded.profile.code, month=now.astimezone(JST).strftime("%Y-%m")
        ),
        metadata=bearer(staff_token),
        timeout=10,
    )
    verifier = verify_pb2_grpc.VerifyServiceStub(channel)
    checks: list[tuple[Path, str, str]] = []
    for path in pdfs:
        reply = verifier.VerifyCopy(verify_pb2.VerifyCopyRequest(pdf=path.read_bytes()), timeout=30)
        result = verify_pb2.Result.Name(reply.result).removeprefix("RESULT_")
        checks.append((path, result, reply.reason))
    return DemoResult(tuple(outcomes), tuple(pdfs), summary, tuple(checks))


def print_result(result: DemoResult) -> None:
    print("== コンビニ交付 demo ==")
    for label, o in result.outcomes:
        extra = f" 残り{o.tries_left}回" if o.tries_left is not None else ""
        number = f" 交付番号 {o.issue_number}" if o.issue_number else ""
        print(f"- {label}: {o.status.value}{extra}{number} — {o.screen}")
        if o.error is not None:
            print(f"    {o.error.code.name} {o.error.reason}: {o.error.message}")
    for p in result.pdfs:
        print(f"  printed: {p} ({p.stat().st_size:,} bytes)")
    s = result.summary
    print(
        f"settlement {s.municipality_code} {s.month}: {s.total_copies} copies, "
        f"fees {s.total_fees_yen:,}円, commission {s.total_commission_yen:,}円, "
        f"BCL fee {s.total_bcl_fee_yen:,}円, net remittance {s.net_remittance_yen:,}円, "
        f"voided {s.voided_copies}"
    )
    for path, verdict, reason in result.verifications:
        print(f"verify {path.name}: {verdict}{' ' + reason if reason else ''}")
