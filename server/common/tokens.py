"""The digest under which the center keeps a bearer secret it handed out once.

Kiosk sessions, staff accounts and access tokens are all shown to their holder once and stored
only as this SHA-256 digest, so a copy of the database lets no one in; one function, so that a
token is looked up the same way it was stored.
"""

from __future__ import annotations

import hashlib


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
