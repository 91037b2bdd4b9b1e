"""Who may call e-review: registered clients (application portals) and their municipalities.

A client sends `konbini-ereview-client: <client id>` and `authorization: Bearer <secret>` with
every call. The registry is a JSON file the operator manages (`konbini ereview client add`
writes it and prints the secret once); it keeps only the SHA-256 of each secret — secrets are
256-bit random tokens, so a slow password hash would add nothing — and is re-read when the file
changes, so adding or disabling a client needs no restart. An unknown client, a wrong secret or
a disabled client are all UNAUTHENTICATED with one reason (no probing which ids exist); a
client acting for a municipality it is not registered for is PERMISSION_DENIED.

Why a file and not tables: the clients are a handful of systems configured by the operator,
changed by a reviewed deployment step, and the only state that must be shared between server
processes — the single-use autofill challenges — already has a table (`auth_challenges`). The
identity comes from one function, `credentials_from_metadata`, so that mTLS client
certificates can replace the bearer secret there alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.common.errors import NotFound, PermissionDenied, Unauthenticated
from server.common.tokens import new_secret

CLIENT_HEADER = "konbini-ereview-client"
AUTHORIZATION_HEADER = "authorization"
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MUNICIPALITY = re.compile(r"\d{6}")


class EreviewClientMissing(Unauthenticated):
    reason = "EREVIEW_CLIENT_MISSING"


class EreviewClientUnauthenticated(Unauthenticated):
    reason = "EREVIEW_CLIENT_UNAUTHENTICATED"


class MunicipalityNotAllowed(PermissionDenied):
    reason = "MUNICIPALITY_NOT_ALLOWED"


class MunicipalityNotFound(NotFound):
    reason = "MUNICIPALITY_NOT_FOUND"


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class EreviewClient:
    client_id: str
    name: str
    secret_sha256: str
    municipalities: frozenset[str]
    active: bool = True

    def __post_init__(self) -> None:
        if not _CLIENT_ID.fullmatch(self.client_id):
            raise ValueError(f"client_id must be 1-64 of A-Z a-z 0-9 . _ -: {self.client_id!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", self.secret_sha256):
            raise ValueError("secret_sha256 must be 64 lower-case hex digits")
        bad = [m for m in self.municipalities if not _MUNICIPALITY.fullmatch(m)]
        if bad:
            raise ValueError(f"municipality codes must be 6 digits: {bad}")

    def may_act_for(self, municipality_code: str) -> bool:
        return municipality_code in self.municipalities

    def to_json(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "secret_sha256": self.secret_sha256,
            "municipalities": sorted(self.municipalities),
            "active": self.active,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> EreviewClient:
        municipalities = data.get("municipalities", [])
        if not isinstance(municipalities, list):
            raise ValueError("municipalities must be a list")
        return cls(
            client_id=str(data["client_id"]),
            name=str(data.get("name", "")),
            secret_sha256=str(data["secret_sha256"]),
            municipalities=frozenset(str(m) for m in municipalities),
            active=bool(data.get("active", True)),
        )


def new_client(
    client_id: str, name: str, municipalities: Iterable[str]
) -> tuple[EreviewClient, str]:
    """A client with a fresh secret; the secret is returned once and never stored."""
    secret = new_secret()
    return EreviewClient(client_id, name, secret_digest(secret), frozenset(municipalities)), secret


class ClientRegistry:
    """The registered clients; from a file (re-read when it changes) or given directly."""

    def __init__(self, clients: Iterable[EreviewClient] = (), *, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._clients = {c.client_id: c for c in clients}
        if path is not None:
            self._reload()

    @classmethod
    def from_file(cls, path: Path) -> ClientRegistry:
        return cls(path=path)

    def _reload(self) -> None:
        assert self._path is not None
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            self._clients, self._stamp = {}, None  # no file: nobody may call
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        data = json.loads(self._path.read_text(encoding="utf-8"))
        clients = [EreviewClient.from_json(c) for c in data.get("clients", [])]
        self._clients = {c.client_id: c for c in clients}
        self._stamp = stamp

    def clients(self) -> list[EreviewClient]:
        with self._lock:
            if self._path is not None:
                self._reload()
            return sorted(self._clients.values(), key=lambda c: c.client_id)

    def get(self, client_id: str) -> EreviewClient:
        """An active client by id; UNAUTHENTICATED when it is gone or disabled since."""
        with self._lock:
            if self._path is not None:
                self._reload()
            client = self._clients.get(client_id)
        if client is None or not client.active:
            raise EreviewClientUnauthenticated("unknown or disabled e-review client")
        return client

    def authenticate(self, client_id: str, secret: str) -> EreviewClient:
        with self._lock:
            if self._path is not None:
                self._reload()
            client = self._clients.get(client_id)
        # Compare against a digest even for unknown ids, so timing tells nothing either.
        expected = client.secret_sha256 if client is not None else "0" * 64
        matches = hmac.compare_digest(secret_digest(secret), expected)
        if client is None or not matches or not client.active:
            raise EreviewClientUnauthenticated("unknown e-review client or wrong secret")
        return client


def require_municipality(client: EreviewClient, municipality_code: str) -> None:
    if not client.may_act_for(municipality_code):
        raise MunicipalityNotAllowed(
            f"client {client.client_id} is not registered for municipality {municipality_code}",
            metadata={"municipality_code": municipality_code},
        )


def credentials_from_metadata(metadata: Sequence[tuple[str, str | bytes]]) -> tuple[str, str]:
    """(client id, secret) from the call's metadata; EreviewClientMissing without them."""
    client_id = secret = ""
    for key, value in metadata:
        if not isinstance(value, str):
            continue
        if key == CLIENT_HEADER:
            client_id = value
        elif key == AUTHORIZATION_HEADER and value.startswith("Bearer "):
            secret = value.removeprefix("Bearer ").strip()
    if not client_id or not secret or len(client_id) > 64 or len(secret) > 256:
        raise EreviewClientMissing(
            f"e-review calls must carry {CLIENT_HEADER} and {AUTHORIZATION_HEADER}: Bearer …"
        )
    return client_id, secret


def add_client(path: Path, client_id: str, name: str, municipalities: Iterable[str]) -> str:
    """Add (or replace) a client in the registry file; returns its new secret."""
    client, secret = new_client(client_id, name, municipalities)
    data: dict[str, list[dict[str, object]]] = {"clients": []}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    others = [c for c in data.get("clients", []) if c.get("client_id") != client_id]
    data["clients"] = [*others, client.to_json()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)  # readers see the old file or the new one, never half of it
    return secret
