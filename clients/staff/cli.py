"""`konbini municipality …` (onboarding, staff accounts) and `konbini staff …` (gRPC).

Onboarding and account creation are done by the center's operator on its own database;
everything else is what staff do over the MunicipalityStaffService with their token
(`--token` or KONBINI_STAFF_TOKEN).
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, date, datetime
from pathlib import Path

import grpc
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc

from clients.errors import decode_error
from server.common.clock import JST
from server.common.protoconv import timestamp


def _fees(text: str) -> dict[str, int]:
    """'juminhyo=200,inkan=200'."""
    out: dict[str, int] = {}
    for part in filter(None, text.split(",")):
        kind, _, fee = part.partition("=")
        out[kind.strip()] = int(fee)
    return out


def cmd_onboard(args: argparse.Namespace) -> int:
    from server.bcl.records import IssuingBackend
    from server.db.engine import make_engine, upgrade
    from server.municipal.onboarding import OnboardingRequest, onboard
    from server.verify.keys import SealKeyStore

    engine = make_engine(args.database_url)
    upgrade(engine)
    seal_keys = SealKeyStore(Path(args.seal_key_dir), engine)
    row = onboard(
        engine,
        OnboardingRequest(
            code=args.code,
            population=args.population,
            joined_on=date.fromisoformat(args.joined_on),
            backend=IssuingBackend(args.backend),
            mayor_name=args.mayor,
            fees=_fees(args.fees),
            designated_city=args.designated_city,
            koseki_server=args.koseki_server,
            seal_png=Path(args.seal_png).read_bytes() if args.seal_png else b"",
        ),
        seal_keys=seal_keys,
    )
    print(
        f"onboarded {row.code} {row.prefecture}{row.name} ({row.municipality_class}, {row.backend})"
        f"; seal key {seal_keys.provision(row.code).key_id.hex()} in {args.seal_key_dir}"
    )
    return 0


def cmd_add_staff(args: argparse.Namespace) -> int:
    from server.common.clock import system_clock
    from server.db.engine import make_engine, upgrade
    from server.municipal.staff import StaffDesk

    engine = make_engine(args.database_url)
    upgrade(engine)
    staff_id, token = StaffDesk(engine, clock=system_clock).create_account(
        args.municipality, args.name
    )
    print(f"staff account {staff_id}; token (shown once, keep it secret):")
    print(token)
    return 0


def _stub(
    args: argparse.Namespace,
) -> tuple[staff_pb2_grpc.MunicipalityStaffServiceStub, grpc.Channel]:
    channel = grpc.insecure_channel(args.server)
    return staff_pb2_grpc.MunicipalityStaffServiceStub(channel), channel


def _md(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    token = args.token or os.environ.get("KONBINI_STAFF_TOKEN", "")
    return (("authorization", f"Bearer {token}"),)


def _when(text: str) -> datetime:
    """ISO time; without an offset it is Japan time."""
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=JST)


def cmd_staff(args: argparse.Namespace) -> int:
    stub, channel = _stub(args)
    md = _md(args)
    try:
        with channel:
            if args.staff_command == "suppress":
                req = (
                    staff_pb2.SuppressIssuanceRequest(resident_id=args.resident, note=args.note)
                    if args.resident
                    else staff_pb2.SuppressIssuanceRequest(
                        household_id=args.household, note=args.note
                    )
                )
                s = stub.SuppressIssuance(req, metadata=md, timeout=10)
                print(f"suppression {s.suppression_id} in force")
            elif args.staff_command == "lift":
                s = stub.LiftSuppression(
                    staff_pb2.LiftSuppressionRequest(suppression_id=args.id),
                    metadata=md,
                    timeout=10,
                )
                print(f"suppression {s.suppression_id} lifted")
            elif args.staff_command == "suppressions":
                for s in stub.ListSuppressions(
                    staff_pb2.ListSuppressionsRequest(include_lifted=args.all),
                    metadata=md,
                    timeout=10,
                ).suppressions:
                    target = s.resident_id or f"household {s.household_id}"
                    lifted = " (lifted)" if s.HasField("lifted_at") else ""
                    print(f"{s.suppression_id}\t{target}{lifted}")
            elif args.staff_command == "offering":
                o = stub.SetOffering(
                    staff_pb2.SetOfferingRequest(
                        kind=args.kind, fee_yen=args.fee, enabled=not args.disable
                    ),
                    metadata=md,
                    timeout=10,
                )
                print(f"{o.kind}: {o.fee_yen}円 {'offered' if o.enabled else 'withdrawn'}")
            elif args.staff_command == "suspend":
                w = stub.AddSuspension(
                    staff_pb2.AddSuspensionRequest(
                        kind=args.kind,
                        starts_at=timestamp(_when(args.start)),
                        ends_at=timestamp(_when(args.end)),
                        reason=args.reason,
                    ),
                    metadata=md,
                    timeout=10,
                )
                print(f"suspension {w.suspension_id} scheduled")
            elif args.staff_command == "notice":
                n = stub.PublishNotice(
                    staff_pb2.PublishNoticeRequest(
                        title=args.title,
                        body=args.body,
                        starts_at=timestamp(_when(args.start) if args.start else datetime.now(UTC)),
                        ends_at=timestamp(_when(args.end)),
                    ),
                    metadata=md,
                    timeout=10,
                )
                print(f"notice {n.notice_id} published")
    except grpc.RpcError as err:
        e = decode_error(err)
        print(f"{e.code.name} {e.reason}: {e.message}")
        return 1
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], default_db: str) -> None:
    m = sub.add_parser("municipality", help="onboard municipalities and their staff (operator)")
    msub = m.add_subparsers(dest="municipality_command", required=True)
    ob = msub.add_parser("onboard", help="join a municipality (code from the national list)")
    ob.add_argument("--database-url", default=default_db)
    ob.add_argument("--code", required=True, help="全国地方公共団体コード, 6 digits")
    ob.add_argument("--population", type=int, required=True)
    ob.add_argument("--joined-on", required=True, help="YYYY-MM-DD")
    ob.add_argument("--backend", choices=["bcl", "own"], default="bcl")
    ob.add_argument("--mayor", required=True)
    ob.add_argument("--fees", default="juminhyo=200,inkan=200", help="kind=yen,...")
    ob.add_argument("--designated-city", action="store_true")
    ob.add_argument("--koseki-server", default="", help="URL of the declared 戸籍 server")
    ob.add_argument("--seal-png", help="the mayor's seal impression")
    ob.add_argument(
        "--seal-key-dir",
        default=os.environ.get("KONBINI_SEAL_KEY_DIR", "var/seal-keys"),
        help="where municipal seal keys are kept (outside the repository; default var/seal-keys)",
    )
    ob.set_defaults(func=cmd_onboard)
    ad = msub.add_parser("add-staff", help="create a staff account and print its token")
    ad.add_argument("--database-url", default=default_db)
    ad.add_argument("--municipality", required=True)
    ad.add_argument("--name", required=True)
    ad.set_defaults(func=cmd_add_staff)

    s = sub.add_parser("staff", help="municipality staff operations over gRPC")
    s.add_argument("--server", default="127.0.0.1:50051")
    s.add_argument("--token", help="staff token (default: KONBINI_STAFF_TOKEN)")
    ssub = s.add_subparsers(dest="staff_command", required=True)
    sp = ssub.add_parser("suppress", help="交付抑止 for a person or a household")
    who = sp.add_mutually_exclusive_group(required=True)
    who.add_argument("--resident", help="宛名番号")
    who.add_argument("--household", help="世帯番号")
    sp.add_argument("--note", default="")
    lf = ssub.add_parser("lift", help="lift a suppression")
    lf.add_argument("--id", type=int, required=True)
    ls = ssub.add_parser("suppressions", help="list suppressions")
    ls.add_argument("--all", action="store_true", help="include lifted ones")
    of = ssub.add_parser("offering", help="offer a certificate at a fee, or withdraw it")
    of.add_argument("--kind", required=True)
    of.add_argument("--fee", type=int, required=True)
    of.add_argument("--disable", action="store_true")
    su = ssub.add_parser("suspend", help="suspend kiosk issuance for a window")
    su.add_argument("--kind", default="", help="one kind, or all when empty")
    su.add_argument("--start", required=True)
    su.add_argument("--end", required=True)
    su.add_argument("--reason", default="")
    no = ssub.add_parser("notice", help="publish a notice to the portal and kiosks")
    no.add_argument("--title", required=True)
    no.add_argument("--body", default="")
    no.add_argument("--start")
    no.add_argument("--end", required=True)
    s.set_defaults(func=cmd_staff)
