"""What revocation checking does when the authority misbehaves: the configured policy.

`server.auth.revocation` answers one question per checker (OCSP: ask the responder; CRL: look
the serial up in the daily list). This module decides which of them answers, and what an outage
means, per the `revocation_mode` setting:

    ocsp           OCSP only. Responder down or slow: UNAVAILABLE (fail closed).
    crl            the CRL only. Past its nextUpdate with no newer one: STALE (fail closed).
    ocsp-then-crl  OCSP; when it cannot answer, the cached CRL answers if it is still within
                   its nextUpdate. Both unusable: the CRL's STALE/UNAVAILABLE, with both reasons.

A definite OCSP answer (GOOD, REVOKED, UNKNOWN) is final and never second-guessed by the CRL.
Only UNAVAILABLE falls back. A CRL is never used past its nextUpdate: `CrlChecker` itself
returns STALE then, and that outcome is passed on, never turned into GOOD.

The trade-off of `ocsp-then-crl`, written down because it is a policy choice: while OCSP is
down, a card revoked since the last CRL was published still authenticates (up to a day, the
CRL's publication interval). `ocsp` refuses everyone instead. Both are honest; the operator picks.

A slow responder holds a gRPC worker thread for the whole timeout on every login. So after
`failure_threshold` OCSP failures in a row the checker stops asking for `cooldown` (answering
from the CRL, or UNAVAILABLE at once), then lets one request probe the responder again: the
service recovers by itself, without a restart, when the responder does.

In `ocsp-then-crl` the CRL is downloaded at start-up and kept warm in the background while
OCSP is healthy (at most once per `crl_warm_interval`), so that a fallback finds a recent list
instead of having to download one from an authority that may be down too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509

from server.auth.revocation import (
    CRL_PATH,
    OCSP_PATH,
    CrlChecker,
    OcspChecker,
    RevocationChecker,
    RevocationOutcome,
    RevocationStatus,
)
from server.common.clock import Clock

log = logging.getLogger(__name__)

Background = Callable[[Callable[[], None]], None]
"""Run a task without waiting for it (a daemon thread by default; tests run it inline)."""


class RevocationPolicy(StrEnum):
    OCSP = "ocsp"
    CRL = "crl"
    OCSP_THEN_CRL = "ocsp-then-crl"


# A definite answer from OCSP: the CRL is not consulted.
_DEFINITE = frozenset(
    {RevocationOutcome.GOOD, RevocationOutcome.REVOKED, RevocationOutcome.UNKNOWN}
)


@dataclass(frozen=True)
class BreakerSettings:
    """When to stop asking a failing responder, and for how long."""

    failure_threshold: int = 5  # consecutive OCSP failures that open the breaker
    cooldown: timedelta = timedelta(seconds=10)  # then one request probes again

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.cooldown < timedelta(0):
            raise ValueError("cooldown must not be negative")


class _Breaker:
    """Consecutive-failure circuit breaker on an injected clock; thread-safe."""

    def __init__(self, settings: BreakerSettings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: datetime | None = None
        self._probing = False
        self._last_failure = ""

    def admit(self) -> str:
        """Empty when this request may ask OCSP; otherwise why it may not."""
        now = self._clock()
        with self._lock:
            if self._open_until is None:
                return ""
            if now >= self._open_until and not self._probing:
                self._probing = True  # this request probes; the others keep going around
                return ""
            return (
                f"OCSP not asked: {self._failures} failures in a row, the last: "
                f"{self._last_failure}; next probe after {self._open_until.isoformat()}"
            )

    def record(self, status: RevocationStatus) -> None:
        now = self._clock()
        with self._lock:
            self._probing = False
            if status.outcome is not RevocationOutcome.UNAVAILABLE:
                if self._open_until is not None:
                    log.info("OCSP responder answers again; revocation checks use OCSP")
                self._failures = 0
                self._open_until = None
                return
            self._failures += 1
            self._last_failure = status.detail
            if self._failures >= self._settings.failure_threshold:
                if self._open_until is None:
                    log.warning(
                        "OCSP responder failed %d times in a row (%s); not asking it for %s",
                        self._failures,
                        status.detail,
                        self._settings.cooldown,
                    )
                self._open_until = now + self._settings.cooldown

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._open_until is not None


def _in_daemon_thread(task: Callable[[], None]) -> None:
    threading.Thread(target=task, name="crl-warm", daemon=True).start()


class PolicyChecker:
    """A `RevocationChecker` that composes OCSP and the CRL per a `RevocationPolicy`."""

    def __init__(
        self,
        policy: RevocationPolicy,
        *,
        clock: Clock,
        ocsp: RevocationChecker | None = None,
        crl: CrlChecker | None = None,
        breaker: BreakerSettings | None = None,
        crl_warm_interval: timedelta = timedelta(hours=1),
        background: Background = _in_daemon_thread,
    ) -> None:
        needs_ocsp = policy in (RevocationPolicy.OCSP, RevocationPolicy.OCSP_THEN_CRL)
        needs_crl = policy in (RevocationPolicy.CRL, RevocationPolicy.OCSP_THEN_CRL)
        if needs_ocsp and ocsp is None:
            raise ValueError(f"policy {policy.value} needs an OCSP checker")
        if needs_crl and crl is None:
            raise ValueError(f"policy {policy.value} needs a CRL checker")
        self.policy = policy
        self._clock = clock
        self._ocsp = ocsp
        self._crl = crl
        self._breaker = _Breaker(breaker or BreakerSettings(), clock)
        self._warm_interval = crl_warm_interval
        self._background = background
        self._warm_lock = threading.Lock()
        self._warmed_at: datetime | None = None

    def check(self, cert: x509.Certificate) -> RevocationStatus:
        if self.policy is RevocationPolicy.CRL:
            assert self._crl is not None
            return self._crl.check(cert)
        ocsp_status = self._ask_ocsp(cert)
        if ocsp_status.outcome in _DEFINITE:
            if self.policy is RevocationPolicy.OCSP_THEN_CRL:
                self._keep_crl_warm()
            return ocsp_status
        if self.policy is RevocationPolicy.OCSP:
            return ocsp_status
        assert self._crl is not None
        crl_status = self._crl.check(cert)
        if crl_status.outcome in _DEFINITE:
            log.debug("OCSP unavailable (%s); answered from the CRL", ocsp_status.detail)
            return crl_status
        # Neither can vouch for the certificate: say so, with both reasons, and keep the CRL's
        # outcome (STALE tells the operator the list is old, UNAVAILABLE that there is none).
        return RevocationStatus(
            crl_status.outcome, detail=f"{ocsp_status.detail}; CRL: {crl_status.detail}"
        )

    def warm_crl(self) -> RevocationStatus | None:
        """Download the CRL now (e.g. at start-up); None on success, else why it failed."""
        if self._crl is None:
            return None
        failure = self._crl.refresh()
        if failure is None:
            self._warmed_at = self._clock()
        else:
            log.warning("CRL download failed: %s", failure.detail)
        return failure

    @property
    def ocsp_suspended(self) -> bool:
        """Whether the breaker currently keeps requests away from the OCSP responder."""
        return self._breaker.is_open

    def _ask_ocsp(self, cert: x509.Certificate) -> RevocationStatus:
        assert self._ocsp is not None
        refused = self._breaker.admit()
        if refused:
            return RevocationStatus.unavailable(refused)
        try:
            status = self._ocsp.check(cert)
        except Exception as exc:  # the checkers return values; an injected one may not
            status = RevocationStatus.unavailable(f"{type(exc).__name__}: {exc}")
        self._breaker.record(status)  # always, so that a probe never stays in flight
        if status.outcome is RevocationOutcome.UNAVAILABLE:
            return RevocationStatus.unavailable(f"OCSP: {status.detail}")
        return status

    def _keep_crl_warm(self) -> None:
        now = self._clock()
        warmed = self._warmed_at
        if warmed is not None and now < warmed + self._warm_interval:
            return
        if not self._warm_lock.acquire(blocking=False):
            return  # another request is already warming it

        def warm() -> None:
            try:
                self.warm_crl()
            finally:
                self._warm_lock.release()

        # Set before the download so a failing authority is not asked on every login.
        self._warmed_at = now
        try:
            self._background(warm)
        except Exception:
            self._warm_lock.release()
            raise


def build_policy_checker(
    mode: str,
    *,
    base_url: str,
    issuer: x509.Certificate,
    clock: Clock,
    timeout: float,
    breaker: BreakerSettings | None = None,
    background: Background = _in_daemon_thread,
) -> PolicyChecker:
    """The checker `revocation_mode` asks for, at the authority's standard paths."""
    try:
        policy = RevocationPolicy(mode)
    except ValueError:
        choices = ", ".join(p.value for p in RevocationPolicy)
        raise ValueError(f"unknown revocation mode {mode!r}; expected one of {choices}") from None
    base = base_url.rstrip("/")
    ocsp: OcspChecker | None = None
    crl: CrlChecker | None = None
    if policy in (RevocationPolicy.OCSP, RevocationPolicy.OCSP_THEN_CRL):
        ocsp = OcspChecker(base + OCSP_PATH, issuer, timeout=timeout, clock=clock)
    if policy in (RevocationPolicy.CRL, RevocationPolicy.OCSP_THEN_CRL):
        crl = CrlChecker(base + CRL_PATH, issuer, timeout=timeout, clock=clock)
    checker = PolicyChecker(
        policy, clock=clock, ocsp=ocsp, crl=crl, breaker=breaker, background=background
    )
    if policy is RevocationPolicy.OCSP_THEN_CRL:
        checker.warm_crl()  # so that a fallback has a list from the start (a failure is logged)
    return checker
