"""Bearer secrets the center hands out once, and the digest under which it keeps them.

Kiosk sessions, staff accounts and access tokens are all shown to their holder once and stored
only as this SHA-256 digest, so a copy of the database lets no one in; one function, so that a
token is looked up the same way it was stored.
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret() -> str:
    """256 random bits, URL-safe base64, never starting with "-": people pass these on command
    lines (`--token …`), where a leading dash would read as an option."""
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
