"""CPU of the center's authentication calls on their own: Authenticator.begin, complete and
end_session in a loop, in-process, no gRPC.

A diagnostic beside `bench.sql_count` (whose per-RPC CPU is clock ticks over a few sessions):
thread CPU over hundreds of calls, so that a change to the authentication path shows on a busy
machine. Revocation is a stub that answers GOOD (OCSP and the CRL are the floor, the same for
any version of this code); the card signs its challenge outside the measured calls.

    python -m bench.auth_calls                        # SQLite in a temporary directory
    python -m bench.auth_calls --database-url postgresql+psycopg://postgres@127.0.0.1/<db>
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from clients.seeding import seed_municipality
from server.auth.revocation import RevocationOutcome, RevocationStatus
from server.auth.service import Authenticator, AuthSettings
from server.common.clock import FrozenClock
from server.db.engine import make_engine, upgrade
from server.municipal.rules import DailyHours
from tests.pki import test_authority

START = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
WARM_UP = 20


class _Good:
    def check(self, cert: x509.Certificate) -> RevocationStatus:
        return RevocationStatus(RevocationOutcome.GOOD)


def measure(database_url: str, calls: int) -> dict[str, float]:
    """Thread CPU per call of begin, complete and end_session, in milliseconds."""
    clock = FrozenClock(START)
    authority = test_authority(clock)
    engine = make_engine(database_url)
    upgrade(engine)
    seeded = seed_municipality(
        engine, authority, seed=7, households=6, today=START.date(), now=START
    )
    auth = Authenticator(
        engine,
        trust_anchor=authority.auth_ca_cert,
        revocation=_Good(),
        clock=clock,
        settings=AuthSettings(kiosk_hours=DailyHours.parse("00:00-24:00")),
    )
    kiosk = seeded.kiosk_ids[0]
    cards = list(seeded.cards.values())
    keys = [load_pem_private_key(c.auth_key_pem, None) for c in cards]
    spent = {"begin": 0.0, "complete": 0.0, "end_session": 0.0}
    for i in range(calls + WARM_UP):
        clock.now += timedelta(seconds=1)  # 60 challenges a minute: under the kiosk's limit
        card, key = cards[i % len(cards)], keys[i % len(keys)]
        assert isinstance(key, rsa.RSAPrivateKey)
        t0 = time.thread_time()
        challenge = auth.begin(kiosk)
        t1 = time.thread_time()
        signature = key.sign(challenge.to_be_signed, padding.PKCS1v15(), hashes.SHA256())
        t2 = time.thread_time()
        session = auth.complete(
            kiosk_id=kiosk,
            challenge_id=challenge.challenge_id,
            certificate_der=card.auth_cert_der,
            signature=signature,
        )
        t3 = time.thread_time()
        auth.end_session(session.token)
        t4 = time.thread_time()
        if i >= WARM_UP:
            spent["begin"] += t1 - t0
            spent["complete"] += t3 - t2
            spent["end_session"] += t4 - t3
    engine.dispose()
    return {name: round(total / calls * 1e3, 3) for name, total in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/auth_calls.db"
    cpu = measure(url, args.calls)
    print(f"{url.split(':')[0]}, {args.calls} calls, thread CPU ms per call: {cpu}")


if __name__ == "__main__":
    main()
