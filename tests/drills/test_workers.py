"""`sekisho serve --workers N`: one port, N processes, each a replica; loud failures; SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from sekisho.control.replicas import live_replicas
from sekisho.demo import DEMO_SECRETS
from sekisho.simulator import SimulatorServer
from tests.drills.cluster import wait_until
from tests.lifecycle.support import config_document, free_port, write_config
from tests.support.cli import SEKISHO
from tests.support.databases import fresh_postgres_database
from tests.support.gateway import gateway_settings, make_tenant, migrated

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _serve(config: Path, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                SEKISHO,
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **DEMO_SECRETS},
        )


def test_two_workers_serve_one_port_as_two_replicas_and_stop_on_sigterm(tmp_path: Path) -> None:
    with SimulatorServer() as sim, fresh_postgres_database() as url:
        db = migrated(url)
        settings = gateway_settings(sim.url, tmp_path, url)
        _, key = make_tenant(db, settings, "w")
        config = write_config(
            tmp_path / "w.yaml",
            config_document(sim.url, tmp_path, url, observe={"probes_enabled": False}),
        )
        port = free_port()
        proc = _serve(config, port, 2, tmp_path / "serve.log")
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(
                lambda: httpx.get(base + "/healthz", timeout=1).status_code == 200,
                30,
                "the workers",
            )

            def replicas() -> int:
                with db.read() as s:
                    return len(live_replicas(s))

            wait_until(lambda: replicas() == 2, 15, "two replica heartbeats")
            codes = [
                httpx.post(
                    f"{base}/v1/chat/completions",
                    timeout=10,
                    headers={"authorization": f"Bearer {key}"},
                    json={"model": "chat-fast", "messages": [{"role": "user", "content": "hi"}]},
                ).status_code
                for _ in range(20)
            ]
            assert codes == [200] * 20
            # A second server on the same port fails at once, loudly, with one line.
            taken = subprocess.run(
                [SEKISHO, "serve", "--config", str(config), "--port", str(port)],
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **DEMO_SECRETS},
            )
            assert taken.returncode == 1
            assert taken.stderr.strip().splitlines() == [
                f"sekisho: cannot listen on 127.0.0.1:{port}: Address already in use"
            ]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), 1):
                pass
        finally:
            if proc.poll() is None:
                proc.kill()
            db.dispose()


def test_bad_worker_count_is_refused() -> None:
    proc = subprocess.run(
        [SEKISHO, "serve", "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and "number of workers from 1 to 64" in proc.stderr
