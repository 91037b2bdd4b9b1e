"""Assembling and running the issuance center's gRPC server (STYLE 11).

`create_server(config)` builds everything and binds the port (0 picks a free one) without
starting; `serve(config)` starts it, runs the expiry sweeper and waits for termination.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType

import grpc
from cryptography import x509
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.bcl.v1 import bcl_pb2, bcl_pb2_grpc
from konbini.ereview.v1 import ereview_pb2, ereview_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc
from konbini.portal.v1 import portal_pb2, portal_pb2_grpc
from konbini.settlement.v1 import settlement_pb2, settlement_pb2_grpc
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc
from konbini.verify.v1 import verify_pb2, verify_pb2_grpc
from sqlalchemy.engine import Engine

from server.access.interceptor import AccessInterceptor
from server.access.policy import POLICY, Rule
from server.access.resolve import CallerResolver
from server.access.tokens import AccessTokens
from server.auth.limits import AttemptLimits
from server.auth.revocation import RevocationChecker
from server.auth.revocation_policy import build_policy_checker
from server.auth.service import Authenticator, AuthSettings
from server.auth.servicer import AuthServicer
from server.bcl.servicer import BclServicer
from server.bcl.upload import BclSettings, BclUploads
from server.common.clock import Clock, system_clock
from server.common.handlers import ServerInterceptor
from server.config import ServerConfig
from server.counter.desk import CounterDesk
from server.counter.slip import SlipRenderer
from server.db.engine import make_engine, upgrade
from server.ereview.access import ClientRegistry
from server.ereview.autofill import Autofill
from server.ereview.service import DatabaseResidents, EReviewService
from server.ereview.servicer import EReviewServicer
from server.issuance.pdf import CertificateRenderer, RendererConfig
from server.issuance.service import IssuanceDesk, IssuanceSettings
from server.issuance.servicer import IssuanceServicer
from server.kiosks.tls import add_ports, require_tls_or_demo
from server.leader import SweepLeadership
from server.municipal.rules import DailyHours
from server.municipal.servicer import PortalServicer, StaffServicer
from server.municipal.staff import StaffDesk
from server.settlement.desk import SettlementDesk
from server.settlement.queries import SettlementQueries
from server.settlement.servicer import SettlementServicer
from server.verify.keys import SealKeyStore
from server.verify.seal import CopySealer
from server.verify.servicer import VerifyServicer
from server.verify.verifier import Verifier

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    issuance_pb2.DESCRIPTOR.services_by_name["IssuanceService"].full_name,
    settlement_pb2.DESCRIPTOR.services_by_name["SettlementService"].full_name,
    staff_pb2.DESCRIPTOR.services_by_name["MunicipalityStaffService"].full_name,
    portal_pb2.DESCRIPTOR.services_by_name["PortalService"].full_name,
    ereview_pb2.DESCRIPTOR.services_by_name["EReviewService"].full_name,
    bcl_pb2.DESCRIPTOR.services_by_name["BclService"].full_name,
    verify_pb2.DESCRIPTOR.services_by_name["VerifyService"].full_name,
)


def load_certificate(path: str) -> x509.Certificate:
    with open(path, "rb") as f:
        data = f.read()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def center_interceptors(
    resolver: CallerResolver, policy: Mapping[str, Rule] = POLICY
) -> list[ServerInterceptor]:
    """What runs around every call of the center (and of `bench.rpc_overhead`'s copy of it):
    one interceptor, the access check inside the mapping of errors to statuses."""
    return [AccessInterceptor(resolver, policy)]


@dataclass
class Center:
    """The running parts, for tests and for the sweeper."""

    server: grpc.Server
    port: int
    engine: Engine
    desk: IssuanceDesk
    health: health.HealthServicer
    authenticator: Authenticator
    api_port: int = 0  # bearer callers (server TLS); the same as `port` in the demo mode


def create_server(
    config: ServerConfig,
    *,
    clock: Clock = system_clock,
    revocation: RevocationChecker | None = None,
    reuse_port: bool = False,
    migrate: bool = True,
) -> Center:
    """Build the center and bind its port (not started).

    `reuse_port`: bind with SO_REUSEPORT, so several processes share the port and the kernel
    spreads connections over them (`server/multiproc.py`); off by default, so that a second
    center started by mistake on a taken port fails instead of silently sharing it.
    `migrate=False` skips the migrations (a supervisor ran them once for all its workers).
    """
    require_tls_or_demo(config)
    # A connection kept for each RPC thread, and one for the expiry sweeper.
    engine = make_engine(config.database_url, pool_size=config.max_workers + 1)
    if migrate:
        upgrade(engine)
    anchor = load_certificate(str(config.trust_anchor_path))
    checker = revocation or build_policy_checker(
        config.revocation_mode,
        base_url=config.authority_url,
        issuer=anchor,
        clock=clock,
        timeout=config.revocation_timeout_s,
    )
    hours = DailyHours.parse(config.kiosk_hours)
    authenticator = Authenticator(
        engine,
        trust_anchor=anchor,
        revocation=checker,
        clock=clock,
        settings=AuthSettings(
            kiosk_hours=hours,
            limits=AttemptLimits(
                card_failures=config.auth_card_failures,
                card_window=timedelta(seconds=config.auth_card_window_s),
                kiosk_challenges=config.auth_kiosk_challenges,
                kiosk_window=timedelta(seconds=config.auth_kiosk_window_s),
            ),
        ),
    )
    # Every copy carries a QR code signed with its municipality's seal key (server.verify).
    seal_keys = SealKeyStore(config.seal_key_dir, engine, clock=clock)
    renderer = CertificateRenderer(
        RendererConfig(font_path=config.font_path), sealer=CopySealer(seal_keys)
    )
    issuance_settings = IssuanceSettings(
        reservation_ttl=timedelta(seconds=config.reservation_ttl_s),
        printing_ttl=timedelta(seconds=config.printing_ttl_s),
        handover_ttl=timedelta(seconds=config.handover_ttl_s),
        kiosk_hours=hours,
    )
    desk = IssuanceDesk(engine, renderer=renderer, clock=clock, settings=issuance_settings)

    clients = ClientRegistry.from_file(config.ereview_clients_path)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="rpc"),
        interceptors=center_interceptors(
            CallerResolver(
                engine,
                tokens=AccessTokens(engine, clock=clock),
                ereview=clients,
                terminal_ttl=config.terminal_ttl_s,
            )
        ),
        options=[("grpc.so_reuseport", 1 if reuse_port else 0)],
    )
    # Each serves the other's last or first step of a visit in the same call: the menu with
    # the authentication, the end of the session with the print report.
    issuance = IssuanceServicer(desk, slips=SlipRenderer(config.font_path), end_sessions=True)
    auth_pb2_grpc.add_AuthServiceServicer_to_server(
        AuthServicer(authenticator, offerings=issuance.offerings), server
    )
    issuance_pb2_grpc.add_IssuanceServiceServicer_to_server(issuance, server)
    settlement_pb2_grpc.add_SettlementServiceServicer_to_server(
        SettlementServicer(SettlementQueries(engine), SettlementDesk(engine, clock=clock)), server
    )
    staff_desk = StaffDesk(engine, clock=clock)
    staff_pb2_grpc.add_MunicipalityStaffServiceServicer_to_server(
        StaffServicer(staff_desk, CounterDesk(engine, clock=clock)), server
    )
    portal_pb2_grpc.add_PortalServiceServicer_to_server(
        PortalServicer(engine, clock=clock, kiosk_hours=hours), server
    )
    ereview = EReviewService(
        registry=clients,
        residents=DatabaseResidents(engine, clock=clock),
        autofill=Autofill(engine, trust_anchor=anchor, revocation=checker, clock=clock),
        clock=clock,
    )
    ereview_pb2_grpc.add_EReviewServiceServicer_to_server(EReviewServicer(ereview), server)
    bcl = BclUploads(engine, BclSettings.from_env(), clock=clock)
    bcl.recover()  # spools and kept files of uploads a crash cut short
    bcl_pb2_grpc.add_BclServiceServicer_to_server(BclServicer(bcl), server)
    verify_pb2_grpc.add_VerifyServiceServicer_to_server(
        VerifyServicer(Verifier(engine, clock=clock), engine), server
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in (*SERVICE_NAMES, ""):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port, api_port = add_ports(server, config)  # TLS, or plaintext in the demo mode only
    if port == 0 or api_port == 0:
        raise RuntimeError(f"cannot bind {config.host}:{config.port} (API port {api_port})")
    return Center(server, port, engine, desk, health_servicer, authenticator, api_port)


def settle_gc(gen0_threshold: int) -> None:
    """Take what start-up built out of the garbage collector's way; collect the young less often.

    A center holds ~230,000 container objects once built (modules, the ORM's metadata, fonts,
    caches) that live as long as the process; `gc.freeze()` moves them to the permanent
    generation, so no later collection scans them again (a full one, which holds every call
    of the process up while it runs, took 122 ms before the freeze and 2.8 ms after). A session
    then leaves ~400 objects in reference cycles among many short-lived ones; collecting the
    youngest generation every `gen0_threshold` new objects instead of Python's 700 halved the
    collector's CPU per session (~0.6 -> ~0.3 ms, `gc.callbacks` around the collections over
    200 sessions against an in-process center): a ~3.5 ms collection every ~10 sessions
    instead of a smaller one or two every session, the cycles of those ~10 sessions (a MB or
    two) waiting for it. 0 leaves the collector as it was.
    """
    if gen0_threshold <= 0:
        return
    gc.collect()  # what start-up left as garbage goes now, not into the frozen generation
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def serve(
    config: ServerConfig,
    *,
    port_file: str | None = None,
    reuse_port: bool = False,
    sweep: bool = True,
    migrate: bool = True,
) -> None:
    """Run the center until SIGTERM/SIGINT, then drain and stop.

    `sweep=False` leaves out the expiry sweeper (voiding expired reservations, purging old
    challenges): the processes of one machine give it to one of them (`server/multiproc.py`);
    across machines on one PostgreSQL, an advisory lock picks one of those (`server/leader.py`).
    `reuse_port` and `migrate` as for `create_server`.
    """
    center = create_server(config, reuse_port=reuse_port, migrate=migrate)
    settle_gc(config.gc_gen0_threshold)
    center.server.start()
    log.info(
        "issuance center listening on %s: terminals %d, API %d%s",
        config.host,
        center.port,
        center.api_port,
        " (plaintext demo mode)" if config.insecure and not config.tls else "",
    )
    if port_file:
        with open(port_file, "w") as f:
            f.write(str(center.port))
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    leader = SweepLeadership(center.engine) if sweep else None
    while not stop.wait(config.sweep_interval_s):
        try:
            if leader is None or not leader.held():
                continue
            n = center.desk.void_expired()
            if n:
                log.info("voided %d expired reservations", n)
            center.authenticator.purge_expired()
        except Exception:  # the sweeper must outlive a database hiccup
            log.exception("expiry sweep failed")
    if leader is not None:
        leader.release()
    for name in (*SERVICE_NAMES, ""):
        center.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    center.server.stop(grace=5).wait()
    center.engine.dispose()
