"""The `konbini` command line: serve, authority, seed, kiosk, settlement, demo."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from clients.access.cli import add_access_parser
from clients.audit.cli import register as register_audit
from clients.bcl.cli import add_bcl_parser
from clients.credentials import add_arguments as add_credentials
from clients.ereview.cli import register as register_ereview
from clients.kiosk.terminal import CertificateChoice
from clients.settlement.cli import register as register_settlement_commands
from clients.staff.cli import add_parsers as add_staff_parsers
from clients.verify import register as register_verify

DEFAULT_STATE = Path("var")


def _cmd_serve(args: argparse.Namespace) -> int:
    from server.app import serve
    from server.config import ServerConfig
    from server.multiproc import available_cores, serve_processes

    config = ServerConfig.from_env(
        database_url=args.database_url,
        host=args.host,
        port=args.port,
        trust_anchor_path=Path(args.trust_anchor) if args.trust_anchor else None,
        authority_url=args.authority_url,
        revocation_mode=args.revocation,
        kiosk_hours=args.kiosk_hours,
        api_port=args.api_port,
        insecure=True if args.insecure_demo else None,
    )
    processes = args.processes if args.processes is not None else available_cores()
    if processes == 1:
        serve(config, port_file=args.port_file)
        return 0
    # Several worker processes on one port (SO_REUSEPORT), so every core serves.
    return serve_processes(config, processes, port_file=args.port_file)


def _cmd_authority_init(args: argparse.Namespace) -> int:
    from hardware_sim.authority.ca import JpkiAuthority

    state = Path(args.state)
    authority = JpkiAuthority.create(clock=lambda: datetime.now(UTC))
    authority.save(state)
    print(f"JPKI authority created in {state}")
    return 0


def _cmd_authority_serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from hardware_sim.authority.ca import JpkiAuthority
    from hardware_sim.authority.responder import create_responder

    authority = JpkiAuthority.load(Path(args.state), clock=lambda: datetime.now(UTC))
    server, port = create_responder(authority, host=args.host, port=args.port)
    if args.port_file:
        Path(args.port_file).write_text(str(port))
    logging.getLogger(__name__).info("JPKI authority (OCSP, CRL) on http://%s:%d", args.host, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from clients.seeding import seed_municipality
    from hardware_sim.authority.ca import JpkiAuthority
    from server.common.clock import JST
    from server.db.engine import make_engine, upgrade
    from server.verify.keys import SealKeyStore

    now = datetime.now(UTC)
    authority = JpkiAuthority.load(Path(args.authority_state), clock=lambda: datetime.now(UTC))
    engine = make_engine(args.database_url)
    upgrade(engine)
    seeded = seed_municipality(
        engine,
        authority,
        seed=args.seed,
        households=args.households,
        today=now.astimezone(JST).date(),
        now=now,
        cards_dir=Path(args.cards_dir),
    )
    authority.save(Path(args.authority_state))  # it now knows the issued serials
    # The municipality's seal key, made at set-up and kept outside the repository.
    seal_key = SealKeyStore(Path(args.seal_key_dir), engine).provision(seeded.profile.code)
    print(
        f"{seeded.profile.full_name}: {len(seeded.residents)} residents, "
        f"{len(seeded.cards)} cards in {args.cards_dir}, kiosks {', '.join(seeded.kiosk_ids)}, "
        f"seal key {seal_key.key_id.hex()} in {args.seal_key_dir}"
    )
    return 0


def _cmd_kiosk(args: argparse.Namespace) -> int:
    from clients.kiosk.channel import KioskTls, open_channel
    from clients.kiosk.readers import ReaderKind, chip_for, open_reader
    from clients.kiosk.terminal import KioskTerminal, Order
    from hardware_sim.card.credentials import CardCredentials
    from hardware_sim.printer import KioskPrinter

    chip = None
    if args.card:
        card = CardCredentials.from_json(Path(args.card).read_text(encoding="utf-8"))
        chip = chip_for(card, pin_given=args.pin is not None)
    tls = None
    if args.client_cert:
        tls = KioskTls.from_files(
            Path(args.client_cert), Path(args.client_key), Path(args.server_ca)
        )
    subjects: str | tuple[str, ...] = args.subjects
    if args.subjects not in ("self", "household"):
        subjects = tuple(s.strip() for s in args.subjects.split(","))
    order = Order(
        CertificateChoice(args.certificate),
        subjects,
        include_head_and_relationship=args.head_and_relationship,
        include_honseki=args.honseki,
        fiscal_year=args.fiscal_year,
    )
    # Counter mode (らくらく窓口): the certificate goes to the printer behind the counter and
    # the terminal's own printer prints the 受付票.
    counter_printer = KioskPrinter(args.counter_printer_id) if args.counter else None
    with (
        open_channel(args.server, tls) as channel,
        open_reader(ReaderKind(args.reader), chip=chip, reader_name=args.reader_name) as reader,
    ):
        terminal = KioskTerminal(
            channel,
            kiosk_id=args.kiosk_id,
            printer=KioskPrinter(args.printer_id),
            counter_printer=counter_printer,
        )
        outcome = terminal.visit(reader, args.pin, order)
    print(f"{outcome.status.value}: {outcome.screen}")
    if outcome.error is not None:
        print(f"  {outcome.error.code.name} {outcome.error.reason}: {outcome.error.message}")
    if outcome.pdf:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{args.certificate}-{outcome.issue_number}.pdf"
        path.write_bytes(outcome.pdf)
        print(
            f"  交付番号 {outcome.issue_number}, {outcome.pages} page(s), {outcome.charged_yen}円"
        )
        print(f"  → {path}")
    if outcome.reception_number:
        print(f"  受付番号 {outcome.reception_number}: {outcome.fee_due_yen}円 at the counter")
        if outcome.slip_pdf:
            slip = Path(args.out) / f"uketsukehyo-{outcome.reception_number}.pdf"
            slip.write_bytes(outcome.slip_pdf)
            print(f"  受付票 → {slip}")
    return 0 if outcome.status.value in ("issued", "awaiting_handover") else 1


def _cmd_settlement(args: argparse.Namespace) -> int:
    import grpc
    from konbini.settlement.v1 import settlement_pb2, settlement_pb2_grpc

    from clients.credentials import bearer, channel_of
    from clients.errors import decode_error

    with channel_of(args) as channel:
        try:
            s = settlement_pb2_grpc.SettlementServiceStub(channel).MonthlySummary(
                settlement_pb2.MonthlySummaryRequest(
                    municipality_code=args.municipality, month=args.month
                ),
                metadata=bearer(args.token),
                timeout=10,
            )
        except grpc.RpcError as err:
            e = decode_error(err)
            print(f"refused: {e.code.name} {e.reason}: {e.message}")
            return 2
    print(f"{s.municipality_code} {s.month}")
    for k in s.kinds:
        print(f"  {k.certificate_kind:10} {k.copies:6} copies  fees {k.fees_yen:>10,}円")
    print(f"  total {s.total_copies} copies, voided {s.voided_copies}")
    print(f"  net remittance {s.net_remittance_yen:,}円")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from clients.demo import print_result, run_demo

    result = run_demo(
        Path(args.output), Path(args.state), seed=args.seed, households=args.households
    )
    print_result(result)
    issued = [o for _, o in result.outcomes if o.status.value == "issued"]
    return 0 if issued and result.pdfs else 1


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from server.db.engine import make_engine, upgrade

    upgrade(make_engine(args.database_url))
    print("schema is at the latest migration")
    return 0


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="konbini", description="コンビニ交付 reference implementation")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the issuance center (gRPC)")
    s.add_argument("--database-url")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--port-file", help="write the bound port here (use with --port 0)")
    s.add_argument("--trust-anchor", help="JPKI user-auth CA certificate (DER or PEM)")
    s.add_argument("--authority-url", help="base URL of the OCSP responder / CRL")
    s.add_argument("--revocation", choices=["ocsp", "crl"])
    s.add_argument("--kiosk-hours", help="national kiosk hours, Asia/Tokyo (default 06:30-23:00)")
    s.add_argument("--api-port", type=int, help="port for bearer callers (default: --port + 1)")
    s.add_argument(
        "--insecure-demo",
        action="store_true",
        help="plaintext, kiosks named by a header: the demo only (KONBINI_INSECURE=1); "
        "otherwise TLS is required (KONBINI_TLS_CERT, KONBINI_TLS_KEY, KONBINI_KIOSK_CA)",
    )
    s.add_argument(
        "--processes",
        type=int,
        default=_env_int("KONBINI_PROCESSES"),
        help="worker processes sharing the port (default: KONBINI_PROCESSES, else the cores)",
    )
    s.set_defaults(func=_cmd_serve)

    a = sub.add_parser("authority", help="the emulated JPKI authority")
    asub = a.add_subparsers(dest="authority_command", required=True)
    ai = asub.add_parser("init", help="create a new CA hierarchy")
    ai.add_argument("--state", default=str(DEFAULT_STATE / "authority"))
    ai.set_defaults(func=_cmd_authority_init)
    aserve = asub.add_parser("serve", help="serve OCSP and the CRL over HTTP")
    aserve.add_argument("--state", default=str(DEFAULT_STATE / "authority"))
    aserve.add_argument("--host", default="127.0.0.1")
    aserve.add_argument("--port", type=int, default=8765)
    aserve.add_argument("--port-file")
    aserve.set_defaults(func=_cmd_authority_serve)

    sd = sub.add_parser("seed", help="load a synthetic municipality and issue its cards")
    sd.add_argument("--database-url", default=f"sqlite:///{DEFAULT_STATE / 'konbini.db'}")
    sd.add_argument("--authority-state", default=str(DEFAULT_STATE / "authority"))
    sd.add_argument("--cards-dir", default=str(DEFAULT_STATE / "cards"))
    sd.add_argument("--households", type=int, default=20)
    sd.add_argument("--seed", type=int, default=2026)
    sd.add_argument(
        "--seal-key-dir",
        default=os.environ.get("KONBINI_SEAL_KEY_DIR", str(DEFAULT_STATE / "seal-keys")),
        help="where municipal seal keys are kept (outside the repository)",
    )
    sd.set_defaults(func=_cmd_seed)

    k = sub.add_parser("kiosk", help="one visit at an emulated kiosk")
    k.add_argument("--server", default="127.0.0.1:50051")
    k.add_argument("--kiosk-id", required=True)
    k.add_argument("--card", help="card JSON written by `konbini seed` (a phone's too)")
    k.add_argument("--pin", help="omit for a phone unlocked on the device")
    k.add_argument("--reader", choices=["emulated", "pcsc"], default="emulated")
    k.add_argument("--reader-name", default="Virtual PCD", help="PC/SC reader (name contains)")
    k.add_argument("--client-cert", help="the kiosk's mTLS certificate (PEM)")
    k.add_argument("--client-key")
    k.add_argument("--server-ca", help="the kiosk CA, which signed the center's certificate")
    k.add_argument(
        "--certificate",
        choices=[c.value for c in CertificateChoice],
        default="juminhyo",
    )
    k.add_argument("--fiscal-year", type=int, help="tax certificates: 年度 (default: the newest)")
    k.add_argument(
        "--counter",
        action="store_true",
        help="counter terminal mode (らくらく窓口): the copy goes to the counter printer and"
        " the terminal prints a 受付票; pay the clerk (`konbini staff hand-over`)",
    )
    k.add_argument("--counter-printer-id", default="CP1", help="the printer behind the counter")
    k.add_argument("--subjects", default="self", help="self, household, or names joined by ','")
    k.add_argument("--head-and-relationship", action="store_true", help="print 世帯主・続柄")
    k.add_argument("--honseki", action="store_true", help="print 本籍・筆頭者")
    k.add_argument("--printer-id", default="P1")
    k.add_argument("--out", default="demo-output")
    k.set_defaults(func=_cmd_kiosk)

    st = sub.add_parser("settlement", help="monthly settlement summary of a municipality")
    st.add_argument("--server", default="127.0.0.1:50051")
    st.add_argument("--municipality", required=True)
    st.add_argument("--month", required=True, help="YYYY-MM")
    add_credentials(st)  # staff of that municipality, or the national operator
    st.set_defaults(func=_cmd_settlement)

    d = sub.add_parser("demo", help="the whole path once on SQLite; PDFs to demo-output/")
    d.add_argument("--output", default="demo-output")
    d.add_argument("--state", default=str(DEFAULT_STATE / "demo"))
    d.add_argument("--seed", type=int, default=2026)
    d.add_argument("--households", type=int, default=12)
    d.set_defaults(func=_cmd_demo)

    add_staff_parsers(sub, default_db=f"sqlite:///{DEFAULT_STATE / 'konbini.db'}")
    register_ereview(sub)
    add_bcl_parser(sub)
    register_settlement_commands(sub)
    register_verify(sub)
    register_audit(sub)
    add_access_parser(sub, default_db=f"sqlite:///{DEFAULT_STATE / 'konbini.db'}")

    b = sub.add_parser(
        "bench",
        help="the benchmark harness: bench/results.json and a table (options: python -m bench -h)",
        add_help=False,
    )
    b.set_defaults(func=_cmd_bench, bench_args=[])

    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="run the migrations")
    up.add_argument("--database-url", default=f"sqlite:///{DEFAULT_STATE / 'konbini.db'}")
    up.set_defaults(func=_cmd_db_upgrade)
    return p


def _cmd_bench(args: argparse.Namespace) -> int:
    try:
        from bench.__main__ import main as bench_main
    except ImportError as exc:  # psutil, reportlab, py-spy: the load and bench extras
        print(f"konbini bench needs the load and bench extras ({exc}); run `make bench`")
        return 2
    return bench_main(args.bench_args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":  # every other option is the harness's (python -m bench --help)
        args.bench_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for noisy in ("alembic", "fontTools"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
