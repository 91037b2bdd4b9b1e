"""How many SQL statements and transactions one complete kiosk session costs the center.

A diagnostic beside the load figures: the profiles put most of the center's overhead in the
database layer, and this says how many round trips that is. A center is built in this process
with `create_server` on the stack's database and authority, the engine's statement and
transaction events are counted, and sessions of the usual mix run against it one at a time.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bench.stack import Prepared, Stack
from hardware_sim.authority.ca import AUTH_CA_CERT_FILE
from load.scenario import Kiosk, kiosk_channel
from server.app import create_server
from server.config import ServerConfig


def measure(stack: Stack, prepared: Prepared, *, sessions: int = 40) -> dict[str, Any]:
    config = ServerConfig(
        trust_anchor_path=prepared.state / "authority" / AUTH_CA_CERT_FILE,
        authority_url=stack.authority_url,
        database_url=prepared.database_url,
        port=0,
        revocation_mode=stack.revocation,  # type: ignore[arg-type]
    )
    if "kiosk_hours" in ServerConfig.__dataclass_fields__:
        config = replace(config, kiosk_hours="00:00-24:00")
    center = create_server(config)
    counts: Counter[str] = Counter()

    def on_statement(_conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        counts[verb] += 1
        counts["statements"] += 1

    def on_begin(_conn: Connection) -> None:
        counts["transactions"] += 1

    sa.event.listen(center.engine, "after_cursor_execute", on_statement)
    sa.event.listen(center.engine, "begin", on_begin)
    center.server.start()
    manifest = prepared.manifest
    channel = kiosk_channel(f"127.0.0.1:{center.port}")
    try:
        kiosk = Kiosk(manifest.kiosk_ids[-1], channel, manifest, manifest.residents[:50])
        rng = random.Random(3)
        kiosk.session(rng)  # warm (first connection, caches)
        counts.clear()
        issued = 0
        for _ in range(sessions):
            issued += kiosk.session(rng).outcome.value == "issued"
    finally:
        channel.close()
        center.server.stop(grace=None).wait()
        center.engine.dispose()
    per = {k: round(v / sessions, 1) for k, v in sorted(counts.items())}
    return {"sessions": sessions, "issued": issued, "per_session": per}
