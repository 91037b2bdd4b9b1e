"""Locust scenarios: kiosks running complete sessions with emulated My Number Cards and printers.

Bring a center up (it prepares residents, cards and kiosks and prints what to run):

    .venv/bin/python -m bench.stack up --state var/load

then, interactively with the web UI (http://127.0.0.1:8089):

    .venv/bin/locust -f load/locustfile.py --host 127.0.0.1:<port> --cards var/load/cards

or headless, writing Locust's CSV files and a summary (`<prefix>_summary.json`):

    .venv/bin/locust -f load/locustfile.py --host 127.0.0.1:<port> --cards var/load/cards \
        --headless -u 16 -r 4 -t 60s --csv var/load/run

Users: `KioskUser`, one kiosk terminal each (its own kiosk id, connection, printer, cards and
phones), is everyone but five: one `CounterUser` per municipality (a らくらく窓口 terminal in
its town hall serving its residents, one visit every 2–6 s, the clerk handing each copy over),
one `PortalUser` submitting e-review applications (a trickle, one every 0.5–2 s) and one
`BclUploadUser` uploading a municipality's whole BCL export again and again (a pause of
`--bcl-pause` seconds between uploads; 0 turns it off). Every RPC is reported as a request
("grpc", method name); every whole visit as one too ("kiosk" or "counter", "session juminhyo" /
"session inkan", with " android" / " iphone" for a phone): a visit that did not end as the
scenario meant (issued — at the counter, handed over —, or voided after an injected printer
jam) is a failure with the reason; so are e-review submissions ("portal", "ereview submit") that
do not match, and BCL uploads ("bcl", "full upload") that are not committed.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped,unused-ignore]
import grpc.experimental.gevent as grpc_gevent  # type: ignore[import-not-found]
from locust import User, between, constant, events, task
from locust.env import Environment

from load.scenario import Kiosk, Manifest, Mix, Portal, kiosk_channel, split, upload_bcl

grpc_gevent.init_gevent()  # before any gRPC object exists (Locust has patched the stdlib)

_kiosk_numbers = itertools.count()
_counter_numbers = itertools.count()
_outcomes: Counter[str] = Counter()
_carriers: Counter[str] = Counter()
_lock = threading.Lock()


@events.init_command_line_parser.add_listener  # type: ignore[untyped-decorator]
def _arguments(parser: Any) -> None:
    parser.add_argument("--cards", default="var/load/cards", help="cards dir with manifest.json")
    parser.add_argument("--think-time", type=float, default=0.0, help="max seconds between visits")
    parser.add_argument("--bcl-pause", type=float, default=30.0, help="s between BCL uploads")
    # Let a visit under way finish when the run ends (a visit cut mid-way leaves the kiosk
    # cancelling a copy the center already issued); --stop-timeout still overrides.
    parser.set_defaults(stop_timeout=20)


@events.test_stop.add_listener  # type: ignore[untyped-decorator]
def _summary(environment: Environment, **_kw: Any) -> None:
    """Beside Locust's CSV files: how the sessions ended, and the rate of copies issued."""
    stats = environment.stats
    session_stats = [s for (_, kind), s in stats.entries.items() if kind in ("kiosk", "counter")]
    issued = _outcomes.get("issued", 0)
    elapsed = max(1e-9, stats.last_request_timestamp - stats.start_time) if stats.entries else 0
    by_kind = {
        kind: {
            "requests": sum(s.num_requests for (_, k), s in stats.entries.items() if k == kind),
            "failures": sum(s.num_failures for (_, k), s in stats.entries.items() if k == kind),
        }
        for kind in ("portal", "bcl")
    }
    summary = {
        "outcomes": dict(_outcomes),
        "issued": issued,
        "issuances_per_s": round(issued / elapsed, 2) if elapsed else 0,
        "sessions": sum(s.num_requests for s in session_stats),
        "session_failures": sum(s.num_failures for s in session_stats),
        "sessions_by_carrier": dict(_carriers),
        "counter_sessions": sum(
            s.num_requests for (_, kind), s in stats.entries.items() if kind == "counter"
        ),
        "ereview_submissions": by_kind["portal"],
        "bcl_uploads": by_kind["bcl"],
        "session_p50_ms": stats.get("session juminhyo", "kiosk").get_response_time_percentile(0.5),
        "session_p99_ms": stats.get("session juminhyo", "kiosk").get_response_time_percentile(0.99),
    }
    prefix = environment.parsed_options.csv_prefix if environment.parsed_options else None
    text = json.dumps(summary, indent=1)
    if prefix:
        Path(f"{prefix}_summary.json").write_text(text + "\n")
    print(text)


