"""docs/runbooks/ run as written: every ```sh block, in order, against a real gateway.

The gateway runs over the provider simulator with the demo matrix (alias `chat-large` on
`atlas-useast`, fallback `meridian-eu`) and the demo's tenants and people (`acme`,
operator@/billing@/security@sekisho.example), on SQLite and on PostgreSQL. The test only
provides `SEKISHO_CONFIG` and the provider secrets; the runbook sets `SEKISHO_OPERATOR`
itself and captures its ids (`# -> INC`). Simulator control (the outage) is test setup,
done in a hook before the step that needs it. See tests/docs/runbook_runner.py.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from sekisho.demo import DEMO_SECRETS, demo_document, seed
from sekisho.settings import Settings, settings_from_document
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from tests.docs import runbook_runner
from tests.docs.runbook_runner import RunbookFailed, Transcript
from tests.support.cli import run as cli
from tests.support.cli import write_config
from tests.support.databases import fresh_postgres_database, sqlite_url
from tests.support.gateway import (
    RunningGateway,
    make_tenant,
    migrated,
    signed_by_gateway_key,
    start_gateway,
)

RUNBOOKS = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
BIN = str(Path(sys.executable).parent)


@dataclass
class World:
    gw: RunningGateway
    db: Database
    sim: SimulatorServer
    settings: Settings
    env: dict[str, str]
    cwd: Path
    key: str  # an API key of tenant acme

    def chat(self, alias: str = "chat-large", key: str | None = None) -> httpx.Response:
        return httpx.post(
            self.gw.url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {key or self.key}"},
            json={"model": alias, "messages": [{"role": "user", "content": "hi"}]},
            timeout=15,
        )

    def run(self, name: str, **hooks: Callable[[Transcript], None]) -> Transcript:
        commands = runbook_runner.parse((RUNBOOKS / name).read_text())
        before = {int(k.removeprefix("step")): v for k, v in hooks.items()}
        return runbook_runner.run(commands, env=self.env, cwd=self.cwd, before_step=before)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(params=["sqlite", "postgres"])
def world(
    request: pytest.FixtureRequest, simulator: SimulatorServer, tmp_path: Path
) -> Iterator[World]:
    with (
        fresh_postgres_database()
        if request.param == "postgres"
        else nullcontext(sqlite_url(tmp_path)) as url
    ):
        doc = demo_document(simulator.url, tmp_path, 0)
        doc["database_url"] = url
        doc["observe"] = {
            "rollup_bucket_s": 1,
            "rollup_flush_s": 0.2,
            "alert_window_s": 30,  # also the window `triage` judges by default
            "alert_baseline_s": 60,
            "alert_min_requests": 3,
            "alert_interval_s": 0.3,
            "status_window_s": 3,
            "status_min_requests": 1,
            "status_cache_s": 0,
        }
        doc["incidents"] = {"after_window_s": 3, "before_window_s": 60}
        config = tmp_path / "sekisho.yaml"
        config.write_text(yaml.safe_dump(doc, sort_keys=False))
        settings = settings_from_document(doc, DEMO_SECRETS, config_path=config)
        db = migrated(url)
        key = seed(signed_by_gateway_key(db, settings), settings)
        simulator.clear_faults()
        gw = start_gateway(settings, db)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKISHO_") and k != "PWD"}
        env.update(DEMO_SECRETS)
        env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
        env["SEKISHO_CONFIG"] = str(config)
        work = tmp_path / "operator"
        work.mkdir()
        try:
            yield World(gw, db, simulator, settings, env, work, key)
        finally:
            gw.stop()
            simulator.clear_faults()
            db.dispose()


# ~25 CLI processes: about 60 s on a loaded 2-core machine; bounded well above that.
@pytest.mark.timeout(300)
def test_provider_outage_runbook_runs_as_written(world: World) -> None:
    def outage(t: Transcript) -> None:
        assert world.chat().status_code == 200  # healthy baseline
        world.sim.set_fault("atlas-useast", status=503)
        # acme is failed over to meridian-eu; the attempts on atlas-useast fail.
        assert [world.chat().status_code for _ in range(4)] == [200] * 4

    def recovered(t: Transcript) -> None:
        world.sim.clear_faults("atlas-useast")
        wait_for("chat-large to answer", lambda: world.chat().status_code == 200)

    t = world.run("provider-outage.md", step1=outage, step9=recovered)

    assert "UPSTREAM" in t.output_of("triage chat-large") and "atlas-useast" in t.output_of(
        "triage chat-large"
    )
    assert t.env["INC"].startswith("inc_")
    assert "reverted drain of atlas-useast on chat-large" in t.output_of("incident resolve")
    status = httpx.get(world.gw.url + "/status.json", timeout=10).json()
    assert status["incidents"] == []
    assert not world.gw.gateway.routing.overrides


# ~25 CLI processes: about 60 s on a loaded 2-core machine; bounded well above that.
@pytest.mark.timeout(300)
def test_tenant_suspension_runbook_runs_as_written(world: World) -> None:
    def blocked(t: Transcript) -> None:
        # Step 4 calls the API with one of the tenant's keys: it is refused.
        wait_for("the key to be refused", lambda: world.chat().status_code == 403)
        assert world.chat().json()["error"]["code"] == "tenant_suspended"

    def traffic(t: Transcript) -> None:
        assert [world.chat().status_code for _ in range(3)] == [200] * 3

    def served_again(t: Transcript) -> None:
        # Step 9 reinstated the tenant: the key answers again.
        wait_for("the key to be served", lambda: world.chat().status_code == 200)

    t = world.run("tenant-suspension.md", step1=traffic, step4=blocked, step10=served_again)

    assert t.env["REQ"].startswith("sreq_") and t.env["SUSP"].startswith("sus_")
    assert "blocked" in t.output_of("key list acme")
    # `report --tenant acme` takes the name, as the runbook says, and finds the traffic.
    report = t.output_of("report --tenant acme")
    assert report.startswith("tenant acme (ten_") and "no traffic" not in report
    assert "is now suspended" in t.output_of("--as security@")
    # The runbook ends with a security suspension: the key is refused again.
    wait_for("the key to be refused", lambda: world.chat().status_code == 403)


def test_the_runner_fails_on_a_command_that_does_not_run(tmp_path: Path) -> None:
    doc = (
        "1. **Look.**\n\n   ```sh\n   true  # -> A\n   echo made-$A  # -> B\n   ```\n\n"
        "   ```text\n   this is output, never run\n   ```\n\n"
        "2. **Act.**\n\n   ```sh\n   sekisho incident opne --title x\n   ```\n"
    )
    commands = runbook_runner.parse(doc)
    assert [(c.step, c.text, c.capture) for c in commands] == [
        (1, "true", "A"),
        (1, "echo made-$A", "B"),
        (2, "sekisho incident opne --title x", None),
    ]
    env = {"PATH": BIN + os.pathsep + os.environ["PATH"], "SEKISHO_CONFIG": "/nonexistent"}
    with pytest.raises(RunbookFailed, match="nothing to capture"):
        runbook_runner.run(commands, env=env, cwd=tmp_path)
    # A placeholder used before the step that creates it fails, as does a misspelt command.
    late = runbook_runner.parse("```sh\necho $INC\nINC=x  # -> INC\n```\n")
    with pytest.raises(RunbookFailed, match="unbound variable"):
        runbook_runner.run(late, env=env, cwd=tmp_path)
    bad = runbook_runner.parse("```sh\nsekisho incident opne --title x\n```\n")
    with pytest.raises(RunbookFailed, match=r"(?s)exit 2.*invalid choice"):
        runbook_runner.run(bad, env=env, cwd=tmp_path)


def test_report_names_the_tenant_it_was_given_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_url(tmp_path))
    db = migrated(sqlite_url(tmp_path))
    settings = settings_from_document(yaml.safe_load(config.read_text()), DEMO_SECRETS)
    tenant_id, _ = make_tenant(db, settings, "acme")
    db.dispose()
    for ref in ("acme", tenant_id):
        proc = cli("report", "--tenant", ref, "--since", "15m", config=config)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"tenant acme ({tenant_id}): "), proc.stdout
    proc = cli("report", "--tenant", "acme-typo", "--since", "15m", config=config)
    assert proc.returncode != 0 and proc.stdout == ""
    assert "no tenant with id or name 'acme-typo'" in proc.stderr
