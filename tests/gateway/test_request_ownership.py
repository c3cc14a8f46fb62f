"""Rule 7 and Rule 11 at every stage: a request is owned from admission to its last byte.

A suspension ends every in-flight request of the tenant within a second,
whatever it is waiting for: upstream headers (JSON), a stream's first byte, or
the next chunk of a running stream. A request cancelled before its response
started deregisters and still leaves exactly one request-log row. Shutdown
ends what is still in flight and its rows are written. Real gateway, real
simulator, real store; timing bounds loose enough for a loaded machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from sekisho.lifecycle import service
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.store.models import RequestLog
from tests.lifecycle.support import make_people
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    reset_circuits,
    start_gateway,
)
from tests.support.requestlog import wait_for_row

BOUND_S = 1.5  # the rule says 1 s; loose for a loaded 2-core machine
PRIMARY = "atlas-useast"  # chat-large's primary route in the demo matrix


@dataclass
class Env:
    gw: RunningGateway
    db: Database
    sim: SimulatorServer
    people: dict[str, str]
    state: Path


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state = tmp_path_factory.mktemp("ownership")
    settings = gateway_settings(simulator.url, state, sqlite_url(state))
    db = migrated(settings.database_url)
    people = make_people(db, passwords=False)
    gw = start_gateway(settings, db)
    yield Env(gw, db, simulator, people, state)
    gw.stop()
    db.dispose()


@pytest.fixture
def sim(env: Env) -> Iterator[SimulatorServer]:
    env.sim.reset()
    # Requests an earlier test cut mid-attempt may have opened the primary's circuit; each
    # test starts with the primary serving, so its held stream is the one it waits for.
    reset_circuits(env.gw)
    yield env.sim
    env.sim.release(PRIMARY)  # nothing stays held after a test
    env.sim.reset()


def _tenant(env: Env, name: str) -> tuple[str, str]:
    return make_tenant(env.db, env.gw.gateway.settings, f"{name}-{time.monotonic_ns()}")


def _suspend(env: Env, tenant_id: str) -> float:
    """Suspend through the lifecycle service; returns the moment the change was committed."""
    req = service.LifecycleRequest(
        tenant=tenant_id,
        requested_by=env.people["operator"],
        authorized_by=env.people["billing_owner"],
        note="ownership test",
        via="tests",
    )
    with env.db.begin() as session:
        service.suspend_tenant(session, env.gw.gateway.settings, req, reason="non_payment")
    return time.monotonic()


@dataclass
class Call:
    """One chat request made in a thread: what came back, and when it ended."""

    url: str
    key: str
    stream: bool
    status: int | None = None
    rid: str | None = None
    body: bytes = b""
    events: list[object] = field(default_factory=list)
    ended_at: float | None = None
    cut: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        body = {
            "model": "chat-large",
            "stream": self.stream,
            "messages": [{"role": "user", "content": "one two three four five six seven"}],
        }
        try:
            with (
                httpx.Client(timeout=30) as http,
                http.stream(
                    "POST",
                    self.url + "/v1/chat/completions",
                    json=body,
                    headers={"authorization": f"Bearer {self.key}"},
                ) as resp,
            ):
                self.status = resp.status_code
                self.rid = resp.headers.get("x-request-id")
                for line in resp.iter_lines():
                    self.body += line.encode() + b"\n"
                    if line.startswith("data: "):
                        data = line[6:]
                        self.events.append("[DONE]" if data == "[DONE]" else orjson.loads(data))
        except httpx.HTTPError as exc:
            self.cut = repr(exc)  # the connection ended without a complete response
        finally:
            self.ended_at = time.monotonic()
            self.done.set()

    def start(self) -> Call:
        threading.Thread(target=self.run, daemon=True).start()
        return self

    def error_code(self) -> str | None:
        if self.status != 200:
            return str(orjson.loads(self.body)["error"]["code"])
        for event in self.events:
            if isinstance(event, dict) and "error" in event:
                return str(event["error"]["code"])
        return None


def _wait(predicate: object, what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _inflight(env: Env, tenant_id: str) -> int:
    return env.gw.gateway.chat.inflight.count(tenant_id)


def _requests(sim: SimulatorServer) -> int:
    return int(sim.stats(PRIMARY)["requests"])


@pytest.mark.parametrize(
    ("stream", "fault"),
    [
        (True, {"first_byte_delay_ms": 3000}),  # headers sent, first byte 3 s away
        (True, {"latency_ms": 3000}),  # no headers yet
        (False, {"latency_ms": 3000}),  # a JSON request waiting for upstream
        (False, {"first_byte_delay_ms": 3000}),  # a JSON body that has not come yet
    ],
    ids=["stream-first-byte", "stream-headers", "json-headers", "json-body"],
)
def test_suspension_ends_a_request_still_waiting_for_its_upstream(
    env: Env, sim: SimulatorServer, stream: bool, fault: dict[str, object]
) -> None:
    victim_id, victim_key = _tenant(env, "victim")
    sim.set_fault(PRIMARY, **fault)
    call = Call(env.gw.url, victim_key, stream).start()
    _wait(lambda: _requests(sim) == 1 and _inflight(env, victim_id) == 1, "the upstream call")

    suspended_at = _suspend(env, victim_id)
    assert call.done.wait(10)
    assert call.ended_at is not None
    took = call.ended_at - suspended_at
    print(f"pre-response request ended {took:.3f}s after the suspension")
    assert took < BOUND_S, f"request outlived the suspension by {took:.3f}s"
    # The response had not started: the answer is our 403 envelope, never a [DONE].
    assert call.status == 403 and call.error_code() == "tenant_suspended"
    assert "[DONE]" not in call.body.decode()
    assert _inflight(env, victim_id) == 0
    assert call.rid is not None
    row = wait_for_row(env.db, call.rid)
    assert (row.status, row.error_code, row.tenant_id) == (403, "tenant_suspended", victim_id)


def test_suspension_ends_a_running_stream_with_an_error_event(
    env: Env, sim: SimulatorServer
) -> None:
    victim_id, victim_key = _tenant(env, "victim")
    bystander_id, bystander_key = _tenant(env, "bystander")
    sim.set_fault(PRIMARY, hold_after=2)  # every stream holds after two chunks until released
    victim = Call(env.gw.url, victim_key, True).start()
    bystander = Call(env.gw.url, bystander_key, True).start()
    _wait(lambda: sim.stats(PRIMARY)["held"] == 2, "both streams to be held")
    _wait(lambda: len(victim.events) >= 1 and len(bystander.events) >= 1, "first chunks")

    suspended_at = _suspend(env, victim_id)
    assert victim.done.wait(10) and victim.ended_at is not None
    assert victim.ended_at - suspended_at < BOUND_S
    assert victim.status == 200 and victim.error_code() == "tenant_suspended"
    assert "[DONE]" not in victim.events
    assert not bystander.done.is_set()  # the other tenant's stream is untouched

    sim.release(PRIMARY)
    assert bystander.done.wait(10)
    assert bystander.events[-1] == "[DONE]" and bystander.error_code() is None
    assert victim.rid is not None and bystander.rid is not None
    row = wait_for_row(env.db, victim.rid)
    assert (row.status, row.error_code) == (403, "tenant_suspended")
    assert wait_for_row(env.db, bystander.rid).status == 200
    assert _inflight(env, victim_id) == 0 and _inflight(env, bystander_id) == 0


def test_a_request_admitted_after_the_suspension_arrived_is_refused(
    env: Env, sim: SimulatorServer
) -> None:
    victim_id, victim_key = _tenant(env, "victim")
    _suspend(env, victim_id)
    # The key is refused at once; and the core itself bars the tenant (covers a request
    # that authenticated a moment before the suspension reached this replica).
    _wait(lambda: _inflight(env, victim_id) == 0, "nothing in flight")
    inflight = env.gw.gateway.chat.inflight
    _wait(lambda: victim_id in inflight._barred, "the suspension to reach the replica")
    call = Call(env.gw.url, victim_key, False).start()
    assert call.done.wait(10)
    assert call.status == 403 and call.error_code() == "tenant_suspended"
    assert _requests(sim) == 0  # no upstream was called


def test_shutdown_ends_in_flight_streams_and_writes_their_rows(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    settings = gateway_settings(simulator.url, tmp_path, sqlite_url(tmp_path))
    db = migrated(settings.database_url)
    _, key = make_tenant(db, settings, "shutdown-tenant")
    simulator.reset()
    simulator.set_fault(PRIMARY, hold_after=2)  # the response has started, then it waits
    gw = start_gateway(settings, db, graceful_s=1.0)
    try:
        calls = [Call(gw.url, key, True).start() for _ in range(3)]
        _wait(lambda: simulator.stats(PRIMARY)["held"] == 3, "three held streams")
        _wait(lambda: all(c.events for c in calls), "the first chunks")
        assert gw.gateway.chat.inflight.count() == 3
        started = time.monotonic()
        gw.stop()
        assert not gw.thread.is_alive()
        print(f"shutdown with 3 held streams took {time.monotonic() - started:.3f}s")
        for call in calls:
            assert call.done.wait(10)
            assert "[DONE]" not in call.events and call.cut is not None
    finally:
        simulator.release(PRIMARY)
        simulator.reset()
    with db.read() as session:
        rows = session.scalars(select(RequestLog).where(RequestLog.stream.is_(True))).all()
        assert sorted(r.id for r in rows) == sorted(c.rid for c in calls if c.rid)
        assert {(r.status, r.error_code) for r in rows} == {(499, "cancelled")}
        assert session.scalar(select(func.count()).select_from(RequestLog)) == 3
    db.dispose()


def test_a_client_that_leaves_a_stream_ends_it_upstream_too(env: Env, sim: SimulatorServer) -> None:
    tenant_id, key = _tenant(env, "leaver")
    sim.set_fault(PRIMARY, hold_after=2)
    body = {
        "model": "chat-large",
        "stream": True,
        "messages": [{"role": "user", "content": "one two three four five"}],
    }
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST",
            env.gw.url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {key}"},
        ) as resp,
    ):
        rid = resp.headers["x-request-id"]
        # The iterator is kept: a dropped one is closed at once (GeneratorExit), and closing
        # it closes the response, so the client would leave before the test saw the hold.
        lines = resp.iter_lines()
        next(lines)  # the first chunk arrived; the upstream is held
        _wait(lambda: sim.stats(PRIMARY)["held"] == 1, "the held upstream", timeout_s=30)
    left_at = time.monotonic()  # the connection is closed here
    _wait(lambda: _inflight(env, tenant_id) == 0, "the gateway to notice")
    _wait(lambda: sim.stats(PRIMARY)["held"] == 0, "the upstream to be closed")
    assert time.monotonic() - left_at < BOUND_S
    row = wait_for_row(env.db, rid)
    assert (row.status, row.error_code) == (499, "client_closed")
