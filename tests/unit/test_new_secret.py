"""Secrets handed to people never look like a command-line option."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.common import tokens


def test_a_secret_that_would_start_with_a_dash_is_drawn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draws: Iterator[str] = iter(["-jW1A911AT5GT6z6dS", "_second", "third"])
    monkeypatch.setattr("server.common.tokens.secrets.token_urlsafe", lambda _n: next(draws))
    assert tokens.new_secret() == "_second"


def test_secrets_are_long_and_never_start_with_a_dash() -> None:
    drawn = [tokens.new_secret() for _ in range(2000)]
    assert not any(s.startswith("-") for s in drawn)
    assert min(len(s) for s in drawn) == 43  # 32 random bytes in URL-safe base64
    assert len(set(drawn)) == len(drawn)
