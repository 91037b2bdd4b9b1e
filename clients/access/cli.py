"""`konbini access`: bearer tokens for kiosk operators and the national operator.

Run on the center's host against its database; the token is printed once and only its SHA-256
is stored. Staff tokens come from `konbini municipality add-staff`, e-review client secrets from
`konbini ereview client add`.
"""

from __future__ import annotations

import argparse
from typing import Any


def _cmd_issue(args: argparse.Namespace) -> int:
    from server.access.caller import CallerKind
    from server.access.tokens import AccessTokens
    from server.common.clock import system_clock
    from server.db.engine import make_engine, upgrade

    engine = make_engine(args.database_url)
    upgrade(engine)
    token_id, token = AccessTokens(engine, clock=system_clock).issue(
        CallerKind(args.kind), display_name=args.name, operator_id=args.operator
    )
    engine.dispose()
    print(f"token id {token_id} ({args.kind}{' ' + args.operator if args.operator else ''})")
    print(f"token    {token}")
    print("the token is shown only now; send it as `authorization: Bearer <token>`")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    from server.access.tokens import AccessTokens
    from server.common.clock import system_clock
    from server.db.engine import make_engine

    engine = make_engine(args.database_url)
    AccessTokens(engine, clock=system_clock).revoke(args.token_id)
    engine.dispose()
    print(f"token {args.token_id} revoked")
    return 0


def add_access_parser(sub: Any, *, default_db: str) -> None:
    a = sub.add_parser("access", help="operator and national-operator bearer tokens")
    asub = a.add_subparsers(dest="access_command", required=True)
    i = asub.add_parser("issue", help="issue a token (printed once)")
    i.add_argument("--kind", required=True, choices=["national_operator", "kiosk_operator"])
    i.add_argument("--operator", help="the kiosk operator's id (kiosk_operator only)")
    i.add_argument("--name", required=True, help="who holds it, for the record")
    i.add_argument("--database-url", default=default_db)
    i.set_defaults(func=_cmd_issue)
    r = asub.add_parser("revoke", help="disable a token at once")
    r.add_argument("token_id")
    r.add_argument("--database-url", default=default_db)
    r.set_defaults(func=_cmd_revoke)
