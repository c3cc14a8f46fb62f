"""Matrix hot reload: validated first, swapped atomically, refused when invalid; SIGHUP too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from sekisho.settings import load_settings
from sekisho.simulator import SimulatorServer
from tests.failover.conftest import SECRETS, drill_document
from tests.support.cli import SEKISHO, last_line, run
from tests.support.databases import sqlite_url
from tests.support.gateway import make_tenant, migrated, start_gateway
from tests.support.ledger import ledger_entries


def _operator_token(config: Path) -> str:
    last_line(
        run(
            "user",
            "create",
            "ops@x.example",
            "--role",
            "operator",
            config=config,
            env={**SECRETS, "SEKISHO_PASSWORD": "a long password"},
        )
    )
    return last_line(run("token", "create", "--user", "ops@x.example", config=config, env=SECRETS))


def test_reload_through_admin_api(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = drill_document(simulator, tmp_path)
    config = tmp_path / "sekisho.yaml"
    config.write_text(yaml.safe_dump(doc))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(config)
    db = migrated(settings.database_url)
    _, key = make_tenant(db, settings, "t")
    token = _operator_token(config)
    gw = start_gateway(settings, db)
    auth = {"authorization": f"Bearer {token}"}
    try:
        with httpx.Client(timeout=10) as http:
            old = http.get(gw.url + "/admin/v1/matrix", headers=auth).json()["sha256"]
            # An invalid file is refused and the running matrix stays.
            broken = dict(
                doc,
                aliases=[
                    *doc["aliases"],
                    {"name": "x", "route": {"provider": "ghost", "model": "m"}},
                ],
            )
            config.write_text(yaml.safe_dump(broken))
            refused = http.post(gw.url + "/admin/v1/matrix/reload", headers=auth)
            assert refused.status_code == 400 and "unknown provider 'ghost'" in refused.text
            assert http.get(gw.url + "/admin/v1/matrix", headers=auth).json()["sha256"] == old
            # A valid change is swapped in and recorded with its hash.
            grown = dict(
                doc,
                aliases=[
                    *doc["aliases"],
                    {"name": "new-chat", "route": {"provider": "open-gamma", "model": "g9"}},
                ],
            )
            config.write_text(yaml.safe_dump(grown))
            done = http.post(gw.url + "/admin/v1/matrix/reload", headers=auth)
            assert done.status_code == 200, done.text
            new = done.json()["sha256"]
            assert new != old
            models = http.get(gw.url + "/v1/models", headers={"authorization": f"Bearer {key}"})
            assert "new-chat" in [m["id"] for m in models.json()["data"]]
        loads = [e["details"]["sha256"] for e in ledger_entries(db, "matrix.load")]
        assert loads == [old, new]
    finally:
        gw.stop()
        db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sighup_reloads_a_real_server(simulator: SimulatorServer, tmp_path: Path) -> None:
    doc = drill_document(simulator, tmp_path)
    doc["database_url"] = sqlite_url(tmp_path)
    config = tmp_path / "sekisho.yaml"
    config.write_text(yaml.safe_dump(doc))
    assert run("migrate", config=config, env=SECRETS).returncode == 0
    key = last_line(
        run(
            "key",
            "create",
            last_line(run("tenant", "create", "t", config=config, env=SECRETS)),
            config=config,
            env=SECRETS,
        )
    )
    port = _free_port()
    proc = subprocess.Popen(
        [SEKISHO, "serve", "--config", str(config), "--port", str(port)],
        env={**os.environ, **SECRETS},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30  # a loaded machine starts Python slowly
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() >= deadline or proc.poll() is not None:
                proc.kill()
                output = proc.communicate()[0].decode(errors="replace")
                raise AssertionError(f"serve did not start:\n{output[-3000:]}")
            time.sleep(0.1)
        headers = {"authorization": f"Bearer {key}"}
        before = [m["id"] for m in httpx.get(url + "/v1/models", headers=headers).json()["data"]]
        assert "hup-chat" not in before
        doc["aliases"].append(
            {"name": "hup-chat", "route": {"provider": "open-gamma", "model": "h"}}
        )
        config.write_text(yaml.safe_dump(doc))
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while True:
            ids = [m["id"] for m in httpx.get(url + "/v1/models", headers=headers).json()["data"]]
            if "hup-chat" in ids:
                break
            assert time.monotonic() < deadline, "SIGHUP did not reload the matrix"
            time.sleep(0.1)
        reply = httpx.post(
            url + "/v1/chat/completions",
            headers=headers,
            timeout=10,
            json={"model": "hup-chat", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert reply.status_code == 200 and reply.json()["model"] == "hup-chat"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
