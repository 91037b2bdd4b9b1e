"""What the center's gRPC set-up costs per call, beside the same server without it.

A trivial unary RPC (a short string back) and a small server-streaming one (four 4 KiB
messages, the shape of `Issue`'s PDF chunks) are served by one process per variant, over
loopback, to kiosk-like clients (each thread its own channel and connection, the kiosk id
header, the kiosk's channel options). What is measured is CPU time: the server process's user
+ system time over a batch of calls ÷ the calls, and the same for this (client) process, so the
figures hold on a busy machine; batches of the variants are interleaved, round after round, and
the median round is reported.

Variants (`--variants`):

- `bare`: `grpc.server` with the center's thread pool and no interceptor.
- `center`: the center's interceptors (`server.app.center_interceptors`: error mapping, access
  check) with a policy entry for the two methods that admits terminals, the kiosk's registry row
  read at every call (`KONBINI_TERMINAL_TTL` 0, the default) from a SQLite file.
- `center-ttl`: the same with the row reused for 2 s (the bench stack's setting): the chain
  without its database read.
- `aio`: `grpc.aio.server`, `async def` handlers, no interceptor.
- `aio-pool`: `grpc.aio.server` with plain functions as handlers, which it runs on its thread
  pool (what the center's synchronous servicers would be on an asyncio server).

`chain` is the interceptors' own CPU per call, measured in this process without any transport
(`chain_cost`: grpc's interceptor pipeline, the request parsed, the call in a fresh context,
the row reused), minus the same without interceptors: steadier than the loopback figures, whose
difference it is, for a before/after of a change to the interceptors.

    python -m bench.rpc_overhead                      # all variants, 16 worker threads
    python -m bench.rpc_overhead --variants ""        # the interceptors alone (`chain`), ~1 min
    python -m bench.rpc_overhead --variants bare,center-ttl --workers 4 --clients 4
    python -m bench.rpc_overhead --variants bare:w2,bare:w16,bare:w64    # pools side by side
    python -m bench.rpc_overhead --server-option grpc.optimization_target=throughput
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import grpc
import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]
from google.protobuf import wrappers_pb2
from sqlmodel import Session

from clients.kiosk.channel import open_channel
from server.common.identity import KIOSK_ID_HEADER

SERVICE = "konbini.bench.v1.Overhead"
UNARY = f"/{SERVICE}/Echo"
STREAM = f"/{SERVICE}/Chunks"
CHUNKS = 4
CHUNK = b"\x00" * 4096
KIOSK = "K13101001"
VARIANTS = ("bare", "center", "center-ttl", "aio", "aio-pool")

Options = tuple[tuple[str, int | str], ...]


@dataclass(frozen=True)
class Spec:
    variant: str
    workers: int
    database_url: str
    server_options: Options = ()


def _echo(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Any:
    return wrappers_pb2.StringValue(value=request.value)


def _chunks(request: wrappers_pb2.StringValue, context: grpc.ServicerContext) -> Iterator[Any]:
    for _ in range(CHUNKS):
        yield wrappers_pb2.BytesValue(value=CHUNK)


async def _echo_async(request: wrappers_pb2.StringValue, context: Any) -> Any:
    return wrappers_pb2.StringValue(value=request.value)


async def _chunks_async(request: wrappers_pb2.StringValue, context: Any) -> Any:
    for _ in range(CHUNKS):
        yield wrappers_pb2.BytesValue(value=CHUNK)


def _handlers(
    echo: Callable[..., Any], chunks: Callable[..., Any]
) -> grpc.GenericRpcHandler[Any, Any]:
    kw: dict[str, Any] = {"request_deserializer": wrappers_pb2.StringValue.FromString}
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(
                echo, response_serializer=wrappers_pb2.StringValue.SerializeToString, **kw
            ),
            "Chunks": grpc.unary_stream_rpc_method_handler(
                chunks, response_serializer=wrappers_pb2.BytesValue.SerializeToString, **kw
            ),
        },
    )


def _interceptors(spec: Spec) -> list[Any]:
    from server.access.policy import POLICY, TERMINALS, Rule
    from server.access.resolve import CallerResolver
    from server.access.tokens import AccessTokens
    from server.common.clock import system_clock
    from server.db.engine import make_engine
    from server.ereview.access import ClientRegistry

    engine = make_engine(spec.database_url, pool_size=spec.workers + 1)
    policy = {**POLICY, UNARY: Rule(TERMINALS), STREAM: Rule(TERMINALS)}
    resolver = CallerResolver(
        engine,
        tokens=AccessTokens(engine, clock=system_clock),
        ereview=ClientRegistry(),
        terminal_ttl=2.0 if spec.variant == "center-ttl" else 0.0,
    )
    try:
        from server.app import center_interceptors
    except ImportError:  # a tree from before it (a before/after run on an export)
        from server.access.interceptor import AccessInterceptor
        from server.grpc_errors import DomainErrorInterceptor

        return [DomainErrorInterceptor(), AccessInterceptor(resolver, policy)]
    return center_interceptors(resolver, policy=policy)


def _serve_sync(spec: Spec, conn: Connection) -> None:
    interceptors = _interceptors(spec) if spec.variant.startswith("center") else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=spec.workers, thread_name_prefix="rpc"),
        interceptors=interceptors,
        options=list(spec.server_options),
    )
    server.add_generic_rpc_handlers((_handlers(_echo, _chunks),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    conn.send(port)
    conn.recv()  # stop
    server.stop(grace=None).wait()


def _serve_aio(spec: Spec, conn: Connection) -> None:
    async def main() -> None:
        pooled = spec.variant == "aio-pool"
        server = grpc.aio.server(
            migration_thread_pool=futures.ThreadPoolExecutor(max_workers=spec.workers)
            if pooled
            else None,
            options=list(spec.server_options),
        )
        handlers = _handlers(_echo, _chunks) if pooled else _handlers(_echo_async, _chunks_async)
        server.add_generic_rpc_handlers((handlers,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        conn.send(port)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await server.stop(grace=None)

    asyncio.run(main())


def _serve(spec: Spec, conn: Connection) -> None:
    (_serve_aio if spec.variant.startswith("aio") else _serve_sync)(spec, conn)


def _prepare_database(path: Path) -> str:
    from server.db.engine import make_engine, upgrade
    from server.db.models import Operator
    from server.kiosks.registry import KioskRegistry

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as db:
        db.add(Operator(operator_id="lawson", name="ローソン"))
        db.commit()
    KioskRegistry(engine).register(
        KIOSK, operator_id="lawson", store_name="ローソン 試験店", municipality_code="131016"
    )
    engine.dispose()
    return url


class _Clients:
    """`n` kiosk-like callers, each a thread with a channel (and connection) of its own."""

    def __init__(self, target: str, n: int, channel_options: Options) -> None:
        self._channels = [_channel(target, channel_options) for _ in range(n)]
        self._metadata = ((KIOSK_ID_HEADER, KIOSK),)

    def run(self, calls: int, streaming: bool) -> None:
        per_thread = calls // len(self._channels)

        def loop(channel: grpc.Channel) -> None:
            request = wrappers_pb2.StringValue(value="ping")
            if streaming:
                chunks = channel.unary_stream(
                    STREAM,
                    request_serializer=wrappers_pb2.StringValue.SerializeToString,
                    response_deserializer=wrappers_pb2.BytesValue.FromString,
                )
                for _ in range(per_thread):
                    n = sum(1 for _ in chunks(request, metadata=self._metadata, timeout=10))
                    assert n == CHUNKS
            else:
                echo = channel.unary_unary(
                    UNARY,
                    request_serializer=wrappers_pb2.StringValue.SerializeToString,
                    response_deserializer=wrappers_pb2.StringValue.FromString,
                )
                for _ in range(per_thread):
                    echo(request, metadata=self._metadata, timeout=10)

        threads = [threading.Thread(target=loop, args=(c,)) for c in self._channels]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self) -> None:
        for channel in self._channels:
            channel.close()


def _channel(target: str, options: Options) -> grpc.Channel:
    if not options:
        return open_channel(target, own_connection=True)
    from clients.kiosk.channel import KIOSK_CHANNEL_OPTIONS

    return grpc.insecure_channel(
        target,
        options=[*KIOSK_CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1), *options],
    )


class _Details(NamedTuple):  # what grpc hands the interceptors (grpc.HandlerCallDetails)
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class _PlaintextCall:
    """A servicer context as grpc's is for a plaintext call from a kiosk: the metadata tuple,
    and an auth context built anew at each `auth_context()` (grpc decodes its keys each time)."""

    _AUTH: ClassVar[dict[bytes, list[bytes]]] = {
        b"transport_security_type": [b"insecure"],
        b"security_level": [b"TSI_SECURITY_NONE"],
    }

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return {key.decode(): value for key, value in self._AUTH.items()}


def chain_cost(spec: Spec, *, calls: int = 20_000, rounds: int = 5) -> dict[str, float]:
    """CPU µs per call that the center's interceptors add, in this process with no transport:
    the handler looked up through grpc's interceptor pipeline, the request parsed, the call run
    in a fresh `contextvars.Context` (as grpc runs each), the response serialized; the same
    without interceptors subtracted (median of `rounds`)."""
    from grpc._interceptor import service_pipeline

    handlers: Any = _handlers(_echo, _chunks)  # called here as grpc calls it, untyped
    metadata = ((KIOSK_ID_HEADER, KIOSK), ("user-agent", "grpc-python/" + grpc.__version__))
    pipelines = {"bare": None, "chain": service_pipeline(_interceptors(spec))}
    payload = wrappers_pb2.StringValue(value="ping").SerializeToString()

    def one(pipeline: Any, method: str) -> None:
        details = _Details(method, metadata)
        handler: Any = (
            pipeline.execute(handlers.service, details) if pipeline else handlers.service(details)
        )
        request = handler.request_deserializer(payload)
        context = _PlaintextCall(metadata)
        if handler.unary_unary is not None:
            handler.response_serializer(handler.unary_unary(request, context))
        else:
            for response in handler.unary_stream(request, context):
                handler.response_serializer(response)

    out: dict[str, float] = {}
    for kind, method in (("unary", UNARY), ("stream", STREAM)):
        costs: dict[str, list[float]] = {"bare": [], "chain": []}
        for _ in range(rounds):
            for name, pipeline in pipelines.items():
                t0 = time.process_time()
                for _ in range(calls):
                    contextvars.Context().run(one, pipeline, method)
                costs[name].append((time.process_time() - t0) / calls * 1e6)
        bare, chain = (statistics.median(costs[n]) for n in ("bare", "chain"))
        out[f"{kind}_bare_us"] = round(bare, 2)
        out[f"{kind}_chain_us"] = round(chain - bare, 2)
    return out


def _cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return float(t.user + t.system)


def measure(
    variants: tuple[str, ...],
    *,
    workers: int = 16,
    clients: int = 2,
    calls: int = 2000,
    rounds: int = 3,
    server_options: Options = (),
    channel_options: Options = (),
) -> dict[str, Any]:
    """Per variant and kind of call: server and client CPU µs per call (median round); and
    the interceptors' own cost per call without transport (`chain_cost`, the row reused)."""
    ctx = multiprocessing.get_context("spawn")
    me = psutil.Process()
    samples: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = _prepare_database(Path(tmp) / "overhead.db")
        chain = chain_cost(Spec("center-ttl", workers, url))
        servers: dict[str, tuple[Any, Connection, _Clients, psutil.Process]] = {}
        try:
            for variant in variants:
                spec = _spec(variant, workers, url, server_options)
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(spec, child))
                proc.start()
                port = parent.recv()
                callers = _Clients(f"127.0.0.1:{port}", clients, channel_options)
                callers.run(200, streaming=False)  # warm: connections, code paths, caches
                callers.run(200, streaming=True)
                servers[variant] = (proc, parent, callers, psutil.Process(proc.pid))
            for _ in range(rounds):
                for variant, (_, _, callers, server) in servers.items():
                    for kind, streaming in (("unary", False), ("stream", True)):
                        s0, c0, w0 = _cpu(server), _cpu(me), time.perf_counter()
                        callers.run(calls, streaming)
                        s1, c1, w1 = _cpu(server), _cpu(me), time.perf_counter()
                        n = calls // clients * clients
                        samples.setdefault(variant, {}).setdefault(kind, []).append(
                            ((s1 - s0) / n * 1e6, (c1 - c0) / n * 1e6, (w1 - w0) / n * 1e6)
                        )
        finally:
            for proc, parent, callers, _ in servers.values():
                callers.close()
                parent.send("stop")
                proc.join(30)
    out: dict[str, Any] = {
        "workers": workers,
        "clients": clients,
        "calls_per_batch": calls,
        "rounds": rounds,
        "server_options": dict(server_options),
        "channel_options": dict(channel_options),
        "chain": chain,
        "unit": "CPU µs per call (median round); wall µs per call over all clients",
        "variants": {},
    }
    for variant, kinds in samples.items():
        out["variants"][variant] = {
            kind: {
                "server_us": round(statistics.median(s[0] for s in rows), 1),
                "client_us": round(statistics.median(s[1] for s in rows), 1),
                "wall_us": round(statistics.median(s[2] for s in rows), 1),
            }
            for kind, rows in kinds.items()
        }
    return out


