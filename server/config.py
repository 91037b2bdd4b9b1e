"""The server's one settings object, read from the environment or built explicitly (STYLE 9)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from server.municipal.rules import DailyHours

DEFAULT_FONT = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")

# ocsp-then-crl: OCSP, and the cached CRL while OCSP cannot answer (server.auth.revocation_policy).
RevocationMode = Literal["ocsp", "crl", "ocsp-then-crl"]


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


@dataclass(frozen=True)
class ServerConfig:
    trust_anchor_path: Path  # the JPKI user-auth CA certificate (DER or PEM)
    authority_url: str  # base URL of the authority: /ocsp and /crl/auth.crl below it
    database_url: str = "sqlite:///var/konbini.db"
    host: str = "127.0.0.1"
    port: int = 50051
    revocation_mode: RevocationMode = "ocsp"
    revocation_timeout_s: float = 2.0
    font_path: Path = DEFAULT_FONT
    max_workers: int = 16
    # Garbage collection in a serving process (server.app.settle_gc): what start-up built is
    # frozen out of the collector's scans, and the youngest generation is collected after this
    # many new container objects instead of Python's 700. 0 leaves Python's collector as it is.
    gc_gen0_threshold: int = 10_000
    sweep_interval_s: float = 30.0
    # How long an unpaid reservation, and a copy handed out but never reported printed, live
    # before the sweeper voids them (short values are for tests and fault drills).
    reservation_ttl_s: float = 600.0
    printing_ttl_s: float = 900.0
    # A counter copy (らくらく窓口) not handed over this long after it printed is voided, no fee.
    handover_ttl_s: float = 4 * 3600.0
    # National kiosk service hours, Asia/Tokyo (SPEC: 6:30–23:00 every day).
    kiosk_hours: str = "06:30-23:00"
    # Authentication attempt limits (server.auth.limits), shared by all processes; 0 is off.
    auth_card_failures: int = 5  # failed authentications of one card per window
    auth_card_window_s: float = 900.0
    auth_kiosk_challenges: int = 300  # challenges to one kiosk per window
    auth_kiosk_window_s: float = 60.0
    # Seconds a worker may reuse an active terminal's registry row (server.access.resolve):
    # 0 reads it at every call, so a suspension stops the very next call; S > 0 lets a
    # suspended terminal's calls through for up to S seconds after its last read (docs/security.md).
    terminal_ttl_s: float = 0.0
    # TLS: all three, or none (then only with `insecure`: plaintext, kiosks named by a header).
    tls_cert_path: Path | None = None  # the center's certificate (PEM)
    tls_key_path: Path | None = None
    kiosk_ca_path: Path | None = None  # the kiosk CA: only its client certificates get in
    # With TLS the center listens twice: `port` for terminals (mutual TLS, certificate required)
    # and `api_port` for callers with bearer credentials (server TLS only; default port + 1, or a
    # free port when port is 0). gRPC cannot ask for a client certificate without requiring it,
    # hence two doors to one server (docs/security.md).
    api_port: int | None = None
    # Demo/dev mode: plaintext on `port` alone, kiosks named by a header. Without it the center
    # refuses to start unless TLS is configured.
    insecure: bool = False
    # E-review clients (JSON registry of client ids, secret hashes, allowed municipalities).
    ereview_clients_path: Path = Path("var/ereview-clients.json")
    # Municipal seal keys (private, one PEM per municipality; never in the repository).
    seal_key_dir: Path = Path("var/seal-keys")
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.revocation_mode not in ("ocsp", "crl", "ocsp-then-crl"):
            raise ValueError(
                f"revocation mode must be ocsp, crl or ocsp-then-crl, not {self.revocation_mode!r}"
            )
        lifetimes = (self.reservation_ttl_s, self.printing_ttl_s, self.handover_ttl_s)
        if min(self.sweep_interval_s, *lifetimes) <= 0:
            raise ValueError("the sweep interval and the lifetimes must be positive")
        if not 0 <= self.port <= 65535:
            raise ValueError("port out of range")
        if self.api_port is not None and not 0 <= self.api_port <= 65535:
            raise ValueError("api_port out of range")
        if not self.authority_url.startswith(("http://", "https://")):
            raise ValueError("authority_url must be an http(s) URL")
        if self.max_workers < 1:
            raise ValueError("max_workers must be positive")
        if self.gc_gen0_threshold < 0:
            raise ValueError("gc_gen0_threshold must be 0 (Python's default) or positive")
        if min(self.auth_card_failures, self.auth_kiosk_challenges) < 0:
            raise ValueError("attempt limits must be 0 (off) or positive")
        if min(self.auth_card_window_s, self.auth_kiosk_window_s) <= 0:
            raise ValueError("attempt limit windows must be positive")
        if not 0 <= self.terminal_ttl_s < math.inf:  # NaN and infinity too
            raise ValueError("terminal_ttl_s must be 0 (read at every call) or positive")
        DailyHours.parse(self.kiosk_hours)
        tls = (self.tls_cert_path, self.tls_key_path, self.kiosk_ca_path)
        if any(p is not None for p in tls) and not all(p is not None for p in tls):
            raise ValueError("TLS needs the certificate, its key and the kiosk CA together")

    @property
    def tls(self) -> bool:
        return self.tls_cert_path is not None

    @property
    def effective_api_port(self) -> int:
        if self.api_port is not None:
            return self.api_port
        return self.port + 1 if self.port else 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ServerConfig:
        """KONBINI_* variables; keyword overrides (e.g. from CLI flags) win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        mapping: dict[str, tuple[str, Callable[[str], object]]] = {
            "KONBINI_TRUST_ANCHOR": ("trust_anchor_path", Path),
            "KONBINI_AUTHORITY_URL": ("authority_url", str),
            "KONBINI_DATABASE_URL": ("database_url", str),
            "KONBINI_HOST": ("host", str),
            "KONBINI_PORT": ("port", int),
            "KONBINI_REVOCATION": ("revocation_mode", str),
            "KONBINI_REVOCATION_TIMEOUT": ("revocation_timeout_s", float),
            "KONBINI_FONT": ("font_path", Path),
            "KONBINI_WORKERS": ("max_workers", int),
            "KONBINI_GC_THRESHOLD": ("gc_gen0_threshold", int),
            "KONBINI_KIOSK_HOURS": ("kiosk_hours", str),
            "KONBINI_AUTH_CARD_FAILURES": ("auth_card_failures", int),
            "KONBINI_AUTH_CARD_WINDOW": ("auth_card_window_s", float),
            "KONBINI_AUTH_KIOSK_CHALLENGES": ("auth_kiosk_challenges", int),
            "KONBINI_AUTH_KIOSK_WINDOW": ("auth_kiosk_window_s", float),
            "KONBINI_TERMINAL_TTL": ("terminal_ttl_s", float),
            "KONBINI_SWEEP_INTERVAL": ("sweep_interval_s", float),
            "KONBINI_RESERVATION_TTL": ("reservation_ttl_s", float),
            "KONBINI_PRINTING_TTL": ("printing_ttl_s", float),
            "KONBINI_HANDOVER_TTL": ("handover_ttl_s", float),
            "KONBINI_EREVIEW_CLIENTS": ("ereview_clients_path", Path),
            "KONBINI_SEAL_KEY_DIR": ("seal_key_dir", Path),
            "KONBINI_TLS_CERT": ("tls_cert_path", Path),
            "KONBINI_TLS_KEY": ("tls_key_path", Path),
            "KONBINI_KIOSK_CA": ("kiosk_ca_path", Path),
            "KONBINI_API_PORT": ("api_port", int),
            "KONBINI_INSECURE": ("insecure", _flag),
        }
        for var, (name, conv) in mapping.items():
            if var in env:
                try:
                    values[name] = conv(env[var])
                except ValueError as exc:  # "could not convert 'abc'" alone names no setting
                    raise ValueError(f"{var}={env[var]!r}: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        missing = [n for n in ("trust_anchor_path", "authority_url") if n not in values]
        if missing:
            raise ValueError(f"missing settings: {', '.join(missing)}")
        return cls(**values)  # type: ignore[arg-type]
