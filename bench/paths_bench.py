"""The inbound paths side by side: does /v1/messages, /v1/responses or /v1/embeddings cost
more than /v1/chat/completions?

    .venv/bin/python -m bench.paths_bench [--requests N]

One gateway (SQLite, in-process uvicorn) over the provider simulator; for each
path and mode, N sequential requests on one keep-alive connection after a
warm-up, the same prompt, the same OpenAI-wire route (alias chat-large, and
embed-small for embeddings). The paths take turns in rounds of 10 requests,
so a busy moment of a shared machine falls on all of them alike. Prints p50/p95/mean latency in milliseconds and
the difference of each path's p50 to the chat path's; writes the raw numbers
to bench/results/<time>-paths.json.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from sekisho.actor import Actor
from sekisho.demo import DEMO_SECRETS, demo_document
from sekisho.http.app import create_app
from sekisho.settings import settings_from_document
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.store.migrate import migrate
from sekisho.tenancy import service

RESULTS = Path(__file__).resolve().parent / "results"
EMBED = {
    "name": "embed-small",
    "kind": "embedding",
    "route": {"provider": "atlas-useast", "model": "atlas-embed"},
}
HI = [{"role": "user", "content": "Hello there, how are you today?"}]
PATHS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "chat": ("/v1/chat/completions", {"model": "chat-large", "messages": HI}, {}),
    "messages": (
        "/v1/messages",
        {"model": "chat-large", "max_tokens": 64, "messages": HI},
        {"anthropic-version": "2023-06-01"},
    ),
    "responses": ("/v1/responses", {"model": "chat-large", "input": HI[0]["content"]}, {}),
    "embeddings": ("/v1/embeddings", {"model": "embed-small", "input": HI[0]["content"]}, {}),
}


def _serve(app: Any) -> tuple[str, Callable[[], None]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop


ROUND = 10


def _timed(http: httpx.Client, url: str, body: dict[str, Any], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        resp = http.post(url, json=body)
        resp.read()
        times.append((time.perf_counter() - t0) * 1000)
        resp.raise_for_status()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SimulatorServer() as sim:
        doc = demo_document(sim.url, Path(tmp), 0)
        doc["aliases"] = [*doc["aliases"], EMBED]  # type: ignore[misc]
        doc["observe"] = {"probes_enabled": False}
        settings = settings_from_document(doc, DEMO_SECRETS)
        db = Database(settings.database_url)
        migrate(db)
        with db.begin() as session:
            tenant = service.create_tenant(
                session, settings.matrix, service.TenantSpec("bench"), Actor.system("bench")
            )
            _, key = service.create_key(session, settings.matrix, tenant.id, Actor.system("bench"))
        base, stop = _serve(create_app(settings, db=db))
        cases: list[tuple[str, httpx.Client, str, dict[str, Any]]] = []
        for name, (path, body, headers) in PATHS.items():
            http = httpx.Client(headers={"authorization": f"Bearer {key}", **headers}, timeout=30)
            for stream in [False] if name == "embeddings" else [False, True]:
                payload = {**body, "stream": True} if stream else body
                cases.append((f"{name}{' stream' if stream else ''}", http, base + path, payload))
        samples: dict[str, list[float]] = {label: [] for label, *_ in cases}
        try:
            for _label, http, url, payload in cases:
                _timed(http, url, payload, 20)  # warm-up: connections, caches
            for _ in range(max(1, args.requests // ROUND)):
                for label, http, url, payload in cases:
                    samples[label] += _timed(http, url, payload, ROUND)
        finally:
            for _, http, _, _ in cases:
                http.close()
            stop()
            db.dispose()
        rows = {
            label: {
                "p50_ms": statistics.median(times),
                "p95_ms": statistics.quantiles(times, n=20)[18],
                "mean_ms": statistics.fmean(times),
            }
            for label, times in samples.items()
        }
    print(f"{'path':<18}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'p50 vs chat':>13}")
    for label, row in rows.items():
        ref = rows["chat stream" if label.endswith("stream") else "chat"]["p50_ms"]
        print(
            f"{label:<18}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}{row['mean_ms']:>9.2f}"
            f"{row['p50_ms'] - ref:>+13.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}-paths.json"
    out.write_text(json.dumps({"requests": args.requests, "paths": rows}, indent=1) + "\n")
    print(f"raw: {out}")


if __name__ == "__main__":
    main()
