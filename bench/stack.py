"""A whole issuance center for load: JPKI authority, database, residents with cards, processes.

`prepare` makes the state (an authority, a database seeded with several municipalities and a
card for every resident old enough, a phone for some of them, extra kiosk terminals, an e-review
portal client, a generated BCL export of a fourth municipality, and `cards/manifest.json` that
the load reads); `Stack.start` runs the authority's OCSP/CRL responder and the center (N worker
processes on one port, `server.multiproc`) as separate processes, as in production.

    python -m bench.stack up --state var/load --database-url sqlite:///var/load/center.db
        # prepares, starts both, prints the gRPC target, runs until Ctrl-C (for Locust)

Card keys come from a small pool (tests/pki.py): generating 1,000 RSA-2048 keys would take
minutes and changes nothing measured; every card still has its own certificate and serial.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import psycopg
import sqlalchemy as sa
from sqlmodel import Session

from clients.bcl.generate import generate_dataset
from clients.bcl.onboard import join_municipality
from clients.seeding import DEMO_OPERATORS, card_serial, seed_municipality
from hardware_sim.authority.ca import AUTH_CA_CERT_FILE, JpkiAuthority
from hardware_sim.card.credentials import CardCredentials, TokenKind
from load.scenario import MANIFEST, Manifest, Resident
from server.bcl.records import ResidentRecord
from server.bcl.store import link_card_serials
from server.common.clock import JST
from server.db.engine import make_engine, upgrade
from server.db.models import Kiosk
from server.ereview.access import add_client
from server.kiosks.registry import KioskRegistry
from server.municipal.staff import StaffDesk
from tests.pki import pooled_key_source

REPO = Path(__file__).resolve().parent.parent
EREVIEW_CLIENTS_FILE = "ereview-clients.json"

# (code, prefecture, name): a ward, a designated city, a town — different fees and seals.
MUNICIPALITIES = (
    ("131016", "東京都", "千代田区"),
    ("141003", "神奈川県", "横浜市"),
    ("013676", "北海道", "奥尻町"),
)
# A fourth municipality that only uploads its BCL export during the load (a full upload replaces
# a municipality's residents, so it must not be one whose cards the kiosks use).
BCL_MUNICIPALITY = ("232017", "愛知県", "豊橋市")
PHONE_EVERY = 5  # every fifth card holder also has a phone, alternately Android and iPhone
EREVIEW_CLIENT = "load-portal"
EREVIEW_APPLICANTS_PER_MUNICIPALITY = 40


@dataclass(frozen=True)
class Prepared:
    state: Path
    database_url: str
    manifest: Manifest


def create_postgres_database(admin_url: str, prefix: str = "konbini_bench") -> str:
    """A fresh database on the server of `admin_url`; returns its SQLAlchemy URL."""
    admin = sa.engine.make_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    db = sa.engine.make_url(url)
    admin = db.set(database="postgres")
    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.database}" WITH (FORCE)')


def _conninfo(url: sa.engine.URL) -> str:
    parts = [f"host={url.host or '127.0.0.1'}", f"port={url.port or 5432}"]
    if url.username:
        parts.append(f"user={url.username}")
    if url.password:
        parts.append(f"password={url.password}")
    parts.append(f"dbname={url.database or 'postgres'}")
    return " ".join(parts)


def prepare(
    state: Path,
    database_url: str,
    *,
    households: int = 120,
    kiosks: int = 64,
    seed: int = 2026,
    bcl_residents: int = 20_000,
) -> Prepared:
    """Authority, schema, municipalities with cards and phones, kiosks, an e-review client, a
    BCL export (`bcl_residents`, 0: none), manifest; returns where they are."""
    state.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    authority = JpkiAuthority.create(
        clock=lambda: datetime.now(UTC), key_source=pooled_key_source()
    )
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        residents: list[Resident] = []
        applicants: list[dict[str, str]] = []
        cards_dir = state / "cards"
        for i, (code, prefecture, name) in enumerate(MUNICIPALITIES):
            seeded = seed_municipality(
                engine,
                authority,
                seed=seed + i,
                households=households,
                today=now.astimezone(JST).date(),
                now=now,
                code=code,
                prefecture=prefecture,
                name=name,
                cards_dir=cards_dir / code,
            )
            sizes = Counter(r.household_id for r in seeded.residents)
            sealed = {s.resident_id for s in seeded.seals if s.active}
            suppressed = {r.household_id for r in seeded.residents if r.suppressed}
            holders = [
                r
                for r in seeded.residents
                # 交付抑止 households are left out: their visits end "ask at the counter".
                if r.resident_id in seeded.cards and r.household_id not in suppressed
            ]
            phones = _issue_phones(engine, authority, code, holders, seeded.cards, now, cards_dir)
            for r in holders:
                residents.append(
                    Resident(
                        card_file=f"{code}/{r.resident_id}.json",
                        municipality_code=code,
                        household_size=sizes[r.household_id],
                        has_seal=r.resident_id in sealed,
                        phone_file=phones.get(r.resident_id, ""),
                    )
                )
            for r in holders[:EREVIEW_APPLICANTS_PER_MUNICIPALITY]:
                applicants.append(
                    {
                        "municipality_code": code,
                        "name": r.full_name,
                        "name_kana": r.full_name_kana,
                        "birth_date": r.birth_date.isoformat(),
                        "address": r.address,
                    }
                )
        kiosk_ids = _add_kiosks(engine, kiosks)
        counters = _add_counters(engine)
        bcl: dict[str, str] = {}
        if bcl_residents:
            code, prefecture, name = BCL_MUNICIPALITY
            join_municipality(engine, code=code, prefecture=prefecture, name=name, seed=seed)
            directory = state / "bcl-upload" / code
            generate_dataset(
                directory,
                residents=bcl_residents,
                seed=seed,
                code=code,
                prefecture=prefecture,
                name=name,
                today=now.astimezone(JST).date(),
            )
            # BCL calls act as a staff member of the municipality (a bearer token).
            _staff_id, token = StaffDesk(engine, clock=lambda: datetime.now(UTC)).create_account(
                code, "負荷試験 BCL"
            )
            bcl = {"municipality_code": code, "directory": str(directory), "token": token}
    finally:
        engine.dispose()
    authority.save(state / "authority")
    secret = add_client(
        state / EREVIEW_CLIENTS_FILE,
        EREVIEW_CLIENT,
        "負荷試験 電子申請",
        [code for code, _, _ in MUNICIPALITIES],
    )
    ereview = {"client_id": EREVIEW_CLIENT, "secret": secret, "applicants": applicants}
    manifest = Manifest(cards_dir, tuple(residents), tuple(kiosk_ids), ereview, bcl, counters)
    manifest.write()
    (cards_dir / MANIFEST).chmod(0o600)  # it holds the portal's secret
    return Prepared(state, database_url, manifest)


def _add_counters(engine: sa.engine.Engine) -> list[dict[str, str]]:
    """A らくらく窓口 terminal in each municipality's town hall, and a clerk (staff account) there
    who hands the copies over."""
    registry = KioskRegistry(engine)
    desk = StaffDesk(engine, clock=lambda: datetime.now(UTC))
    counters = []
    for code, _, name in MUNICIPALITIES:
        terminal_id = f"LC{code}01"
        registry.register_counter_terminal(
            terminal_id, municipality_code=code, location=f"{name}役所 市民課 窓口"
        )
        _staff_id, token = desk.create_account(code, f"{name} 窓口 負荷試験")
        counters.append(
            {"terminal_id": terminal_id, "municipality_code": code, "staff_token": token}
        )
    return counters


def _issue_phones(
    engine: sa.engine.Engine,
    authority: JpkiAuthority,
    code: str,
    holders: list[ResidentRecord],
    cards: dict[str, CardCredentials],
    now: datetime,
    cards_dir: Path,
) -> dict[str, str]:
    """A phone (スマホ用電子証明書) for every PHONE_EVERY-th card holder, linked in 利用者管理 to
    the same resident as the card; returns resident id → its credentials file."""
    files: dict[str, str] = {}
    links: dict[int, tuple[int, str]] = {}
    with Session(engine) as db:
        for n, r in enumerate(holders[::PHONE_EVERY]):
            token = TokenKind.ANDROID if n % 2 == 0 else TokenKind.IPHONE
            phone = authority.issue_card(
                r.resident_id,
                token=token,
                pin=cards[r.resident_id].auth_pin,
                sign_password=cards[r.resident_id].sign_password,
            )
            resident_pk = db.execute(
                sa.text(
                    "SELECT id FROM residents WHERE resident_id = :r AND municipality_code = :m"
                ),
                {"r": r.resident_id, "m": code},
            ).scalar_one()
            links[card_serial(phone)] = (resident_pk, token.value)
            name = f"{code}/{r.resident_id}.phone.json"
            path = cards_dir / name
            path.write_text(phone.to_json(), encoding="utf-8")
            path.chmod(0o600)
            files[r.resident_id] = name
        link_card_serials(db, links, at=now)
        db.commit()
    return files


def _add_kiosks(engine: sa.engine.Engine, count: int) -> list[str]:
    """Terminals of their own for the load's kiosks, spread over operators and municipalities."""
    ids = []
    with Session(engine) as db:
        for n in range(count):
            code = MUNICIPALITIES[n % len(MUNICIPALITIES)][0]
            operator_id, operator_name = DEMO_OPERATORS[n % len(DEMO_OPERATORS)]
            kiosk_id = f"LK{code}{n:04d}"
            db.add(
                Kiosk(
                    kiosk_id=kiosk_id,
                    operator_id=operator_id,
                    store_name=f"{operator_name} 負荷試験{n}号店",
                    municipality_code=code,
                )
            )
            ids.append(kiosk_id)
        db.commit()
    return ids


