"""Revocation at national scale: a CRL of 1,000,000 serials, and the OCSP responder's rate.

`crl_load_s` is what the center spends when the daily CRL arrives (parse, verify the CA's
signature, index every serial); `crl_checks_per_s` is lookups of presented certificates on
one thread afterwards, a quarter of them revoked. `ocsp_responses_per_s` is the authority's
HTTP responder (a separate process) answering the center's own `OcspChecker`, which builds
each request with a fresh nonce and verifies each signed answer, from several threads of
this process: both ends share the machine's two cores, as in the load run.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]
from cryptography import x509

from hardware_sim.authority.ca import JpkiAuthority
from server.auth.revocation import CrlChecker, OcspChecker
from tests.pki import build_large_crl, issue_test_card, pooled_key_source


def measure_crl(*, revoked: int = 1_000_000, seconds: float = 5.0) -> dict[str, Any]:
    clock = lambda: datetime.now(UTC)  # noqa: E731
    authority = JpkiAuthority.create(clock=clock, key_source=pooled_key_source())
    good = x509.load_der_x509_certificate(issue_test_card(authority).auth_cert_der)
    started = time.perf_counter()
    crl_der, records = build_large_crl(authority, revoked)
    build_s = time.perf_counter() - started
    checker = CrlChecker(
        "http://127.0.0.1:1/crl", authority.auth_ca_cert, clock=clock, get=lambda _u, _t: crl_der
    )
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    failure = checker.refresh()
    load_s = time.perf_counter() - started
    rss_after = psutil.Process().memory_info().rss
    if failure is not None:
        raise RuntimeError(f"the CRL did not load: {failure.detail}")
    rng = random.Random(7)
    serials = [
        rng.choice(records).serial if i % 4 == 0 else rng.getrandbits(159) for i in range(10_000)
    ]
    checks = 0
    revoked_seen = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for serial in serials[:1000]:
            revoked_seen += checker.check_serial(serial).outcome == "revoked"
        assert checker.check(good).is_good  # the path an authentication takes
        checks += 1001
        serials = serials[1000:] + serials[:1000]
    elapsed = time.perf_counter() - started
    return {
        "crl_entries": revoked,
        "crl_bytes": len(crl_der),
        "crl_build_s_at_authority": round(build_s, 2),
        "crl_load_s": round(load_s, 2),
        # What holding the loaded CRL costs a center process (parsed list + serial index).
        "crl_loaded_rss_mb": round((rss_after - rss_before) / 2**20, 1),
        "crl_checks_per_s": round(checks / elapsed),
        "crl_revoked_share_checked": round(revoked_seen / max(1, checks), 3),
    }


def measure_ocsp(
    authority_url: str,
    issuer: x509.Certificate,
    cert: x509.Certificate,
    *,
    threads: int = 4,
    seconds: float = 10.0,
) -> dict[str, Any]:
    """Responses per second from a running responder, verified by the center's checker."""
    checker = OcspChecker(
        authority_url.rstrip("/") + "/ocsp",
        issuer,
        timeout=5.0,
        clock=lambda: datetime.now(UTC),
    )
    counts = [0] * threads
    failures = [0] * threads
    stop_at = time.perf_counter() + seconds

    def run(n: int) -> None:
        while time.perf_counter() < stop_at:
            status = checker.check(cert)
            if status.is_good:
                counts[n] += 1
            else:
                failures[n] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    return {
        "ocsp_client_threads": threads,
        "ocsp_responses_per_s": round(sum(counts) / elapsed, 1),
        "ocsp_failures": sum(failures),
    }
