"""Rule 7 across replicas: two `sekisho serve` processes sharing PostgreSQL and Redis.

Suspend through the CLI: both replicas refuse the tenant's key within one
second of the ledger entry (measured), its in-flight streams on both end with
an error event, another tenant is untouched; reinstatement restores access
within a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import pytest
import redis

from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from tests.lifecycle.support import (
    Replica,
    config_document,
    make_people,
    start_replica,
    unique_channel,
    write_config,
)
from tests.support.cli import ensure_operator, run
from tests.support.databases import REDIS_URL, fresh_postgres_database
from tests.support.gateway import gateway_settings, make_tenant, migrated
from tests.support.ledger import ledger_entries

BOUND_S = 1.0
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@dataclass
class Cluster:
    replicas: list[Replica]
    db: Database
    config: Path
    people: dict[str, str]
    victim: tuple[str, str]  # (tenant id, key)
    bystander: tuple[str, str]
    sim: SimulatorServer


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()  # required: fail, never skip
    state = tmp_path_factory.mktemp("replicas")
    with SimulatorServer() as sim, fresh_postgres_database() as url:
        # Streams of chat-large hold after their first chunks until the test releases them,
        # so they are in flight when the suspension lands however slow the machine is (a
        # delay between chunks raced the suspension CLI's start-up and sometimes lost).
        sim.set_fault("atlas-useast", hold_after=2)
        db = migrated(url)
        settings = gateway_settings(sim.url, state, url)
        people = make_people(db)
        ensure_operator(url)  # the CLI acts as the test operator; create it before timing anything
        victim = make_tenant(db, settings, "victim", account_owner_email="owner@victim.test")
        bystander = make_tenant(db, settings, "bystander")
        doc = config_document(
            sim.url,
            state,
            url,
            redis_url=REDIS_URL,
            bus={"channel": unique_channel()},
            observe={"probes_enabled": False},
        )
        config = write_config(state / "cluster.yaml", doc)
        replicas = [start_replica(config, state, f"replica-{i}") for i in range(2)]
        try:
            yield Cluster(replicas, db, config, people, victim, bystander, sim)
        finally:
            for replica in replicas:
                replica.stop()
            db.dispose()


@dataclass
class Poller:
    """GET `path` with one key or token against one replica, every 20 ms, recording outcomes."""

    url: str
    key: str
    path: str = "/v1/models"
    seen: list[tuple[float, int, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self.stop.is_set():
                started = time.time()
                resp = http.get(
                    self.url + self.path, headers={"authorization": f"Bearer {self.key}"}
                )
                code = resp.json()["error"]["code"] if resp.status_code != 200 else None
                self.seen.append((started, resp.status_code, code))
                time.sleep(0.02)


@dataclass
class Stream:
    """One streaming chat completion read in a thread: chunks and when each arrived."""

    url: str
    key: str
    events: list[tuple[float, object]] = field(default_factory=list)
    first: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        body = {
            "model": "chat-large",
            "stream": True,
            "messages": [
                {"role": "user", "content": "one two three four five six seven eight nine ten"}
            ],
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
                assert resp.status_code == 200
                for line in resp.iter_lines():
                    if line.startswith("data: "):
                        data = line[6:]
                        self.events.append(
                            (time.time(), "[DONE]" if data == "[DONE]" else orjson.loads(data))
                        )
                        self.first.set()
        finally:
            self.first.set()
            self.done.set()

    def error_code(self) -> str | None:
        for _, event in self.events:
            if isinstance(event, dict) and "error" in event:
                return str(event["error"]["code"])
        return None


def _spawn(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def _entry_time(db: Database, action: str, tenant_id: str) -> float:
    entry = [e for e in ledger_entries(db, action) if e["tenant"] == tenant_id][-1]
    return datetime.fromisoformat(entry["time"]).timestamp()


def _lifecycle(cluster: Cluster, action: str, *extra: str) -> None:
    people = cluster.people
    proc = run(
        "tenant",
        action,
        cluster.victim[0],
        *extra,
        "--requested-by",
        people["operator"],
        "--authorized-by",
        people["billing_owner"],
        "--note",
        f"{action} in the replica test",
        config=cluster.config,
    )
    assert proc.returncode == 0, proc.stderr


def _switch_latency(poller: Poller, since: float, want: int) -> float:
    """Seconds from `since` to the first request that got `want`, after which none differ."""
    after = [(t, status) for t, status, _ in poller.seen if t >= since]
    first = next(i for i, (_, status) in enumerate(after) if status == want)
    assert all(status == want for _, status in after[first:]), f"flapped after switching: {after}"
    return after[first][0] - since


def test_suspension_reaches_every_replica_within_a_second(cluster: Cluster) -> None:
    victim_id, victim_key = cluster.victim
    _, bystander_key = cluster.bystander
    urls = [r.url for r in cluster.replicas]
    streams = [Stream(u, victim_key) for u in urls] + [Stream(urls[0], bystander_key)]
    for stream in streams:
        _spawn(stream.run)
    for stream in streams:
        assert stream.first.wait(10), "stream never started"
    pollers = {
        (u, who): Poller(u, key)
        for u in urls
        for who, key in (("victim", victim_key), ("bystander", bystander_key))
    }
    for poller in pollers.values():
        _spawn(poller.run)
    time.sleep(0.3)

    deadline = time.monotonic() + 10
    while cluster.sim.stats("atlas-useast")["held"] != 3:  # all three in flight, held
        assert time.monotonic() < deadline, "the streams were never held"
        time.sleep(0.02)
    _lifecycle(cluster, "suspend", "--reason", "non_payment")
    suspended_at = _entry_time(cluster.db, "tenant.suspend", victim_id)
    for stream in streams[:2]:
        assert stream.done.wait(10)
    assert not streams[2].done.is_set()  # the bystander's stream is still held, untouched
    cluster.sim.release("atlas-useast")
    assert streams[2].done.wait(10)
    time.sleep(BOUND_S + 0.3)

    for url in urls:
        latency = _switch_latency(pollers[(url, "victim")], suspended_at, 403)
        print(f"suspend latency {url}: {latency:.3f}s")
        assert latency < BOUND_S, f"{url} still accepted the key {latency:.3f}s after suspension"
        codes = {
            code for t, _, code in pollers[(url, "victim")].seen if t >= suspended_at + BOUND_S
        }
        assert codes == {"tenant_suspended"}
        assert {s for _, s, _ in pollers[(url, "bystander")].seen} == {200}
    for stream in streams[:2]:
        assert stream.error_code() == "tenant_suspended"
        ended = stream.events[-1][0]
        assert ended - suspended_at < BOUND_S, "in-flight stream outlived the suspension"
        assert all(ev != "[DONE]" for _, ev in stream.events)
    bystander_stream = streams[2]
    assert bystander_stream.error_code() is None and bystander_stream.events[-1][1] == "[DONE]"

    _lifecycle(cluster, "reinstate")
    reinstated_at = _entry_time(cluster.db, "tenant.reinstate", victim_id)
    time.sleep(BOUND_S + 0.3)
    for poller in pollers.values():
        poller.stop.set()
    for url in urls:
        latency = _switch_latency(pollers[(url, "victim")], reinstated_at, 200)
        print(f"reinstate latency {url}: {latency:.3f}s")
        assert latency < BOUND_S, f"{url} kept refusing {latency:.3f}s after reinstatement"
        assert {s for _, s, _ in pollers[(url, "bystander")].seen} == {200}


def _ledger_time(db: Database, action: str, target_id: str) -> float:
    entry = [e for e in ledger_entries(db, action) if e["target"]["id"] == target_id][-1]
    return datetime.fromisoformat(entry["time"]).timestamp()


def test_token_revocation_and_disabling_reach_every_replica_within_a_second(
    cluster: Cluster,
) -> None:
    from sekisho.actor import Actor
    from sekisho.admin.tokens import create_token
    from sekisho.tenancy.service import create_user

    with cluster.db.begin() as session:
        revoked_user = create_user(
            session, "revoked@replicas.test", "operator", None, Actor.system()
        )
        token, revoked_secret = create_token(session, revoked_user, Actor.system())
        disabled_user = create_user(
            session, "disabled@replicas.test", "auditor", None, Actor.system()
        )
        _, disabled_secret = create_token(session, disabled_user, Actor.system())
        token_id, disabled_id = token.id, disabled_user.id
    urls = [r.url for r in cluster.replicas]
    pollers = {
        (u, who): Poller(u, secret, path="/admin/v1/tenants")
        for u in urls
        for who, secret in (("revoked", revoked_secret), ("disabled", disabled_secret))
    }
    for poller in pollers.values():
        _spawn(poller.run)
    time.sleep(0.3)
    assert run("token", "revoke", token_id, config=cluster.config).returncode == 0
    assert run("user", "disable", "disabled@replicas.test", config=cluster.config).returncode == 0
    revoked_at = _ledger_time(cluster.db, "token.revoke", token_id)
    disabled_at = _ledger_time(cluster.db, "user.disable", disabled_id)
    time.sleep(BOUND_S + 0.3)
    for poller in pollers.values():
        poller.stop.set()
    for url in urls:
        for who, since in (("revoked", revoked_at), ("disabled", disabled_at)):
            latency = _switch_latency(pollers[(url, who)], since, 401)
            print(f"{who} token refused on {url} after {latency:.3f}s")
            assert latency < BOUND_S, f"{url} still accepted the {who} token after {latency:.3f}s"
            before = {s for t, s, _ in pollers[(url, who)].seen if t < since - 0.2}
            assert before == {200}, f"{who} token did not work before: {before}"
