"""Regenerate the Python code for protos/ (the one command; `make protos` calls it).

Generated modules are written beside their .proto files so that the proto package path equals
the Python import path (`konbini.auth.v1`). `--check` regenerates into a temporary tree and
fails when the committed files differ, which CI runs.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools  # type: ignore[import-untyped]
from grpc_tools import protoc

# mypy-protobuf's plugin gives the generated gRPC stubs and servicers type hints.
MYPY_GRPC_PLUGIN = Path(sys.executable).parent / "protoc-gen-mypy_grpc"

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _generate(out: Path) -> None:
    protos = sorted(p.relative_to(PROTO_ROOT) for p in (PROTO_ROOT / "konbini").rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy_grpc={MYPY_GRPC_PLUGIN}",
        f"--mypy_grpc_out={out}",
        *(str(p) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Every directory on the way is a package, so `import konbini.auth.v1` works.
    for proto in protos:
        pkg = out / proto.parent
        while pkg != out:
            (pkg / "__init__.py").touch()
            pkg = pkg.parent


def _generated_files(tree: Path) -> set[Path]:
    return {
        p.relative_to(tree)
        for p in tree.rglob("*")
        if p.is_file() and (p.name.endswith(GENERATED_SUFFIXES) or p.name == "__init__.py")
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _generate(out)
        fresh = _generated_files(out)
        committed = _generated_files(PROTO_ROOT)
        if args.check:
            stale = sorted(
                str(p)
                for p in fresh | committed
                if p not in fresh
                or p not in committed
                or not filecmp.cmp(out / p, PROTO_ROOT / p, shallow=False)
            )
            if stale:
                print("generated protobuf code is stale; run `make protos`:", *stale, sep="\n  ")
                return 1
            print(f"generated protobuf code is current ({len(fresh)} files)")
            return 0
        for p in committed - fresh:
            (PROTO_ROOT / p).unlink()
        for p in fresh:
            (PROTO_ROOT / p).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / p, PROTO_ROOT / p)
        print(f"wrote {len(fresh)} generated files under {PROTO_ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
