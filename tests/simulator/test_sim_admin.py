"""The /_sim admin API, the SimulatorServer helpers and ``python -m sekisho.simulator``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from sekisho.simulator import SimulatorServer

from .sim_helpers import OPENAI_AUTH, chat_body


def test_fault_round_trip_over_http(client: httpx.Client) -> None:
    added = client.post("/_sim/k1/faults", json={"status": 503, "count": 3})
    assert added.status_code == 200
    assert added.json() == {"provider": "k1", "faults": [{"status": 503, "count": 3}]}
    queued = client.post("/_sim/k1/faults", json=[{"latency_ms": 5}])
    assert queued.json()["faults"] == [{"status": 503, "count": 3}, {"latency_ms": 5.0}]
    assert client.get("/_sim/k1/faults").json()["faults"][1] == {"latency_ms": 5.0}
    cleared = client.delete("/_sim/k1/faults")
    assert cleared.json() == {"provider": "k1", "faults": []}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "not JSON"),
        (b'{"status": "soon"}', "status must be an integer"),
        (b'{"explode": true}', "unknown fault field"),
    ],
)
def test_bad_fault_body_is_a_400_with_a_reason(
    client: httpx.Client, content: bytes, says: str
) -> None:
    response = client.post("/_sim/k1/faults", content=content)
    assert response.status_code == 400
    assert says in response.json()["error"]
    assert client.get("/_sim/k1/faults").json()["faults"] == []


def test_helper_refuses_a_bad_fault(sim: SimulatorServer) -> None:
    with pytest.raises(ValueError, match="unknown fault field"):
        sim.set_fault("k1", stauts=503)


def test_untouched_provider_has_zero_requests(client: httpx.Client, sim: SimulatorServer) -> None:
    stats = client.get("/_sim/never-called/stats").json()
    assert (stats["requests"], stats["by_status"], stats["last_request"]) == (0, {}, None)
    assert sim.stats("never-called")["requests"] == 0


def test_all_stats_clear_all_faults_and_reset(client: httpx.Client, sim: SimulatorServer) -> None:
    sim.set_fault("k1", status=500)
    sim.set_fault("k2", status=500)
    for provider in ("k1", "k2"):
        client.post(f"/{provider}/v1/chat/completions", json=chat_body(), headers=OPENAI_AUTH)
    everything = client.get("/_sim/stats").json()["providers"]
    assert {name: s["by_status"] for name, s in everything.items()} == {
        "k1": {"500": 1},
        "k2": {"500": 1},
    }

    assert client.delete("/_sim/faults").status_code == 200
    ok = client.post("/k1/v1/chat/completions", json=chat_body(), headers=OPENAI_AUTH)
    assert ok.status_code == 200
    assert sim.stats("k1")["requests"] == 2

    assert client.post("/_sim/reset").json() == {"reset": True}
    assert client.get("/_sim/stats").json() == {"providers": {}}
    assert sim.stats("k1")["requests"] == 0


def test_server_starts_fast_and_stops_cleanly() -> None:
    started = time.perf_counter()
    with SimulatorServer() as server:
        assert time.perf_counter() - started < 1.0
        assert httpx.get(server.url + "/_sim/health").json() == {"ok": True}
        url = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_sim/health")


def test_runs_as_a_module_and_prints_its_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "sekisho.simulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        response = httpx.post(
            f"http://127.0.0.1:{port}/kumo-tokyo/v1/chat/completions",
            json=chat_body(),
            headers=OPENAI_AUTH,
        )
        assert response.headers["x-simulator-provider"] == "kumo-tokyo"
    finally:
        process.terminate()
        process.wait(5)
