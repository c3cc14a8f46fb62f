"""An outage-drill gateway: short observability windows, an ops-channel catcher."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sekisho.simulator import SimulatorServer
from tests.support.databases import sqlite_url

SECRETS = {"SIM_KEY": "k"}
IDENTITY = ("obs-alpha", "obs-gamma", "region-of", "127.0.0.1", "simulator", "alpha", "gamma")


@contextmanager
def ops_channel() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A Slack-compatible webhook that records what it is sent."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()


def drill_document(sim: SimulatorServer, state: Path, hook: str) -> dict[str, Any]:
    def provider(pid: str, tags: list[str]) -> dict[str, Any]:
        return {
            "id": pid,
            "kind": "openai",
            "base_url": sim.base_url(pid),
            "api_key_env": "SIM_KEY",
            "region": f"region-of-{pid}",
            "sovereignty": tags,
            "timeout_s": 2,
            "connect_timeout_s": 1,
        }

    return {
        "database_url": sqlite_url(state),
        "state_dir": str(state),
        "ledger": {"signing_key_path": str(state / "ledger.key")},
        "providers": [provider("obs-alpha", ["jp_sovereign"]), provider("obs-gamma", [])],
        "aliases": [
            # Sovereign tenants can only be served by obs-alpha; others fail over to obs-gamma.
            {
                "name": "open-chat",
                "description": "General chat",
                "route": {"provider": "obs-alpha", "model": "a1"},
                "fallbacks": [{"provider": "obs-gamma", "model": "g1"}],
            },
            {"name": "other-chat", "route": {"provider": "obs-gamma", "model": "g2"}},
        ],
        "circuit": {
            "failure_threshold": 3,
            "cooldown_s": 0.5,
            "probe_interval_s": 0.5,
            "min_requests": 1000,
        },
        "observe": {
            "rollup_bucket_s": 1,
            "rollup_flush_s": 0.2,
            "alert_window_s": 3,
            "alert_baseline_s": 60,
            "alert_threshold": 0.2,
            "alert_min_requests": 5,
            "alert_interval_s": 0.3,
            "probes_enabled": True,
            "probe_interval_s": 0.5,
            "probe_timeout_s": 3,
            "status_window_s": 3,
            "status_min_requests": 3,
            "status_cache_s": 0,
        },
        "incidents": {
            "ops_webhook_url": hook,
            "after_window_s": 3,
            "before_window_s": 60,
            "evidence_dir": str(state / "evidence"),
        },
    }
