"""`konbini verify`: is this printed copy authentic?

    konbini verify copy.pdf                  # online: signature, printed text, records
    konbini verify KAAA...                   # the QR code's text instead of the PDF
    konbini verify --keys > seal-keys.json   # export the published public seal keys
    konbini verify --offline --keys-file seal-keys.json copy.pdf   # no center needed

Exit status: 0 AUTHENTIC, 1 any other result, 2 the request was refused.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import grpc

from clients.errors import decode_error

_RESULT_NAMES = {1: "AUTHENTIC", 2: "ALTERED", 3: "VOIDED", 4: "UNKNOWN"}


def _channel(args: argparse.Namespace) -> grpc.Channel:
    if args.server_ca:
        creds = grpc.ssl_channel_credentials(root_certificates=Path(args.server_ca).read_bytes())
        return grpc.secure_channel(args.server, creds)
    return grpc.insecure_channel(args.server)


def _copy(arg: str) -> tuple[bytes, str]:
    """A path to a PDF, or else the payload text itself."""
    path = Path(arg)
    if len(arg) < 512 and path.is_file():
        return path.read_bytes(), ""
    return b"", arg


def _summary(result: str, reason: str, sealed: dict[str, str], checks: list[str]) -> str:
    head = f"{result}{' ' + reason if reason else ''}"
    if sealed:
        head += (
            f"\n  交付番号 {sealed['issue_number']}  {sealed['kind']}  {sealed['issue_date']}"
            f"  municipality {sealed['municipality_code']}  seal key {sealed['key_id']}"
        )
    if checks:
        head += f"\n  checked: {', '.join(checks)}"
    return head


def _is_payload(text: str) -> bool:
    from server.verify.payload import PayloadMalformed, SealPayload

    try:
        SealPayload.from_text(text)
    except PayloadMalformed:
        return False
    return True


def _offline(args: argparse.Namespace) -> int:
    from server.verify.keys import import_keys
    from server.verify.payload import PayloadMalformed, SealPayload
    from server.verify.printed import PdfUnreadable, extract_printed_text
    from server.verify.qr import read_qr_texts
    from server.verify.verifier import Outcome, check_offline

    if not args.keys_file:
        print("--offline needs --keys-file (from `konbini verify --keys`)", file=sys.stderr)
        return 2
    try:
        keys = import_keys(Path(args.keys_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot use the seal key file {args.keys_file}: {exc}", file=sys.stderr)
        return 2
    pdf, text = _copy(args.copy)
    printed = None
    try:
        if pdf:
            printed = extract_printed_text(pdf)
            found = read_qr_texts(pdf)
            if not found:
                print(_summary("UNKNOWN", "NO_SEAL", {}, []))
                return 1
            # As the center reads a PDF: the first QR code that is a seal payload.
            seals = [SealPayload.from_text(t) for t in found if _is_payload(t)]
            if not seals:
                print(_summary("UNKNOWN", "SEAL_UNREADABLE", {}, []))
                return 1
            payload = seals[0]
        else:
            payload = SealPayload.from_text(text)
    except (PayloadMalformed, PdfUnreadable) as exc:
        print(f"INVALID_ARGUMENT: {exc}", file=sys.stderr)
        return 2
    verdict = check_offline(payload, keys, printed)
    sealed = {
        "issue_number": payload.issue_number,
        "kind": payload.kind.value,
        "issue_date": payload.issue_date.isoformat(),
        "municipality_code": payload.municipality_code,
        "key_id": payload.key_id_hex,
    }
    checks = ["signature"] + (["printed text"] if verdict.text_checked else [])
    checks.append("records not consulted (offline)")
    print(_summary(verdict.outcome.name, verdict.reason, sealed, checks))
    return 0 if verdict.outcome is Outcome.AUTHENTIC else 1


def _export(args: argparse.Namespace) -> int:
    from server.verify.keys import PublishedKey, export_keys

    if args.database_url:
        from sqlmodel import Session

        from server.db.engine import make_engine
        from server.verify.keys import published_keys

        with Session(make_engine(args.database_url)) as db:
            keys = list(published_keys(db).values())
    else:
        from konbini.verify.v1 import verify_pb2, verify_pb2_grpc

        with _channel(args) as channel:
            stub = verify_pb2_grpc.VerifyServiceStub(channel)
            try:
                reply = stub.ListSealKeys(verify_pb2.ListSealKeysRequest())
            except grpc.RpcError as err:
                e = decode_error(err)
                print(f"{e.code.name} {e.reason}: {e.message}", file=sys.stderr)
                return 2
        keys = [PublishedKey.from_der(k.municipality_code, k.public_key_der) for k in reply.keys]
    text = export_keys(keys, exported_at=datetime.now(UTC))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(keys)} seal keys written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    if args.keys:
        return _export(args)
    if not args.copy:
        print("give a PDF or a payload (or --keys to export the seal keys)", file=sys.stderr)
        return 2
    if args.offline:
        return _offline(args)
    from konbini.verify.v1 import verify_pb2, verify_pb2_grpc

    pdf, text = _copy(args.copy)
    request = (
        verify_pb2.VerifyCopyRequest(pdf=pdf) if pdf else verify_pb2.VerifyCopyRequest(payload=text)
    )
    metadata = (("konbini-verifier-id", str(args.verifier_id)),) if args.verifier_id else None
    with _channel(args) as channel:
        stub = verify_pb2_grpc.VerifyServiceStub(channel)
        try:
            reply = stub.VerifyCopy(request, metadata=metadata)
        except grpc.RpcError as err:
            e = decode_error(err)
            print(f"{e.code.name} {e.reason}: {e.message}", file=sys.stderr)
            return 2
    sealed: dict[str, str] = {}
    if reply.HasField("sealed"):
        s = reply.sealed
        sealed = {
            "issue_number": s.issue_number,
            "kind": s.kind,
            "issue_date": s.issue_date,
            "municipality_code": s.municipality_code,
            "key_id": s.key_id,
        }
    checks = [
        name
        for name, done in (
            ("signature", bool(sealed)),
            ("printed text", reply.text_checked),
            ("issuance records", reply.record_checked),
            ("byte-identical to the copy issued", reply.byte_identical),
        )
        if done
    ]
    result = _RESULT_NAMES.get(reply.result, "UNSPECIFIED")
    print(_summary(result, reply.reason, sealed, checks))
    return 0 if result == "AUTHENTIC" else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser("verify", help="check a printed copy (PDF or QR payload); export seal keys")
    v.add_argument("copy", nargs="?", help="the copy's PDF file, or the text of its QR code")
    v.add_argument("--server", default=os.environ.get("KONBINI_SERVER", "127.0.0.1:50051"))
    v.add_argument("--server-ca", help="CA certificate of the center (TLS); plaintext if omitted")
    v.add_argument("--verifier-id", help="who is checking, for the audit log (letters, digits)")
    v.add_argument("--keys", action="store_true", help="export the published seal keys (JSON)")
    v.add_argument("--database-url", help="with --keys: read the keys from the database instead")
    v.add_argument("--out", help="with --keys: write the JSON here instead of stdout")
    v.add_argument("--offline", action="store_true", help="check with --keys-file, no center")
    v.add_argument("--keys-file", help="seal keys exported by `konbini verify --keys`")
    v.set_defaults(func=cmd_verify)
