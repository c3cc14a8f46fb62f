"""The managed-provider outage runbook, end to end on real servers and the simulator.

A provider fails; the spike alert fires for the alias; triage says upstream; an incident
is opened and a pin attached to it; /status shows the alias degraded with the customer
update and no provider identity; the provider recovers; resolving reverts the pin and
shows the error rate normalized; the evidence bundle verifies and is in the ledger.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sekisho.evidence import ledger_entry_for, read_bundle, verify_bundle
from sekisho.settings import settings_from_document
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from tests.observe.drill import IDENTITY, SECRETS, drill_document, ops_channel
from tests.support.cli import last_line, run
from tests.support.gateway import RunningGateway, make_tenant, migrated, start_gateway
from tests.support.ledger import ledger_entries


@dataclass
class Env:
    gw: RunningGateway
    db: Database
    sim: SimulatorServer
    config: Path
    keys: dict[str, str]
    posts: list[dict[str, Any]]

    def cli(self, *args: str) -> str:
        return last_line(run(*args, config=self.config, env=SECRETS))

    def json(self, *args: str) -> Any:
        proc = run(*args, "--json", config=self.config, env=SECRETS)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def chat(self, tenant: str, alias: str = "open-chat") -> int:
        with httpx.Client(timeout=10) as http:
            resp = http.post(
                self.gw.url + "/v1/chat/completions",
                headers={"authorization": f"Bearer {self.keys[tenant]}"},
                json={"model": alias, "messages": [{"role": "user", "content": "hi"}]},
            )
        return resp.status_code

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.gw.url + path, timeout=10)


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state = tmp_path_factory.mktemp("outage")
    with ops_channel() as (hook, posts):
        doc = drill_document(simulator, state, hook)
        config = state / "sekisho.yaml"
        config.write_text(yaml.safe_dump(doc))
        settings = settings_from_document(doc, SECRETS, config_path=config)
        db = migrated(settings.database_url)
        keys = {
            "plain": make_tenant(db, settings, "plain")[1],
            "jp": make_tenant(db, settings, "jp-bank", sovereignty="jp_sovereign")[1],
        }
        for pid in ("obs-alpha", "obs-gamma"):
            simulator.clear_faults(pid)
        gw = start_gateway(settings, db)
        try:
            yield Env(gw, db, simulator, config, keys, posts)
        finally:
            gw.stop()
            simulator.clear_faults("obs-alpha")
            db.dispose()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 8.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def assert_public(text: str) -> None:
    low = text.lower()
    for needle in IDENTITY:
        assert needle not in low, f"{needle!r} leaked to the public: {text[:400]}"


def traffic(
    env: Env, rounds: int, pattern: tuple[str, ...] = ("plain", "plain", "jp")
) -> list[int]:
    return [env.chat(t) for _ in range(rounds) for t in pattern]


@contextmanager
def steady_traffic(env: Env) -> Iterator[list[int]]:
    """Both kinds of tenant, a few requests a second, until the block ends."""
    served: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            served.extend(traffic(env, 1, ("plain", "jp")))
            stop.wait(0.2)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        stop.set()
        thread.join(10)


def test_provider_outage_drill(env: Env) -> None:
    # Probes running, then a healthy baseline. The impact's 'before' is the minute before the
    # onset, the first 1 s rollup bucket with errors: the failure starts in a later bucket
    # than the baseline, or the baseline would count as 'during'.
    wait_for("first probes", lambda: all(p["total"] for p in env.json("probes")))
    assert set(traffic(env, 2)) == {200}
    baseline_bucket = int(time.time())  # rollup_bucket_s is 1 in the drill
    wait_for("the next rollup bucket", lambda: int(time.time()) > baseline_bucket)

    # The provider fails: sovereign tenants get 502, the others are failed over.
    env.sim.set_fault("obs-alpha", status=503)
    failed_at = datetime.now(UTC)
    statuses = traffic(env, 3)
    assert statuses.count(502) == 3 and statuses.count(200) == 6

    # The spike alert fires for the alias (and only for it), within its window.
    alerts = wait_for("the spike alert", lambda: env.json("alerts"))
    assert [a["alias"] for a in alerts] == ["open-chat"]
    fired_at = datetime.fromisoformat(alerts[0]["fired_at"])
    assert (fired_at - failed_at).total_seconds() < 3  # within the alert window
    assert any("open-chat" in p["text"] and "spike" in p["text"] for p in env.posts)

    # Triage: upstream, with the numbers.
    report = env.json("triage", "open-chat", "--window", "1m")
    assert report["verdict"] == "upstream"
    alpha = next(p for p in report["providers"] if p["provider"] == "obs-alpha")
    assert alpha["failing"] and alpha["probes"]["failed"] >= 1
    assert report["alias_traffic"]["502"] == 3

    # Incident with a pin to the fallback, an internal note and a customer update.
    incident = env.cli(
        "incident",
        "open",
        "--title",
        "Errors on open-chat",
        "--severity",
        "sev2",
        "--alias",
        "open-chat",
        "--eta",
        "30m",
        "--note",
        "obs-alpha answers 503; sovereign tenants have no other route",
    )
    override = env.cli(
        "alias",
        "override",
        "open-chat",
        "--pin",
        "obs-gamma",
        "--for",
        "30m",
        "--reason",
        "obs-alpha outage",
        "--incident",
        incident,
    )
    env.cli(
        "incident",
        "note",
        incident,
        "obs-alpha's own status page confirms the outage",
        "--severity",
        "SEV3",
    )
    refused = run(
        "incident", "update", incident, "Obs Alpha is down", config=env.config, env=SECRETS
    )
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert "obs-alpha" in refused.stderr
    update = (
        "Some requests to open-chat fail for Japan-sovereign tenants. Next update in 30 minutes."
    )
    run("incident", "update", incident, update, config=env.config, env=SECRETS).check_returncode()
    assert any(incident in p["text"] and "obs-alpha" in p["text"] for p in env.posts)

    # The status page: degraded, the update, no provider identity.
    traffic(env, 2)
    status = env.get("/status.json").json()
    states = {a["alias"]: a["state"] for a in status["aliases"]}
    assert states == {"open-chat": "degraded", "other-chat": "operational"}
    assert status["incidents"][0]["updates"][0]["text"] == update
    page = env.get("/status")
    assert page.status_code == 200 and "Degraded" in page.text and "open-chat" in page.text
    for body in (env.get("/status.json").text, page.text):
        assert_public(body)

    # Recovery: every tenant is served again; with traffic flowing, the incident is resolved.
    env.sim.clear_faults("obs-alpha")
    wait_for("recovery", lambda: env.chat("jp") == 200)
    with steady_traffic(env) as served:
        time.sleep(3.3)  # the 'after' window (3 s) now holds recovered traffic only
        resolved = run(
            "incident",
            "resolve",
            incident,
            "--note",
            "obs-alpha recovered",
            "--update",
            "open-chat is fully served again.",
            config=env.config,
            env=SECRETS,
        )
    assert resolved.returncode == 0, resolved.stderr
    assert served and set(served) == {200}
    out = resolved.stdout
    assert f"reverted pin of obs-gamma on open-chat (#{override})" in out
    doc = env.json("incident", "show", incident)
    impact = doc["impact"]
    # How much served traffic dilutes "during" depends on the machine's speed: assert the
    # shape (errors counted, worse than before and after), not one machine's ratio.
    assert impact["during"]["errors"] >= 5 and impact["during"]["error_rate"] > 0.02
    assert impact["before"]["requests"] >= 6, impact  # the baseline, all served
    assert impact["before"]["error_rate"] == 0.0 and impact["after"]["error_rate"] == 0.0
    assert doc["overrides"][0]["reverted_at"] is not None
    wait_for("the pin to be lifted", lambda: not env.gw.gateway.routing.overrides)
    wait_for("the alert to resolve", lambda: not env.json("alerts"))
    assert any("normalized" in p["text"] for p in env.posts)
    status = env.get("/status.json").json()
    assert status["incidents"] == [] and status["state"] == "operational"

    # Evidence: the bundle verifies and its hash is in the ledger, with the resolution.
    line = next(ln for ln in out.splitlines() if ln.startswith("evidence open-chat"))
    path, sha = line.split()[2], line.split()[4]
    bundle = read_bundle(path)
    assert verify_bundle(bundle) == [] and bundle.sha256 == sha
    rows = bundle.files["request_log.jsonl"].decode().splitlines()
    assert sum('"status":502' in r for r in rows) >= 3
    with env.db.read() as session:
        assert ledger_entry_for(session, sha) is not None
    resolve = ledger_entries(env.db, "incident.resolve")[-1]
    assert resolve["details"]["reverted_overrides"] == [override]
    assert resolve["details"]["evidence"][0]["sha256"] == sha
    assert {e["action"] for e in ledger_entries(env.db)} >= {
        "incident.open",
        "incident.note",
        "incident.update",
        "incident.resolve",
        "alias.override.pin",
        "alias.override.revert",
        "evidence.incident",
    }
    verified = run("ledger", "verify", config=env.config, env=SECRETS)
    assert verified.returncode == 0, verified.stdout + verified.stderr
