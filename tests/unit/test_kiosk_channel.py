"""The kiosk's channel: its streaming call is read on the calling thread, its connection its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from clients.kiosk.channel import open_channel

_STREAM = "/konbini.test.Copies/Stream"
_PEER = "/konbini.test.Copies/Peer"


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    """A center stand-in: a stream of three chunks, and the caller's address (raw bytes)."""

    def stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for n in range(3):
            yield request + bytes([n])

    def peer(request: bytes, context: grpc.ServicerContext) -> bytes:
        return context.peer().encode()

    handler = grpc.method_handlers_generic_handler(
        "konbini.test.Copies",
        {
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
            "Peer": grpc.unary_unary_rpc_method_handler(peer),
        },
    )
    # One handler thread, started by the first call: any thread that appears later is the client's.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def _peer(channel: grpc.Channel) -> bytes:
    """The address the center sees the call come from."""
    answer: bytes = channel.unary_unary(_PEER, None, None)(b"", timeout=10)
    return answer


def test_a_kiosk_reads_its_streamed_copy_without_a_thread_of_grpc_started_for_it(
    target: str,
) -> None:
    with open_channel(target) as channel:
        call = channel.unary_stream(_STREAM, None, None)
        assert list(call(b"warm", timeout=10)) == [b"warm\x00", b"warm\x01", b"warm\x02"]
        before = set(threading.enumerate())
        started: set[threading.Thread] = set()
        for chunk in call(b"copy", timeout=10):
            started |= set(threading.enumerate()) - before
            assert chunk.startswith(b"copy")
        assert started == set()


def test_kiosks_with_connections_of_their_own_reach_the_center_over_two_connections(
    target: str,
) -> None:
    with (
        open_channel(target, own_connection=True) as first,
        open_channel(target, own_connection=True) as second,
    ):
        peers = {_peer(channel) for channel in (first, second)}
    assert len(peers) == 2  # two client ports: the kernel may give each to another worker


def test_channels_without_it_share_the_process_connection(target: str) -> None:
    with open_channel(target) as first, open_channel(target) as second:
        peers = {_peer(channel) for channel in (first, second)}
    assert len(peers) == 1
