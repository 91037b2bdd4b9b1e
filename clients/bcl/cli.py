"""`konbini bcl …`: generate, join, upload, generations, restore.

`clients.cli` adds these with `add_bcl_parser(sub)`; imports are deferred to the command that
needs them so that `konbini --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from clients.credentials import add_arguments as add_credentials
from clients.credentials import channel_of

DEFAULT_SERVER = "127.0.0.1:50051"
DEFAULT_DATABASE = "sqlite:///var/konbini.db"


def _bar(total: int, unit: str, desc: str) -> Any:
    from tqdm import tqdm

    scale = unit == "B"
    divisor = 1024 if scale else 1000
    return tqdm(total=total, unit=unit, unit_scale=scale, unit_divisor=divisor, desc=desc)


def _cmd_generate(args: argparse.Namespace) -> int:
    from clients.bcl.generate import generate_dataset

    with _bar(args.residents, "residents", "generate") as bar:
        data = generate_dataset(
            Path(args.out),
            residents=args.residents,
            seed=args.seed,
            code=args.code,
            prefecture=args.prefecture,
            name=args.name,
            tax_years=args.tax_years,
            on_household=bar.update,
        )
    print(f"{data.residents} residents in {data.households} households → {data.directory}")
    for name, rows in data.rows.items():
        print(f"  {name:18} {rows:>10,} rows")
    return 0


def _cmd_join(args: argparse.Namespace) -> int:
    from clients.bcl.onboard import join_municipality
    from server.db.engine import make_engine, upgrade

    engine = make_engine(args.database_url)
    upgrade(engine)
    profile, created = join_municipality(
        engine, code=args.code, prefecture=args.prefecture, name=args.name, seed=args.seed
    )
    print(f"{profile.code} {profile.full_name}: {'joined BCL' if created else 'already joined'}")
    return 0


def _cmd_upload(args: argparse.Namespace) -> int:
    import grpc

    from clients.bcl.client import BclClient, upload_files
    from clients.errors import decode_error

    files = upload_files(Path(args.directory))
    total = sum(p.stat().st_size for p in files)
    with channel_of(args) as channel:
        client = BclClient(channel, args.municipality, token=args.token)
        try:
            with _bar(total, "B", "upload") as bar:
                result = client.upload(
                    files,
                    difference=args.difference,
                    base_generation=args.base,
                    progress=bar.update,
                )
        except grpc.RpcError as err:
            e = decode_error(err)
            print(f"refused: {e.code.name} {e.reason}: {e.message}")
            return 2
    if result.generation is None:
        print(f"rejected: {result.error_count} error(s); nothing was applied")
        for x in result.errors:
            where = f"{x.file}:{x.row}" + (f" [{x.column}]" if x.column else "")
            print(f"  {where:40} {x.code:20} {x.message}")
        if result.error_count > len(result.errors):
            print(f"  … and {result.error_count - len(result.errors)} more")
        return 1
    g = result.generation
    print(f"generation {g.number} ({g.kind}) committed, checksum {g.checksum}")
    for name, n in g.counts.items():
        print(f"  {name:15} {n:>10,}")
    if result.pruned:
        print(f"  retention removed the kept files of generation(s) {list(result.pruned)}")
    return 0


def _cmd_generations(args: argparse.Namespace) -> int:
    from clients.bcl.client import BclClient

    with channel_of(args) as channel:
        gens = BclClient(channel, args.municipality, token=args.token).generations()
    if not gens:
        print(f"{args.municipality}: no generations yet")
        return 0
    print(f"{'no':>4}  {'kind':10} {'committed (UTC)':20} {'residents':>10} {'bytes':>12}  state")
    for g in gens:
        state = ("current, " if g.current else "") + ("kept" if g.kept else "pruned")
        when = g.committed_at.strftime("%Y-%m-%d %H:%M:%S")
        print(
            f"{g.number:>4}  {g.kind:10} {when:20} {g.counts['residents']:>10,} "
            f"{g.uploaded_bytes:>12,}  {state}  {g.checksum[:16]}…"
        )
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    from clients.bcl.client import BclClient

    with channel_of(args) as channel:
        client = BclClient(channel, args.municipality, token=args.token)
        with _bar(0, "B", "restore") as bar:
            g = client.restore(
                Path(args.out), number=args.generation, progress=bar.update, overwrite=args.force
            )
    what = "as uploaded" if g.kind == "full" else "as a full export"
    print(f"generation {g.number} ({g.kind}) restored {what} into {args.out}")
    for f in g.kept_files:
        print(f"  {f.sha256}  {f.name}")
    print(f"checksum {g.kept_checksum} verified")
    return 0


def add_bcl_parser(sub: Any) -> None:
    """Add `bcl` and its subcommands to the `konbini` parser's subparsers."""
    b = sub.add_parser("bcl", help="BCL resident data: generate, upload, generations, restore")
    bsub = b.add_subparsers(dest="bcl_command", required=True)

    def municipality(p: argparse.ArgumentParser) -> None:
        p.add_argument("--code", default="131016", help="全国地方公共団体コード")
        p.add_argument("--prefecture", default="東京都")
        p.add_argument("--name", default="千代田区")
        p.add_argument("--seed", type=int, default=2026)

    g = bsub.add_parser("generate", help="write a synthetic municipality in the upload format")
    g.add_argument("--residents", type=int, required=True)
    g.add_argument("--out", required=True, help="directory for the CSV files")
    g.add_argument("--tax-years", type=int, default=2)
    municipality(g)
    g.set_defaults(func=_cmd_generate)

    j = bsub.add_parser("join", help="register a municipality as BCL-backed (no residents)")
    j.add_argument("--database-url", default=DEFAULT_DATABASE)
    municipality(j)
    j.set_defaults(func=_cmd_join)

    def server(p: argparse.ArgumentParser) -> None:
        p.add_argument("--server", default=DEFAULT_SERVER)
        p.add_argument("--municipality", required=True, help="the code acted for")
        add_credentials(p)  # a staff token of that municipality (national operator: any)

    u = bsub.add_parser("upload", help="upload a directory of CSV files (full or difference)")
    u.add_argument("directory")
    u.add_argument("--difference", action="store_true", help="a difference, not a full upload")
    u.add_argument("--base", type=int, default=0, help="generation the difference was made on")
    server(u)
    u.set_defaults(func=_cmd_upload)

    ls = bsub.add_parser("generations", help="list the generations (副本)")
    server(ls)
    ls.set_defaults(func=_cmd_generations)

    r = bsub.add_parser("restore", help="write a kept generation back out, checksummed")
    r.add_argument("--generation", type=int, default=0, help="number; 0 = current")
    r.add_argument("--out", required=True)
    r.add_argument("--force", action="store_true", help="overwrite files in --out")
    server(r)
    r.set_defaults(func=_cmd_restore)
