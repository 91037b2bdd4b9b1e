"""The serving process's garbage-collector settings (`server.app.settle_gc`, `ServerConfig`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.app import settle_gc
from server.config import ServerConfig


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to this process's collector is undone after it."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_start_up_objects_are_frozen_and_the_young_generation_collected_less_often(
    collector: None,
) -> None:
    built = [{"start-up": i} for i in range(1000)]
    _, gen1, gen2 = gc.get_threshold()
    settle_gc(10_000)
    assert gc.get_freeze_count() >= len(built)
    assert gc.get_threshold() == (10_000, gen1, gen2)


def test_frozen_objects_stay_alive_and_later_cycles_are_still_collected(collector: None) -> None:
    settle_gc(10_000)

    class Node:
        other: Node

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after start-up: only the collector frees it
    del a, b
    assert gc.collect() >= 2


def test_zero_leaves_the_collector_as_it_was(collector: None) -> None:
    before = gc.get_threshold()
    settle_gc(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_threshold_comes_from_the_environment_and_is_never_negative() -> None:
    env = {"KONBINI_TRUST_ANCHOR": "ca.der", "KONBINI_AUTHORITY_URL": "http://127.0.0.1:1"}
    assert ServerConfig.from_env(env).gc_gen0_threshold == 10_000
    assert ServerConfig.from_env({**env, "KONBINI_GC_THRESHOLD": "0"}).gc_gen0_threshold == 0
    with pytest.raises(ValueError, match="gc_gen0_threshold"):
        ServerConfig(Path("ca.der"), "http://127.0.0.1:1", gc_gen0_threshold=-1)
