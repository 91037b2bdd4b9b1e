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

from clients.credentials import add_server_ca, api_channel
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
            tax_fiscal_years=args.tax_years,
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


def cmd_add_counter(args: argparse.Namespace) -> int:
    from server.db.engine import make_engine, upgrade
    from server.kiosks.registry import KioskRegistry

    engine = make_engine(args.database_url)
    upgrade(engine)
    terminal = KioskRegistry(engine).register_counter_terminal(
        args.terminal_id, municipality_code=args.municipality, location=args.location
    )
    print(
        f"counter terminal {terminal.kiosk_id} at {terminal.store_name}"
        f" ({terminal.municipality_code}; operator of record {terminal.operator_id})"
    )
    return 0


def _print_counter_copy(c: staff_pb2.CounterCopy) -> None:
    when = c.handed_over_at.ToDatetime(tzinfo=UTC).astimezone(JST) if c.handed_over_by else None
    status = f"handed over {when:%H:%M} by {c.handed_over_by}" if when else c.state
    until = c.collect_by.ToDatetime(tzinfo=UTC).astimezone(JST)
    print(
        f"{c.reception_number}\t{c.title}\t{c.pages}枚\t{c.fee_yen}円\t{status}"
        f"\t(受取期限 {until:%m/%d %H:%M}, 交付番号 {c.issue_number})"
    )


def _print_honseki(r: staff_pb2.HonsekiRequest) -> None:
    print(
        f"{r.registration_id}\t{r.state}\t{r.family_name}　{r.given_name}"
        f"（{r.family_name_kana}　{r.given_name_kana}）\t{r.birth_date}\t{r.address}"
        f"\t本籍 {r.honseki} 筆頭者 {r.hittousha}"
    )
    if r.koseki_id:
        print(f"    linked to 戸籍 {r.koseki_id} member {r.member_no} by {r.decided_by}")
    for c in r.candidates:
        why = ", ".join(f"{m.label} {m.points}" for m in c.reasons)
        print(
            f"    candidate 戸籍 {c.koseki_id} member {c.member_no}: {c.family_name}　"
            f"{c.given_name} {c.birth_date} score {c.score} ({why})"
        )


def _stub(
    args: argparse.Namespace,
) -> tuple[staff_pb2_grpc.MunicipalityStaffServiceStub, grpc.Channel]:
    channel = api_channel(args.server, args.server_ca)
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
            elif args.staff_command == "hand-over":
                c = stub.HandOverCounterCopy(
                    staff_pb2.HandOverCounterCopyRequest(reception_number=args.reception_number),
                    metadata=md,
                    timeout=10,
                )
                print(f"collect {c.fee_yen}円 and hand over {c.title} ({c.pages}枚)")
                _print_counter_copy(c)
            elif args.staff_command == "counter-copies":
                copies = stub.ListCounterCopies(
                    staff_pb2.ListCounterCopiesRequest(), metadata=md, timeout=10
                ).copies
                for c in copies:
                    _print_counter_copy(c)
                print(f"{len(copies)} waiting at the counter")
            elif args.staff_command == "tax-years":
                t = stub.SetTaxYears(
                    staff_pb2.SetTaxYearsRequest(fiscal_years=args.years), metadata=md, timeout=10
                )
                source = "this municipality's setting" if t.municipality_setting else "default"
                years = ", ".join(str(y) for y in t.offered)
                print(f"tax certificates: {t.fiscal_years} fiscal years ({source}): {years}")
            elif args.staff_command == "honseki":
                _honseki(stub, md, args)
    except grpc.RpcError as err:
        e = decode_error(err)
        print(f"{e.code.name} {e.reason}: {e.message}")
        return 1
    return 0


def _honseki(
    stub: staff_pb2_grpc.MunicipalityStaffServiceStub,
    md: tuple[tuple[str, str], ...],
    args: argparse.Namespace,
) -> None:
    """本籍地 利用登録: list the requests (with candidates), approve one, or reject one."""
    if args.honseki_command == "list":
        requests = stub.ListHonsekiRequests(
            staff_pb2.ListHonsekiRequestsRequest(include_decided=args.all),
            metadata=md,
            timeout=10,
        ).requests
        for r in requests:
            _print_honseki(r)
        print(f"{len(requests)} request(s)")
    elif args.honseki_command == "approve":
        r = stub.ApproveHonsekiRequest(
            staff_pb2.ApproveHonsekiRequestRequest(
                registration_id=args.registration_id,
                koseki_id=args.koseki,
                member_no=args.member,
                note=args.note,
            ),
            metadata=md,
            timeout=10,
        )
        print(f"{r.registration_id} approved: 戸籍 {r.koseki_id} member {r.member_no}")
    elif args.honseki_command == "reject":
        r = stub.RejectHonsekiRequest(
            staff_pb2.RejectHonsekiRequestRequest(
                registration_id=args.registration_id, note=args.note
            ),
            metadata=md,
            timeout=10,
        )
        print(f"{r.registration_id} rejected")


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
    ob.add_argument(
        "--tax-years", type=int, help="fiscal years of tax certificates issued (default 3)"
    )
    ob.set_defaults(func=cmd_onboard)
    ad = msub.add_parser("add-staff", help="create a staff account and print its token")
    ad.add_argument("--database-url", default=default_db)
    ad.add_argument("--municipality", required=True)
    ad.add_argument("--name", required=True)
    ad.set_defaults(func=cmd_add_staff)
    ac = msub.add_parser("add-counter", help="register a らくらく窓口 terminal in the town hall")
    ac.add_argument("--database-url", default=default_db)
    ac.add_argument("--municipality", required=True)
    ac.add_argument("--terminal-id", required=True, help="e.g. C13101601")
    ac.add_argument("--location", default="市民課 窓口")
    ac.set_defaults(func=cmd_add_counter)

    s = sub.add_parser("staff", help="municipality staff operations over gRPC")
    s.add_argument("--server", default="127.0.0.1:50051")
    s.add_argument("--token", help="staff token (default: KONBINI_STAFF_TOKEN)")
    add_server_ca(s)
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
    ho = ssub.add_parser("hand-over", help="らくらく窓口: fee taken, certificate handed over")
    ho.add_argument("reception_number", help="受付番号 on the 受付票, e.g. 20261126-0007")
    ssub.add_parser("counter-copies", help="counter copies waiting to be handed over")
    ty = ssub.add_parser("tax-years", help="fiscal years of tax certificates issued (0: default)")
    ty.add_argument("years", type=int)
    hs = ssub.add_parser("honseki", help="本籍地 利用登録 requests filed with this municipality")
    hsub = hs.add_subparsers(dest="honseki_command", required=True)
    hl = hsub.add_parser("list", help="pending requests with their best candidate 戸籍 members")
    hl.add_argument("--all", action="store_true", help="include decided requests")
    ha = hsub.add_parser("approve", help="link a request to one member of one 戸籍")
    ha.add_argument("registration_id")
    ha.add_argument("--koseki", required=True, help="戸籍 id (from the candidates)")
    ha.add_argument("--member", type=int, required=True, help="the member's 順位")
    ha.add_argument("--note", default="")
    hr = hsub.add_parser("reject", help="reject a request (the resident is told to ask)")
    hr.add_argument("registration_id")
    hr.add_argument("--note", default="")
    s.set_defaults(func=cmd_staff)