class KioskUser(User):
    """One kiosk terminal; `host` is the center's gRPC target (host:port)."""

    think_s = 0.0

    def wait_time(self) -> float:
        """Seconds before the next visit (0 unless --think-time is given)."""
        return self.rng.uniform(0.0, self.think_s) if self.think_s else 0.0

    def on_start(self) -> None:
        options = self.environment.parsed_options
        manifest = Manifest.load(Path(options.cards))
        number = next(_kiosk_numbers)
        kiosks = len(manifest.kiosk_ids)
        if number >= kiosks:
            raise RuntimeError(f"only {kiosks} kiosk terminals are registered; use fewer users")
        share = split(manifest.residents, kiosks)[number]
        channel = kiosk_channel(self.host or "127.0.0.1:50051", self._report_rpc)
        self.kiosk = Kiosk(manifest.kiosk_ids[number], channel, manifest, share, Mix())
        self.rng = random.Random(number)
        self.think_s = float(options.think_time)

    def on_stop(self) -> None:
        self.kiosk.channel.close()

    def _report_rpc(
        self, method: str, elapsed_ms: float, size: int, exc: BaseException | None
    ) -> None:
        self.environment.events.request.fire(
            request_type="grpc",
            name=method.rsplit("/", 1)[-1],
            response_time=elapsed_ms,
            response_length=size,
            exception=exc,
            context={"kiosk": self.kiosk.kiosk_id} if hasattr(self, "kiosk") else {},
        )

    @task
    def visit(self) -> None:
        result = self.kiosk.session(self.rng)
        with _lock:
            _outcomes[result.outcome.value] += 1
            _carriers[result.carrier] += 1
        carrier = "" if result.carrier == "card" else f" {result.carrier}"
        self.environment.events.request.fire(
            request_type=result.channel,
            name=f"session {result.kind}{carrier}",
            response_time=result.elapsed_ms,
            response_length=0,
            exception=None if result.expected else RuntimeError(result.error or "unexpected"),
            context={"injected": result.injected},
        )


class CounterUser(KioskUser):
    """A らくらく窓口 terminal in a town hall, serving that municipality's residents."""

    fixed_count = 3  # one per municipality of the load

    def on_start(self) -> None:
        options = self.environment.parsed_options
        manifest = Manifest.load(Path(options.cards))
        number = next(_counter_numbers)
        if number >= len(manifest.counters):
            raise RuntimeError(f"only {len(manifest.counters)} counter terminals are registered")
        counter = manifest.counters[number]
        residents = [
            r for r in manifest.residents if r.municipality_code == counter["municipality_code"]
        ]
        channel = kiosk_channel(self.host or "127.0.0.1:50051", self._report_rpc)
        self.kiosk = Kiosk(
            counter["terminal_id"],
            channel,
            manifest,
            residents,
            Mix(),
            staff_token=counter["staff_token"],
        )
        self.rng = random.Random(1_000 + number)
        self.think_s = 0.0

    def wait_time(self) -> float:
        return self.rng.uniform(2.0, 6.0)


class PortalUser(User):
    """An application portal submitting e-review applications of known residents."""

    fixed_count = 1
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        manifest = Manifest.load(Path(self.environment.parsed_options.cards))
        self.channel = kiosk_channel(self.host or "127.0.0.1:50051")
        self.portal = Portal(self.channel, manifest)
        self.rng = random.Random(10_000)

    def on_stop(self) -> None:
        self.channel.close()

    @task
    def submit(self) -> None:
        result = self.portal.submit(self.rng)
        self.environment.events.request.fire(
            request_type="portal",
            name="ereview submit",
            response_time=result.elapsed_ms,
            response_length=0,
            exception=None if result.ok else RuntimeError(result.detail),
            context={},
        )


class BclUploadUser(User):
    """A municipality uploading its whole BCL export while the kiosks run."""

    fixed_count = 1
    wait_time = constant(0)

    def on_start(self) -> None:
        self.manifest = Manifest.load(Path(self.environment.parsed_options.cards))
        self.pause_s = float(self.environment.parsed_options.bcl_pause)
        self.channel = kiosk_channel(self.host or "127.0.0.1:50051")
        self.uploads = 0

    def on_stop(self) -> None:
        self.channel.close()

    @task
    def upload(self) -> None:
        if not self.pause_s or not self.manifest.bcl:  # turned off, or no export prepared
            self.stop()
            return
        if self.uploads:
            gevent.sleep(self.pause_s)
        self.uploads += 1
        result = upload_bcl(self.channel, self.manifest)
        self.environment.events.request.fire(
            request_type="bcl",
            name="full upload",
            response_time=result.elapsed_ms,
            response_length=0,
            exception=None if result.ok else RuntimeError(result.detail),
            context={},
        )
