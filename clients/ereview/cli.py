"""`konbini ereview …`: submit one application, batch-match a CSV, make test data, add clients.

`register(subparsers)` adds the `ereview` command to the `konbini` parser:

    konbini ereview submit --server HOST:PORT --client-id ID --municipality 131016 \\
        --name "髙橋 雅子" --kana "タカハシ マサコ" --birth-date 昭和55年5月3日 \\
        --address "九段北1-2-3"
    konbini ereview match --residents residents.csv --applications apps.csv --out results.csv
    konbini ereview residents --out residents.csv --count 1000000 --seed 2026
    konbini ereview evalset --residents residents.csv --applications apps.csv --truth truth.csv
    konbini ereview score --results results.csv --truth truth.csv
    konbini ereview client add --registry var/ereview-clients.json --id portal --municipality 131016

The secret for `submit` comes from --secret or KONBINI_EREVIEW_SECRET.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from clients.credentials import add_server_ca, api_channel

DEFAULT_REGISTRY = Path("var") / "ereview-clients.json"


def cmd_submit(args: argparse.Namespace) -> int:

    from clients.ereview.client import EReviewClient, EReviewError, Person

    secret = args.secret or os.environ.get("KONBINI_EREVIEW_SECRET", "")
    if not secret:
        print("a client secret is needed: --secret or KONBINI_EREVIEW_SECRET", file=sys.stderr)
        return 2
    members = []
    for spec in args.member or ():
        parts: list[str] = [*spec.split("|"), "", "", ""]
        members.append(Person(parts[0], parts[1], parts[2], parts[3]))
    with api_channel(args.server, args.server_ca) as channel:
        client = EReviewClient(channel, client_id=args.client_id, secret=secret)
        try:
            review = client.submit(
                args.municipality,
                Person(args.name, args.kana, args.birth_date),
                address=args.address,
                address_annex=args.annex,
                members=members,
                procedure=args.procedure,
                application_id=args.application_id,
            )
        except EReviewError as err:
            d = err.details
            print(f"refused: {d.code.name} {d.reason}: {d.message}")
            for field, description in d.field_violations:
                print(f"  {field}: {description}")
            return 1
    print(f"{review.outcome} (score {review.score:.4f}) {' '.join(review.reasons)}")
    for f in review.fields:
        rules = f" [{', '.join(f.rules)}]" if f.rules else ""
        print(f"  {f.field:10} {f.status:16}{rules} score {f.score:.2f}, {f.weight:+.1f} bits")
    if review.resident is not None:
        r = review.resident
        print(f"  resident {r.resident_id}: {r.name} ({r.name_kana}) {r.birth_date_wareki}")
    for h in review.household:
        print(f"    household: {h.relationship} {h.name} {h.birth_date}")
    for m in review.members:
        print(f"  member {m.index}: {m.outcome} {m.resident_id}")
    for c, score in review.candidates:
        print(f"  candidate {c.resident_id}: {c.name} {c.birth_date} ({score:.3f})")
    for s in review.suggestions:
        print(f"  suggest {s.title} ({s.rule_id}: {s.rule})")
    return 0


def cmd_match(args: argparse.Namespace) -> int:
    from server.ereview.batch import match_file
    from server.ereview.index import ResidentIndex
    from server.ereview.matcher import Matcher
    from server.ereview.residents_csv import iter_residents_file

    index = ResidentIndex.build(iter_residents_file(Path(args.residents)))
    stats = match_file(
        Matcher(index),
        Path(args.applications),
        Path(args.out),
        municipality=args.municipality,
        workers=args.workers,
    )
    print(
        f"{stats.applications} applications against {len(index):,} residents: "
        f"{stats.matches} match, {stats.reviews} review, {stats.no_matches} no match "
        f"({stats.per_second:,.0f}/s) → {args.out}"
    )
    return 0


def cmd_residents(args: argparse.Namespace) -> int:
    from server.ereview.residents_csv import generate_residents_file

    n = generate_residents_file(
        Path(args.out), seed=args.seed, residents=args.count, code=args.code
    )
    print(f"wrote {n:,} residents to {args.out}")
    return 0


def cmd_evalset(args: argparse.Namespace) -> int:
    from server.ereview.evaluation import generate_evaluation_set, write_evaluation_set
    from server.ereview.residents_csv import iter_residents_file

    labelled = generate_evaluation_set(
        iter_residents_file(Path(args.residents)),
        seed=args.seed,
        count=args.count,
        municipality_code=args.municipality,
        nonresident_share=args.nonresident_share,
    )
    write_evaluation_set(labelled, Path(args.applications), Path(args.truth))
    print(f"wrote {len(labelled)} applications to {args.applications}, truth to {args.truth}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from server.ereview.batch import read_predictions
    from server.ereview.evaluation import breakdown, read_truth, score

    predictions, truth = read_predictions(Path(args.results)), read_truth(Path(args.truth))
    out: dict[str, Any] = {"scores": score(predictions, truth).as_dict()}
    if args.by_corruption:
        out["by_corruption"] = breakdown(predictions, truth)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def cmd_client_add(args: argparse.Namespace) -> int:
    from server.ereview.access import add_client

    secret = add_client(Path(args.registry), args.id, args.name or args.id, args.municipality)
    print(f"client {args.id} may act for {', '.join(args.municipality)}; its secret (shown once):")
    print(secret)
    return 0


def register(sub: Any) -> None:
    """Add `ereview` and its subcommands to the `konbini` subparsers."""
    e = sub.add_parser("ereview", help="e-review (電子審査): match applications to residents")
    esub = e.add_subparsers(dest="ereview_command", required=True)

    s = esub.add_parser("submit", help="submit one application to the center")
    s.add_argument("--server", default="127.0.0.1:50051")
    add_server_ca(s)
    s.add_argument("--client-id", required=True)
    s.add_argument("--secret", help="default: $KONBINI_EREVIEW_SECRET")
    s.add_argument("--municipality", required=True)
    s.add_argument("--name", required=True, help="family name first, e.g. '髙橋 雅子'")
    s.add_argument("--kana", default="")
    s.add_argument("--birth-date", default="", help="1980-05-03 or 昭和55年5月3日")
    s.add_argument("--address", default="")
    s.add_argument("--annex", default="", help="方書 (building, room)")
    s.add_argument("--member", action="append", help="'name|kana|birth date|続柄', repeatable")
    s.add_argument("--procedure", default="other", help="jido_teate, hoikusho_nyusho, …")
    s.add_argument("--application-id", default="")
    s.set_defaults(func=cmd_submit)

    m = esub.add_parser("match", help="batch-match an applications CSV against a residents file")
    m.add_argument("--residents", required=True, help="residents file (docs/ereview.md)")
    m.add_argument("--applications", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--municipality", help="only rows for this municipality; others go to review")
    m.add_argument("--workers", type=int, default=1)
    m.set_defaults(func=cmd_match)

    r = esub.add_parser("residents", help="write a synthetic residents file (streaming)")
    r.add_argument("--out", required=True)
    r.add_argument("--count", type=int, default=100_000)
    r.add_argument("--seed", type=int, default=2026)
    r.add_argument("--code", default="131016")
    r.set_defaults(func=cmd_residents)

    v = esub.add_parser("evalset", help="write a labelled evaluation set from a residents file")
    v.add_argument("--residents", required=True)
    v.add_argument("--applications", required=True)
    v.add_argument("--truth", required=True)
    v.add_argument("--count", type=int, default=10_000)
    v.add_argument("--seed", type=int, default=2026)
    v.add_argument("--municipality", default="131016")
    v.add_argument("--nonresident-share", type=float, default=0.2)
    v.set_defaults(func=cmd_evalset)

    sc = esub.add_parser("score", help="precision/recall of a batch result against the truth")
    sc.add_argument("--results", required=True)
    sc.add_argument("--truth", required=True)
    sc.add_argument("--by-corruption", action="store_true")
    sc.set_defaults(func=cmd_score)

    c = esub.add_parser("client", help="the e-review client registry")
    csub = c.add_subparsers(dest="client_command", required=True)
    ca = csub.add_parser("add", help="register (or re-key) a client; prints its secret once")
    ca.add_argument("--registry", default=str(DEFAULT_REGISTRY))
    ca.add_argument("--id", required=True)
    ca.add_argument("--name", default="")
    ca.add_argument("--municipality", action="append", required=True)
    ca.set_defaults(func=cmd_client_add)


def main(argv: list[str] | None = None) -> int:
    """Run `ereview` alone (before it is wired into `konbini`): python -m clients.ereview.cli."""
    parser = argparse.ArgumentParser(prog="konbini")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
