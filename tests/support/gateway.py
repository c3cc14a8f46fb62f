"""Start the real gateway (uvicorn on a socket bound to port 0) in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from sekisho.actor import Actor
from sekisho.chat.core import RoutingState
from sekisho.demo import DEMO_SECRETS, demo_document
from sekisho.gateway import Gateway
from sekisho.http.app import GatewayApp, create_app
from sekisho.ledger.signing import SESSION_KEY, attach_from_settings
from sekisho.routing.circuit import CircuitBook
from sekisho.serve import server_config
from sekisho.settings import Settings, settings_from_document
from sekisho.store.db import Database
from sekisho.store.migrate import migrate
from sekisho.tenancy import service

T = TypeVar("T")


def gateway_settings(
    sim_url: str, state_dir: Path, database_url: str | None = None, **extra: Any
) -> Settings:
    """The demo matrix over a running simulator, with a test database."""
    doc = demo_document(sim_url, state_dir, 0)
    if database_url:
        doc["database_url"] = database_url
    doc.update(extra)
    return settings_from_document(doc, DEMO_SECRETS)


@dataclass
class RunningGateway:
    url: str
    app: GatewayApp
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def gateway(self) -> Gateway:
        return self.app.gateway

    def run(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 15) -> T:
        """Run a coroutine on the gateway's event loop and wait for its result."""
        loop = self.gateway._tasks[0].get_loop()
        return asyncio.run_coroutine_threadsafe(make(), loop).result(timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_gateway(
    settings: Settings, db: Database, *, graceful_s: float | None = None, **overrides: Any
) -> RunningGateway:
    if "probes_enabled" not in settings.observe.model_fields_set:
        # Synthetic probes would add upstream calls and request-log rows that tests count;
        # a test that wants them says `observe: {probes_enabled: true}`.
        settings.observe.probes_enabled = False
    app = create_app(settings, db=db, **overrides)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = server_config(app, settings, loop="asyncio")
    config.timeout_graceful_shutdown = graceful_s  # as `sekisho serve` has one; None: wait
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("gateway did not start")
        time.sleep(0.01)
    return RunningGateway(f"http://127.0.0.1:{port}", app, server, thread)


def migrated(database_url: str) -> Database:
    db = Database(database_url)
    migrate(db)
    return db


def signed_by_gateway_key(db: Database, settings: Settings) -> Database:
    """Sign this handle's ledger entries with the gateway's key, as a running gateway does."""
    if SESSION_KEY not in db.session_info:
        attach_from_settings(db, settings.ledger)
    return db


def make_tenant(
    db: Database,
    settings: Settings,
    name: str,
    *,
    key_aliases: list[str] | None = None,
    **spec: Any,
) -> tuple[str, str]:
    """A tenant and one API key for it: (tenant id, key)."""
    signed_by_gateway_key(db, settings)
    actor = Actor.system("tests")
    with db.begin() as session:
        tenant = service.create_tenant(
            session, settings.matrix, service.TenantSpec(name, **spec), actor
        )
        _, secret = service.create_key(
            session, settings.matrix, tenant.id, actor, aliases=key_aliases
        )
    return tenant.id, secret


def reset_circuits(gw: RunningGateway, **changes: float) -> None:
    """Forget all passive health (between tests sharing one gateway), maybe with new thresholds.

    The swap runs on the gateway's own event loop. Done from the test's thread it could
    interleave with the gateway's routing refresh (which reads the state, then writes a
    new one with the circuits it read) and be lost: the next test then met the circuit an
    earlier test had opened, and its request went to a fallback.
    """
    gateway = gw.gateway
    settings = replace(gateway.settings.circuit_settings(), **changes)

    async def swap() -> None:
        current = gateway.routing
        gateway.routing = RoutingState(
            matrix=current.matrix, circuits=CircuitBook(settings), overrides=current.overrides
        )

    gw.run(swap)


class SteerableClock:
    """The wall clock a gateway under test routes by: real time, unless frozen or advanced.

    Circuits, probes and override expiry read it through `ChatService`, so a test that
    depends on "no time passes between these requests" freezes it instead of racing a
    loaded machine, and moves it on with `advance` instead of sleeping.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: float | None = None

    def __call__(self) -> float:
        frozen = self._frozen
        return frozen if frozen is not None else time.time() + self._offset

    def freeze(self) -> None:
        self._frozen = self()

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds

    def real(self) -> None:
        """Back to the real time, running."""
        self._frozen = None
        self._offset = 0.0