@dataclass
class Stack:
    """The authority and the center running as processes; stop with `stop()` or `with`."""

    prepared: Prepared
    processes: int = 2
    revocation: str = "ocsp"
    workers_per_process: int = 16
    log_dir: Path | None = None
    authority_url: str = ""
    target: str = ""
    authority: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    center: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Stack:
        state = self.prepared.state
        logs = self.log_dir or state
        logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'protos'}"}
        port_file = state / "authority.port"
        port_file.unlink(missing_ok=True)
        self.authority = subprocess.Popen(
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
                str(port_file),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / "authority.log").open("wb"),
        )
        self.authority_url = f"http://127.0.0.1:{_wait_for(port_file, self.authority)}"
        center_port = state / "center.port"
        center_port.unlink(missing_ok=True)
        center_env = {
            **env,
            "KONBINI_DATABASE_URL": self.prepared.database_url,
            "KONBINI_TRUST_ANCHOR": str(state / "authority" / AUTH_CA_CERT_FILE),
            "KONBINI_AUTHORITY_URL": self.authority_url,
            "KONBINI_REVOCATION": self.revocation,
            "KONBINI_PORT": "0",
            "KONBINI_WORKERS": str(self.workers_per_process),
            # Benchmarks run at any hour; the national kiosk hours would refuse them at night.
            "KONBINI_KIOSK_HOURS": "00:00-24:00",
            # An emulated kiosk starts its next visit the moment one ends: at 100 copies/s over
            # 16 kiosks each asks ~375 challenges a minute, above the 300 a real one (a visit of
            # a few minutes) may. The limit stays on, counted in the same statement, 10x higher.
            "KONBINI_AUTH_KIOSK_CHALLENGES": "3000",
            # A worker reuses an active kiosk's registry row for 2 s instead of reading it at
            # each of a visit's 5 calls (a visit takes ~0.25 s): the bench suspends no kiosk, so
            # nothing it measures changes but the reads, and 2 s is what an operator could
            # accept as the delay before a suspension bites (docs/security.md).
            "KONBINI_TERMINAL_TTL": "2",
            "KONBINI_EREVIEW_CLIENTS": str(state / EREVIEW_CLIENTS_FILE),
            "KONBINI_INSECURE": "1",  # plaintext gRPC on loopback: the load measures the center
            "KONBINI_BCL_DIR": str(state / "bcl-data"),
            "KONBINI_SEAL_KEY_DIR": str(state / "seal-keys"),
        }
        self.center = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.multiproc",
                "--processes",
                str(self.processes),
                "--port-file",
                str(center_port),
            ],
            cwd=REPO,
            env=center_env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / "center.log").open("wb"),
        )
        self.target = f"127.0.0.1:{_wait_for(center_port, self.center, timeout=120)}"
        return self

    def stop(self) -> None:
        for proc in (self.center, self.authority):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.center, self.authority):
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:  # a center that failed to start must not leave the authority
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip())
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"{path} did not appear")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stack")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="prepare a stack and run it until Ctrl-C (for Locust)")
    up.add_argument("--state", default="var/load")
    up.add_argument("--database-url", help="default: SQLite in the state directory")
    up.add_argument("--processes", type=int, default=2)
    up.add_argument("--revocation", choices=["ocsp", "crl"], default="ocsp")
    up.add_argument("--households", type=int, default=120)
    up.add_argument("--bcl-residents", type=int, default=20_000, help="0: no BCL upload")
    args = parser.parse_args(argv)
    state = Path(args.state).resolve()
    url = args.database_url or f"sqlite:///{state / 'center.db'}"
    prepared = prepare(state, url, households=args.households, bcl_residents=args.bcl_residents)
    with Stack(prepared, processes=args.processes, revocation=args.revocation) as stack:
        print(f"center {stack.target}  authority {stack.authority_url}")
        print(f"cards  {prepared.manifest.directory}  ({len(prepared.manifest.residents)} cards)")
        print(
            "run:   .venv/bin/locust -f load/locustfile.py "
            f"--host {stack.target} --cards {prepared.manifest.directory}"
        )
        stop = [False]
        signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
        try:
            while not stop[0]:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