def _spec(label: str, workers: int, url: str, server_options: Options) -> Spec:
    """`variant[:w<threads>][:<server option>=<value>]...`, e.g. `bare:w4` or
    `center-ttl:grpc.optimization_target=throughput`: variants that differ in their thread pool
    or options, measured side by side in one run."""
    variant, *extras = label.split(":")
    options = list(server_options)
    for extra in extras:
        if "=" in extra:
            options.append(_option(extra))
        elif extra.startswith("w") and extra[1:].isdigit():
            workers = int(extra[1:])
        else:
            raise ValueError(f"not a thread count (w<N>) or an option (name=value): {extra!r}")
    return Spec(variant, workers, url, tuple(options))


def _option(text: str) -> tuple[str, int | str]:
    key, _, value = text.partition("=")
    if not key or not value:
        raise argparse.ArgumentTypeError(f"expected name=value, not {text!r}")
    return key, int(value) if value.lstrip("-").isdigit() else value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.rpc_overhead", description=__doc__)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--workers", type=int, default=16, help="server thread pool (KONBINI_WORKERS)")
    p.add_argument("--clients", type=int, default=2, help="client threads, a connection each")
    p.add_argument("--calls", type=int, default=2000, help="calls per batch")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--server-option", type=_option, action="append", default=[])
    p.add_argument("--channel-option", type=_option, action="append", default=[])
    p.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = p.parse_args(argv)
    variants = tuple(v for v in args.variants.split(",") if v)  # none: the chain alone
    unknown = {v.split(":")[0] for v in variants} - set(VARIANTS)
    if unknown:
        p.error(f"unknown variants: {', '.join(sorted(unknown))}")
    result = measure(
        variants,
        workers=args.workers,
        clients=args.clients,
        calls=args.calls,
        rounds=args.rounds,
        server_options=tuple(args.server_option),
        channel_options=tuple(args.channel_option),
    )
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
