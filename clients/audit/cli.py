"""`konbini audit …`: check and read the audit log straight from the database.

    konbini audit verify [--database-url URL] [--anchors FILE --anchor-public-key PEM]
    konbini audit list [--event auth] [--actor K…] [--subject …] [--municipality 131016]
                       [--since ISO] [--until ISO] [--after-seq N] [--limit 100] [--json]
    konbini audit anchor --anchor-key PEM --anchors FILE      append the signed head
    konbini audit keygen --private PEM --public PEM           the anchor key pair (set-up)

`verify` exits 0 for an intact chain and 1 naming every bad seq. These read the database
directly, like `konbini db upgrade`: auditors run them with read access, not through the
center.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_DB = os.environ.get("KONBINI_DATABASE_URL", "sqlite:///var/konbini.db")


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset (e.g. +09:00)")
    return moment


def _cmd_verify(args: argparse.Namespace) -> int:
    from server.audit.anchor import AnchorFileError, load_public_key, read_anchors
    from server.audit.verify import Anchor, verify_chain
    from server.db.engine import make_engine

    anchors: list[Anchor] = []
    if args.anchors:
        if not args.anchor_public_key:
            print("--anchors needs --anchor-public-key")
            return 2
        try:
            anchors = read_anchors(
                Path(args.anchors), load_public_key(Path(args.anchor_public_key))
            )
        except AnchorFileError as exc:
            print(f"ANCHORS INVALID: {exc}")
            return 1
    report = verify_chain(make_engine(args.database_url), anchors)
    if report.ok:
        print(
            f"OK: {report.entries} entries, seq 1..{report.last_seq}, chain intact"
            + (f", {report.anchors_checked} anchors hold" if anchors else "")
        )
        return 0
    print(f"BROKEN: {len(report.problems)} problems in {report.entries} entries")
    for problem in report.problems:
        print(f"  seq {problem.seq}: {problem.kind}: {problem.message}")
    return 1


def _cmd_list(args: argparse.Namespace) -> int:
    from server.audit.query import AuditFilter, list_entries
    from server.db.engine import make_engine

    where = AuditFilter(
        event=args.event,
        actor=args.actor,
        subject=args.subject,
        municipality_code=args.municipality,
        since=args.since,
        until=args.until,
        after_seq=args.after_seq,
        limit=args.limit,
    )
    for entry in list_entries(make_engine(args.database_url), where):
        row: dict[str, Any] = {
            "seq": entry.seq,
            "at": entry.at.astimezone(UTC).isoformat(),
            "event": entry.event,
            "actor": entry.actor,
            "subject": entry.subject,
            "municipality_code": entry.municipality_code,
            "details": json.loads(entry.details),
        }
        if args.json:
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        else:
            details = " ".join(f"{k}={v}" for k, v in sorted(row["details"].items()))
            print(
                f"{entry.seq:>8} {row['at']} {entry.event:<28} actor={entry.actor} "
                f"subject={entry.subject} muni={entry.municipality_code} {details}".rstrip()
            )
    return 0


def _cmd_anchor(args: argparse.Namespace) -> int:
    from server.audit.anchor import load_private_key, write_anchor
    from server.db.engine import make_engine

    record = write_anchor(
        make_engine(args.database_url),
        load_private_key(Path(args.anchor_key)),
        Path(args.anchors),
        now=datetime.now(UTC),
    )
    print(f"anchored seq {record.seq} {record.entry_hash} in {args.anchors}")
    return 0


def _cmd_keygen(args: argparse.Namespace) -> int:
    from server.audit.anchor import generate_key

    generate_key(Path(args.private), Path(args.public))
    print(f"anchor key: {args.private} (keep it off the database host), public: {args.public}")
    return 0


def register(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify and read the hash-chained audit log")
    asub = audit.add_subparsers(dest="audit_command", required=True)

    v = asub.add_parser("verify", help="walk the chain; name every altered or removed entry")
    v.add_argument("--database-url", default=DEFAULT_DB)
    v.add_argument("--anchors", help="anchor file written by `konbini audit anchor`")
    v.add_argument("--anchor-public-key", help="PEM public key the anchors are signed with")
    v.set_defaults(func=_cmd_verify)

    li = asub.add_parser("list", help="entries matching filters, oldest first")
    li.add_argument("--database-url", default=DEFAULT_DB)
    li.add_argument("--event", default="", help="a name or dotted prefix: auth, issuance.issued")
    li.add_argument("--actor", default="")
    li.add_argument("--subject", default="")
    li.add_argument("--municipality", default="")
    li.add_argument("--since", type=_aware, help="ISO time with offset, inclusive")
    li.add_argument("--until", type=_aware, help="ISO time with offset, exclusive")
    li.add_argument("--after-seq", type=int, default=0, help="page on from this seq")
    li.add_argument("--limit", type=int, default=100)
    li.add_argument("--json", action="store_true", help="one JSON object per line")
    li.set_defaults(func=_cmd_list)

    an = asub.add_parser("anchor", help="append the signed chain head to an anchor file")
    an.add_argument("--database-url", default=DEFAULT_DB)
    an.add_argument("--anchor-key", required=True, help="Ed25519 private key (PEM)")
    an.add_argument("--anchors", required=True, help="the anchor file (JSON lines)")
    an.set_defaults(func=_cmd_anchor)

    kg = asub.add_parser("keygen", help="create the anchor key pair")
    kg.add_argument("--private", required=True)
    kg.add_argument("--public", required=True)
    kg.set_defaults(func=_cmd_keygen)
